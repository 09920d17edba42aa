"""The governed rules a contract-ledger computation can change, and each KPI's defaults.

Every rule that moves a ledger-computed number is a `basis` key with a closed vocabulary.
A computation states the value of every key that applies to its KPI (the caller's choice,
or the default below) and the value carries them, so two numbers computed under different
rules can never pass for one another. Keys that do not apply to a KPI are refused rather
than ignored: a caller who asks for "GRR capped per customer" on ARR has misunderstood
something worth telling them.

Two keys are also axes of the binding (`recurring_inclusion`, `annualization`) and reuse
the binding's own vocabulary; `live_basis` maps onto the binding's `date_basis`. Their
defaults come from the catalog binding of the KPI (or of the chosen variant) whenever that
binding names one; the table here only fills in the rest.

No I/O here: the engine in `kpi_context.tools.ledger` reads this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict

from kpi_context.ontology.binding import (
    Annualization,
    Binding,
    DateBasis,
    RecurringInclusion,
    ValueBasis,
)


class OptionKey(StrEnum):
    """The `basis` keys a ledger computation accepts."""

    RECURRING_INCLUSION = "recurring_inclusion"
    """Which charge types count: recurring only, or also committed usage, one-time and services lines."""
    ANNUALIZATION = "annualization"
    """How a contract's lines become one yearly amount (run rate, TCV ÷ term, first or current year)."""
    SHORT_TERMS = "short_terms"
    """Contracts (or contract years) shorter than a year: annualize up, or count at face value."""
    DAY_COUNT = "day_count"
    """How partial periods are measured: 30-day months, actual/365, actual/actual, or over the valuation year."""
    DISCOUNTS = "discounts"
    """Net amounts (as billed) or list amounts (before discount)."""
    LIVE_BASIS = "live_basis"
    """Whether a line counts from go-live (ARR) or from signature (CARR, bookings)."""
    CO_TERM = "co_term"
    """Mid-contract changes ending with the contract: their revenue over the remaining term, or their run rate."""
    CHURN_TIMING = "churn_timing"
    """When a cancellation removes value: at the end of the paid period, or on the cancellation date."""
    GRR_CAP = "grr_cap"
    """Gross retention capped per customer (Σ min(current, base) ÷ Σ base) or on the aggregate."""
    FULL_DISCOUNT = "full_discount"
    """A line discounted to zero: the customer has churned, or stays a customer whose value contracted to nothing."""
    REACTIVATION = "reactivation"
    """A returning customer's value: a movement of its own, or part of expansion."""
    SAME_PERIOD_CHURN = "same_period_churn"
    """A customer who starts and leaves within one period: in neither new nor churned, or in both."""
    NEW_CUSTOMER_EXPANSION = "new_customer_expansion"
    """Growth of a customer within the period it arrived in: new business, or expansion."""
    MOVEMENT_TIMING = "movement_timing"
    """Bridge movements from comparing the period's open and close, or from each day's change inside it."""
    RENEWAL_UPLIFT = "renewal_uplift"
    """A renewal signed before it starts at a higher value: its increase counts from the renewal's start, or from signature."""


class ShortTerms(StrEnum):
    ANNUALIZE = "annualize"
    """A six-month term worth 6,000 counts as 12,000 a year."""
    FACE_VALUE = "face_value"
    """A six-month term worth 6,000 counts as 6,000: ACV with a one-year minimum term."""


class DayCount(StrEnum):
    BY_MONTH = "by_month"
    """30-day months, 360-day years (30/360): 1 May to 31 December is exactly eight months."""
    ACTUAL_365 = "actual_365"
    """Actual days over a 365-day year."""
    ACTUAL_ACTUAL = "actual_actual"
    """Actual days, each calendar year weighed by its own length (365 or 366)."""
    ACTUAL_365_NO_LEAP = "nl_365"
    """Actual days except 29 February, over a 365-day year: every year has the same 365 days."""
    ACTUAL_AS_OF_YEAR = "as_of_year"
    """Actual days over the length of the valuation day's year: 366 when that year is a leap year, else 365."""


class Discounts(StrEnum):
    NET = "net"
    """`amount`, net of discounts: what the customer pays."""
    LIST = "list"
    """`list_amount` where the row has one; rows without it count at `amount`."""
    PERMANENT_ONLY = "permanent_only"
    """Only permanent discounts reduce value: a row whose `discount_duration` is `finite` counts at `list_amount`."""


class LiveBasis(StrEnum):
    GO_LIVE = "go_live"
    """A line counts from its go-live date (start date when no go-live is given)."""
    SIGNED = "signed"
    """New value counts from signature; renewals, contractions and cancellations still from their own dates."""


class CoTerm(StrEnum):
    CHANGE_REVENUE = "change_revenue"
    """A co-termed change counts for what it earns until the contract ends (12,000 + 8,000 = 20,000)."""
    RUN_RATE = "run_rate"
    """A co-termed change counts at its yearly rate, as if it had run the whole year (24,000)."""


class ChurnTiming(StrEnum):
    END_OF_PAID_PERIOD = "end_of_paid_period"
    """Cancellation rows are not applied: value leaves when the paid lines end."""
    CANCELLATION_DATE = "cancellation_date"
    """Cancellation rows remove their value from their own start date."""


class FullDiscount(StrEnum):
    CHURN = "churn"
    """A contract whose lines in force are all discounted to zero is not live: its customer has churned."""
    CONTRACTION = "contraction"
    """A line with a list amount discounted to zero keeps its contract live at zero value: a contraction."""


class Reactivation(StrEnum):
    OWN_MOVEMENT = "own_movement"
    """A former customer's return is the bridge's reactivation movement."""
    IN_EXPANSION = "expansion"
    """A former customer's return is counted as expansion; the reactivation movement is zero."""


class SamePeriodChurn(StrEnum):
    IGNORED = "ignored"
    """The bridge compares the period's open and close: a customer live at neither is in no movement."""
    COUNTED = "counted"
    """A customer live within the period but at neither end is in new (or reactivation) and in churn, at its
    value on its first live day there."""


class NewCustomerExpansion(StrEnum):
    IN_NEW_BUSINESS = "new_business"
    """A customer who arrived in the period counts at its value at the close: all of it new business."""
    IN_EXPANSION = "expansion"
    """A customer who arrived in the period counts as new at its value on its first live day; the growth
    after that, to the close, is expansion."""


class MovementTiming(StrEnum):
    PERIOD_ENDS = "period_ends"
    """Each account's value at the open and at the close decides its one movement."""
    DAILY = "daily"
    """Each day's change of an account's value is a movement of its own: a rise then a fall within the period
    is an expansion and a contraction; a customer arriving and leaving inside it is new and churned."""


class RenewalUplift(StrEnum):
    AT_RENEWAL = "at_renewal"
    """A renewal counts from its own start, whenever it was signed: an increase it brings counts from then."""
    WHEN_SIGNED = "when_signed"
    """A renewal signed before it starts adds its increase over the lines it renews (those ending the day before it
    starts, on the same account) from its signature: contracted value, as committed ARR counts it."""


class GrrCap(StrEnum):
    PER_CUSTOMER = "per_customer"
    """Σ min(current, base) ÷ Σ base: one customer's expansion never hides another's loss."""
    AGGREGATE = "aggregate"
    """min(Σ current, Σ base) ÷ Σ base: capped at 100% only on the total."""


LEDGER_RECURRING_INCLUSIONS = (
    RecurringInclusion.RECURRING_ONLY,
    RecurringInclusion.RECURRING_PLUS_COMMITTED_USAGE,
    RecurringInclusion.RECURRING_PLUS_ONE_TIME,
    RecurringInclusion.ALL_CHARGES,
)
LEDGER_ANNUALIZATIONS = (
    Annualization.CURRENT_CONTRACT_YEAR,
    Annualization.MRR_TIMES_12,
    Annualization.TCV_OVER_TERM_YEARS,
    Annualization.FIRST_CONTRACT_YEAR,
    Annualization.EXIT_RATE,
)
_ACV_ANNUALIZATIONS = (Annualization.TCV_OVER_TERM_YEARS, Annualization.FIRST_CONTRACT_YEAR)
"""A deal's value is fixed at booking; run rate and 'current year' have no meaning for it."""

OptionValue = (
    RecurringInclusion
    | Annualization
    | ShortTerms
    | DayCount
    | Discounts
    | LiveBasis
    | CoTerm
    | ChurnTiming
    | GrrCap
    | FullDiscount
    | Reactivation
    | SamePeriodChurn
    | NewCustomerExpansion
    | RenewalUplift
    | MovementTiming
)

VOCABULARY: Mapping[OptionKey, tuple[OptionValue, ...]] = MappingProxyType(
    {
        OptionKey.RECURRING_INCLUSION: LEDGER_RECURRING_INCLUSIONS,
        OptionKey.ANNUALIZATION: LEDGER_ANNUALIZATIONS,
        OptionKey.SHORT_TERMS: tuple(ShortTerms),
        OptionKey.DAY_COUNT: tuple(DayCount),
        OptionKey.DISCOUNTS: tuple(Discounts),
        OptionKey.LIVE_BASIS: tuple(LiveBasis),
        OptionKey.CO_TERM: tuple(CoTerm),
        OptionKey.CHURN_TIMING: tuple(ChurnTiming),
        OptionKey.GRR_CAP: tuple(GrrCap),
        OptionKey.FULL_DISCOUNT: tuple(FullDiscount),
        OptionKey.REACTIVATION: tuple(Reactivation),
        OptionKey.SAME_PERIOD_CHURN: tuple(SamePeriodChurn),
        OptionKey.NEW_CUSTOMER_EXPANSION: tuple(NewCustomerExpansion),
        OptionKey.RENEWAL_UPLIFT: tuple(RenewalUplift),
        OptionKey.MOVEMENT_TIMING: tuple(MovementTiming),
    }
)


class LedgerOptions(BaseModel):
    """One value for every rule; the engine reads all of them, the result reports those that apply."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recurring_inclusion: RecurringInclusion = RecurringInclusion.RECURRING_ONLY
    annualization: Annualization = Annualization.CURRENT_CONTRACT_YEAR
    short_terms: ShortTerms = ShortTerms.ANNUALIZE
    day_count: DayCount = DayCount.BY_MONTH
    discounts: Discounts = Discounts.NET
    live_basis: LiveBasis = LiveBasis.GO_LIVE
    co_term: CoTerm = CoTerm.RUN_RATE
    churn_timing: ChurnTiming = ChurnTiming.END_OF_PAID_PERIOD
    grr_cap: GrrCap = GrrCap.PER_CUSTOMER
    full_discount: FullDiscount = FullDiscount.CHURN
    reactivation: Reactivation = Reactivation.OWN_MOVEMENT
    same_period_churn: SamePeriodChurn = SamePeriodChurn.IGNORED
    new_customer_expansion: NewCustomerExpansion = NewCustomerExpansion.IN_NEW_BUSINESS
    renewal_uplift: RenewalUplift = RenewalUplift.AT_RENEWAL
    movement_timing: MovementTiming = MovementTiming.PERIOD_ENDS

    def value_of(self, key: OptionKey) -> OptionValue:
        match key:
            case OptionKey.RECURRING_INCLUSION:
                return self.recurring_inclusion
            case OptionKey.ANNUALIZATION:
                return self.annualization
            case OptionKey.SHORT_TERMS:
                return self.short_terms
            case OptionKey.DAY_COUNT:
                return self.day_count
            case OptionKey.DISCOUNTS:
                return self.discounts
            case OptionKey.LIVE_BASIS:
                return self.live_basis
            case OptionKey.CO_TERM:
                return self.co_term
            case OptionKey.CHURN_TIMING:
                return self.churn_timing
            case OptionKey.GRR_CAP:
                return self.grr_cap
            case OptionKey.FULL_DISCOUNT:
                return self.full_discount
            case OptionKey.REACTIVATION:
                return self.reactivation
            case OptionKey.SAME_PERIOD_CHURN:
                return self.same_period_churn
            case OptionKey.NEW_CUSTOMER_EXPANSION:
                return self.new_customer_expansion
            case OptionKey.RENEWAL_UPLIFT:
                return self.renewal_uplift
            case OptionKey.MOVEMENT_TIMING:
                return self.movement_timing


class KpiOptions(BaseModel):
    """The rules that apply to one KPI computed from a ledger, their defaults and allowed values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keys: tuple[OptionKey, ...]
    defaults: LedgerOptions = LedgerOptions()
    restricted: dict[OptionKey, tuple[OptionValue, ...]] = {}
    """Keys whose allowed values are a subset of the vocabulary for this KPI."""
    variants: tuple[str, ...] | None = None
    """The variants a ledger computes ('default' for the KPI's own rules); None: every variant."""

    def allowed(self, key: OptionKey) -> tuple[OptionValue, ...]:
        return self.restricted.get(key, VOCABULARY[key])


_MONEY_KEYS = (
    OptionKey.RECURRING_INCLUSION,
    OptionKey.ANNUALIZATION,
    OptionKey.SHORT_TERMS,
    OptionKey.DAY_COUNT,
    OptionKey.DISCOUNTS,
    OptionKey.LIVE_BASIS,
    OptionKey.CO_TERM,
    OptionKey.CHURN_TIMING,
)
_COUNT_KEYS = (OptionKey.RECURRING_INCLUSION, OptionKey.LIVE_BASIS, OptionKey.CHURN_TIMING)

_ARR = KpiOptions(keys=_MONEY_KEYS)
_CARR = KpiOptions(keys=(*_MONEY_KEYS, OptionKey.RENEWAL_UPLIFT), defaults=LedgerOptions(live_basis=LiveBasis.SIGNED))
_COUNTS = KpiOptions(keys=_COUNT_KEYS)
_GRR = KpiOptions(keys=(*_MONEY_KEYS, OptionKey.GRR_CAP))
_ARR_GROWTH = KpiOptions(keys=_MONEY_KEYS, variants=("default",))
"""ARR growth: ARR at two closes under the same rules. A revenue-based variant is computed from inputs only."""
_ACV = KpiOptions(
    keys=_MONEY_KEYS[:-1],
    defaults=LedgerOptions(
        annualization=Annualization.TCV_OVER_TERM_YEARS,
        short_terms=ShortTerms.FACE_VALUE,
        live_basis=LiveBasis.SIGNED,
        co_term=CoTerm.CHANGE_REVENUE,
    ),
    restricted={OptionKey.ANNUALIZATION: _ACV_ANNUALIZATIONS},
)


def _moved(*extra: OptionKey, counts: bool = False) -> KpiOptions:
    """A KPI read from the bridge's movements: its keys, and day-by-day classification of the movements."""
    return _with(*extra, OptionKey.MOVEMENT_TIMING, counts=counts)


def _with(*extra: OptionKey, counts: bool = False) -> KpiOptions:
    """Money (or count) keys and the keys that move this KPI besides: the bridge's conventions, who is a customer."""
    return KpiOptions(keys=(*(_COUNT_KEYS if counts else _MONEY_KEYS), OptionKey.FULL_DISCOUNT, *extra))


# Who is a customer (`full_discount`) moves the bridge's movements, the rates and averages built on them and
# on accounts, but no ARR total. The customer total and GRR keep today's rule (a customer paying nothing has
# churned): their option keys are fixed by the ledger format's published contract. The bridge's conventions
# move only the movements they reassign: the opening-cohort rates (NRR, GRR, logo and dollar churn) never
# see an account that was not live at the window's open.
_PER_ACCOUNT = _with()
_NEW = _moved(OptionKey.SAME_PERIOD_CHURN, OptionKey.NEW_CUSTOMER_EXPANSION)
_EXPANSION = _moved(OptionKey.REACTIVATION, OptionKey.NEW_CUSTOMER_EXPANSION)
_REACTIVATION = _moved(OptionKey.REACTIVATION, OptionKey.SAME_PERIOD_CHURN, OptionKey.NEW_CUSTOMER_EXPANSION)
_CHURN = _moved(OptionKey.SAME_PERIOD_CHURN)
_NET_NEW = _moved(OptionKey.REACTIVATION, OptionKey.SAME_PERIOD_CHURN, OptionKey.NEW_CUSTOMER_EXPANSION)
_DOWNGRADES = _moved(OptionKey.NEW_CUSTOMER_EXPANSION)
_QUICK = _moved(OptionKey.SAME_PERIOD_CHURN, OptionKey.NEW_CUSTOMER_EXPANSION)
"""Reactivation folded into expansion leaves the quick ratio's gains unchanged; the other two move gains and losses."""
_LOGOS_MOVED = _moved(OptionKey.SAME_PERIOD_CHURN, counts=True)

LEDGER_KPI_OPTIONS: Mapping[str, KpiOptions] = MappingProxyType(
    {
        "sales.arr": _ARR,
        "sales.carr": _CARR,
        "sales.mrr": _ARR,
        "sales.starting_arr": _ARR,
        "sales.new_business": _NEW,
        "sales.expansion": _EXPANSION,
        "sales.downgrades": _DOWNGRADES,
        "sales.churn_arr": _CHURN,
        "sales.reactivation": _REACTIVATION,
        "sales.net_new_arr": _NET_NEW,
        "customers.net_revenue_retention": _PER_ACCOUNT,
        "customers.gross_revenue_retention": _GRR,
        "customers.avg_contract_value": _PER_ACCOUNT,
        "customers.acv_trend_pct": _PER_ACCOUNT,
        "customers.top_customer_concentration": _ARR,
        "customers.total_customers": _COUNTS,
        "customers.new_customers_added": _LOGOS_MOVED,
        "customers.customers_churned": _LOGOS_MOVED,
        "customers.logo_churn_rate": _with(counts=True),
        "sales.avg_contract_value": _ACV,
        "sales.booked_acv": _ACV,
        "sales.growth_rate_yoy": _ARR_GROWTH,
        "sales.arr_growth_qoq": _ARR_GROWTH,
        "sales.quick_ratio": _QUICK,
        "customers.gross_dollar_churn_rate": _PER_ACCOUNT,
        "customers.net_dollar_churn_rate": _PER_ACCOUNT,
        "customers.expansion_rate": _PER_ACCOUNT,
        "customers.contraction_rate": _PER_ACCOUNT,
        "customers.arpa": _PER_ACCOUNT,
    }
)
"""Every KPI the ledger engine computes, with the rules that apply to it."""


def catalog_defaults(spec: KpiOptions, binding: Binding) -> LedgerOptions:
    """The table's defaults with the binding's own answers laid over them.

    The catalog is the authority on binding axes: if a KPI's (or variant's) binding says
    `first_contract_year`, that is the default annualization whatever the table says.
    """
    updates: dict[str, OptionValue] = {}
    if binding.recurring_inclusion in spec.allowed(OptionKey.RECURRING_INCLUSION):
        updates[OptionKey.RECURRING_INCLUSION.value] = binding.recurring_inclusion
    if binding.annualization in spec.allowed(OptionKey.ANNUALIZATION):
        updates[OptionKey.ANNUALIZATION.value] = binding.annualization
    match binding.date_basis:
        case DateBasis.SIGNED:
            updates[OptionKey.LIVE_BASIS.value] = LiveBasis.SIGNED
        case DateBasis.GO_LIVE:
            updates[OptionKey.LIVE_BASIS.value] = LiveBasis.GO_LIVE
        case DateBasis.PERIOD_CLOSE | DateBasis.NOT_APPLICABLE:
            pass
    return spec.defaults.model_copy(update=updates)


def bound_binding(binding: Binding, options: LedgerOptions, keys: tuple[OptionKey, ...]) -> Binding:
    """The binding a value carries once `options` were applied: binding axes follow the options.

    Axes the catalog marks not_applicable stay so (a count has no annualization even though the
    rule deciding who is a customer was applied); the option is still reported in the ledger trace.
    """
    value_basis = binding.value_basis
    updates: dict[str, object] = {}
    if OptionKey.LIVE_BASIS in keys and binding.date_basis in (DateBasis.GO_LIVE, DateBasis.SIGNED):
        signed = options.live_basis is LiveBasis.SIGNED
        updates["date_basis"] = DateBasis.SIGNED if signed else DateBasis.GO_LIVE
        # ARR (live, go-live) and CARR (committed, signed) differ on both axes together; a basis that
        # already pairs differently (new-logo ACV: recurring value dated by signature) keeps its value basis.
        if (value_basis, binding.date_basis) in _ARR_CARR_PAIRS:
            value_basis = ValueBasis.CONTRACTED_COMMITTED if signed else ValueBasis.CONTRACTED_RECURRING
    if OptionKey.RECURRING_INCLUSION in keys and binding.recurring_inclusion is not RecurringInclusion.NOT_APPLICABLE:
        updates["recurring_inclusion"] = options.recurring_inclusion
        # Non-recurring lines turn a recurring amount into a contract value; the basis must say so.
        if options.recurring_inclusion in _NON_RECURRING and value_basis in _RECURRING_BASES:
            value_basis = ValueBasis.TOTAL_CONTRACT_VALUE
    if OptionKey.ANNUALIZATION in keys and binding.annualization is not Annualization.NOT_APPLICABLE:
        updates["annualization"] = options.annualization
    updates["value_basis"] = value_basis
    return binding.model_copy(update=updates)


_ARR_CARR_PAIRS = (
    (ValueBasis.CONTRACTED_RECURRING, DateBasis.GO_LIVE),
    (ValueBasis.CONTRACTED_COMMITTED, DateBasis.SIGNED),
)
_NON_RECURRING = (RecurringInclusion.RECURRING_PLUS_ONE_TIME, RecurringInclusion.ALL_CHARGES)
_RECURRING_BASES = (ValueBasis.CONTRACTED_RECURRING, ValueBasis.CONTRACTED_COMMITTED, ValueBasis.BOOKED)


def parse_option(key: OptionKey, raw: str, spec: KpiOptions) -> OptionValue | None:
    """The option value spelled `raw`, when the KPI allows it; None otherwise."""
    return next((value for value in spec.allowed(key) if value.value == raw), None)
