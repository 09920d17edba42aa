"""A draft read once: its sentences, the KPIs and periods it names, its figures, and what each figure is said of.

A figure belongs to the nearest KPI mention of its own clause (an earlier one first), else to the
nearest earlier mention of its sentence, else to the nearest later one. Its period is the one named
in its clause, else in its KPI's clause, else in a clause of the sentence that states no figure of its
own ("In Q3, ARR reached $14.1M"). A rules phrase names the variant of the nearest mention of its KPI.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from kpi_context.tools.narrative.figures import Figure, extract_figures
from kpi_context.tools.narrative.layout import Sentence, sentences
from kpi_context.tools.narrative.mentions import KpiMention, Lexicon
from kpi_context.tools.narrative.timing import TextPeriod, find_periods
from kpi_context.tools.periods import Period


@dataclass(frozen=True)
class Mention:
    """A KPI mention with what the sentence says about it: candidates left after qualifiers, and a variant."""

    start: int
    end: int
    text: str
    kpis: tuple[str, ...]
    variant: str | None
    sentence: int
    clause: int


@dataclass(frozen=True)
class Placed:
    """A period at its place in the draft."""

    start: int
    end: int
    period: TextPeriod
    sentence: int
    clause: int


@dataclass(frozen=True)
class Quote:
    """A figure with the KPI mention and the period it is said of."""

    figure: Figure
    mention: Mention | None
    period: TextPeriod | None
    sentence: int
    clause: int

    @property
    def start(self) -> int:
        return self.figure.start


@dataclass(frozen=True)
class Reading:
    text: str
    sentences: tuple[Sentence, ...]
    mentions: tuple[Mention, ...]
    periods: tuple[Placed, ...]
    quotes: tuple[Quote, ...]

    def in_sentence(self, index: int) -> tuple[list[Mention], list[Quote], list[Placed]]:
        return (
            [m for m in self.mentions if m.sentence == index],
            [q for q in self.quotes if q.sentence == index],
            [p for p in self.periods if p.sentence == index],
        )


class _Positioned(Protocol):
    @property
    def start(self) -> int: ...

    @property
    def clause(self) -> int: ...


P = TypeVar("P", bound=_Positioned)


def nearest(items: Sequence[P], position: int, clause: int | None = None) -> P | None:
    """The item nearest `position`, an earlier one first; only within `clause` when it is given."""
    pool = [item for item in items if clause is None or item.clause == clause]
    earlier = [item for item in pool if item.start < position]
    if earlier:
        return max(earlier, key=lambda item: item.start)
    later = [item for item in pool if item.start > position]
    return min(later, key=lambda item: item.start) if later else None


def _locate(found: Sequence[Sentence], position: int) -> tuple[int, int]:
    for index, sentence in enumerate(found):
        if sentence.span.holds(position):
            return index, sentence.clause_of(position)
    return -1, -1


def _qualified(mentions: list[Mention], lexicon: Lexicon, text: str, found: Sequence[Sentence]) -> list[Mention]:
    """Mentions narrowed by the rules phrases beside them: "first contract year ACV" is new-logo ACV, first_year.

    A phrase qualifies the mention of its KPI just before it, or just after it, with no other mention between.
    """
    result = list(mentions)
    for qualifier in lexicon.qualifiers(text):
        sentence, _ = _locate(found, qualifier.start)
        here = [(index, m) for index, m in enumerate(result) if m.sentence == sentence]
        before = [pair for pair in here if pair[1].end <= qualifier.start]
        after = [pair for pair in here if pair[1].start >= qualifier.end]
        chosen = [pair for pair in (before[-1:] + after[:1]) if qualifier.kpi in pair[1].kpis]
        if not chosen:
            continue
        index, mention = chosen[0]
        variant = mention.variant if qualifier.variant is None else qualifier.variant
        if len(mention.kpis) > 1 or variant != mention.variant:
            result[index] = replace(mention, kpis=(qualifier.kpi,), variant=variant)
    return result


_BASELINE = re.compile(r"\b(?:from|than|vs\.?|versus|compared\s+(?:with|to)|against|since)\s*$", re.IGNORECASE)


def _period_for(figure: Figure, spoken: Sequence[Placed], figures: Sequence[Figure]) -> Placed | None:
    """The period of a figure's clause: the nearest one before it, else one after it with no other figure between."""
    earlier = [p for p in spoken if p.start < figure.start]
    if earlier:
        return max(earlier, key=lambda p: p.start)
    for later in sorted((p for p in spoken if p.start > figure.start), key=lambda p: p.start):
        if not any(figure.end <= other.start < later.start for other in figures):
            return later
    return None


def _baseline(text: str, sentence: Sentence, clause: int) -> bool:
    """A clause opened by "from", "than", "vs"…: its figure is the other side, not of its KPI's period."""
    start = sentence.clauses[clause].start
    return bool(_BASELINE.search(text, max(sentence.span.start, start - 16), start))


_OF = re.compile(r"\s+(?:of|in)\s+(?:the\s+|our\s+|its\s+)?$", re.IGNORECASE)


def _of_mention(text: str, figure: Figure, mentions: Sequence[Mention]) -> Mention | None:
    """ "$2.58M of new business": a figure followed by "of <KPI>" is that KPI's, whatever precedes it."""
    after = [m for m in mentions if m.start >= figure.end]
    if not after:
        return None
    following = min(after, key=lambda m: m.start)
    return following if _OF.fullmatch(text, figure.end, following.start) else None


def read(text: str, lexicon: Lexicon, anchor: Period | None) -> Reading:
    found = sentences(text)
    rules = lexicon.rules_spans(text)
    periods = find_periods(text, anchor)
    period_spans = [(p.start, p.end) for p in periods]
    raw: list[KpiMention] = lexicon.mentions(text, [*rules, *period_spans])
    mentions = [Mention(m.start, m.end, m.text, m.kpis, None, *_locate(found, m.start)) for m in raw]
    mentions = _qualified(mentions, lexicon, text, found)
    placed = [Placed(p.start, p.end, p, *_locate(found, p.start)) for p in periods]
    masks = [*rules, *period_spans, *((m.start, m.end) for m in mentions)]
    figures = extract_figures(text, masks)
    figure_clauses = {_locate(found, f.start) for f in figures}
    quotes: list[Quote] = []
    for figure in figures:
        sentence, clause = _locate(found, figure.start)
        in_sentence = [m for m in mentions if m.sentence == sentence]
        mention = _of_mention(text, figure, in_sentence) or nearest(in_sentence, figure.start, clause)
        mention = mention or nearest(in_sentence, figure.start)
        spoken = [p for p in placed if p.sentence == sentence]
        at = _period_for(figure, [p for p in spoken if p.clause == clause], figures)
        if at is None and mention is not None and not _baseline(text, found[sentence], clause):
            at = nearest(spoken, mention.start, mention.clause)
        if at is None:
            free = [p for p in spoken if (p.sentence, p.clause) not in figure_clauses]
            at = nearest(free, figure.start)
        quotes.append(Quote(figure, mention, None if at is None else at.period, sentence, clause))
    return Reading(text, tuple(found), tuple(mentions), tuple(placed), tuple(quotes))


def period_of(reading: Reading, mention: Mention) -> TextPeriod | None:
    """The period a sentence names for a KPI mention: in its clause, else in a clause stating no figure."""
    _, quotes, spoken = reading.in_sentence(mention.sentence)
    at = nearest(spoken, mention.start, mention.clause)
    if at is None:
        busy = {q.clause for q in quotes}
        at = nearest([p for p in spoken if p.clause not in busy], mention.start)
    return None if at is None else at.period
