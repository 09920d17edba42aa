"""lookup_kpi: what a KPI means, under which rules, and what to read it with.

An assistant pays for every character it reads, so the default answer is a card: what a
model needs to pick a KPI and use it (definition, binding in one line, unit and scale,
formula and inputs, benchmark, must-pair ids, the main pitfall). `detail="full"` adds the
whole governance record. An exact id or alias answers with one card and names its
look-alikes by id only; a family name ("ACV") answers with its members' cards; `limit`
always holds.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from kpi_context.ontology.binding import Binding
from kpi_context.ontology.model import (
    DecisionToLock,
    DefinitionSource,
    Domain,
    DriftRisk,
    Expression,
    KpiDefinition,
    Production,
    Stage,
    Tier,
)
from kpi_context.ontology.profile import BenchmarkRole
from kpi_context.ontology.search import GOOD_MATCH_SCORE, MAX_LIMIT, SearchError
from kpi_context.tools.binder import benchmark_quartiles
from kpi_context.tools.context import ToolContext
from kpi_context.tools.describe import (
    InputCard,
    binding_line,
    direction_text,
    input_cards,
    plausible_text,
    short_unit,
)
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.governance import approved_text, catalog_choice

MAX_SUGGESTIONS = 5


class Detail(StrEnum):
    CARD = "card"
    """What a model needs to choose and use the KPI."""
    FULL = "full"
    """The card plus the whole governance record (decisions, drift traps, sources, variants' bindings)."""


class CatalogRef(BaseModel):
    """Which catalog answered: every response can say so."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    content_hash: str


class VariantRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Pass as `variant` to compute_kpi.")
    label: str


class BenchmarkCard(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    quartiles: str = Field(description="p25, median and p75 with their unit.")
    source: str
    measured_under: str = Field(
        default="default", description="The variant whose rules the benchmark was measured under."
    )


class VariantDetail(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    label: str
    description: str
    binding: Binding
    formula: str | None
    when_to_use: str | None = None


class FullDetail(BaseModel):
    """The governance record behind a card (detail="full")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str
    production: Production
    aliases: list[str]
    binding: Binding
    direction_reason: str | None
    formula_in_words: str
    variants: list[VariantDetail] = Field(description="The default rules first, then each governed variant.")
    source: DefinitionSource = Field(description="Who defined it; tier 'published' cites an outside source.")
    why_it_matters: str
    interpretation_guidance: str
    narrative_guidance: str | None
    pitfalls: list[str]
    drift_traps: list[str]
    decisions_to_lock: list[DecisionToLock]
    related_kpi_ids: list[str]
    drift_risk: DriftRisk | None


class OrgNote(BaseModel):
    """What the organisation's governance profile decided for this KPI, beside the catalog's default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    locked: str | None = Field(default=None, description="The locked choice; compute_kpi applies it by default.")
    catalog_default: str | None = None
    approved: str | None = None
    definition: str | None = Field(default=None, description="The organisation's own definition: approved or proposed.")
    slide_label: str | None = None
    benchmark: BenchmarkCard | None = Field(default=None, description="The organisation's extra benchmark.")


class KpiCard(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    label: str
    definition: str = Field(description="One sentence.")
    rules: str = Field(description="The default binding in one line: grain, inclusion, annualization, time, date.")
    distinguishing: str | None = Field(
        default=None, description="What sets it apart from look-alikes of its family (e.g. the other ACVs)."
    )
    unit: str
    direction: str | None = None
    plausible: str | None = Field(
        default=None, description="Where true values lie (not shown for money); bare numbers outside are refused."
    )
    formula: str | None = Field(default=None, description="What compute_kpi evaluates; null for a reported figure.")
    inputs: list[InputCard] = Field(default_factory=list)
    variants: list[VariantRef] = Field(default_factory=list, description="Governed alternatives to the default.")
    ledger: bool = Field(default=False, description="True when compute_kpi can compute it from a contract ledger.")
    benchmark: BenchmarkCard | None = None
    must_pair_with: list[str] = Field(default_factory=list)
    pitfall: str | None = Field(default=None, description="The most important way this KPI is misused.")
    org: OrgNote | None = None
    full: FullDetail | None = None


class FamilyMember(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    distinguishing: str


class LookupResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    query: str
    exact: bool = Field(description="True only when the query named exactly one KPI.")
    family: str | None = Field(default=None, description="The KPI family the query names (e.g. 'acv'), if any.")
    matches: list[KpiCard]
    look_alikes: list[FamilyMember] = Field(
        default_factory=list, description="Other members of the matched KPI's family: look them up to compare rules."
    )
    more: int = Field(default=0, description="Further matches left out by `limit`.")
    catalog: CatalogRef


def card(ctx: ToolContext, kpi: KpiDefinition, *, detail: Detail = Detail.CARD, family_hit: bool = False) -> KpiCard:
    """The card of one KPI; `family_hit` adds what distinguishes it from its look-alikes."""
    expression = kpi.expression
    benchmark = kpi.benchmark
    return KpiCard(
        id=kpi.id,
        label=kpi.label,
        definition=_first_sentence(kpi.description),
        rules=binding_line(kpi.binding),
        distinguishing=kpi.variant_label if family_hit and kpi.family else None,
        unit=short_unit(kpi.binding.unit),
        direction=direction_text(kpi),
        plausible=None if kpi.binding.currency_required else plausible_text(kpi.plausible_range, kpi.binding.unit),
        formula=None if expression is None else expression.formula,
        inputs=input_cards(ctx.catalog, kpi),
        variants=[VariantRef(id=v.id, label=v.label) for v in kpi.variants],
        ledger=kpi.id in ctx.ledger_kpis,
        benchmark=None
        if benchmark is None
        else BenchmarkCard(
            quartiles=benchmark_quartiles(benchmark, kpi.binding.unit),
            source=f"{benchmark.source_name}, {benchmark.source_year}",
            measured_under=benchmark.variant or "default",
        ),
        must_pair_with=list(kpi.must_pair_with),
        pitfall=kpi.pitfalls[0] if kpi.pitfalls else None,
        org=_org_note(ctx, kpi),
        full=_full(kpi) if detail is Detail.FULL else None,
    )


def _choice_text(choice: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in choice.items())


def _org_note(ctx: ToolContext, kpi: KpiDefinition) -> OrgNote | None:
    """The profile's lock, own definition, slide label and extra benchmark for `kpi`; None when it has none."""
    if ctx.profile is None:
        return None
    profile = ctx.profile.profile
    lock = profile.lock_for(kpi.id)
    status = ctx.profile.status_of(kpi.id)
    extra = next((b for b in profile.benchmarks if b.kpi == kpi.id and b.role is BenchmarkRole.EXTRA), None)
    note = OrgNote(
        locked=None
        if lock is None
        else _choice_text({**({"variant": lock.variant} if lock.variant else {}), **lock.basis}),
        catalog_default=None if lock is None else _choice_text(catalog_choice(kpi, lock)),
        approved=None if lock is None else approved_text(lock),
        definition=None if status is None else f"{profile.organisation.name}'s own, {status.value}",
        slide_label=profile.slide_label(kpi.id),
        benchmark=None
        if extra is None
        else BenchmarkCard(
            quartiles=benchmark_quartiles(extra.benchmark, kpi.binding.unit),
            source=f"{extra.benchmark.source_name}, {extra.benchmark.source_year}",
            measured_under=extra.benchmark.variant or "default",
        ),
    )
    return note if note.model_dump(exclude_none=True) else None


def _first_sentence(text: str) -> str:
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def _formula(expression: Expression | None) -> str | None:
    return None if expression is None else expression.formula


def _full(kpi: KpiDefinition) -> FullDetail:
    expression = kpi.expression
    default = VariantDetail(
        id="default",
        label=kpi.variant_label,
        description="The catalog's default rules for this KPI.",
        binding=kpi.binding,
        formula=_formula(expression),
    )
    variants = [
        VariantDetail(
            id=v.id,
            label=v.label,
            description=v.description,
            binding=v.binding,
            formula=_formula(kpi.expression_for(v.id)),
            when_to_use=v.when_to_use,
        )
        for v in kpi.variants
    ]
    return FullDetail(
        description=kpi.description,
        production=kpi.production,
        aliases=list(kpi.aliases),
        binding=kpi.binding,
        direction_reason=direction_text(kpi, with_reason=True),
        formula_in_words=kpi.formula,
        variants=[default, *variants],
        source=kpi.definition_source,
        why_it_matters=kpi.why_it_matters,
        interpretation_guidance=kpi.interpretation_guidance,
        narrative_guidance=kpi.narrative_guidance,
        pitfalls=list(kpi.pitfalls),
        drift_traps=list(kpi.drift_traps),
        decisions_to_lock=list(kpi.decisions_to_lock),
        related_kpi_ids=list(kpi.related_kpi_ids),
        drift_risk=kpi.drift_risk,
    )


def lookup_kpi(
    ctx: ToolContext,
    query: str,
    *,
    domain: Domain | None = None,
    stage: Stage | None = None,
    tier: Tier | None = None,
    limit: int = 5,
    detail: Detail = Detail.CARD,
) -> LookupResult:
    try:
        # Ranked deep enough to say how many good matches `limit` leaves out.
        result = ctx.index.search(query, domain=domain, stage=stage, tier=tier, limit=MAX_LIMIT)
    except SearchError as exc:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT, f"{exc.message}: name a KPI, an alias or a topic", field=exc.field
        ) from None
    hits = [h for h in result.hits if h.kpi_id in ctx.catalog.kpis]
    if result.no_good_match or not hits:
        suggestions = [{"id": h.kpi_id, "label": h.label} for h in hits[:MAX_SUGGESTIONS]]
        raise KpiError(
            ErrorCode.NOT_FOUND,
            f"no KPI matches {query!r}; closest: {', '.join(h.kpi_id for h in hits[:MAX_SUGGESTIONS]) or 'none'}",
            field="query",
            details={"suggestions": suggestions},
        )
    catalog = CatalogRef(version=ctx.catalog.version, content_hash=ctx.catalog.content_hash)
    if result.exact and result.resolved_id is not None:
        return _exact(ctx, query, result.resolved_id, detail, catalog)
    # Weak hits (similar letters, no shared word) are suggestions in a not_found, never cards beside good ones.
    good = [h for h in hits if h.score >= GOOD_MATCH_SCORE]
    chosen = good[:limit]
    return LookupResult(
        query=query,
        exact=False,
        family=result.family,
        matches=[card(ctx, ctx.catalog.kpis[h.kpi_id], detail=detail, family_hit=h.family is not None) for h in chosen],
        more=len(good) - len(chosen),
        catalog=catalog,
    )


def _exact(ctx: ToolContext, query: str, kpi_id: str, detail: Detail, catalog: CatalogRef) -> LookupResult:
    """One card for the KPI named; its family's other members by id and distinguishing phrase only."""
    kpi = ctx.catalog.kpis[kpi_id]
    look_alikes = []
    if kpi.family is not None:
        look_alikes = [
            FamilyMember(id=other.id, distinguishing=other.variant_label)
            for other in ctx.index.kpis
            if other.family == kpi.family and other.id != kpi.id
        ]
    return LookupResult(
        query=query,
        exact=True,
        family=kpi.family if look_alikes else None,
        matches=[card(ctx, kpi, detail=detail, family_hit=bool(look_alikes))],
        look_alikes=look_alikes,
        catalog=catalog,
    )
