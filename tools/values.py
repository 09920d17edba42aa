"""Bound values: numbers that carry the rules that produced them.

A `BoundValue` is what the server returns; a `ValueClaim` is what a caller hands back
(verbatim, or typed by hand). A claim whose signature checks out is trusted; any
other claim is `asserted` and its binding is checked against the catalog.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StringConstraints

from kpi_context.ontology.binding import (
    Aggregation,
    Annualization,
    Binding,
    DateBasis,
    GrainLevel,
    Population,
    RecurringInclusion,
    Segment,
    TimeBasis,
    Unit,
    ValueBasis,
)
from kpi_context.tools.periods import Period

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# ASCII digits only: Unicode `\d` would read "١٠٠٠" as 1,000.
DecimalString = Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,30}(\.[0-9]{1,18})?$")]
Number = StrictInt | StrictFloat
"""A JSON number. Strings such as "12" are refused rather than coerced."""


class ValueStatus(StrEnum):
    COMPUTED = "computed"
    """Computed by this server from bound inputs."""
    REPORTED = "reported"
    """A figure supplied by the caller for a primary KPI or as a bare input, bound by the catalog."""
    ASSERTED = "asserted"
    """Typed by the caller with no valid server signature; its binding was validated, not produced, here."""


class BenchmarkBand(StrEnum):
    BELOW_P25 = "below_p25"
    AT_P25 = "at_p25"
    P25_TO_MEDIAN = "p25_to_median"
    AT_MEDIAN = "at_median"
    MEDIAN_TO_P75 = "median_to_p75"
    AT_P75 = "at_p75"
    ABOVE_P75 = "above_p75"


class BenchmarkPosition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    band: BenchmarkBand
    reading: str = Field(description="The band in words, with the quartiles, their unit and the direction.")
    p25: Decimal
    median: Decimal
    p75: Decimal
    source: str


class ProfileStamp(BaseModel):
    """The governance profile a value was computed under: its organisation id and content hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    hash: str


class Deviation(BaseModel):
    """A value computed with `override: true` against a lock of the organisation's profile."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: str = Field(description='The lock, as labels name it: "Acme\'s locked ACV policy".')
    locked: dict[str, str]
    chosen: dict[str, str]
    approved: str = Field(description="Who approved the lock, and when.")


class Provenance(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    catalog_version: str
    catalog_hash: str
    profile: ProfileStamp | None = Field(default=None, description="The governance profile in force, if any.")
    engine: str
    value_id: str = Field(description="Stable id of this value: a digest of what the signature covers.")
    signature: str = Field(description="HMAC-SHA256 over the value and its binding, made with the server's secret.")


class InputUse(BaseModel):
    """One input a computation used, by reference: its own bound value is not repeated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kpi: str = Field(description="The KPI the input is a value of ('<kpi>#<name>' for a raw figure).")
    value: Decimal | None
    label: str
    value_id: str | None = Field(default=None, description="The input's own value id, when it had one.")
    status: ValueStatus


class Component(BaseModel):
    """A named part of a result, e.g. one movement of an ARR bridge."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    value: Decimal
    description: str | None = None


class Engine(StrEnum):
    """The database that ran a ledger computation. Provenance only: equal values on two engines are one value."""

    DUCKDB = "duckdb"
    POSTGRESQL = "postgresql"
    SPARK = "spark"


class LedgerTrace(BaseModel):
    """Where a ledger-computed value came from: counts and ids, not the whole ledger."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str
    rows_read: int
    rows_used: int
    rows_rejected: int
    rejections: list[dict[str, object]] = Field(
        default_factory=list, description="The first few rejected rows with row number and reason."
    )
    # Required, with no default: results leave out fields at their default, and a trace handed back must read
    # exactly as it was signed — a defaulted engine would be signed but not shown.
    engine: Engine = Field(description="The database that computed the value.")
    contributing: dict[str, object] = Field(
        default_factory=dict,
        description="Counts of contributing accounts and contracts (ids only if the operator allows).",
    )


class LedgerCounts(BaseModel):
    """A ledger's row counts, stated once for the many values of a series or a board pack."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str
    rows_read: int
    rows_used: int
    rows_rejected: int

    @classmethod
    def of(cls, trace: LedgerTrace) -> LedgerCounts:
        return cls(
            dataset=trace.dataset,
            rows_read=trace.rows_read,
            rows_used=trace.rows_used,
            rows_rejected=trace.rows_rejected,
        )


class GroupValue(BaseModel):
    """A number bound to the rules that produced it. Quote `label` verbatim in narratives.

    Also the shape of one group of a segment cut (`BoundValue.groups`): a whole bound value of its own.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kpi: str
    variant: str = Field(description="'default' or the id of a governed variant.")
    value: Decimal | None = Field(description="Exact decimal (serialized as a string); null when undefined.")
    undefined_reason: str | None = None
    unit: Unit
    currency: CurrencyCode | None = None
    period: Period | None = None
    as_of: date | None = None
    binding: Binding
    basis: dict[str, str] = Field(
        default_factory=dict,
        description="Governed ledger options the value was computed under (its own, or passed on by its inputs).",
    )
    status: ValueStatus
    formula: str | None = None
    inputs: list[InputUse] = Field(default_factory=list)
    components: list[Component] = Field(default_factory=list)
    ledger: LedgerTrace | None = None
    warnings: list[str] = Field(default_factory=list)
    benchmark_position: BenchmarkPosition | None = None
    deviation: Deviation | None = None
    label: str = Field(description="One governed line to quote verbatim in a board narrative.")
    rounding: str | None = Field(
        default=None, description="The bound rounding rule: computed exactly, rounded once, half-even, to this step."
    )
    provenance: Provenance | None = Field(
        description="Present on values this server produced; absent on asserted (caller-typed) values."
    )


class BoundValue(GroupValue):
    """A number bound to the rules that produced it. Quote `label` verbatim in narratives."""

    groups: list[GroupValue] = Field(
        default_factory=list,
        description="With group_by: one bound value per member (sum to this total for additive KPIs).",
    )


# --- what callers send back -------------------------------------------------------


class GrainClaim(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    level: GrainLevel | None = None
    aggregation: Aggregation | None = None
    population: Population | None = None
    segment: Segment | None = Field(
        default=None, description="The segment member a cut value was computed over (with level 'segment')."
    )


class BindingClaim(BaseModel):
    """Any subset of binding axes a caller states for a value; unstated axes take the catalog's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value_basis: ValueBasis | None = None
    grain: GrainClaim | None = None
    recurring_inclusion: RecurringInclusion | None = None
    annualization: Annualization | None = None
    time_basis: TimeBasis | None = None
    date_basis: DateBasis | None = None
    unit: Unit | None = None
    currency_required: bool | None = None


class ValueClaim(BaseModel):
    """A value handed to the server: a bound value returned earlier, or one typed by the caller."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Number | DecimalString | None = Field(description="The number (or an exact decimal string).")
    kpi: str | None = Field(default=None, description="KPI id the value is for.")
    variant: str | None = None
    unit: Unit | None = Field(
        default=None,
        description="The unit the number is stated in; 'ratio' for a fraction (0.76) where a percent is needed.",
    )
    confirm: bool | None = Field(
        default=None, description="true to accept a figure outside the KPI's plausible range that you know is true."
    )
    currency: CurrencyCode | None = None
    period: Period | None = None
    as_of: date | None = None
    binding: BindingClaim | None = None
    basis: dict[str, str] | None = None
    status: ValueStatus | None = None
    provenance: Provenance | None = None
    # Carried along when a caller passes a bound value back verbatim; not trusted, not used.
    undefined_reason: str | None = None
    formula: str | None = None
    inputs: list[dict[str, object]] | None = None
    components: list[dict[str, object]] | None = None
    ledger: dict[str, object] | None = None
    warnings: list[str] | None = None
    benchmark_position: dict[str, object] | None = None
    deviation: dict[str, object] | None = None
    label: str | None = None
    rounding: str | None = None
    groups: list[dict[str, object]] | None = None
