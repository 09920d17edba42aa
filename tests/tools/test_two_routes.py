"""One label, one number: a ledger KPI computed by the engine and by its catalog formula.

A KPI the contract-ledger engine computes directly, and that also has a catalog expression,
can be computed two ways:

1. `compute_from_ledger` (the engine's own SQL), and
2. `compute_from_inputs` (the catalog formula), fed values that route 1 computed from the same
   ledger for each of the formula's inputs, with the same `basis` options where the input takes
   them and the period or date the input's role (current, prior period, window, window open)
   requires.

For every case the two must be equal to the cent; or route 2 must be refused (the inputs are
bound differently than the formula needs); or the two values must be bound so that
`compare_metrics` refuses to compare them. Two different numbers that `compare_metrics` accepts
as comparable are the bug class of the issue: one label, two numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from kpi_context.ontology.binding import TimeBasisKind
from kpi_context.ontology.ledger_options import LEDGER_KPI_OPTIONS, OptionKey
from kpi_context.ontology.loader import load_catalog
from kpi_context.ontology.model import DEFAULT_VARIANT_ID, PeriodRole
from kpi_context.tools.compare import UnsafeComparison, compare_metrics
from kpi_context.tools.compute import compute_from_inputs, resolve_when
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.inputs import InputArgument, When, opens_period, parent_window, trailing_window
from kpi_context.tools.ledger.engine import KPI_MEASURES, chosen_options, compute_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.ledger.sql import priced_key
from kpi_context.tools.periods import Period, parse_period
from kpi_context.tools.values import BoundValue, ValueClaim

REPO = Path(__file__).resolve().parents[2]
SAMPLE = "sample"
CATALOG = load_catalog()
CTX = ToolContext.create(CATALOG, secret=b"two-routes")

TWO_ROUTE_KPIS: tuple[str, ...] = tuple(
    kpi for kpi in KPI_MEASURES if kpi in CATALOG.kpis and CATALOG.kpis[kpi].expression is not None
)
"""Every KPI the ledger computes directly that also has a catalog expression (default variant)."""

MUST_BE_IN_THE_TABLE = (
    "sales.avg_contract_value",
    "customers.avg_contract_value",
    "customers.acv_trend_pct",
    "customers.net_revenue_retention",
    "customers.gross_revenue_retention",
    "customers.logo_churn_rate",
    "sales.net_new_arr",
    "sales.quick_ratio",
    "customers.gross_dollar_churn_rate",
    "customers.net_dollar_churn_rate",
    "customers.expansion_rate",
    "customers.contraction_rate",
    "customers.arpa",
)

PERIODS = ("2026-Q1", "2026-Q3", "2026-06")
"""Two quarters and a month; a trailing-window KPI reads each as the twelve months to its close."""
POINT_DATES = (date(2026, 2, 14),)
"""An extra as-of date for point-in-time KPIs: mid-month, a date no period closes on."""

ROUTE_2_REFUSALS = frozenset(
    {ErrorCode.INPUT_BINDING_MISMATCH, ErrorCode.PERIOD_MISMATCH, ErrorCode.UNKNOWN_INPUT, ErrorCode.MISSING_INPUT}
)

KNOWN_SKIPS: Mapping[str, Mapping[str, str]] = {
    "sales.avg_contract_value": {
        "first_year_new_business": "annualization=first_contract_year gives the first_year variant, whose formula "
        "needs the first-year value of new-logo deals; the ledger reports it as 'new_logo_contract_value'",
        "new_one_time_value": "recurring_inclusion=recurring_plus_one_time gives the contract_value variant, whose "
        "formula adds new deals' one-time value; the ledger folds it into 'new_logo_contract_value'",
    },
    "sales.booked_acv": {
        "signed_recurring_value": "the ledger reports the signed contracts' value as 'contract_value'",
        "contracts_signed": "the ledger reports the number of contracts signed as 'contracts'",
        "first_year_value": "annualization=first_contract_year gives the first_year variant; its first-year value "
        "is reported as 'contract_value'",
        "signed_one_time_value": "recurring_inclusion=recurring_plus_one_time gives the contract_value variant; the "
        "ledger folds one-time value into 'contract_value'",
    },
}
"""Raw inputs that route 2 cannot take from the ledger result (no component of that name), by KPI, and why.

A case needing one is skipped; the test fails on a skip not listed here, and on a listed one no case needs.
"""


# --- the two routes -------------------------------------------------------------------------


@functools.cache
def sample_registry(pricing: tuple[object, ...] = ()) -> DatasetRegistry:
    """The bundled sample; one registry per way of pricing the lines.

    A registry's store keeps lines priced under only a few option sets, so each pricing gets its
    own and stays cached for the whole module; the numbers are the same whichever registry serves
    them. One DuckDB thread: these queries are tiny, and a thread pool only adds contention.
    """
    registry = DatasetRegistry.from_cli(REPO / "data", [f"{SAMPLE}={REPO / 'data' / 'sample_ledger.csv'}"])
    with registry.store.cursor() as cursor:
        cursor.execute("SET threads TO 1")
    return registry


Basis = tuple[tuple[str, str], ...]
_COMPUTED: dict[tuple[object, ...], BoundValue] = {}


def ledger_value(
    kpi: str,
    *,
    period: Period | None = None,
    as_of: date | None = None,
    basis: Basis = (),
    variant: str | None = None,
) -> BoundValue:
    """Route 1 on the bundled sample ledger, computed once per KPI, date and effective options.

    An option passed at its default value computes the same number as no option at all, so
    both share one result; inputs are shared by many cases too.
    """
    spec = LEDGER_KPI_OPTIONS[kpi]
    definition = CATALOG.kpis[kpi]
    effective = chosen_options(kpi, spec, definition.binding_for(variant), dict(basis))
    key = (kpi, variant, period, as_of, tuple(effective.value_of(k) for k in spec.keys))
    if key not in _COMPUTED:
        _COMPUTED[key] = compute_from_ledger(
            CTX,
            kpi,
            SAMPLE,
            datasets=sample_registry(priced_key(effective)),
            variant=variant,
            period=period,
            as_of=as_of,
            basis=dict(basis) or None,
        )
    return _COMPUTED[key]


def claim(value: BoundValue) -> ValueClaim:
    """A bound value handed back verbatim, as a caller passes it to another tool."""
    return ValueClaim.model_validate(value.model_dump(mode="json"))


def bare(number: Decimal) -> ValueClaim:
    """A bare figure (no KPI, no binding, no provenance), exact: what a caller types for a raw input."""
    return ValueClaim(value=format(number, "f"))


class Kind(StrEnum):
    EQUAL = "equal"
    REFUSED = "route 2 refused"
    NOT_COMPARABLE = "different, and compare_metrics refuses"
    ONE_LABEL_TWO_NUMBERS = "DIFFERENT, AND compare_metrics ACCEPTS"
    SKIPPED = "skipped"
    UNEXPECTED_ERROR = "unexpected error"


@dataclass(frozen=True)
class Case:
    kpi: str
    option: str
    """'default', or the one changed option as key=value."""
    basis: Basis
    period: Period | None
    as_of: date | None

    @property
    def when(self) -> str:
        return self.period.label() if self.period is not None else f"as of {self.as_of}"


@dataclass(frozen=True)
class Outcome:
    case: Case
    kind: Kind
    ledger: Decimal | None = None
    formula: Decimal | None = None
    detail: str = ""
    missing: tuple[str, ...] = ()
    """Inputs route 2 could not be given (skipped cases)."""

    def __str__(self) -> str:
        c = self.case
        return f"{c.kpi} [{c.option}] {c.when}: ledger {self.ledger} vs formula {self.formula} — {self.kind}: {self.detail}"


def ledger_call_for_input(input_kpi: str, target: When, parent: When, window: int | None) -> dict[str, Any] | None:
    """The period or date to compute an input KPI for from the ledger, from its role's target; None if none fits."""
    definition = CATALOG.kpis[input_kpi]
    if definition.binding.time_basis.kind is not TimeBasisKind.POINT_IN_TIME:
        return None if target.period is None else {"period": target.period}
    if target.period is not None:
        return {"period": target.period}
    if target.as_of is None:
        return None
    if not opens_period(definition):
        return {"as_of": target.as_of}
    # An opening balance is computed for the period it opens: the window that starts the day after.
    opened = parent.for_role(PeriodRole.WINDOW, window).period
    if opened is None or opened.start - timedelta(days=1) != target.as_of:
        return None
    return {"period": opened}


def applied_options(value: BoundValue) -> dict[str, str]:
    """The ledger options route 1 applied, as the value states them (`basis`, or the trace's `options`)."""
    stated = getattr(value, "basis", None) or getattr(value.ledger, "options", None)
    assert stated, f"{value.kpi} does not state the ledger options it was computed under"
    return dict(stated)


def input_basis(input_kpi: str, options: Mapping[str, str]) -> Basis | None:
    """Route 1's options restricted to the keys this input KPI takes; None if it refuses one of their values."""
    spec = LEDGER_KPI_OPTIONS[input_kpi]
    chosen: list[tuple[str, str]] = []
    for raw_key, raw_value in sorted(options.items()):
        key = OptionKey(raw_key)
        if key not in spec.keys:
            continue
        if raw_value not in {v.value for v in spec.allowed(key)}:
            return None
        chosen.append((raw_key, raw_value))
    return tuple(chosen)


def route_2_inputs(case: Case, first: BoundValue) -> dict[str, InputArgument] | list[str]:
    """The formula's inputs, each computed from the same ledger as route 1; or the names of those that cannot be."""
    definition = CATALOG.kpis[case.kpi]
    variant = None if first.variant == DEFAULT_VARIANT_ID else first.variant
    expression = definition.expression_for(variant)
    assert expression is not None
    when = resolve_when(definition, definition.binding_for(variant), case.period, case.as_of)
    window = parent_window(definition)
    options = applied_options(first)
    components = {c.name: c.value for c in first.components}
    inputs: dict[str, InputArgument] = {}
    missing: list[str] = []
    for spec in expression.inputs:
        if spec.kpi is None:
            # A raw figure: only what the ledger result itself exposes under the input's own name.
            if spec.name in components:
                inputs[spec.name] = bare(components[spec.name])
            else:
                missing.append(spec.name)
            continue
        call = ledger_call_for_input(spec.kpi, when.for_role(spec.period, window), when, window)
        basis = input_basis(spec.kpi, options) if spec.kpi in KPI_MEASURES else None
        if call is None or basis is None:
            missing.append(spec.name)
            continue
        inputs[spec.name] = claim(ledger_value(spec.kpi, basis=basis, variant=spec.variant, **call))
    return missing or inputs


def run_case(case: Case) -> Outcome:
    try:
        first = ledger_value(case.kpi, period=case.period, as_of=case.as_of, basis=case.basis)
    except KpiError as exc:
        return Outcome(case, Kind.UNEXPECTED_ERROR, detail=f"route 1 refused: {exc.code}: {exc}")
    prepared = route_2_inputs(case, first)
    if isinstance(prepared, list):
        return Outcome(case, Kind.SKIPPED, first.value, detail=f"no input {prepared}", missing=tuple(prepared))
    # Route 2 follows the variant route 1 landed on (options can select one, e.g. first_year), so the
    # formula is the one that variant's label stands for.
    variant = None if first.variant == DEFAULT_VARIANT_ID else first.variant
    # The ledger's currency, as a caller states it for raw money inputs (a percent result carries none itself).
    stated = [i.currency for i in prepared.values() if isinstance(i, ValueClaim) and i.currency]
    currency = first.currency or next(iter(stated), None)
    try:
        second = compute_from_inputs(
            CTX, case.kpi, prepared, variant=variant, period=case.period, as_of=case.as_of, currency=currency
        )
    except KpiError as exc:
        kind = Kind.REFUSED if exc.code in ROUTE_2_REFUSALS else Kind.UNEXPECTED_ERROR
        return Outcome(case, kind, first.value, detail=f"{exc.code}: {exc}")
    if first.value == second.value:
        return Outcome(case, Kind.EQUAL, first.value, second.value)
    try:
        compare_metrics(CTX, claim(first), claim(second))
    except UnsafeComparison as exc:
        axes = ", ".join(m.axis for m in exc.refusal.mismatches)
        return Outcome(case, Kind.NOT_COMPARABLE, first.value, second.value, f"refused on {axes}")
    return Outcome(case, Kind.ONE_LABEL_TWO_NUMBERS, first.value, second.value, "compare_metrics accepted the pair")


def option_cases(kpi: str) -> list[tuple[str, Basis]]:
    """The defaults, then each allowed value of each option key, one key changed at a time."""
    spec = LEDGER_KPI_OPTIONS[kpi]
    cases: list[tuple[str, Basis]] = [("default", ())]
    for key in spec.keys:
        for value in spec.allowed(key):
            cases.append((f"{key.value}={value.value}", ((key.value, value.value),)))
    return cases


def time_cases(kpi: str) -> list[tuple[Period | None, date | None]]:
    """The periods (and, for a balance, an extra date) a case is computed for."""
    definition = CATALOG.kpis[kpi]
    cases: list[tuple[Period | None, date | None]] = [(parse_period(p), None) for p in PERIODS]
    if definition.binding.time_basis.kind is TimeBasisKind.POINT_IN_TIME and not opens_period(definition):
        cases += [(None, day) for day in POINT_DATES]
    return cases


@functools.cache
def outcomes_for(kpi: str) -> tuple[Outcome, ...]:
    return tuple(
        run_case(Case(kpi, option, basis, period, as_of))
        for option, basis in option_cases(kpi)
        for period, as_of in time_cases(kpi)
    )


def _listed(outcomes: list[Outcome]) -> str:
    return "\n".join(str(o) for o in outcomes)


# --- 1. the table ----------------------------------------------------------------------------


def test_the_table_holds_every_ledger_kpi_with_a_catalog_expression():
    assert TWO_ROUTE_KPIS, "no ledger KPI has a catalog expression"
    with_expression = [k for k in MUST_BE_IN_THE_TABLE if CATALOG.kpis[k].expression is not None]
    assert with_expression, "none of the KPIs the issue names has an expression any more"
    assert [k for k in with_expression if k not in TWO_ROUTE_KPIS] == []
    assert set(KNOWN_SKIPS) <= set(TWO_ROUTE_KPIS), "a documented skip names a KPI the table no longer holds"


@pytest.mark.parametrize("kpi", TWO_ROUTE_KPIS)
def test_every_allowed_value_of_every_option_key_was_tried(kpi):
    spec = LEDGER_KPI_OPTIONS[kpi]
    tried = {o.case.option for o in outcomes_for(kpi)}
    assert tried == {"default"} | {f"{key.value}={value.value}" for key in spec.keys for value in spec.allowed(key)}


@pytest.mark.parametrize("kpi", TWO_ROUTE_KPIS)
def test_the_ledger_and_the_formula_never_give_two_numbers_under_one_label(kpi):
    found = [o for o in outcomes_for(kpi) if o.kind is Kind.ONE_LABEL_TWO_NUMBERS]
    assert found == [], f"{len(found)} cases where the routes differ and compare_metrics accepts:\n{_listed(found)}"


@pytest.mark.parametrize("kpi", TWO_ROUTE_KPIS)
def test_neither_route_fails_other_than_by_a_documented_refusal(kpi):
    found = [o for o in outcomes_for(kpi) if o.kind is Kind.UNEXPECTED_ERROR]
    assert found == [], _listed(found)


@pytest.mark.parametrize("kpi", TWO_ROUTE_KPIS)
def test_every_skipped_case_lacks_only_inputs_documented_as_unavailable(kpi):
    missing = {name for o in outcomes_for(kpi) if o.kind is Kind.SKIPPED for name in o.missing}
    assert missing == set(KNOWN_SKIPS.get(kpi, {}))


@pytest.mark.parametrize("kpi", TWO_ROUTE_KPIS)
def test_under_the_catalog_defaults_the_two_routes_give_the_same_number(kpi):
    # With the catalog's own rules the formula over the ledger's inputs must reproduce the ledger exactly.
    found = [o for o in outcomes_for(kpi) if o.case.option == "default" and o.kind not in (Kind.EQUAL, Kind.SKIPPED)]
    assert found == [], _listed(found)


# --- 2. hand-made ledgers ---------------------------------------------------------------------


def row(**fields: str) -> dict[str, str]:
    """A recurring yearly line, live and signed on its start date; override any field."""
    line = {
        "charge_type": "recurring",
        "amount_period": "year",
        "currency": "USD",
        "change_type": "new",
    }
    line.update(fields)
    line.setdefault("signed_date", line["start_date"])
    return line


# Four customers, window "12 months to 30 Sep 2026" (2025-10-01..2026-09-30, opened on 2025-09-30):
#   A: 10,000 a year from 2025-01-01 to 2027-12-31, plus an expansion line of 2,000 from 2026-04-01: 12,000 at close.
#   B: 20,000 a year, 2025-01-01..2025-12-31, renewed as B2 at 15,000 for 2026-01-01..2026-12-31 (a contraction).
#   C: 8,000 a year, 2025-01-01..2026-03-31, not renewed: churned.
#   D: 5,000 a year, first signed 2026-02-01 (live 2026-02-01..2027-01-31): a new logo, not in the opening cohort.
# At the open (2025-09-30): A 10,000 + B 20,000 + C 8,000 = 38,000; three customers.
# At the close (2026-09-30) the cohort has A 12,000 + B 15,000 + C 0 = 27,000 (D's 5,000 is new, left out).
#   expansion 2,000 (A), downgrades 5,000 (B), churn 8,000 (C).
#   NRR = (38,000 + 2,000 − 5,000 − 8,000) ÷ 38,000 × 100 = 27,000 ÷ 38,000 × 100 = 71.0526… → 71.05
#   GRR = (38,000 − 5,000 − 8,000) ÷ 38,000 × 100 = 25,000 ÷ 38,000 × 100 = 65.7894… → 65.79
#   logo churn = 1 churned ÷ 3 at open × 100 = 33.333… → 33.33
RETENTION_ROWS = [
    row(contract_id="A1", account_id="A", amount="10000", start_date="2025-01-01", end_date="2027-12-31"),
    row(
        contract_id="A1",
        account_id="A",
        amount="2000",
        start_date="2026-04-01",
        end_date="2027-12-31",
        change_type="expansion",
    ),
    row(contract_id="B1", account_id="B", amount="20000", start_date="2025-01-01", end_date="2025-12-31"),
    row(
        contract_id="B2",
        account_id="B",
        amount="15000",
        start_date="2026-01-01",
        end_date="2026-12-31",
        signed_date="2025-12-01",
        change_type="renewal",
    ),
    row(contract_id="C1", account_id="C", amount="8000", start_date="2025-01-01", end_date="2026-03-31"),
    row(contract_id="D1", account_id="D", amount="5000", start_date="2026-02-01", end_date="2027-01-31"),
]
RETENTION_WINDOW = trailing_window(date(2026, 9, 30), 12)

# New logos signed in Q3 2026 (2026-07-01..2026-09-30), ACV = total contract value ÷ term in years (≥ 1 year):
#   E: signed 2026-07-10, 2-year contract at 30,000 a year → TCV 60,000 ÷ 2 = 30,000.
#   F: signed 2026-08-05, 1-year contract at 18,000 a year → 18,000.
#   G: signed 2026-09-15, 6-month contract at 1,000 a month → TCV 6,000; under a year counts as one → 6,000.
#   H: an existing customer (first contract 2025) signing a second contract in Q3: not a new logo.
# new-logo ACV = (30,000 + 18,000 + 6,000) ÷ 3 = 54,000 ÷ 3 = 18,000.
ACV_ROWS = [
    row(contract_id="E1", account_id="E", amount="30000", start_date="2026-07-10", end_date="2028-07-09"),
    row(contract_id="F1", account_id="F", amount="18000", start_date="2026-08-05", end_date="2027-08-04"),
    row(
        contract_id="G1",
        account_id="G",
        amount="1000",
        amount_period="month",
        start_date="2026-10-01",
        end_date="2027-03-31",
        signed_date="2026-09-15",
    ),
    row(contract_id="H1", account_id="H", amount="9000", start_date="2025-03-01", end_date="2026-02-28"),
    row(contract_id="H2", account_id="H", amount="40000", start_date="2026-08-01", end_date="2027-07-31"),
]


def inline(kpi: str, rows: list[dict[str, str]], registry: DatasetRegistry, **kwargs: Any) -> BoundValue:
    return compute_from_ledger(CTX, kpi, {"rows": rows}, datasets=registry, **kwargs)


@pytest.fixture
def registry(tmp_path: Path) -> DatasetRegistry:
    data = tmp_path / "data"
    data.mkdir()
    return DatasetRegistry.from_cli(data)


def retention_inputs(registry: DatasetRegistry) -> dict[str, BoundValue]:
    def flow(kpi: str) -> BoundValue:
        return inline(kpi, RETENTION_ROWS, registry, period=RETENTION_WINDOW)

    return {
        "sales.starting_arr": flow("sales.starting_arr"),
        "sales.expansion": flow("sales.expansion"),
        "sales.downgrades": flow("sales.downgrades"),
        "sales.churn_arr": flow("sales.churn_arr"),
    }


def test_hand_made_ledger_inputs_are_the_hand_computed_window_movements(registry):
    parts = retention_inputs(registry)
    assert {k: v.value for k, v in parts.items()} == {
        "sales.starting_arr": Decimal(38000),
        "sales.expansion": Decimal(2000),
        "sales.downgrades": Decimal(5000),
        "sales.churn_arr": Decimal(8000),
    }
    assert parts["sales.starting_arr"].as_of == date(2025, 9, 30)


def test_hand_made_nrr_is_71_05_by_both_routes(registry):
    ledger = inline("customers.net_revenue_retention", RETENTION_ROWS, registry, period="2026-Q3")
    parts = {k: claim(v) for k, v in retention_inputs(registry).items()}
    formula = compute_from_inputs(CTX, "customers.net_revenue_retention", parts, period="2026-Q3")
    assert ledger.value == Decimal("71.05")
    assert formula.value == Decimal("71.05")
    assert ledger.period == formula.period == RETENTION_WINDOW


def test_hand_made_grr_is_65_79_by_both_routes(registry):
    ledger = inline("customers.gross_revenue_retention", RETENTION_ROWS, registry, period="2026-Q3")
    parts = retention_inputs(registry)
    inputs = {k: claim(parts[k]) for k in ("sales.starting_arr", "sales.downgrades", "sales.churn_arr")}
    formula = compute_from_inputs(CTX, "customers.gross_revenue_retention", inputs, period="2026-Q3")
    assert ledger.value == Decimal("65.79")
    assert formula.value == Decimal("65.79")


# The same window as dollar rates of the opening cohort's 38,000:
#   gross dollar churn (5,000 + 8,000) ÷ 38,000 × 100 = 34.2105… → 34.21
#   net dollar churn (5,000 + 8,000 − 2,000) ÷ 38,000 × 100 = 28.9473… → 28.95
#   expansion 2,000 ÷ 38,000 × 100 = 5.2631… → 5.26; contraction 5,000 ÷ 38,000 × 100 = 13.1578… → 13.16
@pytest.mark.parametrize(
    ("kpi", "expected"),
    [
        ("customers.gross_dollar_churn_rate", Decimal("34.21")),
        ("customers.net_dollar_churn_rate", Decimal("28.95")),
        ("customers.expansion_rate", Decimal("5.26")),
        ("customers.contraction_rate", Decimal("13.16")),
    ],
)
def test_hand_made_dollar_rates_are_the_same_by_both_routes(registry, kpi, expected):
    ledger = inline(kpi, RETENTION_ROWS, registry, period="2026-Q3")
    parts = retention_inputs(registry)
    expression = CATALOG.kpis[kpi].expression
    assert expression is not None
    inputs = {spec.name: claim(parts[spec.name]) for spec in expression.inputs}
    formula = compute_from_inputs(CTX, kpi, inputs, period="2026-Q3")
    assert ledger.value == formula.value == expected
    assert ledger.period == formula.period == RETENTION_WINDOW


def test_hand_made_logo_churn_is_33_33_by_both_routes(registry):
    ledger = inline("customers.logo_churn_rate", RETENTION_ROWS, registry, period="2026-Q3")
    churned = inline("customers.customers_churned", RETENTION_ROWS, registry, period=RETENTION_WINDOW)
    at_open = inline("customers.total_customers", RETENTION_ROWS, registry, as_of=date(2025, 9, 30))
    assert (churned.value, at_open.value) == (Decimal(1), Decimal(3))
    formula = compute_from_inputs(
        CTX,
        "customers.logo_churn_rate",
        {"customers.customers_churned": claim(churned), "customers_at_open": claim(at_open)},
        period="2026-Q3",
    )
    assert ledger.value == Decimal("33.33")
    assert formula.value == Decimal("33.33")


def test_hand_made_new_logo_acv_is_18000_by_both_routes(registry):
    ledger = inline("sales.avg_contract_value", ACV_ROWS, registry, period="2026-Q3")
    parts = {c.name: c.value for c in ledger.components}
    assert parts == {"new_logo_contract_value": Decimal(54000), "new_customers_signed": Decimal(3)}
    # The raw inputs, as a caller reads them off the ledger's components.
    formula = compute_from_inputs(
        CTX,
        "sales.avg_contract_value",
        {name: bare(value) for name, value in parts.items()},
        period="2026-Q3",
        currency="USD",
    )
    assert ledger.value == Decimal(18000)
    assert formula.value == Decimal(18000)


# --- 3. the reproduction from the issue -------------------------------------------------------

Q3 = parse_period("2026-Q3")
NRR_INPUTS = ("sales.starting_arr", "sales.expansion", "sales.downgrades", "sales.churn_arr")


def test_new_business_over_new_customers_is_refused_as_new_logo_acv():
    new_business = ledger_value("sales.new_business", period=Q3)
    new_customers = ledger_value("customers.new_customers_added", period=Q3)
    # What the issue saw: 107,534.38 quoted under the new-logo ACV label.
    ratio = (new_business.value or Decimal(0)) / (new_customers.value or Decimal(1))
    assert ratio.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) == Decimal("107534.38")
    with pytest.raises(KpiError) as refused:
        compute_from_inputs(
            CTX,
            "sales.avg_contract_value",
            {"new_logo_contract_value": claim(new_business), "new_customers_signed": claim(new_customers)},
            period="2026-Q3",
            currency="USD",
        )
    assert refused.value.code in ROUTE_2_REFUSALS
    # Named as what they are, they are not inputs of new-logo ACV at all.
    with pytest.raises(KpiError) as unknown:
        compute_from_inputs(
            CTX,
            "sales.avg_contract_value",
            {"sales.new_business": claim(new_business), "customers.new_customers_added": claim(new_customers)},
            period="2026-Q3",
            currency="USD",
        )
    assert unknown.value.code in ROUTE_2_REFUSALS


def test_nrr_fed_quarterly_movements_is_refused_with_a_period_mismatch():
    quarterly = {kpi: claim(ledger_value(kpi, period=Q3)) for kpi in NRR_INPUTS}
    with pytest.raises(KpiError) as refused:
        compute_from_inputs(CTX, "customers.net_revenue_retention", quarterly, period="2026-Q3")
    assert refused.value.code is ErrorCode.PERIOD_MISMATCH


def test_nrr_fed_the_twelve_month_window_is_exactly_the_ledgers_nrr():
    nrr = ledger_value("customers.net_revenue_retention", period=Q3)
    window = trailing_window(Q3.end, 12)
    assert nrr.period == window
    parts = {kpi: ledger_value(kpi, period=window) for kpi in NRR_INPUTS}
    formula = compute_from_inputs(
        CTX, "customers.net_revenue_retention", {k: claim(v) for k, v in parts.items()}, period="2026-Q3"
    )
    assert formula.value == nrr.value
    # By hand from the ledger's own components: (start + expansion − downgrades − churn) ÷ start × 100.
    c = {component.name: component.value for component in nrr.components}
    by_hand = (c["starting_arr"] + c["expansion"] - c["contraction"] - c["churn"]) / c["starting_arr"] * 100
    assert nrr.value == by_hand.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    # The inputs route 2 used are the same amounts the ledger's NRR reports as its components.
    assert [parts[k].value for k in NRR_INPUTS] == [c["starting_arr"], c["expansion"], c["contraction"], c["churn"]]
