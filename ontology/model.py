"""The KPI definition model.

It carries every field of the public board-KPI ontology (format v1.3.0) in snake_case,
plus the governance layer: the binding each value carries, a machine-evaluable
expression, governed variants, drift risk and the calculation policy.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kpi_context.ontology.binding import Binding

KPI_ID_PATTERN = r"^(sales|customers|finance|operations|product|hr|fundraising)\.[a-z0-9]+(?:_[a-z0-9]+)*$"
SLUG_PATTERN = r"^[a-z0-9]+(?:_[a-z0-9]+)*$"
INPUT_NAME_PATTERN = r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)?$"

KpiId = Annotated[str, Field(pattern=KPI_ID_PATTERN, description="domain.slug, e.g. sales.arr")]
Slug = Annotated[str, Field(pattern=SLUG_PATTERN)]
Text = Annotated[str, Field(min_length=1)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Domain(StrEnum):
    SALES = "sales"
    CUSTOMERS = "customers"
    FINANCE = "finance"
    OPERATIONS = "operations"
    PRODUCT = "product"
    HR = "hr"
    FUNDRAISING = "fundraising"


class FieldType(StrEnum):
    CURRENCY = "currency"
    PERCENTAGE = "percentage"
    NUMBER = "number"
    TEXT = "text"
    DATE = "date"


class Stage(StrEnum):
    """Company stages, spelled as the public ontology spells them."""

    PRE_SEED = "preSeed"
    SEED = "seed"
    SERIES_A = "seriesA"
    SERIES_B = "seriesB"
    SERIES_C = "seriesC"
    PUBLIC = "public"


class StageRelevance(StrEnum):
    CORE = "core"
    RECOMMENDED = "recommended"
    OPTIONAL = "optional"


class Maturity(StrEnum):
    GENERAL = "general"
    EMERGING = "emerging"


class Tier(StrEnum):
    PUBLISHED = "published"
    EDITORIAL = "editorial"


class Production(StrEnum):
    COMPUTED = "computed"
    PRIMARY = "primary"


class MetricTimeBasis(StrEnum):
    POINT_IN_TIME = "point_in_time"
    PERIOD_FLOW = "period_flow"
    TRAILING_WINDOW = "trailing_window"


class MoneyBasis(StrEnum):
    CONTRACTED_ARR = "contracted_arr"
    RECOGNIZED_REVENUE = "recognized_revenue"
    CASH = "cash"
    BOOKINGS = "bookings"


class CohortBasis(StrEnum):
    CLOSED_START_COHORT = "closed_start_cohort"
    ALL_ACTIVE = "all_active"


class MetricDateBasis(StrEnum):
    GO_LIVE = "go_live"
    SIGNED = "signed"
    PERIOD_CLOSE = "period_close"


class MetricBasis(_Frozen):
    """The public ontology's own (coarser) basis axes, kept for interop."""

    time_basis: MetricTimeBasis | None = None
    money_basis: MoneyBasis | None = None
    cohort_basis: CohortBasis | None = None
    date_basis: MetricDateBasis | None = None
    production: Production | None = None


class DefinitionSource(_Frozen):
    tier: Tier
    source_name: str | None = None
    source_url: str | None = None
    section_ref: str | None = None
    publication_date: date | None = None
    attribution_notice: str | None = None


class BenchmarkKind(StrEnum):
    """Where a benchmark's quartiles come from, which decides how a value placed on them is read."""

    PEER_SURVEY = "peer_survey"
    """Quartiles measured on surveyed companies: a value is placed among peers."""
    EDITORIAL = "editorial"
    """Bands set by the catalog's editors as guidance; no companies were measured, so they are not peers."""


class BenchmarkVerification(StrEnum):
    """How far the figures were traced to the publication the benchmark names."""

    CHECKED_AGAINST_SOURCE = "checked_against_source"
    """Each quartile was read in the named publication itself."""
    UNVERIFIED = "unverified"
    """Carried over from a secondary source (e.g. the public board-KPI ontology) and not checked against the
    publication named: shown with that warning wherever a value is placed on it."""


class Benchmark(_Frozen):
    p25: float
    median: float
    p75: float
    unit: str = Field(description="Unit as the source states it: '$', '%', 'ratio', 'count'.")
    source_name: str
    source_year: str
    higher_is_better: bool
    variant: Slug | None = Field(
        default=None,
        description="Variant whose binding the benchmark was measured under; null means the KPI's default.",
    )
    kind: BenchmarkKind = Field(
        default=BenchmarkKind.PEER_SURVEY, description="Measured on surveyed companies, or editorial bands."
    )
    measured_as: str | None = Field(
        default=None,
        description="What the source measured, in the catalog's terms (population, grain, window, inclusions), so a "
        "reader can see that it matches the binding named by `variant`.",
    )
    verification: BenchmarkVerification | None = Field(
        default=None, description="Whether the figures were checked against the named publication; null: not stated."
    )
    verification_note: str | None = Field(
        default=None, description="What the figures were checked against, or why they could not be."
    )

    @property
    def measures_peers(self) -> bool:
        """True when the quartiles describe surveyed companies, so a value can be placed among peers."""
        return self.kind is BenchmarkKind.PEER_SURVEY

    @property
    def unverified(self) -> bool:
        """True when the figures were stated as not checked against the publication they are credited to."""
        return self.verification is BenchmarkVerification.UNVERIFIED


class Direction(StrEnum):
    """Which way a move of the KPI is good news; every numeric KPI takes a stated view."""

    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"
    NEUTRAL = "neutral"
    """Neither way is good in itself (a balance, a mix, a size): a change is reported, not judged."""


class Polarity(_Frozen):
    direction: Direction
    reason: Text = Field(description="Why this direction: what a rise means for the business.")


class PlausibleRange(_Frozen):
    """Where a true value of the KPI lies, in its own unit (percent on the 0–100 scale).

    A bare number outside it is refused as a likely scale or unit slip (0.76 typed for 76 %),
    unless the caller states the unit and confirms the figure. Limits are inclusive.
    """

    min: Decimal | None = Field(default=None, description="Lowest plausible value; null means unbounded below.")
    max: Decimal | None = Field(default=None, description="Highest plausible value; null means unbounded above.")
    note: str | None = Field(default=None, description="What a value outside the range usually means.")
    min_by_definition: bool = Field(
        default=False,
        description="The minimum follows from the definition (a movement stated as a positive amount, which formulas "
        "subtract), so no confirmation admits a value below it.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError("plausible range min must be below max")
        if self.min_by_definition and self.min is None:
            raise ValueError("a minimum set by definition needs a min")
        return self

    def below_definitional_min(self, value: Decimal) -> bool:
        """A value below a minimum the definition sets: wrong whatever the caller confirms."""
        return self.min_by_definition and self.min is not None and value < self.min

    def contains(self, value: Decimal) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class PeriodRole(StrEnum):
    """Which period an expression input is read for, relative to the computed period."""

    CURRENT = "current"
    PRIOR_PERIOD = "prior_period"
    PRIOR_YEAR = "prior_year"
    PRIOR_QUARTER = "prior_quarter"
    """Three months earlier, whatever the period's length (a trailing-window value one quarter back)."""
    WINDOW = "window"
    """The trailing window of the computed KPI's binding, ending at the period's close (a flow over it)."""
    WINDOW_OPEN = "window_open"
    """The day before that trailing window starts: the opening balance of a trailing-window rate."""


class ExpressionInput(_Frozen):
    """One named operand of an expression: another KPI, or a raw figure with its own binding."""

    name: Annotated[str, Field(pattern=INPUT_NAME_PATTERN)]
    kpi: KpiId | None = Field(default=None, description="The KPI this input reads; null for a raw input.")
    variant: Slug | None = Field(default=None, description="Variant of that KPI; null means its default.")
    period: PeriodRole = PeriodRole.CURRENT
    binding: Binding | None = Field(default=None, description="Required binding of a raw input.")
    description: str | None = None
    plausible_range: PlausibleRange | None = Field(
        default=None, description="For a raw input: where true values lie (a KPI input uses its KPI's range)."
    )

    @model_validator(mode="after")
    def _kpi_or_raw(self) -> Self:
        if (self.kpi is None) == (self.binding is None):
            raise ValueError("an input names either a kpi or, for a raw input, its own binding")
        return self


class Expression(_Frozen):
    """A formula in the catalog's small arithmetic language over named inputs."""

    formula: Text = Field(
        description="Arithmetic over input names: + - * / parentheses, decimal literals, and the "
        "functions per_month(x), percent(x), min(a, b), max(a, b)."
    )
    inputs: tuple[ExpressionInput, ...] = Field(min_length=1)


class Variant(_Frozen):
    """A named governed alternative to the KPI's default rules."""

    id: Slug
    label: Text
    description: Text
    binding: Binding
    expression: Expression | None = Field(
        default=None, description="Own formula when the variant computes differently; else the KPI's."
    )
    when_to_use: str | None = None


class DriftRisk(_Frozen):
    ambiguity: int = Field(ge=1, le=5)
    source_system_dependency: int = Field(ge=1, le=5)
    time_window_sensitivity: int = Field(ge=1, le=5)
    governance_need: int = Field(ge=1, le=5)
    ai_agent_risk: Text
    rationale: str | None = None


class DecisionToLock(_Frozen):
    question: Text
    why_it_matters: Text
    governed_answer: Text = Field(description="What this catalog decided, so every value carries it.")


class CalculationPolicy(_Frozen):
    inclusion_rules: tuple[str, ...] = ()
    exclusion_rules: tuple[str, ...] = ()
    required_inputs: tuple[str, ...] = ()
    edge_cases: tuple[str, ...] = ()
    validation_checks: tuple[str, ...] = ()
    common_miscomputations: tuple[str, ...] = ()


class KpiDefinition(_Frozen):
    # --- the public ontology's fields (v1.3.0), snake_case -------------------
    id: KpiId
    slug: Slug
    domain: Domain
    label: Text
    description: Text
    field_type: FieldType
    unit_label: str | None = Field(default=None, description="The public ontology's unit string: %, months…")
    maturity: Maturity = Maturity.GENERAL
    suggested_for_stages: tuple[Stage, ...] = ()
    default_owning_functions: tuple[str, ...] = ()
    stage_relevance: dict[Stage, StageRelevance] = Field(default_factory=dict)
    definition_source: DefinitionSource
    benchmark: Benchmark | None = None
    formula: Text = Field(description="The formula in words, for people.")
    why_it_matters: Text
    interpretation_guidance: Text
    related_kpi_ids: tuple[KpiId, ...] = ()
    metric_basis: MetricBasis | None = None

    # --- governance -------------------------------------------------------------
    family: Slug | None = Field(default=None, description="Groups KPIs people call by one name, e.g. 'acv'.")
    polarity: Polarity | None = Field(
        default=None, description="Which way is good and why; required for numeric KPIs (a semantic rule)."
    )
    plausible_range: PlausibleRange | None = Field(
        default=None, description="Where true values lie; required for numeric KPIs (a semantic rule)."
    )
    aliases: tuple[Text, ...] = ()
    merged_ids: tuple[KpiId, ...] = Field(
        default=(),
        description="Ids of former KPIs merged into this one as true duplicates: they resolve to it, and the "
        "public-format export writes it under each of them too, so the public ontology's ids stay importable.",
    )
    production: Production
    binding: Binding
    variant_label: Text = Field(description="Short name of the default rules, used in governed labels.")
    expression: Expression | None = None
    variants: tuple[Variant, ...] = ()
    narrative_guidance: str | None = Field(default=None, description="For text KPIs: what belongs in the field.")
    drift_risk: DriftRisk | None = None
    decisions_to_lock: tuple[DecisionToLock, ...] = ()
    validation_questions: tuple[str, ...] = ()
    drift_traps: tuple[str, ...] = ()
    pitfalls: tuple[str, ...] = ()
    must_pair_with: tuple[KpiId, ...] = ()
    review_cadence: str | None = None
    calculation_policy: CalculationPolicy | None = None

    @model_validator(mode="after")
    def _id_is_domain_and_slug(self) -> Self:
        if self.id != f"{self.domain.value}.{self.slug}":
            raise ValueError(f"id {self.id!r} must equal domain.slug ({self.domain.value}.{self.slug})")
        return self

    @property
    def known_ids(self) -> tuple[str, ...]:
        """Its own id first, then every id merged into it."""
        return (self.id, *self.merged_ids)

    def variant(self, variant_id: str | None) -> Variant | None:
        """The named variant, or None for the default rules."""
        if variant_id is None:
            return None
        return next((v for v in self.variants if v.id == variant_id), None)

    def binding_for(self, variant_id: str | None) -> Binding:
        found = self.variant(variant_id)
        return self.binding if found is None else found.binding

    def expression_for(self, variant_id: str | None) -> Expression | None:
        found = self.variant(variant_id)
        if found is not None and found.expression is not None:
            return found.expression
        return self.expression

    @property
    def higher_is_better(self) -> bool | None:
        """True or False when a rise is good or bad news; None for a neutral KPI."""
        if self.polarity is None or self.polarity.direction is Direction.NEUTRAL:
            return None
        return self.polarity.direction is Direction.HIGHER_IS_BETTER

    def label_for(self, variant_id: str | None) -> str:
        found = self.variant(variant_id)
        return self.variant_label if found is None else found.label


DEFAULT_VARIANT_ID = "default"
"""The id callers may use for a KPI's default rules."""


class CatalogManifest(_Frozen):
    name: Text
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    released_at: date
    description: Text


_WS = re.compile(r"[^a-z0-9]+")


def normalize_term(text: str) -> str:
    """Fold case, spaces and punctuation so 'Net-Dollar Retention' finds 'net dollar retention'."""
    return _WS.sub("", text.lower())
