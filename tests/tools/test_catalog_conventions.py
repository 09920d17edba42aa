"""Conventions the catalog governs as variants: each form computed from the same figures, never passed off as the other.

Magic number on recognized revenue (the original definition) versus on ARR; CAC payback with and without
gross margin; Rule of 40 on free-cash-flow margin versus EBITDA margin. Every expected number is worked
out in the comment above it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.compare import UnsafeComparison, compare_metrics
from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.context import ToolContext
from kpi_context.tools.periods import Period
from kpi_context.tools.values import BoundValue, ValueClaim

Q2 = Period(start=date(2026, 4, 1), end=date(2026, 6, 30))


@pytest.fixture(scope="module")
def ctx() -> ToolContext:
    return ToolContext.create(load_catalog(), secret=b"catalog-conventions")


def compute(ctx: ToolContext, kpi: str, inputs: dict[str, Any], **options: Any) -> BoundValue:
    return compute_from_inputs(ctx, kpi, inputs, currency="USD", **options)


def claim(value: BoundValue) -> ValueClaim:
    return ValueClaim.model_validate(value.model_dump(mode="json"))


def refused_axes(ctx: ToolContext, left: BoundValue, right: BoundValue) -> set[str]:
    with pytest.raises(UnsafeComparison) as refused:
        compare_metrics(ctx, claim(left), claim(right))
    return {mismatch.axis for mismatch in refused.value.refusal.mismatches}


def test_cac_payback_without_gross_margin_is_a_variant_of_its_own(ctx: ToolContext) -> None:
    # 600,000 new ARR ÷ 12 = 50,000 a month. Without margin: 900,000 ÷ 50,000 = 18 months.
    # With a 75 % gross margin: 900,000 ÷ (50,000 × 0.75) = 900,000 ÷ 37,500 = 24 months.
    figures = {"finance.total_sm": 900_000, "sales.new_business": 600_000}
    bare = compute(ctx, "sales.cac_payback_period", figures, variant="no_margin", period="2026-Q3")
    margined = compute(ctx, "sales.cac_payback_period", {**figures, "sales.gross_margin": 75}, period="2026-Q3")
    assert (bare.value, margined.value) == (Decimal(18), Decimal(24))
    assert bare.variant == "no_margin"
    assert bare.formula == "finance.total_sm / per_month(sales.new_business)"
    assert "variant" in refused_axes(ctx, bare, margined)


def test_the_magic_number_on_revenue_and_on_arr_are_two_kpis(ctx: ToolContext) -> None:
    # Revenue (the original definition): (2,650,000 − 2,500,000) ÷ 3 months × 12 = 600,000 a year of new
    # revenue run rate; ÷ 1,200,000 prior-quarter S&M = 0.5.
    revenue = compute(
        ctx,
        "sales.revenue_magic_number",
        {
            "finance.total_revenue": 2_650_000,
            "revenue_prior_period": ValueClaim(value=2_500_000, period=Q2),
            "period_months": 3,
            "sm_prior_period": ValueClaim(value=1_200_000, period=Q2),
        },
        period="2026-Q3",
    )
    # ARR: 900,000 net new ARR ÷ 1,200,000 prior-quarter S&M = 0.75.
    arr = compute(
        ctx,
        "sales.magic_number",
        {"sales.net_new_arr": 900_000, "sm_prior_period": ValueClaim(value=1_200_000, period=Q2)},
        period="2026-Q3",
    )
    assert (revenue.value, arr.value) == (Decimal("0.5"), Decimal("0.75"))
    assert "kpi" in refused_axes(ctx, revenue, arr)


def test_rule_of_40_on_free_cash_flow_and_on_ebitda_are_not_comparable(ctx: ToolContext) -> None:
    # Free-cash-flow margin (default): 30 + (−5) = 25. EBITDA margin (variant): 30 + 12 = 42.
    fcf = compute(
        ctx, "operations.rule_of_40", {"sales.growth_rate_yoy": 30, "finance.fcf_margin": -5}, period="2026-Q3"
    )
    ebitda = compute(
        ctx,
        "operations.rule_of_40",
        {"sales.growth_rate_yoy": 30, "finance.ebitda_margin": 12},
        variant="ebitda_margin",
        period="2026-Q3",
    )
    assert (fcf.value, ebitda.value) == (Decimal(25), Decimal(42))
    assert "variant" in refused_axes(ctx, fcf, ebitda)
