"""Reporting periods: parsing the shorthand callers use, labels people read, and alignment."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kpi_context.tools.errors import ErrorCode, KpiError


class Period(BaseModel):
    """An inclusive date range."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date = Field(description="First day of the period (inclusive).")
    end: date = Field(description="Last day of the period (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError("period end is before its start")
        return self

    @property
    def months(self) -> int | None:
        """Whole calendar months covered, when the period is month-aligned; else None."""
        if self.start.day != 1 or self.end != _month_end(self.end.year, self.end.month):
            return None
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    def label(self, fiscal_start: int | None = None) -> str:
        """'Q3 2026', 'Sep 2026', '2026'; under a fiscal calendar (`fiscal_start`, the month the fiscal year
        opens, other than January) a fiscal quarter, half or year reads 'Q3 FY2027', 'H1 FY2027', 'FY2027'."""
        months = self.months
        fiscal = None if fiscal_start in (None, 1) or months is None else _fiscal_label(self, months, fiscal_start)
        if fiscal is not None:
            return fiscal
        if months == 12 and self.start.month == 1:
            return str(self.start.year)
        if months == 3 and self.start.month in (1, 4, 7, 10):
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        if months == 1:
            return f"{calendar.month_abbr[self.start.month]} {self.start.year}"
        if months is not None:
            return f"{months} months to {calendar.month_abbr[self.end.month]} {self.end.year}"
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    def shifted(self, months: int, *, field: str = "period") -> Period:
        """The period of the same length `months` earlier (negative) or later; month-aligned only.

        A shift past 0001-01-01 or 9999-12-31 is refused (`out_of_range`, naming `field`).
        """
        length = self.months
        if length is None:
            days = (self.end - self.start).days + 1
            start = shift_days(self.start, round(months * 365.25 / 12), field=field)
            return Period(start=start, end=shift_days(start, days - 1, field=field))
        start_index = self.start.year * 12 + self.start.month - 1 + months
        end_index = start_index + length - 1
        return Period(
            start=calendar_date(start_index // 12, start_index % 12 + 1, 1, field=field),
            end=_month_end(end_index // 12, end_index % 12 + 1, field=field),
        )


def _fiscal_label(period: Period, months: int, fiscal_start: int) -> str | None:
    """The fiscal name of a month-aligned period, or None when it is not a fiscal quarter, half or year."""
    index = period.start.year * 12 + period.start.month - 1
    into_year = (index - (fiscal_start - 1)) % 12
    # A fiscal year is named by the calendar year in which it ends (FY2027 opening February 2026 ends January 2027).
    name = f"FY{(index - into_year + 11) // 12}"
    if months == 12 and into_year == 0:
        return name
    if months == 6 and into_year % 6 == 0:
        return f"H{into_year // 6 + 1} {name}"
    if months == 3 and into_year % 3 == 0:
        return f"Q{into_year // 3 + 1} {name}"
    return None


MIN_YEAR, MAX_YEAR = 1, 9999
"""The calendar dates can be read in: 0001-01-01 to 9999-12-31 (Python's and ISO 8601's four-digit years)."""


def out_of_range(what: str, field: str) -> KpiError:
    return KpiError(
        ErrorCode.OUT_OF_RANGE,
        f"{what}: dates run from {MIN_YEAR:04d}-01-01 to {MAX_YEAR:04d}-12-31",
        field=field,
        details={"min": f"{MIN_YEAR:04d}-01-01", "max": f"{MAX_YEAR:04d}-12-31"},
    )


def calendar_date(year: int, month: int, day: int, *, field: str = "period") -> date:
    """date(year, month, day), or `out_of_range` naming `field` when the year is outside 1–9999."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise out_of_range(f"a date in year {year} is needed", field)
    return date(year, month, day)


def shift_days(day: date, days: int, *, field: str = "period") -> date:
    """`day` moved by `days` (negative: earlier), or `out_of_range` naming `field` past the calendar's ends."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        direction = "before" if days < 0 else "after"
        count = f"{abs(days):,} day{'' if abs(days) == 1 else 's'}"
        raise out_of_range(f"{count} {direction} {day.isoformat()} is outside the calendar", field) from None


def _month_end(year: int, month: int, *, field: str = "period") -> date:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise out_of_range(f"a date in year {year} is needed", field)
    return date(year, month, calendar.monthrange(year, month)[1])


# ASCII digits only: Unicode `\d` would read "٢٠٢٦-Q3" as a year.
_QUARTER = re.compile(r"^([0-9]{4})-?Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_YEAR = re.compile(r"^([0-9]{4})$")
_FISCAL = re.compile(r"^FY([0-9]{4})(?:-?([QH])([1-4]))?$", re.IGNORECASE)


def is_fiscal(text: str) -> bool:
    """True for the fiscal shorthand ('FY2027', 'FY2027-Q3', 'FY2027-H1'), whatever else is wrong with it."""
    return text.strip().upper().startswith("FY")


def _year(digits: str, text: str, field: str) -> int:
    year = int(digits)
    if year < MIN_YEAR:
        raise out_of_range(f"period {text!r} is in year {year}", field)
    return year


def parse_period(text: str, *, field: str = "period", fiscal_start: int | None = None) -> Period:
    """Accept '2026-Q3', '2026-09' or '2026' (calendar year), and with a fiscal calendar (`fiscal_start`, the
    month the fiscal year opens) 'FY2027', 'FY2027-Q3', 'FY2027-H1'; anything else is refused, not guessed."""
    cleaned = text.strip()
    if is_fiscal(cleaned):
        return _fiscal_period(cleaned, text, field, fiscal_start)
    if match := _QUARTER.match(cleaned):
        year, quarter = _year(match.group(1), text, field), int(match.group(2))
        first = 3 * (quarter - 1) + 1
        return Period(start=date(year, first, 1), end=_month_end(year, first + 2))
    if match := _MONTH.match(cleaned):
        year, month = _year(match.group(1), text, field), int(match.group(2))
        if 1 <= month <= 12:
            return Period(start=date(year, month, 1), end=_month_end(year, month))
    if match := _YEAR.match(cleaned):
        year = _year(match.group(1), text, field)
        return Period(start=date(year, 1, 1), end=date(year, 12, 31))
    raise KpiError(
        ErrorCode.INVALID_ARGUMENT,
        f"period {text!r} is not understood; use 'YYYY-Qn', 'YYYY-MM', 'YYYY' or {{'start': …, 'end': …}}",
        field=field,
    )


def _fiscal_period(cleaned: str, text: str, field: str, fiscal_start: int | None) -> Period:
    if fiscal_start is None:
        # Guessing January would silently shift every figure of an organisation whose year opens in another month.
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"period {text!r} is fiscal, and this server has no fiscal calendar (it runs without a governance "
            "profile); give a calendar period such as '2026-Q3' or {'start': …, 'end': …}",
            field=field,
            details={"needs": "profile.fiscal_year_start_month"},
        )
    match = _FISCAL.match(cleaned)
    part = (match.group(2) or "").upper() if match else ""
    number = int(match.group(3) or 0) if match else 0
    if match is None or (part == "H" and number > 2):
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"fiscal period {text!r} is not understood; use 'FYyyyy', 'FYyyyy-Qn' (n 1–4) or 'FYyyyy-Hn' (n 1–2)",
            field=field,
        )
    year = _year(match.group(1), text, field)
    # FYyyyy ends in calendar year yyyy: with a February start, FY2027 runs from 1 Feb 2026 to 31 Jan 2027.
    opens = year * 12 + fiscal_start - 1 - (12 if fiscal_start > 1 else 0)
    length = {"": 12, "H": 6, "Q": 3}[part]
    first = opens + length * (number - 1) if part else opens
    last = first + length - 1
    return Period(
        start=calendar_date(first // 12, first % 12 + 1, 1, field=field),
        end=_month_end(last // 12, last % 12 + 1, field=field),
    )


def months_before(day: date, months: int, *, field: str = "period") -> date:
    """The same day `months` earlier (a month end stays a month end); `out_of_range` before year 1."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    if year < MIN_YEAR:
        raise out_of_range(f"{months} months before {day.isoformat()} is before year {MIN_YEAR}", field)
    last = calendar.monthrange(year, month + 1)[1]
    at_month_end = day.day == calendar.monthrange(day.year, day.month)[1]
    return date(year, month + 1, last if at_month_end else min(day.day, last))


class Every(StrEnum):
    """The step of a series: calendar months, quarters or years."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"

    @property
    def months(self) -> int:
        match self:
            case Every.MONTH:
                return 1
            case Every.QUARTER:
                return 3
            case Every.YEAR:
                return 12


MAX_SERIES_POINTS = 60
"""Points a series may have: five years by month; a longer run is asked for with a longer step."""


def periods_between(start: Period, end: Period, every: Every, *, fiscal_start: int | None = None) -> list[Period]:
    """The months, quarters or years from the one holding `start`'s first day to the one holding `end`'s last:
    calendar ones, or with `fiscal_start` (the month the fiscal year opens) fiscal quarters and years.

    Refused (`invalid_argument`, field `end`) when `end` closes before `start` opens, and (`out_of_range`,
    field `end`) beyond MAX_SERIES_POINTS points.
    """
    if end.end < start.start:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"end ({end.label()}) is before start ({start.label()}); give the earlier period as `start`",
            field="end",
        )
    step = every.months
    offset = (fiscal_start - 1) if fiscal_start is not None and every is not Every.MONTH else 0
    first = (start.start.year * 12 + start.start.month - 1 - offset) // step
    last = (end.end.year * 12 + end.end.month - 1 - offset) // step
    count = last - first + 1
    if count > MAX_SERIES_POINTS:
        raise KpiError(
            ErrorCode.OUT_OF_RANGE,
            f"{start.label()} to {end.label()} by {every.value} is {count} points; a series has at most "
            f"{MAX_SERIES_POINTS}: give a later `start`, an earlier `end`, or a longer step (`every`)",
            field="end",
            details={"points": count, "limit": MAX_SERIES_POINTS},
        )
    periods = []
    for index in range(first, last + 1):
        opens, closes = index * step + offset, index * step + step - 1 + offset
        periods.append(
            Period(
                start=calendar_date(opens // 12, opens % 12 + 1, 1, field="start"),
                end=_month_end(closes // 12, closes % 12 + 1, field="end"),
            )
        )
    return periods
