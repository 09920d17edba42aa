"""Reporting periods: parsing the shorthand callers use, labels people read, and alignment."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
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

    def label(self) -> str:
        months = self.months
        if months == 12 and self.start.month == 1:
            return str(self.start.year)
        if months == 3 and self.start.month in (1, 4, 7, 10):
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        if months == 1:
            return f"{calendar.month_abbr[self.start.month]} {self.start.year}"
        if months is not None:
            return f"{months} months to {calendar.month_abbr[self.end.month]} {self.end.year}"
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    def shifted(self, months: int) -> Period:
        """The period of the same length `months` earlier (negative) or later; month-aligned only."""
        length = self.months
        if length is None:
            days = (self.end - self.start).days + 1
            offset = timedelta(days=round(months * 365.25 / 12))
            start = self.start + offset
            return Period(start=start, end=start + timedelta(days=days - 1))
        start_index = self.start.year * 12 + self.start.month - 1 + months
        end_index = start_index + length - 1
        return Period(
            start=date(start_index // 12, start_index % 12 + 1, 1),
            end=_month_end(end_index // 12, end_index % 12 + 1),
        )


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


# ASCII digits only: Unicode `\d` would read "٢٠٢٦-Q3" as a year.
_QUARTER = re.compile(r"^([0-9]{4})-?Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_YEAR = re.compile(r"^([0-9]{4})$")


def parse_period(text: str, *, field: str = "period") -> Period:
    """Accept '2026-Q3', '2026-09' or '2026' (calendar year); anything else is refused, not guessed."""
    cleaned = text.strip()
    if match := _QUARTER.match(cleaned):
        year, quarter = int(match.group(1)), int(match.group(2))
        first = 3 * (quarter - 1) + 1
        return Period(start=date(year, first, 1), end=_month_end(year, first + 2))
    if match := _MONTH.match(cleaned):
        year, month = int(match.group(1)), int(match.group(2))
        if 1 <= month <= 12:
            return Period(start=date(year, month, 1), end=_month_end(year, month))
    if match := _YEAR.match(cleaned):
        year = int(match.group(1))
        return Period(start=date(year, 1, 1), end=date(year, 12, 31))
    raise KpiError(
        ErrorCode.INVALID_ARGUMENT,
        f"period {text!r} is not understood; use 'YYYY-Qn', 'YYYY-MM', 'YYYY' or {{'start': …, 'end': …}}",
        field=field,
    )
