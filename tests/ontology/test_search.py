"""Lookup and ranked search over a small, fixed set of definitions built here."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kpi_context.ontology.model import Domain, FieldType, KpiDefinition, Stage, Tier
from kpi_context.ontology.search import (
    GOOD_MATCH_SCORE,
    MatchField,
    SearchError,
    SearchIndex,
    resolve,
    search,
)


def _binding(
    level: str = "company",
    aggregation: str = "total",
    population: str = "all_active",
    *,
    value_basis: str = "contracted_recurring",
    recurring: str = "recurring_only",
    annualization: str = "current_contract_year",
    time_basis: str = "point_in_time",
    date_basis: str = "go_live",
    unit: str = "currency",
) -> dict[str, Any]:
    return {
        "value_basis": value_basis,
        "grain": {"level": level, "aggregation": aggregation, "population": population},
        "recurring_inclusion": recurring,
        "annualization": annualization,
        "time_basis": {"kind": time_basis},
        "date_basis": date_basis,
        "unit": unit,
        "currency_required": unit in ("currency", "currency_per_month"),
    }


def _ratio_binding(population: str = "starting_cohort") -> dict[str, Any]:
    return _binding(
        "company",
        "rate",
        population,
        value_basis="ratio_of_bases",
        annualization="not_applicable",
        time_basis="period_flow",
        date_basis="period_close",
        unit="percent",
    )


def make_kpi(
    kpi_id: str,
    label: str,
    *,
    description: str,
    family: str | None = None,
    aliases: tuple[str, ...] = (),
    binding: dict[str, Any] | None = None,
    variant_label: str = "default rules",
    field_type: str = "currency",
    tier: str = "editorial",
    stages: tuple[str, ...] = ("seriesA", "seriesB"),
    functions: tuple[str, ...] = ("Finance",),
    variants: tuple[dict[str, Any], ...] = (),
) -> KpiDefinition:
    domain, slug = kpi_id.split(".")
    source: dict[str, Any] = {"tier": tier, "source_name": "Fixture source", "publication_date": "2024-01-01"}
    return KpiDefinition.model_validate(
        {
            "id": kpi_id,
            "slug": slug,
            "domain": domain,
            "label": label,
            "description": description,
            "field_type": field_type,
            "suggested_for_stages": list(stages),
            "default_owning_functions": list(functions),
            "definition_source": source,
            "formula": "See description.",
            "why_it_matters": "Fixture.",
            "interpretation_guidance": "Fixture.",
            "family": family,
            "aliases": list(aliases),
            "production": "primary",
            "binding": binding or _binding(),
            "variant_label": variant_label,
            "variants": list(variants),
        }
    )


FIXTURES: list[KpiDefinition] = [
    make_kpi(
        "sales.arr",
        "ARR",
        description="Yearly run-rate of recurring subscription charges on live contracts at period close.",
        family="arr",
        aliases=("annual recurring revenue", "run rate"),
        variant_label="live recurring run-rate",
        tier="published",
        stages=("seed", "seriesA", "seriesB"),
        functions=("Finance", "Sales"),
        variants=(
            {
                "id": "header_averaged",
                "label": "live recurring, TCV ÷ term",
                "description": "Header-averaged annualization.",
                "binding": _binding(annualization="tcv_over_term_years"),
            },
        ),
    ),
    make_kpi(
        "sales.carr",
        "CARR",
        description="Signed recurring commitments annualized, including contracts not yet live.",
        family="arr",
        aliases=("contracted annual recurring revenue",),
        binding=_binding(value_basis="contracted_committed", date_basis="signed"),
        variant_label="signed recurring commitments",
    ),
    make_kpi(
        "sales.avg_contract_value",
        "Average Contract Value",
        description="Average annualized recurring value of deals that created new customers in the period.",
        family="acv",
        aliases=("ACV", "new logo ACV", "annual contract value"),
        binding=_binding(
            "new_customer",
            "mean",
            "new_logos_in_period",
            annualization="tcv_over_term_years",
            time_basis="period_flow",
            date_basis="signed",
        ),
        variant_label="new-logo average, recurring only, TCV ÷ term",
        tier="published",
        functions=("Sales",),
        variants=(
            {
                "id": "first_year",
                "label": "new-logo average, first contract year",
                "description": "First twelve months only.",
                "binding": _binding(
                    "new_customer",
                    "mean",
                    "new_logos_in_period",
                    annualization="first_contract_year",
                    time_basis="period_flow",
                    date_basis="signed",
                ),
            },
        ),
    ),
    make_kpi(
        "customers.avg_contract_value",
        "Average Contract Value (ACV)",
        description="Blended average ARR per active customer account at period close.",
        family="acv",
        aliases=("blended ACV", "ACV", "annual contract value"),
        binding=_binding("account", "mean", "all_active"),
        variant_label="blended average per account",
    ),
    make_kpi(
        "sales.booked_acv",
        "Booked ACV",
        description="Annualized value of each opportunity at signing, averaged over deals closed in the period.",
        family="acv",
        aliases=("booking ACV",),
        binding=_binding(
            "opportunity",
            "mean",
            "deals_closed_in_period",
            value_basis="booked",
            annualization="tcv_over_term_years",
            time_basis="period_flow",
            date_basis="signed",
        ),
        variant_label="booked average per opportunity",
        functions=("Sales",),
    ),
    make_kpi(
        "customers.net_revenue_retention",
        "Net Revenue Retention (NRR)",
        description="Recurring revenue kept from a starting cohort a year later, counting expansion and losses.",
        family="retention",
        aliases=("NRR", "NDR", "net dollar retention"),
        binding=_ratio_binding(),
        variant_label="trailing twelve months, starting cohort",
        field_type="percentage",
        tier="published",
        functions=("Customer Success",),
    ),
    make_kpi(
        "customers.gross_revenue_retention",
        "Gross Revenue Retention (GRR)",
        description="Share of starting recurring revenue kept after churn and contraction, ignoring expansion.",
        family="retention",
        aliases=("GRR",),
        binding=_ratio_binding(),
        variant_label="trailing twelve months, no expansion",
        field_type="percentage",
        tier="published",
        functions=("Customer Success",),
    ),
    make_kpi(
        "sales.magic_number",
        "Magic Number",
        description="Sales efficiency: new recurring revenue added per dollar of prior-quarter sales spend.",
        aliases=("sales efficiency",),
        binding=_binding(
            "company",
            "rate",
            "whole_company",
            value_basis="ratio_of_bases",
            annualization="not_applicable",
            time_basis="period_flow",
            date_basis="period_close",
            unit="ratio",
        ),
        field_type="number",
        functions=("Sales", "Finance"),
    ),
    make_kpi(
        "finance.cash_in_bank",
        "Cash in Bank",
        description="Cash and equivalents held at period close, the denominator of runway.",
        binding=_binding(
            "company",
            "total",
            "whole_company",
            value_basis="cash",
            recurring="not_applicable",
            annualization="not_applicable",
            date_basis="period_close",
        ),
        stages=("preSeed", "seed"),
    ),
    make_kpi(
        "product.roadmap_highlights",
        "Roadmap Highlights",
        description="Narrative of the product bets shipped and planned for the board.",
        binding=_binding(
            "company",
            "single",
            "not_applicable",
            value_basis="narrative",
            recurring="not_applicable",
            annualization="not_applicable",
            time_basis="not_applicable",
            date_basis="not_applicable",
            unit="text",
        ),
        field_type="text",
        functions=("Product",),
    ),
]

ACV_FAMILY = {"sales.avg_contract_value", "customers.avg_contract_value", "sales.booked_acv"}


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex(FIXTURES)


def _ids(result) -> list[str]:
    return [hit.kpi_id for hit in result.hits]


# --- resolve ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("sales.arr", "sales.arr"),
        ("Sales.ARR", "sales.arr"),
        ("arr", "sales.arr"),
        ("Annual-Recurring Revenue", "sales.arr"),
        ("NDR", "customers.net_revenue_retention"),
        ("net dollar retention", "customers.net_revenue_retention"),
        ("Net Revenue Retention (NRR)", "customers.net_revenue_retention"),
        ("magic_number", "sales.magic_number"),
        ("customers.avg_contract_value", "customers.avg_contract_value"),
        ("Booked ACV", "sales.booked_acv"),
    ],
)
def test_resolve_finds_one_kpi_by_id_slug_label_or_alias_ignoring_case_and_punctuation(index, term, expected):
    found = resolve(index, term)
    assert found is not None
    assert found.id == expected


@pytest.mark.parametrize("term", ["ACV", "avg_contract_value", "annual contract value", "quantum flux", "acv"])
def test_resolve_returns_none_for_ambiguous_or_unknown_terms(index, term):
    assert resolve(index, term) is None


def test_resolve_accepts_a_plain_list_of_definitions():
    found = resolve(FIXTURES, "GRR")
    assert found is not None
    assert found.id == "customers.gross_revenue_retention"


# --- search: exact and family ------------------------------------------------------------


@pytest.mark.parametrize("query", ["ACV", "acv", "annual contract value"])
def test_a_query_naming_the_acv_family_lists_every_member_first(index, query):
    result = search(index, query)
    assert set(_ids(result)[:3]) == ACV_FAMILY
    assert result.exact is False
    assert result.resolved_id is None
    assert result.family == "acv"
    assert result.no_good_match is False


def test_family_members_carry_a_distinguishing_phrase_from_their_binding(index):
    hits = {hit.kpi_id: hit for hit in search(index, "ACV").hits}
    new_logo = hits["sales.avg_contract_value"].distinguishing
    blended = hits["customers.avg_contract_value"].distinguishing
    booked = hits["sales.booked_acv"].distinguishing
    assert new_logo is not None
    assert blended is not None
    assert booked is not None
    assert new_logo.startswith("new-logo average, recurring only, TCV ÷ term")
    assert "average per new customer over new logos in period" in new_logo
    assert "recurring charges only" in new_logo
    assert "TCV ÷ term in years" in new_logo
    assert "average per account over all active" in blended
    assert "contract year in force" in blended
    assert "average per opportunity over deals closed in period" in booked
    assert len({new_logo, blended, booked}) == 3


def test_hits_list_the_default_rules_and_every_variant_with_ids_and_labels(index):
    hit = next(h for h in search(index, "ACV").hits if h.kpi_id == "sales.avg_contract_value")
    assert [(v.id, v.label) for v in hit.variants] == [
        ("default", "new-logo average, recurring only, TCV ÷ term"),
        ("first_year", "new-logo average, first contract year"),
    ]


def test_a_kpi_outside_any_family_has_no_distinguishing_phrase(index):
    result = search(index, "magic number")
    assert result.hits[0].kpi_id == "sales.magic_number"
    assert result.hits[0].distinguishing is None


def test_an_exact_name_resolves_first_with_full_score_and_family_siblings_follow(index):
    result = search(index, "NDR")
    assert result.exact is True
    assert result.resolved_id == "customers.net_revenue_retention"
    first = result.hits[0]
    assert (first.kpi_id, first.score, first.matched_on, first.matched_text) == (
        "customers.net_revenue_retention",
        100,
        MatchField.ALIAS,
        "NDR",
    )
    assert result.hits[1].kpi_id == "customers.gross_revenue_retention"
    assert result.hits[1].matched_on is MatchField.FAMILY


def test_net_dollar_retention_finds_nrr(index):
    result = search(index, "net dollar retention")
    assert result.hits[0].kpi_id == "customers.net_revenue_retention"
    assert result.exact is True


def test_magic_number_is_found_by_name_reported_as_the_most_specific_field(index):
    result = search(index, "Magic Number")
    assert result.resolved_id == "sales.magic_number"
    # Slug and label fold to the same term; the slug ranks first in the match-field order.
    assert result.hits[0].matched_on is MatchField.SLUG
    assert result.hits[0].score == 100


def test_an_id_query_matches_on_id(index):
    result = search(index, "sales.carr")
    assert result.hits[0].kpi_id == "sales.carr"
    assert result.hits[0].matched_on is MatchField.ID


def test_the_arr_family_name_puts_arr_first_and_carr_second(index):
    result = search(index, "arr")
    # "arr" is both sales.arr's slug and the family name: the unique name wins, the sibling follows.
    assert _ids(result)[:2] == ["sales.arr", "sales.carr"]
    assert result.exact is True
    assert result.family == "arr"


# --- search: fuzzy ---------------------------------------------------------------------


def test_a_misspelled_name_still_finds_arr(index):
    result = search(index, "anual recuring revenue")
    assert result.hits[0].kpi_id == "sales.arr"
    assert result.exact is False
    assert result.hits[0].matched_on is MatchField.ALIAS
    assert GOOD_MATCH_SCORE <= result.hits[0].score < 100
    assert result.no_good_match is False


def test_a_phrase_from_a_description_finds_its_kpi(index):
    result = search(index, "runway denominator")
    assert result.hits[0].kpi_id == "finance.cash_in_bank"
    assert result.hits[0].matched_on is MatchField.DESCRIPTION


def test_an_unknown_term_returns_suggestions_flagged_as_weak(index):
    result = search(index, "quantum flux")
    assert len(result.hits) == 5
    assert result.no_good_match is True
    assert result.exact is False
    assert all(hit.score < GOOD_MATCH_SCORE for hit in result.hits)
    scores = [hit.score for hit in result.hits]
    assert scores == sorted(scores, reverse=True)


def test_a_query_of_stopwords_only_still_returns_suggestions(index):
    result = search(index, "the of")
    assert result.hits
    assert result.no_good_match is True


# --- search: filters and limits -------------------------------------------------------


def test_domain_filter_keeps_only_that_domain(index):
    result = search(index, "ACV", domain=Domain.CUSTOMERS, limit=10)
    assert {hit.domain for hit in result.hits} == {Domain.CUSTOMERS}
    assert result.hits[0].kpi_id == "customers.avg_contract_value"
    # Within customers only one KPI answers to "ACV", so the name now resolves.
    assert result.exact is True


@pytest.mark.parametrize(
    ("filters", "allowed"),
    [
        ({"stage": Stage.PRE_SEED}, {"finance.cash_in_bank"}),
        (
            {"owning_function": "customer success"},
            {"customers.net_revenue_retention", "customers.gross_revenue_retention"},
        ),
        (
            {"tier": Tier.PUBLISHED},
            {
                "sales.arr",
                "sales.avg_contract_value",
                "customers.net_revenue_retention",
                "customers.gross_revenue_retention",
            },
        ),
        ({"field_type": FieldType.TEXT}, {"product.roadmap_highlights"}),
    ],
)
def test_filters_restrict_hits(index, filters, allowed):
    result = search(index, "revenue", limit=10, **filters)
    assert result.hits
    assert set(_ids(result)) <= allowed


def test_limit_caps_the_number_of_hits(index):
    assert len(search(index, "revenue", limit=2).hits) == 2


def test_a_named_family_is_shown_whole_even_above_the_limit(index):
    assert set(_ids(search(index, "acv", limit=1))) == ACV_FAMILY


@pytest.mark.parametrize(("query", "limit", "field"), [("  ", 5, "query"), ("arr", 0, "limit"), ("arr", 51, "limit")])
def test_bad_arguments_are_refused_with_a_field(index, query, limit, field):
    with pytest.raises(SearchError) as caught:
        search(index, query, limit=limit)
    assert caught.value.code == "invalid_argument"
    assert caught.value.field == field


def test_an_empty_catalog_returns_no_hits():
    result = search([], "arr")
    assert result.hits == ()
    assert result.no_good_match is True


def test_search_over_a_prebuilt_index_of_two_hundred_kpis_is_fast():
    many = [
        make_kpi(
            f"operations.metric_{n}",
            f"Operating metric {n}",
            description=f"Synthetic operating measure number {n} about throughput, backlog and latency.",
            aliases=(f"om{n}", f"ops metric {n}"),
        )
        for n in range(200)
    ]
    index = SearchIndex([*FIXTURES, *many])
    start = time.perf_counter()
    for query in ("anual recuring revenue", "ACV", "quantum flux", "net dollar retention") * 5:
        index.search(query)
    per_query = (time.perf_counter() - start) / 20
    assert per_query < 0.05


def test_an_id_merged_into_a_kpi_resolves_to_it_and_is_reported_as_an_id_match():
    revenue = KpiDefinition.model_validate(
        {
            **make_kpi("finance.total_revenue", "Total Revenue", description="Recognized revenue.").model_dump(),
            "merged_ids": ["sales.total_revenue"],
        }
    )
    merged_index = SearchIndex([revenue])

    found = merged_index.resolve("Sales.Total_Revenue")
    result = merged_index.search("sales.total_revenue")

    assert found is not None and found.id == "finance.total_revenue"
    assert (result.resolved_id, result.hits[0].matched_on, result.hits[0].matched_text) == (
        "finance.total_revenue",
        MatchField.ID,
        "sales.total_revenue",
    )
