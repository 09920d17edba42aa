"""The binder: rounding, the governed label, the benchmark band and the signature of a bound value."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from kpi_context.ontology.binding import Binding, RecurringInclusion, Unit
from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.loader import load_catalog
from kpi_context.ontology.model import Benchmark, KpiDefinition
from kpi_context.tools.binder import Draft, benchmark_position, governed_label, short_name
from kpi_context.tools.context import ToolContext
from kpi_context.tools.periods import Period
from kpi_context.tools.signing import canonical
from kpi_context.tools.values import BenchmarkBand, BoundValue, ValueStatus

Q3 = Period(start=date(2026, 7, 1), end=date(2026, 9, 30))
YEAR = Period(start=date(2026, 1, 1), end=date(2026, 12, 31))
# The variant of customers.avg_contract_value that carries the KBCM ACV quartiles since catalog 1.2.0.
MEDIAN_PER_ACCOUNT = "median_per_account"
# source_name of the KBCM/Sapphire benchmarks (ACV, logo churn) in the catalog files.
KBCM = "KBCM/Sapphire SaaS Survey 2024 (15th Annual)"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def ctx(catalog: Catalog) -> ToolContext:
    return ToolContext.create(catalog, secret=b"binder-tests")


def kpi(catalog: Catalog, kpi_id: str) -> KpiDefinition:
    return catalog.kpis[kpi_id]


# --- labels ---------------------------------------------------------------------------


def test_the_short_name_is_an_all_caps_abbreviation_alias_when_there_is_one(catalog: Catalog) -> None:
    assert short_name(kpi(catalog, "sales.avg_contract_value")) == "ACV"
    # The label is "Net Revenue Retention (NRR)"; NRR is the first short all-caps alias.
    assert short_name(kpi(catalog, "customers.net_revenue_retention")) == "NRR"


def test_the_short_name_falls_back_to_the_label_when_no_alias_is_a_bare_abbreviation(catalog: Catalog) -> None:
    # "CAC payback" has a space, so it is not a bare abbreviation.
    assert short_name(kpi(catalog, "sales.cac_payback_period")) == "CAC Payback Period"
    assert short_name(kpi(catalog, "sales.magic_number")) == "Magic Number"


def test_the_governed_label_for_a_quarter_reads_like_the_board_example(catalog: Catalog) -> None:
    acv = kpi(catalog, "sales.avg_contract_value")
    label = governed_label(acv, None, Decimal("62000"), Unit.CURRENCY, "USD", Q3, None)
    assert label == "ACV — new-logo average, recurring only, TCV ÷ term, Q3 2026: $62,000"


def test_the_governed_label_names_the_variant_rules_when_a_variant_is_used(catalog: Catalog) -> None:
    acv = kpi(catalog, "sales.avg_contract_value")
    label = governed_label(acv, "first_year", Decimal("65000"), Unit.CURRENCY, "USD", Q3, None)
    assert label == "ACV — new-logo average, recurring only, first contract year, Q3 2026: $65,000"


def test_the_governed_label_of_a_balance_says_as_of_which_date(catalog: Catalog) -> None:
    arr = kpi(catalog, "sales.arr")
    label = governed_label(arr, None, Decimal("10000000"), Unit.CURRENCY, "USD", None, date(2026, 9, 30))
    assert label == "ARR — live recurring run-rate, as of 2026-09-30: $10,000,000"


def test_the_governed_label_says_undated_and_undefined_rather_than_inventing_them(catalog: Catalog) -> None:
    acv = kpi(catalog, "sales.avg_contract_value")
    label = governed_label(acv, None, None, Unit.CURRENCY, "USD", None, None)
    assert label == "ACV — new-logo average, recurring only, TCV ÷ term, undated: undefined"


# --- benchmark bands --------------------------------------------------------------------


def percent_benchmark(higher_is_better: bool, variant: str | None = None) -> Benchmark:
    return Benchmark(
        p25=96.0,
        median=101.0,
        p75=109.0,
        unit="%",
        source_name="Test survey",
        source_year="2024",
        higher_is_better=higher_is_better,
        variant=variant,
    )


QUARTILES = "p25 96% · median 101% · p75 109%"


@pytest.mark.parametrize(
    ("value", "band", "words"),
    [
        # Quartiles 96 / 101 / 109. Below 96 is the bottom quartile when higher is better.
        ("90", BenchmarkBand.BELOW_P25, "below the 25th percentile: bottom quartile"),
        ("95.99", BenchmarkBand.BELOW_P25, "below the 25th percentile: bottom quartile"),
        # A value equal to a quartile is at it, neither above nor below.
        ("96", BenchmarkBand.AT_P25, "at the 25th percentile"),
        ("96.01", BenchmarkBand.P25_TO_MEDIAN, "between the 25th percentile and the median"),
        ("100.99", BenchmarkBand.P25_TO_MEDIAN, "between the 25th percentile and the median"),
        ("101", BenchmarkBand.AT_MEDIAN, "at the median"),
        ("101.01", BenchmarkBand.MEDIAN_TO_P75, "between the median and the 75th percentile"),
        ("108.99", BenchmarkBand.MEDIAN_TO_P75, "between the median and the 75th percentile"),
        ("109", BenchmarkBand.AT_P75, "at the 75th percentile"),
        ("109.01", BenchmarkBand.ABOVE_P75, "above the 75th percentile: top quartile"),
        ("130", BenchmarkBand.ABOVE_P75, "above the 75th percentile: top quartile"),
    ],
)
def test_bands_follow_the_quartiles_when_higher_is_better(
    catalog: Catalog, value: str, band: BenchmarkBand, words: str
) -> None:
    binding = kpi(catalog, "customers.net_revenue_retention").binding
    position, note = benchmark_position(percent_benchmark(True), Decimal(value), binding, None, None)
    assert note is None
    assert position is not None
    assert position.band is band
    # "<band in words> of peers (<direction>); <quartiles with their unit>".
    assert position.reading == f"{words} of peers (higher is better); {QUARTILES}"
    assert (position.p25, position.median, position.p75) == (Decimal("96"), Decimal("101"), Decimal("109"))
    assert position.source == "Test survey (2024)"


@pytest.mark.parametrize(
    ("value", "band", "words"),
    [
        # When lower is better, the band below p25 is the best place to be, and above p75 the worst.
        ("90", BenchmarkBand.BELOW_P25, "below the 25th percentile: top quartile"),
        ("96", BenchmarkBand.AT_P25, "at the 25th percentile"),
        ("98", BenchmarkBand.P25_TO_MEDIAN, "between the 25th percentile and the median"),
        ("101", BenchmarkBand.AT_MEDIAN, "at the median"),
        ("105", BenchmarkBand.MEDIAN_TO_P75, "between the median and the 75th percentile"),
        ("109", BenchmarkBand.AT_P75, "at the 75th percentile"),
        ("120", BenchmarkBand.ABOVE_P75, "above the 75th percentile: bottom quartile"),
    ],
)
def test_readings_are_reversed_when_lower_is_better(
    catalog: Catalog, value: str, band: BenchmarkBand, words: str
) -> None:
    binding = kpi(catalog, "customers.net_revenue_retention").binding
    position, _ = benchmark_position(percent_benchmark(False), Decimal(value), binding, None, None)
    assert position is not None
    assert position.band is band
    assert position.reading == f"{words} of peers (higher is worse); {QUARTILES}"


def test_the_position_no_longer_carries_its_own_direction_flag(catalog: Catalog) -> None:
    binding = kpi(catalog, "customers.net_revenue_retention").binding
    position, _ = benchmark_position(percent_benchmark(True), Decimal("101"), binding, None, None)
    assert position is not None
    assert set(position.model_dump()) == {"band", "reading", "p25", "median", "p75", "source"}


def test_a_catalog_kpi_where_lower_is_better_reads_low_churn_as_top_quartile(catalog: Catalog) -> None:
    churn = kpi(catalog, "customers.logo_churn_rate")
    assert churn.benchmark is not None
    # Catalog quartiles 5 / 13 / 20 %; 4 % churn is under p25, the best quarter of peers.
    position, _ = benchmark_position(churn.benchmark, Decimal("4"), churn.binding, None, None)
    assert position is not None
    assert position.band is BenchmarkBand.BELOW_P25
    # The 1.2.0 catalog marks this KBCM/Sapphire survey benchmark "unverified", so the reading ends by
    # naming the source its figures could not be checked against (its source_name in the catalog).
    assert churn.benchmark.unverified
    assert position.reading == (
        "below the 25th percentile: top quartile of peers (higher is worse); p25 5% · median 13% · p75 20%"
        f"; figures not verified against {KBCM}"
    )


def median_acv(ctx: ToolContext, value: str, currency: str = "USD", binding: Binding | None = None) -> BoundValue:
    """Blended ACV under its median_per_account variant (the median account's live ARR) at the Q3 close."""
    return ctx.binder.bind(
        Draft(
            kpi=ctx.catalog.kpis["customers.avg_contract_value"],
            variant_id=MEDIAN_PER_ACCOUNT,
            value=Decimal(value),
            status=ValueStatus.COMPUTED,
            as_of=Q3.end,
            currency=currency,
            binding=binding,
        )
    )


def test_the_acv_benchmark_sits_on_the_median_per_account_variant_only(ctx: ToolContext) -> None:
    # Catalog 1.2.0 moved the KBCM ACV quartiles off the new-logo mean (sales.avg_contract_value) onto the
    # median_per_account variant of customers.avg_contract_value.
    new_logo = ctx.catalog.kpis["sales.avg_contract_value"]
    blended = ctx.catalog.kpis["customers.avg_contract_value"]
    assert new_logo.benchmark is None
    assert blended.benchmark is not None and blended.benchmark.variant == MEDIAN_PER_ACCOUNT
    # So a new-logo ACV, even exactly at the former median, is placed nowhere.
    new_logo_value = ctx.binder.bind(
        Draft(
            kpi=new_logo,
            variant_id=None,
            value=Decimal("62000"),
            status=ValueStatus.COMPUTED,
            period=Q3,
            currency="USD",
        )
    )
    assert new_logo_value.benchmark_position is None
    # Nor is the blended mean (the default rules): the benchmark measured a median, and the value says so.
    mean = ctx.binder.bind(
        Draft(
            kpi=blended,
            variant_id=None,
            value=Decimal("62000"),
            status=ValueStatus.COMPUTED,
            as_of=Q3.end,
            currency="USD",
        )
    )
    assert mean.benchmark_position is None
    assert mean.warnings == ["no benchmark position: the benchmark measures variant 'median_per_account', not this one"]


@pytest.mark.parametrize(
    ("value", "band"),
    [
        # Median-per-account ACV quartiles $25,000 / $62,000 / $100,000: each quartile itself is "at" it.
        ("25000", BenchmarkBand.AT_P25),
        ("62000", BenchmarkBand.AT_MEDIAN),
        ("100000", BenchmarkBand.AT_P75),
    ],
)
def test_a_value_equal_to_a_catalog_quartile_is_at_that_quartile(
    ctx: ToolContext, value: str, band: BenchmarkBand
) -> None:
    bound = median_acv(ctx, value)
    assert bound.benchmark_position is not None
    assert bound.benchmark_position.band is band


def test_a_value_at_the_median_reads_as_at_the_median(ctx: ToolContext) -> None:
    bound = median_acv(ctx, "62000")
    assert bound.benchmark_position is not None
    # A peer survey (kind peer_survey) marked unverified: "of peers", then the source it was not checked against.
    assert bound.benchmark_position.reading == (
        "at the median of peers (higher is better); p25 $25,000 · median $62,000 · p75 $100,000"
        f"; figures not verified against {KBCM}"
    )
    assert bound.benchmark_position.source == f"{KBCM} (2024)"


def test_no_band_when_the_benchmark_measures_another_variant(catalog: Catalog) -> None:
    binding = kpi(catalog, "customers.net_revenue_retention").binding_for("period_rate")
    position, note = benchmark_position(percent_benchmark(True), Decimal("101"), binding, "period_rate", None)
    assert position is None
    assert note is not None and "'default'" in note


def test_no_band_for_the_default_rules_when_the_benchmark_measures_a_variant(catalog: Catalog) -> None:
    binding = kpi(catalog, "customers.net_revenue_retention").binding
    position, note = benchmark_position(percent_benchmark(True, "period_rate"), Decimal("101"), binding, None, None)
    assert position is None
    assert note is not None and "'period_rate'" in note


def test_no_band_when_the_benchmark_unit_is_another_kind_of_number(catalog: Catalog) -> None:
    # A percent benchmark cannot place a dollar amount.
    binding = kpi(catalog, "sales.avg_contract_value").binding
    position, note = benchmark_position(percent_benchmark(True), Decimal("62000"), binding, None, "USD")
    assert position is None
    assert note is not None and "'%'" in note


def test_no_band_for_a_dollar_benchmark_when_the_value_is_in_another_currency(catalog: Catalog) -> None:
    acv = kpi(catalog, "customers.avg_contract_value")
    assert acv.benchmark is not None and acv.benchmark.unit == "$"
    # Same variant and binding as the benchmark, so only the currency keeps the value from being placed.
    median_rules = acv.binding_for(MEDIAN_PER_ACCOUNT)
    position, note = benchmark_position(
        acv.benchmark, Decimal("62000"), median_rules, MEDIAN_PER_ACCOUNT, "EUR", measured_under=median_rules
    )
    assert position is None
    assert note == "no benchmark position: the benchmark is in USD and this value is in EUR"
    # The same figure in dollars is placed (at the median), so the refusal above is the currency's doing.
    in_dollars, _ = benchmark_position(
        acv.benchmark, Decimal("62000"), median_rules, MEDIAN_PER_ACCOUNT, "USD", measured_under=median_rules
    )
    assert in_dollars is not None and in_dollars.band is BenchmarkBand.AT_MEDIAN


# --- binding a draft -------------------------------------------------------------------


def test_binding_rounds_the_value_and_attaches_the_catalog_binding(ctx: ToolContext) -> None:
    acv = ctx.catalog.kpis["sales.avg_contract_value"]
    value = ctx.binder.bind(
        Draft(
            kpi=acv, variant_id=None, value=Decimal("62000.004"), status=ValueStatus.COMPUTED, period=Q3, currency="USD"
        )
    )
    # 62,000.004 rounds to the cent: 62,000.00, shown whole.
    assert value.value == Decimal("62000")
    assert value.variant == "default"
    assert value.binding == acv.binding
    assert value.unit is Unit.CURRENCY
    assert value.label == "ACV — new-logo average, recurring only, TCV ÷ term, Q3 2026: $62,000"


def test_a_value_in_a_benchmarked_binding_gets_its_band(ctx: ToolContext) -> None:
    value = median_acv(ctx, "50000")
    # Catalog quartiles 25,000 / 62,000 / 100,000 (median_per_account): 50,000 lies between p25 and the median.
    assert value.benchmark_position is not None
    assert value.benchmark_position.band is BenchmarkBand.P25_TO_MEDIAN
    assert value.warnings == []


def test_a_variant_value_gets_no_band_and_says_why(ctx: ToolContext) -> None:
    nrr = ctx.catalog.kpis["customers.net_revenue_retention"]
    value = ctx.binder.bind(
        Draft(kpi=nrr, variant_id="period_rate", value=Decimal("103"), status=ValueStatus.COMPUTED, period=Q3)
    )
    assert value.variant == "period_rate"
    assert value.binding == nrr.binding_for("period_rate")
    assert value.benchmark_position is None
    assert any("no benchmark position" in w for w in value.warnings)


def test_an_undefined_value_has_no_band_and_an_undefined_label(ctx: ToolContext) -> None:
    acv = ctx.catalog.kpis["sales.avg_contract_value"]
    value = ctx.binder.bind(
        Draft(
            kpi=acv,
            variant_id=None,
            value=None,
            status=ValueStatus.COMPUTED,
            period=Q3,
            currency="USD",
            undefined_reason="division by zero",
        )
    )
    assert value.value is None
    assert value.undefined_reason == "division by zero"
    assert value.benchmark_position is None
    assert value.label.endswith(": undefined")


def test_a_currency_is_dropped_from_a_value_that_is_not_money(ctx: ToolContext) -> None:
    nrr = ctx.catalog.kpis["customers.net_revenue_retention"]
    value = ctx.binder.bind(
        Draft(kpi=nrr, variant_id=None, value=Decimal("110"), status=ValueStatus.COMPUTED, period=YEAR, currency="USD")
    )
    assert value.currency is None
    assert value.label == "NRR — trailing 12 months, starting-cohort ARR, 2026: 110%"


def test_provenance_names_the_catalog_and_signs_what_the_value_means(ctx: ToolContext) -> None:
    acv = ctx.catalog.kpis["sales.avg_contract_value"]
    value = ctx.binder.bind(
        Draft(kpi=acv, variant_id=None, value=Decimal("62000"), status=ValueStatus.COMPUTED, period=Q3, currency="USD")
    )
    provenance = value.provenance
    assert provenance is not None
    assert provenance.catalog_version == ctx.catalog.version
    assert provenance.catalog_hash == ctx.catalog.content_hash
    assert provenance.engine.startswith("kpi-context ")
    # The signature and value id cover the whole value (everything but themselves).
    payload = canonical(value.model_dump(mode="json"))
    assert ctx.binder.signer.verify(payload, provenance.signature)
    assert provenance.value_id == ctx.binder.signer.value_id(payload)
    altered = value.model_copy(update={"label": "ACV — best in class"})
    assert not ctx.binder.signer.verify(canonical(altered.model_dump(mode="json")), provenance.signature)


def test_the_same_draft_binds_to_the_same_value_id_and_signature(ctx: ToolContext) -> None:
    acv = ctx.catalog.kpis["sales.avg_contract_value"]
    draft = Draft(
        kpi=acv, variant_id=None, value=Decimal("62000"), status=ValueStatus.COMPUTED, period=Q3, currency="USD"
    )
    first, second = ctx.binder.bind(draft), ctx.binder.bind(draft)
    assert first.provenance == second.provenance


def test_no_band_when_the_applied_binding_differs_from_the_benchmarks_definition(ctx: ToolContext) -> None:
    acv = ctx.catalog.kpis["customers.avg_contract_value"]
    # A ledger computation with committed usage included, under the benchmark's own variant id; the benchmark
    # was measured on recurring-only ARR per account, so a band would compare unlike numbers.
    with_usage: Binding = acv.binding_for(MEDIAN_PER_ACCOUNT).model_copy(
        update={"recurring_inclusion": RecurringInclusion.RECURRING_PLUS_COMMITTED_USAGE}
    )
    value = median_acv(ctx, "62000", binding=with_usage)
    assert value.binding == with_usage
    assert value.benchmark_position is None
    assert value.warnings == [
        "no benchmark position: this value's rules differ from the benchmark's on recurring_inclusion"
    ]
    # Under the variant's own rules the same figure is placed, so only the differing axis withholds the band.
    assert median_acv(ctx, "62000").benchmark_position is not None


# --- figures the caller gave, rounding and ledger options ------------------------------------


def test_a_reported_value_says_as_reported_and_that_the_server_could_not_verify_it(ctx: ToolContext) -> None:
    arr = ctx.catalog.kpis["sales.arr"]
    value = ctx.binder.bind(
        Draft(
            kpi=arr,
            variant_id=None,
            value=Decimal("10000000"),
            status=ValueStatus.REPORTED,
            as_of=date(2026, 9, 30),
            currency="USD",
        )
    )
    # "<short name> — <KPI label>, as reported, <when>: <value>": no rules the caller never stated.
    assert value.label == "ARR — ARR, as reported, as of 2026-09-30: $10,000,000"
    assert value.warnings == [
        "reported by the caller: bound under the catalog's rules (live recurring run-rate), "
        "which the server could not verify"
    ]
    assert not any("not computed here" in w for w in value.warnings)


def test_a_reported_variant_value_names_the_variant_rules_in_its_warning(ctx: ToolContext) -> None:
    acv = ctx.catalog.kpis["sales.avg_contract_value"]
    value = ctx.binder.bind(
        Draft(
            kpi=acv,
            variant_id="first_year",
            value=Decimal("65000"),
            status=ValueStatus.REPORTED,
            period=Q3,
            currency="USD",
        )
    )
    assert value.label == "ACV — Average Contract Value, as reported, Q3 2026: $65,000"
    assert (
        "reported by the caller: bound under the catalog's rules "
        "(new-logo average, recurring only, first contract year), which the server could not verify"
    ) in value.warnings


def test_an_asserted_value_says_as_asserted(catalog: Catalog) -> None:
    acv = kpi(catalog, "sales.avg_contract_value")
    label = governed_label(acv, None, Decimal("62000"), Unit.CURRENCY, "USD", Q3, None, ValueStatus.ASSERTED)
    assert label == "ACV — Average Contract Value, as asserted, Q3 2026: $62,000"


def test_a_computed_value_has_no_caller_warning(ctx: ToolContext) -> None:
    acv = ctx.catalog.kpis["sales.avg_contract_value"]
    value = ctx.binder.bind(
        Draft(kpi=acv, variant_id=None, value=Decimal("50000"), status=ValueStatus.COMPUTED, period=Q3, currency="USD")
    )
    assert not any("by the caller" in w for w in value.warnings)


@pytest.mark.parametrize(
    ("kpi_id", "currency", "rounding"),
    [
        ("sales.avg_contract_value", "USD", "exact, then half-even to 0.01 USD"),
        ("customers.net_revenue_retention", None, "exact, then half-even to 0.01 percentage points"),
        ("sales.magic_number", None, "exact, then half-even to 0.01"),
    ],
)
def test_a_bound_value_states_its_rounding_rule(
    ctx: ToolContext, kpi_id: str, currency: str | None, rounding: str
) -> None:
    value = ctx.binder.bind(
        Draft(
            kpi=ctx.catalog.kpis[kpi_id],
            variant_id=None,
            value=Decimal("1.005"),
            status=ValueStatus.COMPUTED,
            period=YEAR,
            currency=currency,
        )
    )
    assert value.rounding == rounding
    # 1.005 half-even to 0.01 is 1.00 (the even neighbour), whatever the unit.
    assert value.value == Decimal("1.00")


def test_a_ratio_is_rounded_to_two_places(ctx: ToolContext) -> None:
    magic = ctx.catalog.kpis["sales.magic_number"]
    value = ctx.binder.bind(
        Draft(kpi=magic, variant_id=None, value=Decimal("0.756"), status=ValueStatus.COMPUTED, period=Q3)
    )
    # 0.756 to the quantum 0.01: 0.76.
    assert str(value.value) == "0.76"
    assert value.label == "Magic Number — net new ARR ÷ prior-period S&M, Q3 2026: 0.76x"


def test_a_trailing_year_is_labelled_as_the_twelve_months_to_its_close(ctx: ToolContext) -> None:
    nrr = ctx.catalog.kpis["customers.net_revenue_retention"]
    window = Period(start=date(2025, 10, 1), end=date(2026, 9, 30))
    value = ctx.binder.bind(
        Draft(kpi=nrr, variant_id=None, value=Decimal("101"), status=ValueStatus.COMPUTED, period=window)
    )
    assert value.label == "NRR — trailing 12 months, starting-cohort ARR, 12 months to Sep 2026: 101%"


def test_the_ledger_options_behind_a_value_are_carried_and_signed(ctx: ToolContext) -> None:
    grr = ctx.catalog.kpis["customers.gross_revenue_retention"]
    window = Period(start=date(2025, 10, 1), end=date(2026, 9, 30))
    value = ctx.binder.bind(
        Draft(
            kpi=grr,
            variant_id=None,
            value=Decimal("93"),
            status=ValueStatus.COMPUTED,
            period=window,
            basis={"grr_cap": "aggregate"},
        )
    )
    assert value.basis == {"grr_cap": "aggregate"}
    assert value.provenance is not None

    def signed(basis: dict[str, str]) -> bytes:
        return canonical(value.model_copy(update={"basis": basis}).model_dump(mode="json"))

    assert ctx.binder.signer.verify(signed({"grr_cap": "aggregate"}), value.provenance.signature)
    assert not ctx.binder.signer.verify(signed({"grr_cap": "per_customer"}), value.provenance.signature)
    assert not ctx.binder.signer.verify(signed({}), value.provenance.signature)
