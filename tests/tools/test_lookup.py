"""lookup_kpi in the domain layer: exact names, families, filters, and not-found with suggestions."""

from __future__ import annotations

import json
import re

import pytest

from kpi_context.ontology.loader import load_catalog
from kpi_context.ontology.model import Domain, Stage, Tier
from kpi_context.ontology.search import GOOD_MATCH_SCORE
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, ErrorDetail, KpiError
from kpi_context.tools.lookup import Detail, LookupResult, lookup_kpi


@pytest.fixture(scope="module")
def ctx() -> ToolContext:
    return ToolContext.create(load_catalog(), secret=b"lookup-tests")


def refused(ctx: ToolContext, query: str, *, domain: Domain | None = None) -> ErrorDetail:
    with pytest.raises(KpiError) as info:
        lookup_kpi(ctx, query, domain=domain)
    return info.value.detail


def family_of(ctx: ToolContext, family: str) -> set[str]:
    return {kpi.id for kpi in ctx.catalog.kpis.values() if kpi.family == family}


def size(result: LookupResult) -> int:
    """Characters a model reads: the result as the server sends it (defaults omitted, compact JSON)."""
    payload = result.model_dump(mode="json", exclude_defaults=True)
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))


# --- exact names -----------------------------------------------------------------------------------


def test_an_id_answers_with_one_card_and_names_its_family_look_alikes(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "sales.avg_contract_value")
    assert result.exact is True
    assert [m.id for m in result.matches] == ["sales.avg_contract_value"]
    assert result.family == "acv"
    # Every other ACV, by id and the rules that set it apart, without their cards.
    assert {a.id for a in result.look_alikes} == family_of(ctx, "acv") - {"sales.avg_contract_value"}
    assert all(a.distinguishing == ctx.catalog.kpis[a.id].variant_label for a in result.look_alikes)
    assert result.more == 0
    assert result.catalog.version == ctx.catalog.version
    assert result.catalog.content_hash == ctx.catalog.content_hash


def test_a_kpi_outside_any_family_has_no_look_alikes(ctx: ToolContext) -> None:
    kpi = next(k for k in ctx.catalog.kpis.values() if k.family is None)
    result = lookup_kpi(ctx, kpi.id)
    assert result.exact is True
    assert [m.id for m in result.matches] == [kpi.id]
    assert (result.family, result.look_alikes) == (None, [])
    assert result.matches[0].distinguishing is None


def test_a_card_states_rules_unit_formula_inputs_variants_and_benchmark(ctx: ToolContext) -> None:
    card = lookup_kpi(ctx, "sales.avg_contract_value").matches[0]
    kpi = ctx.catalog.kpis["sales.avg_contract_value"]
    assert card.label == "Average Contract Value"
    # The definition is the description's first sentence.
    assert card.definition == kpi.description.split(". ")[0] + "."
    assert card.distinguishing == "new-logo average, recurring only, TCV ÷ term"
    assert (card.unit, card.direction) == ("money", "higher is better")
    # No plausible range is shown for money.
    assert card.plausible is None
    assert card.formula == "new_logo_contract_value / new_customers_signed"
    assert [(i.name, i.unit) for i in card.inputs] == [
        ("new_logo_contract_value", "money"),
        ("new_customers_signed", "count"),
    ]
    # Governed variants only: the default rules are the card itself.
    assert [(v.id, v.label) for v in card.variants] == [
        ("first_year", "new-logo average, recurring only, first contract year"),
        ("contract_value", "new-logo average, recurring plus one-time, TCV ÷ term"),
    ]
    assert card.ledger is True
    # The KBCM ACV quartiles describe a median customer contract, so the new-logo mean carries no benchmark.
    assert card.benchmark is None
    assert "customers.avg_contract_value" in card.must_pair_with
    assert card.pitfall == kpi.pitfalls[0]
    assert card.full is None


def test_a_benchmark_card_names_the_variant_it_was_measured_under(ctx: ToolContext) -> None:
    card = lookup_kpi(ctx, "customers.avg_contract_value").matches[0]
    assert card.benchmark is not None
    assert card.benchmark.quartiles == "p25 $25,000 · median $62,000 · p75 $100,000"
    assert card.benchmark.measured_under == "median_per_account"


def test_a_percent_card_states_its_scale_and_plausible_range(ctx: ToolContext) -> None:
    card = lookup_kpi(ctx, "customers.net_revenue_retention").matches[0]
    assert card.unit == "percent 0–100"
    # NRR is plausible from 10 to 300 %.
    assert card.plausible is not None and "10%" in card.plausible and "300%" in card.plausible
    assert card.direction == "higher is better"
    assert [v.id for v in card.variants] == ["period_rate"]


def test_a_primary_kpis_card_has_no_formula(ctx: ToolContext) -> None:
    card = lookup_kpi(ctx, "sales.arr").matches[0]
    assert ctx.catalog.kpis["sales.arr"].production.value == "primary"
    assert card.formula is None
    assert card.ledger is True


def test_an_alias_names_the_kpi_it_belongs_to(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "NDR")
    assert result.exact is True
    assert [m.id for m in result.matches] == ["customers.net_revenue_retention"]


@pytest.mark.parametrize("query", ["bridge", "waterfall", "ARR bridge"])
def test_bridge_words_find_net_new_arr(ctx: ToolContext, query: str) -> None:
    result = lookup_kpi(ctx, query)
    assert result.matches[0].id == "sales.net_new_arr"


def test_burn_multiple_finds_its_own_kpi(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "burn multiple")
    assert result.exact is True
    assert [m.id for m in result.matches] == ["finance.burn_multiple"]


def test_full_detail_adds_the_governance_record(ctx: ToolContext) -> None:
    kpi = ctx.catalog.kpis["sales.avg_contract_value"]
    card = lookup_kpi(ctx, kpi.id, detail=Detail.FULL).matches[0]
    assert card.full is not None
    full = card.full
    assert full.description == kpi.description
    assert full.aliases == list(kpi.aliases)
    assert full.binding == kpi.binding
    assert full.formula_in_words == kpi.formula
    # The default rules first, then each governed variant, with its binding and formula.
    assert [v.id for v in full.variants] == ["default", "first_year", "contract_value"]
    assert full.variants[0].formula == "new_logo_contract_value / new_customers_signed"
    assert full.variants[1].formula == "first_year_new_business / new_customers_signed"
    assert full.variants[1].binding.annualization.value == "first_contract_year"
    assert full.source.tier is Tier.PUBLISHED
    assert full.pitfalls == list(kpi.pitfalls)
    assert full.decisions_to_lock == list(kpi.decisions_to_lock)
    assert full.drift_risk is not None
    # The card part is the same as without detail.
    assert card.model_copy(update={"full": None}) == lookup_kpi(ctx, kpi.id).matches[0]


# --- families and limits ----------------------------------------------------------------------------


def test_a_family_name_returns_its_members_with_what_sets_each_apart(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "ACV")
    assert result.family == "acv"
    # Two KPIs are called ACV: the query does not name exactly one.
    assert result.exact is False
    assert result.look_alikes == []
    ids = [m.id for m in result.matches]
    assert len(ids) <= 5
    # The two KPIs named ACV come first, then the rest of the family.
    assert set(ids[:2]) == {"sales.avg_contract_value", "customers.avg_contract_value"}
    assert set(ids) <= family_of(ctx, "acv")
    assert all(m.distinguishing == ctx.catalog.kpis[m.id].variant_label for m in result.matches)


def test_the_limit_holds_for_a_family(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "ACV", limit=2)
    assert len(result.matches) == 2
    assert {m.id for m in result.matches} == {"sales.avg_contract_value", "customers.avg_contract_value"}
    # The rest of the family is counted, not hidden silently.
    assert result.more == len(family_of(ctx, "acv")) - 2


def test_the_limit_holds_even_when_one_card_leaves_family_members_out(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "retention", limit=1)
    assert result.family == "retention"
    assert len(result.matches) == 1
    assert result.matches[0].id in family_of(ctx, "retention")
    # `more` counts every good match left out: the other family members, and any other KPI that names
    # retention well enough to be a card (search score at least GOOD_MATCH_SCORE).
    good = [h for h in ctx.index.search("retention", limit=50).hits if h.score >= GOOD_MATCH_SCORE]
    assert result.more == len(good) - 1
    assert result.more >= len(family_of(ctx, "retention")) - 1


def test_a_domain_filter_keeps_only_that_domains_kpis(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "ACV", domain=Domain.CUSTOMERS)
    # Within customers only one KPI is called ACV.
    assert result.exact is True
    assert [m.id for m in result.matches] == ["customers.avg_contract_value"]


def test_a_tier_filter_keeps_only_definitions_of_that_tier(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "retention", tier=Tier.PUBLISHED)
    assert result.matches
    assert {ctx.catalog.kpis[m.id].definition_source.tier for m in result.matches} == {Tier.PUBLISHED}


def test_a_stage_filter_keeps_only_kpis_suggested_for_that_stage(ctx: ToolContext) -> None:
    result = lookup_kpi(ctx, "burn", stage=Stage.SEED)
    assert result.matches
    for match in result.matches:
        kpi = ctx.catalog.kpis[match.id]
        assert Stage.SEED in kpi.suggested_for_stages or Stage.SEED in kpi.stage_relevance


def test_a_short_name_brings_no_card_that_shares_no_word_with_it(ctx: ToolContext) -> None:
    # "ACV" is a short name: a KPI whose id, label, aliases and description never say "acv" is at most a suggestion.
    result = lookup_kpi(ctx, "ACV", limit=10)
    for match in result.matches:
        kpi = ctx.catalog.kpis[match.id]
        words = re.findall(r"[a-z0-9]+", " ".join([kpi.id, kpi.label, *kpi.aliases, kpi.description]).lower())
        assert kpi.family == "acv" or "acv" in words, match.id


# --- not found ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["zzqx_not_a_kpi", "zzqx flurb"])
def test_nonsense_is_not_found_with_at_most_five_suggestions(ctx: ToolContext, query: str) -> None:
    detail = refused(ctx, query)
    assert (detail.code, detail.field) == (ErrorCode.NOT_FOUND, "query")
    suggestions = detail.details["suggestions"]
    assert 1 <= len(suggestions) <= 5
    for suggestion in suggestions:
        assert set(suggestion) == {"id", "label"}
        assert suggestion["label"] == ctx.catalog.kpis[suggestion["id"]].label


# --- context budgets ----------------------------------------------------------------------------------


def test_a_family_lookup_fits_in_six_thousand_characters(ctx: ToolContext) -> None:
    assert size(lookup_kpi(ctx, "ACV")) <= 6_000


@pytest.mark.parametrize("kpi_id", ["sales.arr", "customers.net_revenue_retention", "sales.avg_contract_value"])
def test_one_exact_card_fits_in_three_thousand_characters(ctx: ToolContext, kpi_id: str) -> None:
    assert size(lookup_kpi(ctx, kpi_id)) <= 3_000


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


# --- a governance profile's choices beside the catalog's --------------------------------------------------------


def test_a_card_shows_the_organisations_locked_choice_next_to_the_catalog_default() -> None:
    from kpi_context.ontology.profile_loader import load_profile
    from tests.support.profiles import EXAMPLE, context

    catalog = load_catalog()
    acme = context(catalog, load_profile(EXAMPLE, catalog))
    [found] = lookup_kpi(acme, "sales.avg_contract_value").matches
    assert found.org is not None
    assert found.org.locked == "variant=first_year, discounts=net"
    assert found.org.catalog_default == "variant=default, discounts=net"
    assert found.org.approved == "Dana Whitfield (CFO), 2026-10-05"
    assert found.org.slide_label == "New-logo ACV (yr 1)"
    # The organisation's extra benchmark sits beside the catalog's; its own definition says whether it is approved.
    [nrr] = lookup_kpi(acme, "customers.net_revenue_retention").matches
    assert nrr.org is not None and nrr.org.benchmark is not None
    assert nrr.org.benchmark.quartiles == "p25 100% · median 108% · p75 115%"
    [burn] = lookup_kpi(acme, "finance.burn_multiple").matches
    assert burn.org is not None and burn.org.definition == "Acme's own, approved"


def test_without_a_profile_cards_carry_no_organisation_note(ctx: ToolContext) -> None:
    [found] = lookup_kpi(ctx, "sales.avg_contract_value").matches
    assert found.org is None
