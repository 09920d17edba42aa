"""Periods a draft names, read against the draft's own period where it leaves the year out or is relative."""

from __future__ import annotations

from datetime import date

import pytest

from kpi_context.tools.narrative.timing import find_periods, parse_label
from kpi_context.tools.periods import parse_period

Q3 = parse_period("2026-Q3")


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Q3 2026", "Q3 2026"),
        ("Q2", "Q2 2026"),  # the anchor's year
        ("Q3'25", "Q3 2025"),
        ("2026-Q1", "Q1 2026"),
        ("September 2026", "Sep 2026"),
        ("FY2025", "2025"),
        ("in 2025", "2025"),
        ("last quarter", "Q2 2026"),
        ("a year ago", "Q3 2025"),
        ("the quarter before", "Q2 2026"),
        ("this quarter", "Q3 2026"),
        ("12 months to Sep 2026", "12 months to Sep 2026"),
    ],
)
def test_each_period_is_read_as_a_reader_means_it(text: str, label: str) -> None:
    [found] = find_periods(text, Q3)
    assert found.period is not None and found.period.label() == label


def test_a_date_is_a_day() -> None:
    [found] = find_periods("as of 2026-09-30", Q3)
    assert found.day == date(2026, 9, 30)


def test_a_balance_or_trailing_rate_is_named_by_any_period_closing_when_it_does() -> None:
    [q3] = find_periods("Q3", Q3)
    window = parse_period("2026-Q3").model_copy(update={"start": date(2025, 10, 1)})
    # a trailing-twelve-month NRR for the twelve months to September is "Q3 NRR"
    assert q3.covers(window, None, at_close=True)
    # a flow over those twelve months is not a Q3 flow
    assert not q3.covers(window, None, at_close=False)


def test_server_period_labels_read_back_as_periods() -> None:
    assert parse_label("Q3 2026") == Q3
    assert parse_label("not a period") is None
