"""What a refusal suggests instead: KPIs and variants from the catalog that would be comparable."""

from __future__ import annotations

from datetime import date

import pytest

from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.context import ToolContext
from kpi_context.tools.remedies import MAX_REMEDIES, RemedyAction, remedies_for
from kpi_context.tools.values import BoundValue

NEW_LOGO = {"sales.new_business": 1_240_000, "sales.new_customers_added": 20}


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
        {"first_year_new_business": 1_300_000, "sales.new_customers_added": 20},
        variant="first_year",
        period="2026-Q3",
        currency="USD",
    )


@pytest.fixture(scope="module")
def arr(ctx: ToolContext) -> BoundValue:
    return compute_from_inputs(ctx, "sales.arr", {"sales.arr": 10_000_000}, as_of=date(2026, 9, 30), currency="USD")


def test_acv_against_arr_suggests_deriving_blended_acv_from_arr(
    ctx: ToolContext, new_logo_acv: BoundValue, arr: BoundValue
) -> None:
    remedies = remedies_for(ctx.catalog, new_logo_acv, arr)
    derived = [r for r in remedies if r.action is RemedyAction.DERIVE]
    assert [r.kpis for r in derived] == [["customers.avg_contract_value", "customers.total_customers", "sales.arr"]]
    explanation = derived[0].explanation
    # It shows the formula, and does not pretend the derived value equals new-logo ACV.
    assert "sales.arr / customers.total_customers" in explanation
    assert "still not the same as sales.avg_contract_value" in explanation


def test_acv_against_arr_suggests_a_trend_of_each_side(
    ctx: ToolContext, new_logo_acv: BoundValue, arr: BoundValue
) -> None:
    trends = [r for r in remedies_for(ctx.catalog, new_logo_acv, arr) if r.action is RemedyAction.TREND]
    assert [(r.kpis, r.variant) for r in trends] == [
        (["sales.avg_contract_value"], "default"),
        (["sales.arr"], "default"),
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
