"""lookup_kpi in the domain layer: exact names, families, filters, and not-found with suggestions."""

from __future__ import annotations

import pytest

from kpi_context.ontology.loader import load_catalog
from kpi_context.ontology.model import Domain, Stage, Tier
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, ErrorDetail, KpiError
from kpi_context.tools.lookup import lookup_kpi


@pytest.fixture(scope="module")
def ctx() -> ToolContext:
    return ToolContext.create(load_catalog(), secret=b"lookup-tests")


def refused(ctx: ToolContext, query: str, *, domain: Domain | None = None) -> ErrorDetail:
    with pytest.raises(KpiError) as info:
        lookup_kpi(ctx, query, domain=domain)
    return info.value.detail


def test_an_id_resolves_exactly_to_its_kpi_first(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "sales.avg_contract_value")
    assert result.exact is True
    assert result.matches[0].id == "sales.avg_contract_value"
    assert result.catalog.version == ctx.catalog.version
    assert result.catalog.content_hash == ctx.catalog.content_hash


def test_a_card_lists_the_default_rules_first_then_each_variant_with_its_formula(ctx: ToolContext) -> None:
    card = lookup_kpi(ctx, "sales.avg_contract_value").matches[0]
    assert [v.id for v in card.variants] == ["default", "first_year", "contract_value"]
    assert card.variants[0].formula == "sales.new_business / sales.new_customers_added"
    assert card.variants[1].formula == "first_year_new_business / sales.new_customers_added"
    assert card.formula.input_names == ["sales.new_business", "sales.new_customers_added"]
    assert card.benchmark is not None and card.benchmark.median == 62000
    assert "customers.avg_contract_value" in card.must_pair_with
    assert card.pitfalls
    assert card.drift_risk is not None
    assert card.tier is Tier.PUBLISHED


def test_a_primary_kpis_card_has_no_machine_formula_and_takes_its_own_id_as_input(ctx: ToolContext) -> None:
    card = lookup_kpi(ctx, "sales.arr").matches[0]
    assert card.production.value == "primary"
    assert card.formula.expression is None
    assert card.formula.input_names == ["sales.arr"]


def test_an_alias_names_the_kpi_it_belongs_to(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "NDR")
    assert result.exact is True
    assert result.matches[0].id == "customers.net_revenue_retention"


def test_a_family_name_returns_every_member_with_what_sets_it_apart(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "ACV", limit=10)
    assert result.family == "acv"
    # Two KPIs are called ACV: the query does not name exactly one.
    assert result.exact is False
    members = {m.id for m in result.matches if m.family == "acv"}
    assert {"sales.avg_contract_value", "customers.avg_contract_value", "sales.booked_acv"} <= members
    assert all(m.distinguishing for m in result.matches if m.family == "acv")


def test_the_whole_family_is_returned_even_beyond_the_limit(ctx: ToolContext) -> None:
    # Hiding a look-alike would invite picking the wrong one, so the family outranks the limit.
    result = lookup_kpi(ctx, "retention", limit=1)
    families = {m.family for m in result.matches}
    assert families == {"retention"}
    assert {"customers.net_revenue_retention", "customers.gross_revenue_retention"} <= {m.id for m in result.matches}


def test_a_domain_filter_keeps_only_that_domains_kpis(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "ACV", domain=Domain.CUSTOMERS)
    assert result.matches
    assert {m.domain for m in result.matches} == {Domain.CUSTOMERS}
    # Within customers only one KPI is called ACV.
    assert result.exact is True
    assert result.matches[0].id == "customers.avg_contract_value"


def test_a_tier_filter_keeps_only_definitions_of_that_tier(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "retention", tier=Tier.PUBLISHED)
    assert result.matches
    assert {m.tier for m in result.matches} == {Tier.PUBLISHED}


def test_a_stage_filter_keeps_only_kpis_suggested_for_that_stage(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "burn", stage=Stage.SEED)
    assert result.matches
    for match in result.matches:
        kpi = ctx.catalog.kpis[match.id]
        assert Stage.SEED in kpi.suggested_for_stages or Stage.SEED in kpi.stage_relevance


def test_an_unknown_term_is_not_found_with_ranked_suggestions(ctx: ToolContext) -> None:
    detail = refused(ctx, "zzqx flurb")
    assert (detail.code, detail.field) == (ErrorCode.NOT_FOUND, "query")
    suggestions = detail.details["suggestions"]
    assert suggestions
    assert all(ctx.catalog.get(s["id"]) is not None and s["label"] for s in suggestions)
    scores = [s["score"] for s in suggestions]
    assert scores == sorted(scores, reverse=True)


def test_a_term_with_no_match_inside_the_filter_is_not_found(ctx: ToolContext) -> None:
    # Churn is a customers and finance word; the people domain has turnover instead.
    detail = refused(ctx, "churn", domain=Domain.HR)
    assert detail.code is ErrorCode.NOT_FOUND
    assert all(s["id"].startswith("hr.") for s in detail.details["suggestions"])


def test_an_empty_query_is_an_invalid_argument(ctx: ToolContext) -> None:
    detail = refused(ctx, "   ")
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "query")


def test_a_query_of_punctuation_only_is_an_invalid_argument(ctx: ToolContext) -> None:
    detail = refused(ctx, "!!!")
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "query")
