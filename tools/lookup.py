"""lookup_kpi: what a KPI means, under which rules, and what to read it with."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kpi_context.ontology.binding import Binding
from kpi_context.ontology.model import (
    DEFAULT_VARIANT_ID,
    Benchmark,
    DecisionToLock,
    DefinitionSource,
    Domain,
    DriftRisk,
    Expression,
    FieldType,
    KpiDefinition,
    Production,
    Stage,
    Tier,
)
from kpi_context.ontology.search import MatchField, SearchError, describe_binding
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError


class CatalogRef(BaseModel):
    """Which catalog answered: every response can say so."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    content_hash: str


class VariantCard(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Pass as `variant` to compute_kpi; 'default' is the KPI's default rules.")
    label: str
    description: str
    binding: Binding
    formula: str | None
    when_to_use: str | None = None


class FormulaCard(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    in_words: str
    expression: str | None = Field(description="The machine formula compute_kpi evaluates; null for primary KPIs.")
    input_names: list[str] = Field(description="Keys compute_kpi expects in `inputs`.")


class KpiCard(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    label: str
    domain: Domain
    family: str | None
    aliases: list[str]
    description: str
    field_type: FieldType
    production: Production
    binding: Binding
    binding_summary: str
    distinguishing: str | None = Field(description="What sets this KPI apart from look-alikes of its family.")
    variants: list[VariantCard] = Field(description="The default rules first, then each governed variant.")
    formula: FormulaCard
    benchmark: Benchmark | None
    source: DefinitionSource
    tier: Tier
    why_it_matters: str
    interpretation_guidance: str
    narrative_guidance: str | None
    pitfalls: list[str]
    drift_traps: list[str]
    decisions_to_lock: list[DecisionToLock]
    must_pair_with: list[str]
    related_kpi_ids: list[str]
    drift_risk: DriftRisk | None
    score: int
    matched_on: MatchField


class LookupResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    query: str
    exact: bool = Field(description="True when the query named exactly one KPI (the first match).")
    family: str | None = Field(description="The KPI family the query names (e.g. 'acv'), if any.")
    matches: list[KpiCard]
    catalog: CatalogRef


def _formula_of(expression: Expression | None) -> str | None:
    return None if expression is None else expression.formula


def _card(kpi: KpiDefinition, score: int, matched_on: MatchField, distinguishing: str | None) -> KpiCard:
    expression = kpi.expression
    variants = [
        VariantCard(
            id=DEFAULT_VARIANT_ID,
            label=kpi.variant_label,
            description="The catalog's default rules for this KPI.",
            binding=kpi.binding,
            formula=None if expression is None else expression.formula,
        )
    ] + [
        VariantCard(
            id=v.id,
            label=v.label,
            description=v.description,
            binding=v.binding,
            formula=_formula_of(v.expression or expression),
            when_to_use=v.when_to_use,
        )
        for v in kpi.variants
    ]
    return KpiCard(
        id=kpi.id,
        label=kpi.label,
        domain=kpi.domain,
        family=kpi.family,
        aliases=list(kpi.aliases),
        description=kpi.description,
        field_type=kpi.field_type,
        production=kpi.production,
        binding=kpi.binding,
        binding_summary=describe_binding(kpi.binding),
        distinguishing=distinguishing,
        variants=variants,
        formula=FormulaCard(
            in_words=kpi.formula,
            expression=None if expression is None else expression.formula,
            input_names=[kpi.id] if expression is None else [i.name for i in expression.inputs],
        ),
        benchmark=kpi.benchmark,
        source=kpi.definition_source,
        tier=kpi.definition_source.tier,
        why_it_matters=kpi.why_it_matters,
        interpretation_guidance=kpi.interpretation_guidance,
        narrative_guidance=kpi.narrative_guidance,
        pitfalls=list(kpi.pitfalls),
        drift_traps=list(kpi.drift_traps),
        decisions_to_lock=list(kpi.decisions_to_lock),
        must_pair_with=list(kpi.must_pair_with),
        related_kpi_ids=list(kpi.related_kpi_ids),
        drift_risk=kpi.drift_risk,
        score=score,
        matched_on=matched_on,
    )


def lookup_kpi(
    ctx: ToolContext,
    query: str,
    *,
    domain: Domain | None = None,
    stage: Stage | None = None,
    tier: Tier | None = None,
    limit: int = 5,
) -> LookupResult:
    try:
        result = ctx.index.search(query, domain=domain, stage=stage, tier=tier, limit=limit)
    except SearchError as exc:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT, f"{exc.message}: name a KPI, an alias or a topic", field=exc.field
        ) from None
    if result.no_good_match or not result.hits:
        suggestions = [{"id": h.kpi_id, "label": h.label, "score": h.score} for h in result.hits]
        raise KpiError(
            ErrorCode.NOT_FOUND,
            f"no KPI matches {query!r} well; closest: {', '.join(h.kpi_id for h in result.hits) or 'none'}",
            field="query",
            details={"suggestions": suggestions},
        )
    cards = [
        _card(ctx.catalog.kpis[h.kpi_id], h.score, h.matched_on, h.distinguishing)
        for h in result.hits
        if h.kpi_id in ctx.catalog.kpis
    ]
    return LookupResult(
        query=query,
        exact=result.exact,
        family=result.family,
        matches=cards,
        catalog=CatalogRef(version=ctx.catalog.version, content_hash=ctx.catalog.content_hash),
    )
