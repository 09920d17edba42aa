"""The governed binding: the rules that produced a number.

Two values are only comparable when they were produced under the same rules. Every
KPI in the catalog declares its binding, every value the server returns carries one,
and every comparison checks the axes defined here. The vocabularies are closed enums
so that a caller cannot invent a new meaning by spelling it differently.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ValueBasis(StrEnum):
    """What kind of money (or quantity) the number measures."""

    CONTRACTED_RECURRING = "contracted_recurring"
    """Live recurring run-rate (ARR-style): recurring lines of contracts in service."""
    CONTRACTED_COMMITTED = "contracted_committed"
    """Signed recurring commitments, including signed-not-yet-live (CARR-style)."""
    TOTAL_CONTRACT_VALUE = "total_contract_value"
    """Contract value including non-recurring lines (one-time fees, services)."""
    BOOKED = "booked"
    """Signed opportunity or order value at the time of booking."""
    RECOGNIZED_REVENUE = "recognized_revenue"
    """Revenue recognized in the period under the accounting policy."""
    CASH = "cash"
    """Cash balances or cash movements."""
    EXPENSE = "expense"
    """Costs incurred in the period (opex, COGS, payroll)."""
    CAPITAL = "capital"
    """Financing amounts and valuations (rounds, SAFEs, debt)."""
    COUNT = "count"
    """A number of entities (customers, deals, people)."""
    DURATION = "duration"
    """An elapsed time (days, months)."""
    SCORE = "score"
    """A survey or index score (e.g. NPS)."""
    RATIO_OF_BASES = "ratio_of_bases"
    """A quotient of two governed quantities; its inputs carry their own bases."""
    DATE = "date"
    """A calendar date."""
    NARRATIVE = "narrative"
    """Free text for a board narrative; no arithmetic applies."""


class GrainLevel(StrEnum):
    """The entity one value describes."""

    COMPANY = "company"
    SEGMENT = "segment"
    ACCOUNT = "account"
    CONTRACT = "contract"
    CONTRACT_LINE = "contract_line"
    OPPORTUNITY = "opportunity"
    NEW_CUSTOMER = "new_customer"
    EMPLOYEE = "employee"
    DEPARTMENT = "department"
    INVESTOR = "investor"
    ROUND = "round"


class Aggregation(StrEnum):
    """How entity-level amounts were combined into the value."""

    TOTAL = "total"
    MEAN = "mean"
    MEDIAN = "median"
    RATE = "rate"
    """A quotient of two totals (a margin, a retention rate, a ratio of spend to ARR)."""
    SINGLE = "single"
    """One entity's own amount, not combined with others."""


class Population(StrEnum):
    """Which entities were included."""

    ALL_ACTIVE = "all_active"
    NEW_LOGOS_IN_PERIOD = "new_logos_in_period"
    STARTING_COHORT = "starting_cohort"
    CHURNED_IN_PERIOD = "churned_in_period"
    EXISTING_CUSTOMERS = "existing_customers"
    DEALS_CLOSED_IN_PERIOD = "deals_closed_in_period"
    AT_RISK = "at_risk"
    TOP_CUSTOMERS = "top_customers"
    EMPLOYEES = "employees"
    WHOLE_COMPANY = "whole_company"
    """The company as one entity (balances, P&L lines, headcount totals)."""
    NOT_APPLICABLE = "not_applicable"


class RecurringInclusion(StrEnum):
    RECURRING_ONLY = "recurring_only"
    RECURRING_PLUS_ONE_TIME = "recurring_plus_one_time"
    RECURRING_PLUS_COMMITTED_USAGE = "recurring_plus_committed_usage"
    ALL_CHARGES = "all_charges"
    NOT_APPLICABLE = "not_applicable"


class Annualization(StrEnum):
    ALREADY_ANNUAL = "already_annual"
    """The amount is stated per year already; no conversion applied."""
    MRR_TIMES_12 = "mrr_times_12"
    """Current month's recurring amount × 12 (run rate)."""
    TCV_OVER_TERM_YEARS = "tcv_over_term_years"
    """Total contract value ÷ term in years (header-averaged across ramps)."""
    FIRST_CONTRACT_YEAR = "first_contract_year"
    """Value of the first twelve months of the contract."""
    CURRENT_CONTRACT_YEAR = "current_contract_year"
    """Value of the contract year in force, line-dated so ramps read their current step."""
    EXIT_RATE = "exit_rate"
    """Yearly rate of the contract's final step (its lines in force on its last day): a ramp at the rate it ends on."""
    NOT_APPLICABLE = "not_applicable"


class TimeBasisKind(StrEnum):
    POINT_IN_TIME = "point_in_time"
    PERIOD_FLOW = "period_flow"
    TRAILING_WINDOW = "trailing_window"
    NOT_APPLICABLE = "not_applicable"


class DateBasis(StrEnum):
    SIGNED = "signed"
    GO_LIVE = "go_live"
    PERIOD_CLOSE = "period_close"
    NOT_APPLICABLE = "not_applicable"


class Unit(StrEnum):
    """The physical unit of a value. Currency amounts carry their ISO code separately."""

    CURRENCY = "currency"
    CURRENCY_PER_MONTH = "currency_per_month"
    COUNT = "count"
    RATIO = "ratio"
    PERCENT = "percent"
    MONTHS = "months"
    DAYS = "days"
    SCORE = "score"
    DATE = "date"
    TEXT = "text"


class TimeBasis(BaseModel):
    """When the value is measured: at a point, over a period, or over a trailing window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: TimeBasisKind
    window_months: int | None = Field(
        default=None,
        ge=1,
        le=120,
        description="Length of a trailing window in months; only for trailing_window.",
    )

    @model_validator(mode="after")
    def _window_only_for_trailing(self) -> Self:
        if (self.kind is TimeBasisKind.TRAILING_WINDOW) != (self.window_months is not None):
            raise ValueError("window_months is required for trailing_window and forbidden otherwise")
        return self

    def describe(self) -> str:
        match self.kind:
            case TimeBasisKind.POINT_IN_TIME:
                return "point in time"
            case TimeBasisKind.PERIOD_FLOW:
                return "flow over the period"
            case TimeBasisKind.TRAILING_WINDOW:
                return f"trailing {self.window_months} months"
            case TimeBasisKind.NOT_APPLICABLE:
                return "no time basis"


class SegmentAssignment(StrEnum):
    """The date at which an account is placed in a segment member, for a value computed over one segment."""

    AT_PERIOD_CLOSE = "at_period_close"
    """Point-in-time and flow KPIs: the account's member at the period close (the value's as-of date)."""
    AT_WINDOW_OPEN = "at_window_open"
    """Retention and churn rates (NRR, GRR, logo churn): the member at the window's open, so the cohort is fixed."""

    @classmethod
    def for_population(cls, population: Population) -> SegmentAssignment:
        """A starting cohort is placed where it started; every other population where it stands at the close."""
        return cls.AT_WINDOW_OPEN if population is Population.STARTING_COHORT else cls.AT_PERIOD_CLOSE

    def describe(self) -> str:
        match self:
            case SegmentAssignment.AT_PERIOD_CLOSE:
                return "at period close"
            case SegmentAssignment.AT_WINDOW_OPEN:
                return "at window open"


class Segment(BaseModel):
    """One member of a ledger dimension (segment=enterprise) a value was computed over, and how accounts were placed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dimension: str = Field(min_length=1, max_length=64, description="The ledger dimension, e.g. 'segment' or 'region'.")
    member: str = Field(
        min_length=1, max_length=64, description="Its member, e.g. 'enterprise'; 'unassigned' if blank."
    )
    assignment: SegmentAssignment

    def describe(self) -> str:
        return f"{self.dimension}={self.member} {self.assignment.describe()}"


class Grain(BaseModel):
    """Which entity a value describes, how entities were combined, and which were included."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: GrainLevel
    aggregation: Aggregation
    population: Population
    segment: Segment | None = Field(
        default=None, description="Set on a value computed over one member of a dimension (grain level 'segment')."
    )

    @model_validator(mode="after")
    def _segment_is_a_segment_level(self) -> Self:
        if self.segment is not None and self.level is not GrainLevel.SEGMENT:
            raise ValueError("a value cut to one segment member has grain level 'segment'")
        return self

    @property
    def is_per_entity(self) -> bool:
        """A mean/median/single amount describes one entity, not the whole population."""
        return self.aggregation in (Aggregation.MEAN, Aggregation.MEDIAN, Aggregation.SINGLE)

    def describe(self) -> str:
        pop = self.population.value.replace("_", " ")
        if self.segment is not None:
            return f"{self.aggregation.value} over {pop} in {self.segment.describe()}"
        match self.aggregation:
            case Aggregation.TOTAL:
                return f"{self.level.value} total over {pop}"
            case Aggregation.MEAN:
                return f"average per {self.level.value.replace('_', ' ')} over {pop}"
            case Aggregation.MEDIAN:
                return f"median per {self.level.value.replace('_', ' ')} over {pop}"
            case Aggregation.RATE:
                return f"{self.level.value} rate over {pop}"
            case Aggregation.SINGLE:
                return f"one {self.level.value.replace('_', ' ')}"


class Binding(BaseModel):
    """The governed signals every value of a KPI carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value_basis: ValueBasis
    grain: Grain
    recurring_inclusion: RecurringInclusion
    annualization: Annualization
    time_basis: TimeBasis
    date_basis: DateBasis
    unit: Unit
    currency_required: bool = Field(
        description="True when the value is an amount of money and must state its ISO 4217 currency."
    )

    @model_validator(mode="after")
    def _currency_follows_unit(self) -> Self:
        money = self.unit in (Unit.CURRENCY, Unit.CURRENCY_PER_MONTH)
        if money != self.currency_required:
            raise ValueError("currency_required must be true exactly when the unit is a currency amount")
        return self


class BindingAxis(StrEnum):
    """The axes a comparison or an input check examines, in the order they are reported."""

    VALUE_BASIS = "value_basis"
    GRAIN_LEVEL = "grain.level"
    GRAIN_AGGREGATION = "grain.aggregation"
    GRAIN_POPULATION = "grain.population"
    GRAIN_SEGMENT = "grain.segment"
    RECURRING_INCLUSION = "recurring_inclusion"
    ANNUALIZATION = "annualization"
    TIME_BASIS = "time_basis"
    DATE_BASIS = "date_basis"
    UNIT = "unit"


def axis_values(binding: Binding) -> dict[BindingAxis, str]:
    """Flatten a binding into comparable strings, one per axis."""
    return {
        BindingAxis.VALUE_BASIS: binding.value_basis.value,
        BindingAxis.GRAIN_LEVEL: binding.grain.level.value,
        BindingAxis.GRAIN_AGGREGATION: binding.grain.aggregation.value,
        BindingAxis.GRAIN_POPULATION: binding.grain.population.value,
        BindingAxis.GRAIN_SEGMENT: "all" if binding.grain.segment is None else binding.grain.segment.describe(),
        BindingAxis.RECURRING_INCLUSION: binding.recurring_inclusion.value,
        BindingAxis.ANNUALIZATION: binding.annualization.value,
        BindingAxis.TIME_BASIS: binding.time_basis.describe(),
        BindingAxis.DATE_BASIS: binding.date_basis.value,
        BindingAxis.UNIT: binding.unit.value,
    }


def binding_differences(left: Binding, right: Binding) -> list[tuple[BindingAxis, str, str]]:
    """Axes on which two bindings disagree, as (axis, left value, right value)."""
    a, b = axis_values(left), axis_values(right)
    return [(axis, a[axis], b[axis]) for axis in BindingAxis if a[axis] != b[axis]]
