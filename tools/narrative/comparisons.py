"""Comparisons in prose: a sentence that sets one value against another, checked with compare_metrics.

A comparison needs a word that compares ("vs", "than", "above", "outpaced", "compared with",
"between … and …") with a value on each side: a KPI mention (its figure and period, or the value in
play for it), or, after the word, only a figure or a period of the same KPI ("NRR of 81% vs 89% in
Q2"). Two KPIs merely named in one sentence ("ARR reached $14.1M while NRR was 81%") are not
compared. Each side is resolved to a given value; the pair is then put to compare_metrics, and a
refusal becomes an unsafe_comparison finding with its mismatched axes and remedies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from kpi_context.tools.claims import read_claim
from kpi_context.tools.compare import ComparisonRefusal, UnsafeComparison, compare_metrics
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import KpiError
from kpi_context.tools.narrative.facts import Fact, Role
from kpi_context.tools.narrative.figures import Figure
from kpi_context.tools.narrative.layout import COMPARING
from kpi_context.tools.narrative.reading import Mention, Placed, Quote, Reading, period_of
from kpi_context.tools.narrative.timing import TextPeriod
from kpi_context.tools.trend import claim_of
from kpi_context.tools.values import BoundValue, ValueClaim

_PAIRED = re.compile(r"\b(?:between|unlike|ratio\s+of|compared\s+(?:with|to)|relative\s+to|versus)\b", re.IGNORECASE)
"""Words that may open a sentence and put both sides after them ("Unlike blended ACV, new-logo ACV …")."""


@dataclass(frozen=True)
class Side:
    start: int
    end: int
    kpis: tuple[str, ...]
    variant: str | None
    figure: Figure | None
    period: TextPeriod | None


@dataclass(frozen=True)
class Refused:
    start: int
    end: int
    refusal: ComparisonRefusal


def _mention_side(reading: Reading, mention: Mention, quotes: Sequence[Quote], limit: tuple[int, int]) -> Side:
    own = [q for q in quotes if q.mention == mention and limit[0] <= q.start < limit[1]]
    quote = min(own, key=lambda q: abs(q.start - mention.start)) if own else None
    period = quote.period if quote is not None and quote.period is not None else period_of(reading, mention)
    end = max(mention.end, quote.figure.end) if quote is not None else mention.end
    return Side(mention.start, end, mention.kpis, mention.variant, quote.figure if quote else None, period)


def _trailing_side(left: Side, quotes: Sequence[Quote], spoken: Sequence[Placed], start: int, end: int) -> Side | None:
    """After the comparing word, only a figure or a period: the same KPI at another value or time."""
    quote = next((q for q in quotes if start <= q.start < end), None)
    placed = next((p for p in spoken if start <= p.start < end), None)
    if quote is None and placed is None:
        return None
    spans = [(q.start, q.figure.end) for q in (quote,) if q is not None] + [(p.start, p.end) for p in (placed,) if p]
    period = quote.period if quote is not None and quote.period is not None else (placed.period if placed else None)
    first, stop = min(a for a, _ in spans), max(b for _, b in spans)
    return Side(first, stop, left.kpis, left.variant, quote.figure if quote else None, period)


def sides(reading: Reading, index: int) -> list[tuple[Side, Side]]:
    """The pairs of sides the sentence sets against each other."""
    mentions, quotes, spoken = reading.in_sentence(index)
    span = reading.sentences[index].span
    text = reading.text
    pairs: list[tuple[Side, Side]] = []
    for cue in COMPARING.finditer(text, span.start, span.end):
        before = [m for m in mentions if m.end <= cue.start()]
        after = [m for m in mentions if m.start >= cue.end()]
        if not before:
            continue
        left = _mention_side(reading, before[-1], quotes, (before[-1].start, cue.start()))
        stop = after[1].start if len(after) > 1 else span.end
        first_quote = min((q for q in quotes if q.start >= cue.end()), key=lambda q: q.start, default=None)
        first_figure = first_quote.start if first_quote is not None else span.end
        first_period = min((p.start for p in spoken if p.start >= cue.end()), default=span.end)
        # The other side is what comes first after the comparing word: a KPI (or a figure said of a KPI
        # after it: "than our 8.98-month runway"), else a figure or period of the same KPI ("against
        # $12.2M a quarter earlier, while CARR…" sets ARR against its own Q2 value).
        said_of = first_quote.mention if first_quote is not None else None
        if said_of is not None and said_of.start >= cue.end() and first_figure < first_period:
            right = _mention_side(reading, said_of, quotes, (cue.end(), span.end))
        elif after and after[0].start < min(first_figure, first_period):
            right = _mention_side(reading, after[0], quotes, (after[0].start, stop))
        else:
            trailing = _trailing_side(left, quotes, spoken, cue.end(), span.end)
            if trailing is None:
                continue
            right = trailing
        pairs.append((left, right))
    for cue in _PAIRED.finditer(text, span.start, span.end):
        if any(m.end <= cue.start() for m in mentions) and cue.group(0).lower() not in ("between", "ratio of"):
            continue  # an infix use, handled above
        after = [m for m in mentions if m.start >= cue.end()]
        if len(after) < 2:
            continue
        stop = after[2].start if len(after) > 2 else span.end
        first = _mention_side(reading, after[0], quotes, (after[0].start, after[1].start))
        pairs.append((first, _mention_side(reading, after[1], quotes, (after[1].start, stop))))
    return pairs


def resolve(side: Side, facts: Sequence[Fact], other: tuple[str, ...] = ()) -> Fact | None:
    """The value in play a side stands for: of its KPI, variant and period, and the one its figure states."""
    kpis = side.kpis if len(side.kpis) == 1 else tuple(k for k in side.kpis if k not in other) or side.kpis
    pool = [
        f
        for f in facts
        if (f.role is Role.VALUE or (f.role is Role.COMPONENT and f.kpi is not None))
        and f.kpi in kpis
        and (side.variant is None or f.variant == side.variant)
        and (side.period is None or side.period.covers(f.period, f.as_of, f.at_close))
    ]
    if side.figure is not None:
        # The value the figure states; a figure that states none (the figure check reports it) leaves the
        # side standing for the KPI's value in play.
        pool = [f for f in pool if side.figure.matches(f.number)] or pool
    if not pool:
        return None
    return max(pool, key=lambda f: (f.period.end if f.period else f.as_of or date.min, f.variant == "default"))


def _bound(ctx: ToolContext, fact: Fact) -> BoundValue | None:
    if fact.value is not None:
        return fact.value
    claim = ValueClaim(kpi=fact.kpi, value=str(fact.number), period=fact.period, currency=fact.currency)
    try:
        return read_claim(ctx.binder, claim, "pack")
    except KpiError:
        return None


def refused(ctx: ToolContext, reading: Reading, facts: Sequence[Fact]) -> list[Refused]:
    """Every comparison in the draft that compare_metrics refuses, once per pair of values per sentence."""
    found: list[Refused] = []
    for index in range(len(reading.sentences)):
        seen: set[tuple[int, int]] = set()
        for left, right in sides(reading, index):
            a = resolve(left, facts, right.kpis)
            b = resolve(right, facts, left.kpis)
            if a is None or b is None or a is b or (a.kpi, a.variant, a.when) == (b.kpi, b.variant, b.when):
                continue
            if (id(a), id(b)) in seen:
                continue
            seen.add((id(a), id(b)))
            value_a, value_b = _bound(ctx, a), _bound(ctx, b)
            if value_a is None or value_b is None:
                continue
            try:
                compare_metrics(ctx, claim_of(value_a), claim_of(value_b))
            except UnsafeComparison as refusal:
                found.append(Refused(min(left.start, right.start), max(left.end, right.end), refusal.refusal))
            except KpiError:
                continue
    return found
