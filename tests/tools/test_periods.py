"""Reporting periods: the shorthand callers type, the labels people read, and shifting to earlier periods."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.periods import MAX_SERIES_POINTS, Every, Period, parse_period, periods_between, shift_days


def period(start: str, end: str) -> Period:
    return Period(start=date.fromisoformat(start), end=date.fromisoformat(end))


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        # Q3 is July, August, September; September has 30 days.
        ("2026-Q3", "2026-07-01", "2026-09-30"),
        ("2026Q3", "2026-07-01", "2026-09-30"),
        ("2026-q3", "2026-07-01", "2026-09-30"),
        ("  2026-Q3  ", "2026-07-01", "2026-09-30"),
        # Q4 closes on 31 December.
        ("2026-Q4", "2026-10-01", "2026-12-31"),
        # 2024 is a leap year: February has 29 days.
        ("2024-02", "2024-02-01", "2024-02-29"),
        ("2026-02", "2026-02-01", "2026-02-28"),
        ("2026", "2026-01-01", "2026-12-31"),
    ],
)
def test_the_accepted_shorthands_parse_to_inclusive_date_ranges(text: str, start: str, end: str) -> None:
    assert parse_period(text) == period(start, end)


@pytest.mark.parametrize(
    "text",
    [
        "2026-13",
        "2026-00",
        "2026-Q5",
        "Q3 2026",
        "26-Q3",
        "2026/09",
        "last quarter",
        "",
        # A fiscal year needs a fiscal calendar the server does not have: refused, not read as a calendar year.
        "FY2026",
        "fy2026",
        # Only ASCII digits: Arabic-Indic or full-width digits are not read as a year.
        "\u0662\u0660\u0662\u0666-Q3",
        "\uff12\uff10\uff12\uff16",
    ],
)
def test_anything_else_is_refused_with_invalid_argument_rather_than_guessed(text: str) -> None:
    with pytest.raises(KpiError) as info:
        parse_period(text)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT
    assert info.value.detail.field == "period"
    assert repr(text) in info.value.detail.message


def test_a_refused_period_names_the_field_the_caller_passed() -> None:
    with pytest.raises(KpiError) as info:
        parse_period("soon", field="left.period")
    assert info.value.detail.field == "left.period"


def test_a_period_that_ends_before_it_starts_is_rejected() -> None:
    with pytest.raises(ValidationError, match="before its start"):
        period("2026-09-30", "2026-07-01")


def test_a_single_day_is_a_valid_period() -> None:
    one_day = period("2026-09-30", "2026-09-30")
    assert one_day.months is None
    assert one_day.label() == "2026-09-30 to 2026-09-30"


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        ("2026-07-01", "2026-09-30", 3),
        ("2026-01-01", "2026-12-31", 12),
        ("2026-09-01", "2026-09-30", 1),
        # December 2025 to February 2026 crosses a year: 3 months.
        ("2025-12-01", "2026-02-28", 3),
        # Not starting on the 1st, or not ending on a month end: not month-aligned.
        ("2026-07-02", "2026-09-30", None),
        ("2026-07-01", "2026-07-15", None),
    ],
)
def test_months_counts_whole_calendar_months_only_for_month_aligned_periods(
    start: str, end: str, months: int | None
) -> None:
    assert period(start, end).months == months


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        ("2026-01-01", "2026-12-31", "2026"),
        ("2026-07-01", "2026-09-30", "Q3 2026"),
        ("2026-01-01", "2026-03-31", "Q1 2026"),
        ("2026-09-01", "2026-09-30", "Sep 2026"),
        # Whole months that are not a calendar year, quarter or month read as "N months to <last month>":
        # July 2026 to June 2027 is 12 months; February to April 2026 is 3 months off the calendar quarters.
        ("2026-07-01", "2027-06-30", "12 months to Jun 2027"),
        ("2026-02-01", "2026-04-30", "3 months to Apr 2026"),
        # The trailing year to 30 September 2026 (NRR "for Q3 2026"): October 2025 to September 2026.
        ("2025-10-01", "2026-09-30", "12 months to Sep 2026"),
        # Two months across a year end: December 2025 and January 2026.
        ("2025-12-01", "2026-01-31", "2 months to Jan 2026"),
        ("2026-01-01", "2026-06-30", "6 months to Jun 2026"),
        # Days that do not make whole months are spelled out.
        ("2026-07-01", "2026-07-15", "2026-07-01 to 2026-07-15"),
        ("2026-07-02", "2026-09-30", "2026-07-02 to 2026-09-30"),
    ],
)
def test_labels_name_calendar_years_quarters_and_months_and_spell_out_everything_else(
    start: str, end: str, label: str
) -> None:
    assert period(start, end).label() == label


@pytest.mark.parametrize(
    ("start", "end", "shift", "new_start", "new_end"),
    [
        # The quarter before Q3 2026 is Q2 2026 (April–June).
        ("2026-07-01", "2026-09-30", -3, "2026-04-01", "2026-06-30"),
        # The same quarter a year earlier.
        ("2026-07-01", "2026-09-30", -12, "2025-07-01", "2025-09-30"),
        # The month before January is December of the previous year.
        ("2026-01-01", "2026-01-31", -1, "2025-12-01", "2025-12-31"),
        # February 2024 (29 days) moved a year on is February 2025 (28 days).
        ("2024-02-01", "2024-02-29", 12, "2025-02-01", "2025-02-28"),
        # A calendar year moved back a year.
        ("2026-01-01", "2026-12-31", -12, "2025-01-01", "2025-12-31"),
    ],
)
def test_shifting_a_month_aligned_period_keeps_its_length_in_months(
    start: str, end: str, shift: int, new_start: str, new_end: str
) -> None:
    assert period(start, end).shifted(shift) == period(new_start, new_end)


def test_shifting_a_period_off_the_month_grid_moves_it_by_average_month_days_and_keeps_its_day_count() -> None:
    # One month back = round(-365.25 / 12) = round(-30.4375) = -30 days: 1 July → 1 June;
    # the 15-day length is kept, so the period ends on 15 June.
    assert period("2026-07-01", "2026-07-15").shifted(-1) == period("2026-06-01", "2026-06-15")


# --- the calendar's ends ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0000", "0000-Q1", "0000-06"])
def test_year_zero_is_refused_as_out_of_range_naming_the_field(text: str) -> None:
    with pytest.raises(KpiError) as info:
        parse_period(text, field="right.period")
    assert (info.value.code, info.value.detail.field) == (ErrorCode.OUT_OF_RANGE, "right.period")
    assert "0001-01-01 to 9999-12-31" in info.value.detail.message


@pytest.mark.parametrize(
    ("text", "start", "end"), [("0001-Q1", "0001-01-01", "0001-03-31"), ("9999", "9999-01-01", "9999-12-31")]
)
def test_the_first_and_last_years_of_the_calendar_are_valid_periods(text: str, start: str, end: str) -> None:
    period = parse_period(text)
    assert (period.start.isoformat(), period.end.isoformat()) == (start, end)


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("0001-Q1", -3),  # the quarter before Q1 of year 1 would be Q4 of year 0
        ("0001", -12),
        ("9999-Q4", 3),  # the quarter after Q4 9999 would be in year 10000
    ],
)
def test_shifting_past_either_end_of_the_calendar_is_refused_not_a_crash(text: str, months: int) -> None:
    with pytest.raises(KpiError) as info:
        parse_period(text).shifted(months, field="period")
    assert (info.value.code, info.value.detail.field) == (ErrorCode.OUT_OF_RANGE, "period")


def test_shifting_a_day_range_past_the_calendar_is_refused_too() -> None:
    days = Period(start=date(1, 1, 1), end=date(1, 1, 10))  # not month-aligned: shifted by days
    with pytest.raises(KpiError) as info:
        days.shifted(-1)
    assert info.value.code is ErrorCode.OUT_OF_RANGE


@pytest.mark.parametrize(("day", "days"), [(date(1, 1, 1), -1), (date(9999, 12, 31), 1)])
def test_a_day_before_the_first_or_after_the_last_is_refused(day: date, days: int) -> None:
    with pytest.raises(KpiError) as info:
        shift_days(day, days, field="as_of")
    assert (info.value.code, info.value.detail.field) == (ErrorCode.OUT_OF_RANGE, "as_of")


def test_the_day_before_a_date_inside_the_calendar_is_plain_arithmetic() -> None:
    assert shift_days(date(2026, 7, 1), -1) == date(2026, 6, 30)


@pytest.mark.parametrize("text", ["٢٠٢٦-Q3", "२०२६-०९", "２０２６", "2026-0٩", "𝟚𝟘𝟚𝟞"])
def test_periods_written_with_non_ascii_digits_are_refused_not_read_as_years(text: str) -> None:
    with pytest.raises(KpiError) as info:
        parse_period(text)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT


@pytest.mark.parametrize("start", ["٢٠٢٦-٠٧-٠١", "２０２６-07-01"])
def test_period_dates_written_with_non_ascii_digits_are_refused(start: str) -> None:
    with pytest.raises(ValidationError):
        Period.model_validate({"start": start, "end": "2026-09-30"})


# --- series of periods ----------------------------------------------------------------------------


def _labels(start: str, end: str, every: Every) -> list[str]:
    return [p.label() for p in periods_between(parse_period(start), parse_period(end), every)]


def test_quarters_between_two_quarters_include_both_ends():
    assert _labels("2025-Q3", "2026-Q2", Every.QUARTER) == ["Q3 2025", "Q4 2025", "Q1 2026", "Q2 2026"]


def test_months_between_two_quarters_run_from_the_first_month_to_the_last():
    # 2026-Q1 opens on 1 January, 2026-Q2 closes on 30 June: six months.
    months = periods_between(parse_period("2026-Q1"), parse_period("2026-Q2"), Every.MONTH)
    assert [p.label() for p in months] == ["Jan 2026", "Feb 2026", "Mar 2026", "Apr 2026", "May 2026", "Jun 2026"]
    # February 2026 has 28 days; each month is calendar-aligned.
    assert months[1] == period("2026-02-01", "2026-02-28")


def test_a_step_holding_the_start_or_the_end_is_included_whole():
    # February 2025 lies in Q1 2025, November 2025 in Q4 2025: the quarters are whole, calendar-aligned.
    assert _labels("2025-02", "2025-11", Every.QUARTER) == ["Q1 2025", "Q2 2025", "Q3 2025", "Q4 2025"]
    assert _labels("2025-02", "2026-01", Every.YEAR) == ["2025", "2026"]


def test_one_period_by_its_own_step_is_a_series_of_one():
    assert _labels("2026-Q3", "2026-Q3", Every.QUARTER) == ["Q3 2026"]


def test_an_end_before_the_start_is_refused_naming_end():
    with pytest.raises(KpiError) as info:
        periods_between(parse_period("2026-Q3"), parse_period("2026-Q1"), Every.QUARTER)
    assert (info.value.code, info.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "end")


def test_sixty_points_are_allowed_and_sixty_one_are_out_of_range():
    # January 2021 to December 2025 is 5 × 12 = 60 months; to January 2026, 61.
    assert (
        len(periods_between(parse_period("2021-01"), parse_period("2025-12"), Every.MONTH)) == MAX_SERIES_POINTS == 60
    )
    with pytest.raises(KpiError) as info:
        periods_between(parse_period("2021-01"), parse_period("2026-01"), Every.MONTH)
    detail = info.value.detail
    assert (detail.code, detail.field) == (ErrorCode.OUT_OF_RANGE, "end")
    assert "at most 60" in detail.message and "longer step" in detail.message
    assert detail.details == {"points": 61, "limit": 60}


def test_the_same_range_by_quarter_fits_where_by_month_it_does_not():
    # Sixty-one months are 21 quarters (2021-Q1 … 2026-Q1).
    assert len(periods_between(parse_period("2021-01"), parse_period("2026-01"), Every.QUARTER)) == 21


# --- fiscal calendars (a fiscal year opening in February, named by the calendar year it ends in) -------------


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        # FY2027 opens 1 Feb 2026 and closes 31 Jan 2027 (it ends in 2027).
        ("FY2027", "2026-02-01", "2027-01-31", "FY2027"),
        # Q1 is Feb–Apr 2026 (April has 30 days); Q3 is Aug–Oct 2026; Q4 crosses the calendar year.
        ("FY2027-Q1", "2026-02-01", "2026-04-30", "Q1 FY2027"),
        ("FY2027-Q3", "2026-08-01", "2026-10-31", "Q3 FY2027"),
        ("fy2027q4", "2026-11-01", "2027-01-31", "Q4 FY2027"),
        # H1 is Feb–Jul 2026, H2 Aug 2026–Jan 2027.
        ("FY2027-H1", "2026-02-01", "2026-07-31", "H1 FY2027"),
        ("FY2027-H2", "2026-08-01", "2027-01-31", "H2 FY2027"),
        # FY2025's Q1 is Feb–Apr 2024: February 2024 has 29 days, which the quarter spans without trouble.
        ("FY2025-Q1", "2024-02-01", "2024-04-30", "Q1 FY2025"),
    ],
)
def test_fiscal_periods_resolve_to_dates_and_read_as_fiscal_labels(text, start, end, label):
    resolved = parse_period(text, fiscal_start=2)
    assert resolved == period(start, end)
    assert resolved.label(2) == label


def test_calendar_periods_keep_working_and_keep_calendar_labels_under_a_fiscal_calendar():
    # Calendar Q3 2026 (Jul–Sep) is not a fiscal quarter of a February year: it keeps its calendar name.
    q3 = parse_period("2026-Q3", fiscal_start=2)
    assert q3 == period("2026-07-01", "2026-09-30")
    assert q3.label(2) == "Q3 2026"
    assert parse_period("2026-09", fiscal_start=2).label(2) == "Sep 2026"


def test_a_fiscal_period_without_a_fiscal_calendar_is_refused_with_a_clear_structured_error():
    with pytest.raises(KpiError) as info:
        parse_period("FY2027-Q3", field="period")
    assert info.value.code is ErrorCode.INVALID_ARGUMENT
    assert info.value.detail.field == "period"
    assert "no fiscal calendar" in info.value.detail.message


@pytest.mark.parametrize("text", ["FY2027-H3", "FY2027-Q5", "FY27", "FY2027-Q", "FY2027-M3"])
def test_malformed_fiscal_periods_are_refused(text):
    with pytest.raises(KpiError) as info:
        parse_period(text, fiscal_start=2)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT


def test_with_a_january_start_fiscal_years_are_calendar_years():
    assert parse_period("FY2027-Q3", fiscal_start=1) == period("2027-07-01", "2027-09-30")
    assert parse_period("FY2027", fiscal_start=1).label(1) == "2027"


def test_a_fiscal_quarter_a_year_earlier_is_the_same_fiscal_quarter_of_the_prior_year():
    # Year over year from Q3 FY2027 (Aug–Oct 2026) is Q3 FY2026 (Aug–Oct 2025).
    earlier = parse_period("FY2027-Q3", fiscal_start=2).shifted(-12)
    assert earlier == period("2025-08-01", "2025-10-31")
    assert earlier.label(2) == "Q3 FY2026"
    # Quarter over quarter: Q2 FY2027 is May–Jul 2026.
    assert parse_period("FY2027-Q3", fiscal_start=2).shifted(-3).label(2) == "Q2 FY2027"


def test_fiscal_series_steps_follow_the_fiscal_quarters():
    start, end = parse_period("FY2027-Q1", fiscal_start=2), parse_period("FY2027-Q4", fiscal_start=2)
    steps = periods_between(start, end, Every.QUARTER, fiscal_start=2)
    assert steps == [
        period("2026-02-01", "2026-04-30"),
        period("2026-05-01", "2026-07-31"),
        period("2026-08-01", "2026-10-31"),
        period("2026-11-01", "2027-01-31"),
    ]
    # By year: FY2026 (Feb 2025–Jan 2026) and FY2027.
    years = periods_between(parse_period("FY2026", fiscal_start=2), end, Every.YEAR, fiscal_start=2)
    assert [p.label(2) for p in years] == ["FY2026", "FY2027"]
