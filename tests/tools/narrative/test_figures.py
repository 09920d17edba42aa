"""Figures in prose: what number a draft states, of what kind, and to what precision."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kpi_context.tools.narrative.figures import FigureKind, extract_figures


def only(text: str) -> tuple[str, FigureKind, Decimal, Decimal]:
    [figure] = extract_figures(text)
    return figure.text, figure.kind, figure.value, figure.quantum


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "$14.1M": 14.1 × 10^6, shown to the nearest 0.1M = 100,000
        ("ARR of $14.1M", ("$14.1M", FigureKind.MONEY, Decimal("14100000"), Decimal("100000"))),
        ("ARR of 14,119,878", ("14,119,878", FigureKind.NUMBER, Decimal("14119878"), Decimal("1"))),
        ("NRR of 81%", ("81%", FigureKind.PERCENT, Decimal("81"), Decimal("1"))),
        ("GRR of 77.8 %", ("77.8 %", FigureKind.PERCENT, Decimal("77.8"), Decimal("0.1"))),
        ("a burn multiple of 1.5x", ("1.5x", FigureKind.MULTIPLE, Decimal("1.5"), Decimal("0.1"))),
        ("runway of 8.9 months", ("8.9 months", FigureKind.MONTHS, Decimal("8.9"), Decimal("0.1"))),
        ("down 7.4 pp", ("7.4 pp", FigureKind.POINTS, Decimal("7.4"), Decimal("0.1"))),
        # 120 basis points are 1.2 percentage points, shown to 0.01 points
        ("up 120 bps", ("120 bps", FigureKind.POINTS, Decimal("1.2"), Decimal("0.01"))),
        # ",000" groups at the end are a scale: "$62,000" is shown to the nearest thousand
        ("ACV of $62,000", ("$62,000", FigureKind.MONEY, Decimal("62000"), Decimal("1000"))),
        ("USD 2.6M of new business", ("USD 2.6M", FigureKind.MONEY, Decimal("2600000"), Decimal("100000"))),
        ("14.1 million", ("14.1 million", FigureKind.NUMBER, Decimal("14100000"), Decimal("100000"))),
    ],
)
def test_each_figure_is_read_with_its_kind_value_and_step(
    text: str, expected: tuple[str, FigureKind, Decimal, Decimal]
) -> None:
    assert only(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "in Q3 2026",
        "FY26 plan",
        "the 25th percentile",
        "our top 10 customers",
        "over the last 12 months",
        "12 months to Sep 2026",
        "a 12-month window",
        "three quarters",
        "for 3 consecutive quarters",
        "as of 2026-09-30",
        "v1.3.0 of the model",
        "account C0000001",
        "1. ARR first",
        "the year 2025",
    ],
)
def test_years_quarters_ordinals_windows_and_identifiers_are_not_figures(text: str) -> None:
    assert extract_figures(text) == []


def test_a_value_within_half_a_step_matches_and_one_beyond_does_not() -> None:
    [figure] = extract_figures("$14.1M")
    # 14,119,878.81 is 19,878.81 from 14,100,000: within half of 100,000
    assert figure.matches(Decimal("14119878.81"))
    # 14,150,000.01 is 50,000.01 away: beyond half a step
    assert not figure.matches(Decimal("14150000.01"))
    # 14,049,999.99 is 50,000.01 below
    assert not figure.matches(Decimal("14049999.99"))


def test_a_truncated_figure_is_another_number() -> None:
    [figure] = extract_figures("8.9 months")
    # 8.98 rounds to 9.0; 8.9 is 0.08 away, more than half of 0.1
    assert not figure.matches(Decimal("8.98"))


def test_an_unsigned_figure_matches_either_sign_and_a_written_sign_must_agree() -> None:
    unsigned, minus, plus = extract_figures("$6.8k, -$6.8k, +$6.8k")
    # net new ARR of -6,766.72 is 6.8k in magnitude (33.28 from 6,800, within 50)
    assert unsigned.matches(Decimal("-6766.72"))
    assert minus.matches(Decimal("-6766.72"))
    assert not plus.matches(Decimal("-6766.72"))


def test_masked_spans_are_left_out() -> None:
    text = "Rule of 40 at 45%"
    assert [f.text for f in extract_figures(text, [(0, 10)])] == ["45%"]


def test_a_value_is_restyled_the_way_the_draft_writes_its_figure() -> None:
    money, percent, grouped = extract_figures("$14.3M, 79%, $62,000")
    assert money.restyled(Decimal("14119878.81")) == "$14.1M"
    assert percent.restyled(Decimal("77.83")) == "78%"
    # 60,861.55 to the nearest thousand, grouped as the draft groups it
    assert grouped.restyled(Decimal("60861.55")) == "$61,000"
