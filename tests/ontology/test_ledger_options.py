"""The governed ledger option vocabulary and its per-KPI defaults."""

from __future__ import annotations

import pytest

from kpi_context.ontology.binding import Annualization, DateBasis, RecurringInclusion, ValueBasis
from kpi_context.ontology.ledger_options import (
    LEDGER_KPI_OPTIONS,
    VOCABULARY,
    ChurnTiming,
    CoTerm,
    LedgerOptions,
    LiveBasis,
    OptionKey,
    ShortTerms,
    bound_binding,
    catalog_defaults,
    parse_option,
)
from kpi_context.ontology.loader import load_catalog


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_every_option_key_has_a_vocabulary_and_a_value_in_the_options_model():
    options = LedgerOptions()
    for key in OptionKey:
        assert options.value_of(key) in VOCABULARY[key]


def test_arr_defaults_follow_the_catalog_binding(catalog):
    spec = LEDGER_KPI_OPTIONS["sales.arr"]
    options = catalog_defaults(spec, catalog.get("sales.arr").binding)
    assert options.annualization is Annualization.CURRENT_CONTRACT_YEAR
    assert options.live_basis is LiveBasis.GO_LIVE
    assert options.co_term is CoTerm.RUN_RATE
    assert options.churn_timing is ChurnTiming.END_OF_PAID_PERIOD


def test_carr_counts_from_signature_by_default(catalog):
    options = catalog_defaults(LEDGER_KPI_OPTIONS["sales.carr"], catalog.get("sales.carr").binding)
    assert options.live_basis is LiveBasis.SIGNED


def test_acv_defaults_are_tcv_over_term_with_a_one_year_minimum_and_change_revenue(catalog):
    options = catalog_defaults(LEDGER_KPI_OPTIONS["sales.booked_acv"], catalog.get("sales.booked_acv").binding)
    assert options.annualization is Annualization.TCV_OVER_TERM_YEARS
    assert options.short_terms is ShortTerms.FACE_VALUE
    assert options.co_term is CoTerm.CHANGE_REVENUE


def test_a_variant_binding_sets_the_default_it_names(catalog):
    variant = catalog.get("sales.avg_contract_value").variant("first_year")
    options = catalog_defaults(LEDGER_KPI_OPTIONS["sales.avg_contract_value"], variant.binding)
    assert options.annualization is Annualization.FIRST_CONTRACT_YEAR


def test_run_rate_is_not_an_annualization_for_a_booking():
    spec = LEDGER_KPI_OPTIONS["sales.booked_acv"]
    assert parse_option(OptionKey.ANNUALIZATION, "mrr_times_12", spec) is None
    assert parse_option(OptionKey.ANNUALIZATION, "first_contract_year", spec) is Annualization.FIRST_CONTRACT_YEAR


def test_signing_basis_turns_arr_into_committed_value(catalog):
    arr = catalog.get("sales.arr").binding
    bound = bound_binding(arr, LedgerOptions(live_basis=LiveBasis.SIGNED), LEDGER_KPI_OPTIONS["sales.arr"].keys)
    assert (bound.value_basis, bound.date_basis) == (ValueBasis.CONTRACTED_COMMITTED, DateBasis.SIGNED)


def test_signing_basis_leaves_new_logo_acv_a_recurring_value(catalog):
    acv = catalog.get("sales.avg_contract_value").binding
    spec = LEDGER_KPI_OPTIONS["sales.avg_contract_value"]
    bound = bound_binding(acv, catalog_defaults(spec, acv), spec.keys)
    assert bound == acv


def test_one_time_lines_make_a_contract_value(catalog):
    arr = catalog.get("sales.arr").binding
    options = LedgerOptions(recurring_inclusion=RecurringInclusion.RECURRING_PLUS_ONE_TIME)
    bound = bound_binding(arr, options, LEDGER_KPI_OPTIONS["sales.arr"].keys)
    assert bound.value_basis is ValueBasis.TOTAL_CONTRACT_VALUE
    assert bound.recurring_inclusion is RecurringInclusion.RECURRING_PLUS_ONE_TIME


def test_a_count_keeps_its_not_applicable_axes(catalog):
    count = catalog.get("customers.total_customers").binding
    options = LedgerOptions(recurring_inclusion=RecurringInclusion.ALL_CHARGES)
    assert bound_binding(count, options, LEDGER_KPI_OPTIONS["customers.total_customers"].keys) == count


def test_only_gross_retention_takes_the_cap_rule():
    with_cap = [kpi for kpi, spec in LEDGER_KPI_OPTIONS.items() if OptionKey.GRR_CAP in spec.keys]
    assert with_cap == ["customers.gross_revenue_retention"]
