"""check_narrative: the five checks on a draft against the bound values (or board pack) it is based on.

- unbacked_number: a figure no given value states at the precision shown;
- mismatched_value: a figure that is a given value, but of another KPI, period or variant than the sentence names;
- unsafe_comparison: two values set against each other that compare_metrics refuses to compare;
- unlabelled_basis: a name several KPIs (or variants) in play answer to, used without what tells them apart;
- missing_pair: a KPI quoted without a must-pair KPI whose value is in play (a warning).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from kpi_context.tools.board_pack import BoardPack
from kpi_context.tools.claims import read_claim
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.narrative.comparisons import COMPARING, refused
from kpi_context.tools.narrative.facts import Fact, Role, accepts, change_facts, pack_facts, pack_is_signed, value_facts
from kpi_context.tools.narrative.figures import FigureKind
from kpi_context.tools.narrative.mentions import Lexicon, lexicon_for
from kpi_context.tools.narrative.model import (
    MAX_FINDINGS,
    MAX_TEXT,
    MAX_VALUES,
    SEVERITY,
    Finding,
    FindingCode,
    NarrativeCheck,
    Severity,
)
from kpi_context.tools.narrative.reading import Mention, Quote, Reading, read
from kpi_context.tools.narrative.timing import TextPeriod, parse_label
from kpi_context.tools.periods import Period
from kpi_context.tools.resolve import resolve_kpi
from kpi_context.tools.values import BoundValue, ValueClaim

_PRIMARY = (Role.VALUE, Role.COMPONENT, Role.GROUP)
_CHANGE_WORDS = re.compile(
    r"\b(?:grew|grow\w*|rose|rise|risen|rising|up|down|fell|fall\w*|declin\w*|increas\w*|decreas\w*|chang\w*|"
    r"gain\w*|drop\w*|improv\w*|slipp?\w*|slid|climb\w*|jump\w*|expand\w*|shr[iu]nk\w*|add\w*|lost|los\w*|"
    r"qoq|yoy|over|sequential\w*|vs\.?|versus|compared|from|since|delta|difference|swing|moved?)\b",
    re.IGNORECASE,
)
_BENCHMARK_WORDS = re.compile(
    r"\b(?:benchmark\w*|median|percentile|quartile|p25|p75|peers?|industry|typical|best[\s-]in[\s-]class)\b",
    re.IGNORECASE,
)


def _finding(code: FindingCode, text: str, start: int, end: int, message: str, fix: str, **more: object) -> Finding:
    return Finding.model_validate(
        {
            "code": code,
            "severity": SEVERITY[code],
            "span": (start, end),
            "text": text[start:end],
            "message": message,
            "fix": fix,
            **more,
        }
    )


def _short(label: str) -> str:
    return label.split(" — ")[0]


def _later(fact: Fact) -> tuple[date, bool]:
    when = fact.period.end if fact.period is not None else (fact.as_of or date.min)
    return when, fact.role is Role.VALUE


def _fits(
    fact: Fact, kpis: tuple[str, ...] | None, variant: str | None, period: TextPeriod | None, lexicon: Lexicon
) -> bool:
    """Whether a fact is a value of what the sentence names: its KPI (or a KPI defined as its change over
    time, for a change: "ACV trend" for blended ACV's change), its variant if named, and its period."""
    other_kpi = kpis is not None and fact.kpi is not None and fact.kpi not in kpis
    if other_kpi and (fact.role is not Role.CHANGE or not lexicon.trends_of(fact.kpi or "") & set(kpis or ())):
        return False
    if variant is not None and fact.kpi is not None and fact.variant != variant:
        return False
    if period is None or (fact.period is None and fact.as_of is None):
        return True
    if fact.since is not None and period.covers(fact.since, None, fact.at_close):
        return True
    return period.covers(fact.period, fact.as_of, fact.at_close)


def _talks_of_change(reading: Reading, quote: Quote) -> bool:
    span = reading.sentences[quote.sentence].span
    sentence = reading.text[span.start : span.end]
    return bool(_CHANGE_WORDS.search(sentence) or COMPARING.search(sentence))


def _period(reading: Reading, quote: Quote, anchor: Period | None) -> TextPeriod | None:
    """The period a figure is said of; a sentence that names none and speaks of no change is about the
    draft's own period (the latest of the values given): "GRR of 80%" in a Q3 draft is Q3 GRR."""
    if quote.period is not None or anchor is None or _talks_of_change(reading, quote):
        return quote.period
    return TextPeriod(quote.figure.start, quote.figure.start, f"{anchor.label()} (the draft's period)", anchor)


def _roles(reading: Reading, quote: Quote) -> set[Role]:
    """What a figure can be, by what its sentence talks about: a change only where it speaks of change,
    a benchmark quartile only where it speaks of benchmarks ("Logo churn was 5%" is not the p25)."""
    span = reading.sentences[quote.sentence].span
    sentence = reading.text[span.start : span.end]
    roles = set(_PRIMARY)
    if _CHANGE_WORDS.search(sentence):
        roles.add(Role.CHANGE)
    if _BENCHMARK_WORDS.search(sentence):
        roles.add(Role.BENCHMARK)
    return roles


def _named(quote: Quote, in_play: set[str]) -> tuple[str, ...] | None:
    """The KPIs a quote is said of: the mention's candidates, narrowed to those in play when some are."""
    if quote.mention is None:
        return None
    playing = tuple(k for k in quote.mention.kpis if k in in_play)
    return playing or quote.mention.kpis


def _what_named(quote: Quote, kpis: tuple[str, ...] | None, period: TextPeriod | None) -> str:
    parts = [quote.mention.text] if quote.mention is not None and kpis is not None else []
    if quote.mention is not None and quote.mention.variant not in (None, "default"):
        parts.append(f"({quote.mention.variant.replace('_', ' ')})")
    if period is not None:
        parts.append(f"for {period.text}")
    return " ".join(parts) or "what the sentence names"


def _figure_findings(
    reading: Reading, facts: Sequence[Fact], in_play: set[str], lexicon: Lexicon, anchor: Period | None
) -> tuple[list[Finding], int]:
    findings: list[Finding] = []
    backed = 0
    for quote in reading.quotes:
        figure = quote.figure
        kpis = _named(quote, in_play)
        variant = quote.mention.variant if quote.mention is not None else None
        period = _period(reading, quote, anchor)
        roles = _roles(reading, quote)
        equal = [f for f in facts if accepts(figure.kind, f, figure.currency) and figure.matches(f.number)]
        stated = [f for f in equal if f.role in roles]
        if any(_fits(f, kpis, variant, period, lexicon) for f in stated):
            backed += 1
            continue
        expected = sorted(
            (
                f
                for f in facts
                if kpis is not None
                and f.kpi in kpis
                and f.role in _PRIMARY
                and (figure.kind is FigureKind.NUMBER or f.kind is figure.kind)
                and _fits(f, kpis, variant, period, lexicon)
            ),
            key=_later,
        )
        named = _what_named(quote, kpis, period)
        if stated:
            found = max(stated, key=lambda f: (f.role is Role.VALUE, _later(f)))
            fix = (
                f"write {figure.restyled(expected[-1].number)} — {expected[-1].label}"
                if expected
                else f"say what it is: {found.label}"
            )
            message = f"{figure.text} is not the value {named}: it is {found.label}"
            findings.append(
                _finding(
                    FindingCode.MISMATCHED_VALUE,
                    reading.text,
                    figure.start,
                    figure.end,
                    message,
                    fix,
                    kpis=list(dict.fromkeys(k for k in (found.kpi, *(kpis or ())) if k is not None)),
                )
            )
            continue
        if expected:
            fix = f"write {figure.restyled(expected[-1].number)} — {expected[-1].label}"
        elif kpis is not None and figure.kind in (FigureKind.PERCENT, FigureKind.POINTS, FigureKind.MONEY):
            fix = "a change or ratio between values: get it from compare_metrics and quote its summary, or remove it"
        else:
            fix = "remove the figure, or compute it (compute_kpi) and pass the bound value with the draft"
        message = f"{figure.text} matches no given value at the precision shown ({named})"
        if equal:
            message += f"; it equals {equal[0].label}, which the sentence does not speak of"
        findings.append(
            _finding(
                FindingCode.UNBACKED_NUMBER,
                reading.text,
                figure.start,
                figure.end,
                message,
                fix,
                kpis=list(kpis or ()),
            )
        )
    return findings, backed


def _latest_label(facts: Sequence[Fact], kpi: str, variant: str | None = None) -> str | None:
    pool = [f for f in facts if f.kpi == kpi and f.role is Role.VALUE and (variant is None or f.variant == variant)]
    return max(pool, key=_later).label if pool else None


def _basis_findings(reading: Reading, facts: Sequence[Fact], in_play: set[str], lexicon: Lexicon) -> list[Finding]:
    findings: list[Finding] = []
    for mention in reading.mentions:
        playing = [k for k in mention.kpis if k in in_play]
        if len(playing) > 1:
            options = [
                f'"{lexicon.unambiguous_name(k, mention.text)}" ({_latest_label(facts, k) or k})' for k in playing
            ]
            message = f'"{mention.text}" names {len(playing)} KPIs with values in play: {", ".join(playing)}'
            findings.append(
                _finding(
                    FindingCode.UNLABELLED_BASIS,
                    reading.text,
                    mention.start,
                    mention.end,
                    message,
                    "say " + " or ".join(options),
                    kpis=playing,
                )
            )
        elif len(playing) == 1 and mention.variant is None:
            kpi = lexicon.kpi(playing[0])
            variants = sorted({f.variant for f in facts if f.kpi == playing[0] and f.role is Role.VALUE})
            if kpi is None or len(variants) < 2:
                continue
            options = [f'"{mention.text} ({kpi.label_for(None if v == "default" else v)})"' for v in variants]
            message = f'"{mention.text}" is in play under {len(variants)} governed rules: {", ".join(variants)}'
            findings.append(
                _finding(
                    FindingCode.UNLABELLED_BASIS,
                    reading.text,
                    mention.start,
                    mention.end,
                    message,
                    "say " + " or ".join(options),
                    kpis=[playing[0]],
                )
            )
    return findings


def _pair_findings(reading: Reading, facts: Sequence[Fact], in_play: set[str], lexicon: Lexicon) -> list[Finding]:
    """Partners are looked for among the values given (not the components inside them): a pipeline that
    passes NRR and GRR and quotes only NRR is warned; one that passes NRR alone has no GRR to quote."""
    given = {f.kpi for f in facts if f.role is Role.VALUE and f.kpi is not None}
    named = {k for m in reading.mentions for k in m.kpis}
    first: dict[str, Mention] = {}
    for quote in reading.quotes:
        mention = quote.mention
        if mention is None:
            continue
        playing = [k for k in mention.kpis if k in in_play] or list(mention.kpis)
        if len(playing) == 1:
            first.setdefault(playing[0], mention)
    findings: list[Finding] = []
    for kpi_id, mention in sorted(first.items(), key=lambda item: item[1].start):
        kpi = lexicon.kpi(kpi_id)
        if kpi is None:
            continue
        missing = [p for p in kpi.must_pair_with if p in given and p not in named]
        if not missing:
            continue
        labels = [_latest_label(facts, p) or p for p in missing]
        message = f"{mention.text} is quoted without {', '.join(missing)}, which the catalog says to read it with"
        findings.append(
            _finding(
                FindingCode.MISSING_PAIR,
                reading.text,
                mention.start,
                mention.end,
                message,
                "quote beside it: " + "; ".join(labels),
                kpis=[kpi_id, *missing],
            )
        )
    return findings


def _comparison_findings(ctx: ToolContext, reading: Reading, facts: Sequence[Fact]) -> list[Finding]:
    findings: list[Finding] = []
    for found in refused(ctx, reading, facts):
        refusal = found.refusal
        fix = refusal.remedies[0].explanation if refusal.remedies else "quote each value on its own line"
        findings.append(
            _finding(
                FindingCode.UNSAFE_COMPARISON,
                reading.text,
                found.start,
                found.end,
                f"{refusal.message}: {refusal.left.label} vs {refusal.right.label}",
                f"do not set these against each other; {fix[0].lower()}{fix[1:]}",
                kpis=list(dict.fromkeys([refusal.left.kpi, refusal.right.kpi])),
                mismatches=refusal.mismatches,
                remedies=refusal.remedies,
            )
        )
    return findings


def _anchor(facts: Sequence[Fact], pack: BoardPack | None) -> Period | None:
    if pack is not None:
        return parse_label(pack.period)
    periods = [
        f.period for f in facts if f.role is Role.VALUE and f.period is not None and f.period.months in (1, 3, 12)
    ]
    periods = [p for p in periods if p.months != 12 or p.start.month == 1] or periods
    return max(periods, key=lambda p: (p.end, -(p.months or 0)), default=None)


def _bound_values(ctx: ToolContext, values: Sequence[ValueClaim | BoundValue]) -> list[BoundValue]:
    bound: list[BoundValue] = []
    for index, value in enumerate(values):
        if isinstance(value, BoundValue):
            bound.append(value)
            continue
        claim = value
        if claim.kpi is not None and claim.kpi not in ctx.catalog.kpis:
            found = resolve_kpi(ctx.catalog, ctx.index, claim.kpi, field=f"values.{index}.kpi")
            claim = claim.model_copy(update={"kpi": found.id})
        bound.append(read_claim(ctx.binder, claim, f"values.{index}"))
    return bound


def check_narrative(
    ctx: ToolContext,
    text: str,
    values: Sequence[ValueClaim | BoundValue] = (),
    pack: BoardPack | None = None,
) -> NarrativeCheck:
    """The findings on `text` against `values` and/or `pack`, in the order they occur in the draft."""
    if len(text) > MAX_TEXT:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"the draft is {len(text):,} characters; check at most {MAX_TEXT:,} at a time (a section per call)",
            field="text",
        )
    if len(values) > MAX_VALUES:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"at most {MAX_VALUES} values per call; {len(values)} were given",
            field="values",
        )
    if not values and pack is None:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            "give the bound values the draft is based on (`values`) or a `pack`",
            field="values",
        )
    bound = _bound_values(ctx, values)
    facts = [fact for value in bound for fact in value_facts(value, ctx.catalog)] + change_facts(ctx, bound)
    notes: list[str] = []
    if pack is not None:
        facts += pack_facts(ctx, pack)
        if not pack_is_signed(ctx, pack):
            notes.append(
                "the pack's signature does not check out: its figures were read as the caller's, not this server's"
            )
    lexicon = lexicon_for(ctx.catalog)
    anchor = _anchor(facts, pack)
    reading = read(text, lexicon, anchor)
    in_play = {f.kpi for f in facts if f.kpi is not None and f.role in _PRIMARY}
    figure_findings, backed = _figure_findings(reading, facts, in_play, lexicon, anchor)
    findings = [
        *figure_findings,
        *_comparison_findings(ctx, reading, facts),
        *_basis_findings(reading, facts, in_play, lexicon),
        *_pair_findings(reading, facts, in_play, lexicon),
    ]
    order = list(FindingCode)
    findings.sort(key=lambda f: (f.span[0], order.index(f.code)))
    if len(findings) > MAX_FINDINGS:
        notes.append(f"{len(findings)} findings; the first {MAX_FINDINGS} are listed")
        findings = findings[:MAX_FINDINGS]
    return NarrativeCheck(
        passed=not any(f.severity is Severity.ERROR for f in findings),
        findings=findings,
        figures=len(reading.quotes),
        backed=backed,
        kpis=list(dict.fromkeys(k for m in reading.mentions if len(m.kpis) == 1 for k in m.kpis)),
        notes=notes,
    )
