"""Figures in prose: which numbers a draft states, in which kind of unit, and to what precision.

"$14.1M" states 14,100,000 dollars to the nearest 100,000: any value within half a step of it
(14,050,000 to 14,150,000) is what it says, and nothing else is. "14,119,878", "81%", "1.5x",
"8.9 months" and "-7.4 pp" are read the same way. Numbers that are not figures — years, quarter
names, ordinals ("25th"), list markers, identifiers ("Q3", "C0000001"), durations ("3 quarters",
"the last 12 months") — are left out, so they are never reported as unbacked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum


class FigureKind(StrEnum):
    """What a figure is a number of, as far as its text says."""

    MONEY = "money"
    PERCENT = "percent"
    POINTS = "points"
    """Percentage points ("7.4 pp", "120 bps"): the difference between two percents."""
    MULTIPLE = "multiple"
    """A ratio written as a multiple: "1.5x"."""
    MONTHS = "months"
    DAYS = "days"
    NUMBER = "number"
    """A bare number ("232", "14.1M"): a count, or an amount written without its unit."""


_SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_CODES = "USD|EUR|GBP|JPY|CAD|AUD|CHF"
_MULTIPLIERS = {
    "k": 3,
    "thousand": 3,
    "m": 6,
    "mm": 6,
    "mn": 6,
    "million": 6,
    "b": 9,
    "bn": 9,
    "billion": 9,
}

_FIGURE = re.compile(
    rf"""
    (?P<sign>[-−+])?
    (?P<prefix>US\$|[$€£¥]|(?:{_CODES})\s?)?
    (?P<sign2>[-−+])?
    (?P<number>[0-9]{{1,3}}(?:,[0-9]{{3}})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?)
    (?P<scale>\s?(?:thousand|million|billion|bn|mn)(?![A-Za-z])|(?:k|K|mm|MM|m|M|b|B)(?![A-Za-z0-9]))?
    (?P<unit>
        \s?%
      | \s?(?:percentage\s+points?|per\s?cent|percent|pct|pp|pts|points?|bps|basis\s+points?|times|months?|mos?|days?
            |{_CODES})(?![A-Za-z])
      | [x×](?![A-Za-z0-9])
      | -(?:months?|days?)(?![A-Za-z])
    )?
    """,
    re.VERBOSE,
)

_DURATION_AFTER = re.compile(
    r"\s*(?:quarters?|years?|weeks?|hours?|minutes?|seconds?|fiscal|consecutive|straight|straight|times?\s+in)\b",
    re.IGNORECASE,
)
_NOT_A_COUNT_BEFORE = re.compile(
    r"(?:\btop|\brule\s+of|\bno\.|#|\bversion|\bv|\bstep|\bfigure|\btable)[\s-]*$", re.IGNORECASE
)
_WINDOW_BEFORE = re.compile(
    r"\b(?:trailing|last|past|next|previous|prior|rolling|first|over|within|every|each|per|same)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
_WINDOW_AFTER = re.compile(
    r"\s+to\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b"
    r"|\s*(?:windows?|periods?|basis|view|cohorts?|contracts?|terms?|trailing|rolling|average|lookback|horizon)\b",
    re.IGNORECASE,
)
_LIST_MARKER_BEFORE = re.compile(r"(?:^|\n)[ \t]*(?:[-*+][ \t]+)?$")


@dataclass(frozen=True)
class Figure:
    """One number as a draft states it: where, what kind, its value and the step it is shown to."""

    start: int
    end: int
    text: str
    kind: FigureKind
    value: Decimal
    """The magnitude as written, in the unit's own scale (percent on 0–100, money in units)."""
    sign: int
    """-1 or +1 when the text writes a sign, 0 when it does not (prose says "fell by")."""
    quantum: Decimal
    """The step of the last digit shown: a value within half of it rounds to what is written."""
    currency: str | None = None
    prefix: str = ""
    suffix: str = ""
    decimals: int = 0
    grouped: bool = False
    exponent: int = 0
    """Powers of ten the scale word stands for ("M": 6)."""

    def matches(self, number: Decimal) -> bool:
        """Whether `number` is what this figure says, at the precision it is shown to.

        Within half a step either way, so rounding half-up or half-even both match; an unsigned
        figure matches a value of either sign (the sentence's verb carries the direction).
        """
        target = self.value if self.sign >= 0 else -self.value
        candidate = abs(number) if self.sign == 0 else number
        return abs(candidate - target) * 2 <= self.quantum

    def restyled(self, number: Decimal) -> str:
        """`number` written the way this figure writes its own: same symbol, scale, step and suffix."""
        shown = abs(number) if self.sign == 0 else number
        step = self.quantum.scaleb(-self.exponent)
        rounded = (shown.scaleb(-self.exponent) / step).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * step
        digits = f"{abs(rounded):,.{self.decimals}f}" if self.grouped else f"{abs(rounded):.{self.decimals}f}"
        sign = "-" if rounded < 0 else ("+" if self.sign > 0 else "")
        return f"{sign}{self.prefix}{digits}{self.suffix}"


def _kind(prefix: str, unit: str) -> tuple[FigureKind, str | None]:
    code = prefix.strip()
    unit_word = unit.strip().lower()
    if code:
        return FigureKind.MONEY, _SYMBOLS.get(code, code)
    if unit_word.upper() in _CODES.split("|"):
        return FigureKind.MONEY, unit_word.upper()
    if unit_word in ("%", "percent", "per cent", "percent", "pct") or unit_word.startswith("per"):
        return FigureKind.PERCENT, None
    if unit_word in ("pp", "pts", "point", "points", "bps") or "point" in unit_word:
        return FigureKind.POINTS, None
    if unit_word in ("x", "×", "times"):
        return FigureKind.MULTIPLE, None
    if "mo" in unit_word:
        return FigureKind.MONTHS, None
    if "day" in unit_word:
        return FigureKind.DAYS, None
    return FigureKind.NUMBER, None


def _step(number: str) -> tuple[Decimal, int]:
    """The step of the last digit shown, and the count of decimals; ",000" groups at the end are a scale."""
    if "." in number:
        decimals = len(number.split(".")[1])
        return Decimal(1).scaleb(-decimals), decimals
    zeros = 0
    groups = number.split(",")
    if len(groups) > 1:
        for group in reversed(groups[1:]):
            if group != "000":
                break
            zeros += 3
    return Decimal(1).scaleb(zeros), 0


def _masked(start: int, end: int, masks: Sequence[tuple[int, int]]) -> bool:
    return any(start < m_end and m_start < end for m_start, m_end in masks)


def _is_figure(text: str, start: int, end: int, kind: FigureKind, bare: bool, number: str) -> bool:
    """False for numbers that only look like figures: identifiers, years, ordinals, durations, list markers."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    following = text[end + 1] if end + 1 < len(text) else " "
    if before.isalnum() or before in "_./" or after.isalnum() or after == "_":
        return False  # part of a word or an identifier ("Q3", "FY26", "25th", "v1.2", "9/30")
    if after in ".:/,-" and following.isdigit():
        return False  # a version, a time, a date or a range ("1.2.3", "10:30", "9/30", "2026-09")
    if before in "-−" and start > 1 and text[start - 2].isdigit():
        return False  # the second half of a date or a range ("2026-09-30", "10-12")
    head = text[max(0, start - 40) : start]
    tail = text[end : end + 40]
    if kind in (FigureKind.MONTHS, FigureKind.DAYS):
        # "the last 12 months", "12 months to Sep 2026", "a 12-month window": periods, not figures
        return not (_WINDOW_BEFORE.search(head) or _WINDOW_AFTER.match(tail))
    if not bare:
        return True
    if "." not in number and "," not in number and len(number) == 4 and 1900 <= int(number) <= 2199:
        return False  # a year
    if after in ".)" and _LIST_MARKER_BEFORE.search(head):
        return False  # "1." or "2)" opening a list item
    return not (_NOT_A_COUNT_BEFORE.search(head) or _DURATION_AFTER.match(tail))


def extract_figures(text: str, masks: Sequence[tuple[int, int]] = ()) -> list[Figure]:
    """Every figure of `text` outside the `masks` spans (KPI names, periods, quoted labels' rules)."""
    found: list[Figure] = []
    for match in _FIGURE.finditer(text):
        sign_text = match.group("sign") or match.group("sign2") or ""
        start = match.start()
        if match.group("sign") and start > 0 and (text[start - 1].isalnum() or text[start - 1] in "-−"):
            start += 1  # "Q2-12" or "year-over-year": a hyphen, not a minus
            sign_text = match.group("sign2") or ""
        end = match.end()
        number = match.group("number")
        prefix = match.group("prefix") or ""
        scale = (match.group("scale") or "").strip()
        unit = match.group("unit") or ""
        kind, currency = _kind(prefix, unit)
        # A trailing space a unit pattern took belongs to no figure: "81 % of" keeps it, "14 then" does not.
        while end > start and text[end - 1].isspace():
            end -= 1
        bare = not prefix and not scale and not unit
        if _masked(start, end, masks) or not _is_figure(text, start, end, kind, bare, number):
            continue
        step, decimals = _step(number)
        exponent = _MULTIPLIERS[scale.lower()] if scale else 0
        value = Decimal(number.replace(",", "")).scaleb(exponent)
        quantum = step.scaleb(exponent)
        if unit.strip().lower() in ("bps", "basis point", "basis points") or "basis" in unit.lower():
            value, quantum = value / 100, quantum / 100
        found.append(
            Figure(
                start=start,
                end=end,
                text=text[start:end],
                kind=kind,
                value=value,
                sign={"-": -1, "−": -1, "+": 1}.get(sign_text, 0),
                quantum=quantum,
                currency=currency,
                prefix=prefix,
                suffix=(match.group("scale") or "") + unit.rstrip(),
                decimals=decimals,
                grouped="," in number or (not scale and abs(value) >= 10_000),
                exponent=exponent,
            )
        )
    return found
