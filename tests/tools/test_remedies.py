"""What a refusal suggests instead: KPIs and variants from the catalog that would be comparable."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.binder import Draft
from kpi_context.tools.compare import compare_metrics
from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.context import ToolContext
from kpi_context.tools.periods import Period
from kpi_context.tools.remedies import MAX_REMEDIES, RemedyAction, remedies_for
from kpi_context.tools.values import BoundValue, ValueClaim, ValueStatus

# New-logo ACV's raw inputs: 1,240,000 of first-contract value (TCV ÷ term) over 20 new logos = 62,000.
NEW_LOGO = {"new_logo_contract_value": 1_240_000, "new_customers_signed": 20}


def as_claim(bound: BoundValue) -> ValueClaim:
    return ValueClaim.model_validate(bound.model_dump(mode="json"))


@pytest.fixture(scope="module")
def ctx() -> ToolContext:
    return ToolContext.create(load_catalog(), secret=b"remedies-tests")


@pytest.fixture(scope="module")
def new_logo_acv(ctx: ToolContext) -> BoundValue:
    return compute_from_inputs(ctx, "sales.avg_contract_value", NEW_LOGO, period="2026-Q3", currency="USD")


@pytest.fixture(scope="module")
def first_year_acv(ctx: ToolContext) -> BoundValue:
    return compute_from_inputs(
        ctx,
        "sales.avg_contract_value",
        {"first_year_new_business": 1_300_000, "new_customers_signed": 20},
        variant="first_year",
        period="2026-Q3",
        currency="USD",
    )


@pytest.fixture(scope="module")
def arr(ctx: ToolContext) -> BoundValue:
    return compute_from_inputs(ctx, "sales.arr", {"sales.arr": 10_000_000}, as_of=date(2026, 9, 30), currency="USD")


def test_acv_against_arr_suggests_no_derivation_because_blended_acv_has_other_rules(
    ctx: ToolContext, new_logo_acv: BoundValue, arr: BoundValue
) -> None:
    # Blended ACV = sales.arr / customers.total_customers is built from ARR, but it is a balance per account
    # over all active customers, not new-logo ACV's flow per new customer: a look-alike, not a remedy.
    blended = ctx.catalog.kpis["customers.avg_contract_value"]
    assert blended.binding != new_logo_acv.binding
    for left, right in ((new_logo_acv, arr), (arr, new_logo_acv)):
        assert [r for r in remedies_for(ctx.catalog, left, right) if r.action is RemedyAction.DERIVE] == []


def test_acv_against_arr_suggests_a_trend_of_each_side(
    ctx: ToolContext, new_logo_acv: BoundValue, arr: BoundValue
) -> None:
    trends = [r for r in remedies_for(ctx.catalog, new_logo_acv, arr) if r.action is RemedyAction.TREND]
    assert [(r.kpis, r.variant) for r in trends] == [
        (["sales.avg_contract_value"], "default"),
        (["sales.arr"], "default"),
    ]
    assert [r.explanation for r in trends] == [
        "Compare sales.avg_contract_value with its own value for another period of the same length (a trend).",
        "Compare sales.arr with its own value for another period of the same length (a trend).",
    ]


def test_two_variants_suggest_recomputing_either_side_with_the_others_variant(
    ctx: ToolContext, new_logo_acv: BoundValue, first_year_acv: BoundValue
) -> None:
    remedies = remedies_for(ctx.catalog, first_year_acv, new_logo_acv)
    switches = [(r.kpis, r.variant) for r in remedies if r.action is RemedyAction.SWITCH_VARIANT]
    assert switches == [
        (["sales.avg_contract_value"], "default"),
        (["sales.avg_contract_value"], "first_year"),
    ]
    # Same KPI on both sides: one trend suggestion, not two.
    assert [r.variant for r in remedies if r.action is RemedyAction.TREND] == ["first_year"]


def test_against_a_benchmark_only_the_values_own_trend_is_suggested(
    ctx: ToolContext, first_year_acv: BoundValue
) -> None:
    remedies = remedies_for(ctx.catalog, first_year_acv, None)
    assert [(r.action, r.kpis, r.variant) for r in remedies] == [
        (RemedyAction.TREND, ["sales.avg_contract_value"], "first_year")
    ]


def test_every_named_kpi_exists_in_the_catalog(ctx: ToolContext, new_logo_acv: BoundValue, arr: BoundValue) -> None:
    for remedy in remedies_for(ctx.catalog, new_logo_acv, arr) + remedies_for(ctx.catalog, arr, new_logo_acv):
        assert all(ctx.catalog.get(kpi) is not None for kpi in remedy.kpis), remedy


def test_remedies_are_unique_and_capped(ctx: ToolContext, new_logo_acv: BoundValue, arr: BoundValue) -> None:
    remedies = remedies_for(ctx.catalog, new_logo_acv, arr)
    assert len(remedies) <= MAX_REMEDIES
    assert len({r.explanation for r in remedies}) == len(remedies)


def turnover(ctx: ToolContext, kpi_id: str, variant: str | None) -> BoundValue:
    """A turnover rate bound under the catalog rules of `variant`: the rules are what remedies are chosen by."""
    kpi = ctx.catalog.kpis[kpi_id]
    period = Period(start=date(2026, 1, 1), end=date(2026, 12, 31))
    return ctx.binder.bind(
        Draft(kpi=kpi, variant_id=variant, value=Decimal("10"), status=ValueStatus.COMPUTED, period=period)
    )


def test_there_are_never_more_than_three_remedies(ctx: ToolContext) -> None:
    assert MAX_REMEDIES == 3
    voluntary = turnover(ctx, "hr.voluntary_turnover_rate", None)
    involuntary = turnover(ctx, "hr.involuntary_turnover_rate", "period_rate")
    # Five candidates before the cap: voluntary → period_rate; involuntary → default or excluding_layoffs
    # (both trailing-year, like voluntary's default); and one trend per KPI.
    for left, right in ((voluntary, involuntary), (involuntary, voluntary)):
        remedies = remedies_for(ctx.catalog, left, right)
        assert 1 <= len(remedies) <= 3
        assert len({r.explanation for r in remedies}) == len(remedies)


def test_a_derivation_computes_the_other_sides_own_kpi_from_this_sides_kpi(
    ctx: ToolContext,
) -> None:
    retention = ctx.catalog.kpis["customers.logo_retention_rate"]
    churn = ctx.catalog.kpis["customers.logo_churn_rate"]
    window = Period(start=date(2026, 1, 1), end=date(2026, 12, 31))
    kept = ctx.binder.bind(
        Draft(kpi=retention, variant_id=None, value=Decimal("90"), status=ValueStatus.COMPUTED, period=window)
    )
    customers = compute_from_inputs(
        ctx, "customers.total_customers", {"customers.total_customers": 200}, as_of=date(2025, 12, 31)
    )
    derived = [r for r in remedies_for(ctx.catalog, kept, customers) if r.action is RemedyAction.DERIVE]
    # Only a value of the same KPI can be compared, so the useful derivation is logo retention itself,
    # built from customers.total_customers (its opening count) and churned customers — not logo churn,
    # which shares retention's binding but is another KPI and would be refused on the kpi axis.
    assert churn.binding == retention.binding
    assert [r.kpis for r in derived] == [
        ["customers.logo_retention_rate", "customers.customers_churned", "customers.total_customers"]
    ]
    assert "percent((customers_at_open - customers.customers_churned) / customers_at_open)" in derived[0].explanation


def test_following_a_derivation_remedy_gives_a_comparison_the_server_accepts(ctx: ToolContext) -> None:
    # Logo retention 90% (2026) against 200 customers: the remedy says compute logo churn from the customer
    # count and compare it directly with logo retention. Churn: 20 lost of 200 at the window's open = 10%.
    retention = compute_from_inputs(
        ctx,
        "customers.logo_retention_rate",
        {"customers.customers_churned": 20, "customers_at_open": 200},
        period="2026",
    )
    customers = compute_from_inputs(
        ctx, "customers.total_customers", {"customers.total_customers": 200}, as_of=date(2025, 12, 31)
    )
    [remedy] = [r for r in remedies_for(ctx.catalog, retention, customers) if r.action is RemedyAction.DERIVE]
    derived = compute_from_inputs(
        ctx,
        remedy.kpis[0],
        {"customers.customers_churned": 20, "customers_at_open": 200},
        period="2026",
    )
    compare_metrics(ctx, as_claim(retention), as_claim(derived))
