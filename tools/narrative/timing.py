"""Periods a draft names: "Q3 2026", "Q2", "September 2026", "FY2025", "2026-09-30", "last quarter".

A quarter or half without its year takes the year of the anchor (the latest period of the values
given); "last quarter", "a year ago" and "this quarter" are read against the anchor too. A governed
label's window ("12 months to Sep 2026") is a trailing window ending that month.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from kpi_context.tools.periods import Period

_MONTHS = {name.lower(): index for index, name in enumerate(calendar.month_name) if name} | {
    name.lower(): index for index, name in enumerate(calendar.month_abbr) if name
}
_MONTHS["sept"] = 9
_MONTH_WORD = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"

_PERIOD = re.compile(
    rf"""
    (?P<window>(?P<w_months>[0-9]{{1,2}})\s+months\s+to\s+(?P<w_month>{_MONTH_WORD})\s+(?P<w_year>[0-9]{{4}}))
  | (?P<iso>(?P<i_year>[0-9]{{4}})-(?P<i_month>[0-9]{{2}})-(?P<i_day>[0-9]{{2}}))
  | (?P<yq>(?P<yq_year>[0-9]{{4}})[\s\-]?Q(?P<yq_q>[1-4]))
  | (?P<quarter>Q(?P<q>[1-4])(?:(?:\s+|\s*['’]|[\s\-]FY)(?P<q_year>[0-9]{{4}}|[0-9]{{2}}))?)
  | (?P<half>H(?P<h>[12])(?:(?:\s+|\s*['’])(?P<h_year>[0-9]{{4}}|[0-9]{{2}}))?)
  | (?P<month>(?P<m_name>{_MONTH_WORD})\s+(?P<m_year>[0-9]{{4}}))
  | (?P<fiscal>(?:FY\s?|fiscal\s+(?:year\s+)?)(?P<f_year>[0-9]{{4}}|[0-9]{{2}}))
  | (?P<year>(?<![0-9.,$€£-])(?P<y>(?:19|20|21)[0-9]{{2}})(?![0-9%]|\.[0-9]|,[0-9]))
  | (?P<relative>(?i:(?:last|prior|previous|preceding)\s+(?P<r_unit>quarter|year|month)
        |(?:a|one|the)\s+(?P<r_ago>quarter|year|month)\s+(?:ago|earlier|before)
        |(?:this|the\s+current|the)\s+(?P<r_this>quarter)
        |year[\s\-]ago))
    """,
    re.VERBOSE,
)
_BOUNDARY = re.compile(r"[A-Za-z0-9_]")


@dataclass(frozen=True)
class TextPeriod:
    """A period (or a day) the draft names at [start, end)."""

    start: int
    end: int
    text: str
    period: Period | None
    day: date | None = None

    def covers(self, period: Period | None, as_of: date | None, at_close: bool) -> bool:
        """Whether a value of `period` (or at `as_of`) is a value for what the draft names.

        A balance or a trailing-window rate is named by any period that closes when it does ("Q3 NRR"
        is NRR for the twelve months to September); a flow only by its own period.
        """
        if self.day is not None:
            return as_of == self.day or (at_close and period is not None and period.end == self.day)
        if self.period is None:
            return True
        if period is not None and period == self.period:
            return True
        if as_of is not None and as_of == self.period.end:
            return True
        return at_close and period is not None and period.end == self.period.end


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _months(year: int, first: int, count: int) -> Period:
    last = first + count - 1
    return Period(start=date(year, first, 1), end=_month_end(year + (last - 1) // 12, (last - 1) % 12 + 1))


def _year(text: str | None, anchor: Period | None) -> int | None:
    if text is None:
        return anchor.end.year if anchor is not None else None
    number = int(text)
    return number + 2000 if number < 100 else number


def _relative(unit: str, back: int, anchor: Period | None) -> Period | None:
    if anchor is None or anchor.months is None:
        return None
    match unit.lower():
        case "quarter":
            return anchor.shifted(-3 * back)
        case "year":
            return anchor.shifted(-12 * back)
        case _:
            return anchor.shifted(-1 * back) if anchor.months == 1 else None


def _read(match: re.Match[str], anchor: Period | None) -> tuple[Period | None, date | None]:
    group = match.lastgroup
    g = match.group
    if group == "window":
        months, month, closing = int(g("w_months")), _MONTHS[g("w_month").rstrip(".").lower()], int(g("w_year"))
        end = _month_end(closing, month)
        first_index = closing * 12 + month - months
        return Period(start=date(first_index // 12, first_index % 12 + 1, 1), end=end), None
    if group == "iso":
        try:
            return None, date(int(g("i_year")), int(g("i_month")), int(g("i_day")))
        except ValueError:
            return None, None
    if group == "yq":
        return _months(int(g("yq_year")), 3 * int(g("yq_q")) - 2, 3), None
    if group == "quarter":
        year = _year(g("q_year"), anchor)
        return (None if year is None else _months(year, 3 * int(g("q")) - 2, 3)), None
    if group == "half":
        year = _year(g("h_year"), anchor)
        return (None if year is None else _months(year, 6 * int(g("h")) - 5, 6)), None
    if group == "month":
        return _months(int(g("m_year")), _MONTHS[g("m_name").rstrip(".").lower()], 1), None
    if group == "fiscal":
        year = _year(g("f_year"), None)
        return (None if year is None else _months(year, 1, 12)), None
    if group == "year":
        return _months(int(g("y")), 1, 12), None
    if g("r_unit"):
        return _relative(g("r_unit"), 1, anchor), None
    if g("r_ago"):
        return _relative(g("r_ago"), 1, anchor), None
    if g("r_this"):
        return anchor, None
    return _relative("year", 1, anchor), None  # "year-ago"


def find_periods(text: str, anchor: Period | None) -> list[TextPeriod]:
    """Every period the draft names, read against `anchor` where it leaves out the year or is relative."""
    found: list[TextPeriod] = []
    for match in _PERIOD.finditer(text):
        before = text[match.start() - 1] if match.start() else " "
        after = text[match.end()] if match.end() < len(text) else " "
        if _BOUNDARY.match(before) or _BOUNDARY.match(after):
            continue
        period, day = _read(match, anchor)
        if period is None and day is None:
            continue
        found.append(TextPeriod(match.start(), match.end(), match.group(0), period, day))
    return found


def parse_label(label: str) -> Period | None:
    """A period label as the server writes it ("Q3 2026", "Sep 2026", "2026", "12 months to Sep 2026")."""
    found = find_periods(label.strip(), None)
    if len(found) == 1 and found[0].text == label.strip():
        return found[0].period
    return None
