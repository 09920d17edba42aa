"""Plain-text renderings of catalog content for the terminal: a KPI card and a list of search hits."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator

from kpi_context.ontology.binding import Binding, binding_differences
from kpi_context.ontology.model import Expression, KpiDefinition
from kpi_context.ontology.search import SearchResult

WIDTH = 100
INDENT = "  "


def _wrapped(label: str, text: str) -> Iterator[str]:
    yield from textwrap.wrap(
        f"{label}: {text}", width=WIDTH, initial_indent=INDENT, subsequent_indent=INDENT * 3, break_on_hyphens=False
    )


def _bullets(label: str, items: Iterable[str]) -> Iterator[str]:
    listed = list(items)
    if not listed:
        return
    yield f"{INDENT}{label}:"
    for item in listed:
        yield from textwrap.wrap(
            item, width=WIDTH, initial_indent=INDENT * 2 + "- ", subsequent_indent=INDENT * 3, break_on_hyphens=False
        )


def binding_line(binding: Binding) -> str:
    currency = ", states its currency" if binding.currency_required else ""
    return (
        f"{binding.value_basis.value}; {binding.grain.describe()}; {binding.recurring_inclusion.value}; "
        f"annualization {binding.annualization.value}; {binding.time_basis.describe()}; "
        f"dated by {binding.date_basis.value}; unit {binding.unit.value}{currency}"
    )


def _expression_lines(expression: Expression, depth: int) -> Iterator[str]:
    pad = INDENT * depth
    yield f"{pad}formula: {expression.formula}"
    for item in expression.inputs:
        if item.kpi is not None:
            variant = f" [{item.variant}]" if item.variant else ""
            yield f"{pad}{INDENT}{item.name} = {item.kpi}{variant} ({item.period.value.replace('_', ' ')})"
        else:
            yield f"{pad}{INDENT}{item.name} = raw input: {item.description or '(no description)'}"


def _figure(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


def render_card(kpi: KpiDefinition) -> str:
    """Everything a person needs to read one KPI correctly, in the order they need it."""
    src = kpi.definition_source
    source = src.tier.value + (f" — {src.source_name}" if src.source_name else "")
    if src.publication_date is not None:
        source += f", {src.publication_date.isoformat()}"
    lines = [
        f"{kpi.label}  ({kpi.id})",
        f"{INDENT}{kpi.domain.value} · {kpi.field_type.value} · {kpi.production.value}"
        + (f" · family {kpi.family}" if kpi.family else "")
        + f" · source {source}",
    ]
    if kpi.aliases:
        lines.extend(_wrapped("also called", ", ".join(kpi.aliases)))
    lines.extend(_wrapped("description", kpi.description))
    lines.extend(_wrapped("default rules", kpi.variant_label))
    lines.extend(_wrapped("binding", binding_line(kpi.binding)))
    lines.extend(_wrapped("in words", kpi.formula))
    if kpi.expression is not None:
        lines.extend(_expression_lines(kpi.expression, 1))
    if kpi.variants:
        lines.append(f"{INDENT}variants:")
        for variant in kpi.variants:
            lines.append(f"{INDENT * 2}{variant.id} — {variant.label}")
            for axis, _, theirs in binding_differences(kpi.binding, variant.binding):
                lines.append(f"{INDENT * 3}{axis.value}: {theirs}")
            if variant.expression is not None:
                lines.extend(_expression_lines(variant.expression, 3))
    if kpi.benchmark is not None:
        b = kpi.benchmark
        direction = "higher is better" if b.higher_is_better else "lower is better"
        lines.append(
            f"{INDENT}benchmark: p25 {_figure(b.p25)} · median {_figure(b.median)} · p75 {_figure(b.p75)} {b.unit} "
            f"({b.source_name}, {b.source_year}; {direction})"
        )
    lines.extend(_wrapped("why it matters", kpi.why_it_matters))
    lines.extend(_wrapped("reading it", kpi.interpretation_guidance))
    if kpi.narrative_guidance:
        lines.extend(_wrapped("what belongs here", kpi.narrative_guidance))
    if kpi.drift_risk is not None:
        d = kpi.drift_risk
        lines.append(
            f"{INDENT}drift risk: ambiguity {d.ambiguity}/5 · source systems {d.source_system_dependency}/5 · "
            f"time window {d.time_window_sensitivity}/5 · governance {d.governance_need}/5"
        )
        lines.extend(_wrapped("risk for assistants", d.ai_agent_risk))
    if kpi.must_pair_with:
        lines.extend(_wrapped("read with", ", ".join(kpi.must_pair_with)))
    lines.extend(_bullets("decisions locked", (f"{d.question} → {d.governed_answer}" for d in kpi.decisions_to_lock)))
    lines.extend(_bullets("pitfalls", kpi.pitfalls))
    lines.extend(_bullets("drift traps", kpi.drift_traps))
    if kpi.review_cadence:
        lines.extend(_wrapped("review", kpi.review_cadence))
    return "\n".join(lines) + "\n"


def render_hits(result: SearchResult) -> str:
    if result.family is not None:
        head = f'"{result.query}" names the {result.family} family; choose the member you mean:'
    elif result.no_good_match:
        head = f'no close match for "{result.query}"; nearest suggestions:'
    else:
        head = f'results for "{result.query}":'
    lines = [head]
    for hit in result.hits:
        lines.append(f"{hit.score:>4}  {hit.kpi_id:<40} {hit.label}  [{hit.matched_on.value}: {hit.matched_text}]")
        if hit.distinguishing:
            lines.append(f"{'':6}{hit.distinguishing}")
        if len(hit.variants) > 1:
            lines.append(f"{'':6}variants: " + ", ".join(v.id for v in hit.variants))
    return "\n".join(lines) + "\n"
