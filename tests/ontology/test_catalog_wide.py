"""Catalog-wide properties of the bundled catalog: windows, directions and ranges, labels, benchmarks, merges.

Each test reads every KPI (and every variant), so a new definition that breaks one of these promises fails here
whatever its domain.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from kpi_context.ontology.binding import Binding, TimeBasisKind, Unit
from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.interop import PublicFormat, export_catalog
from kpi_context.ontology.loader import load_catalog
from kpi_context.ontology.model import Expression, KpiDefinition, PeriodRole, normalize_term
from kpi_context.ontology.rules.base import NUMERIC_FIELD_TYPES
from kpi_context.ontology.search import SearchIndex

pytestmark = pytest.mark.bundled_catalog

WINDOW_IN_LABEL = re.compile(r"trailing (\d+|twelve|three)[- ]months?", re.IGNORECASE)
MONTHS_IN_WORDS = {"twelve": 12, "three": 3}
ARR_MOVEMENTS = ("sales.new_business", "sales.expansion", "sales.reactivation", "sales.downgrades", "sales.churn_arr")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _labelled_sites(kpi: KpiDefinition) -> Iterator[tuple[str, str, Binding, Expression | None]]:
    """(variant id, the words a reader sees, binding, formula) for the default rules and each variant."""
    yield "default", f"{kpi.label}: {kpi.variant_label}", kpi.binding, kpi.expression
    for variant in kpi.variants:
        yield variant.id, variant.label, variant.binding, variant.expression or kpi.expression


def _window_named(label: str) -> int | None:
    found = WINDOW_IN_LABEL.search(label)
    if found is None:
        return None
    word = found.group(1).lower()
    return MONTHS_IN_WORDS[word] if word in MONTHS_IN_WORDS else int(word)


def _input_binding(catalog: Catalog, item) -> Binding:
    return item.binding if item.binding is not None else catalog.kpis[item.kpi].binding_for(item.variant)


def test_every_kpi_labelled_with_a_trailing_window_reads_its_inputs_under_that_window(catalog):
    misread: list[tuple[str, str, str]] = []
    labelled = 0
    for kpi in catalog:
        for variant, label, binding, expression in _labelled_sites(kpi):
            months = _window_named(label)
            if months is None or expression is None:
                continue
            labelled += 1
            time = binding.time_basis
            inputs = [(item, _input_binding(catalog, item)) for item in expression.inputs]
            if time.kind is not TimeBasisKind.TRAILING_WINDOW:
                # A value at a date built on a trailing figure (runway on a three-month burn) must read that window.
                if not any(b.time_basis.window_months == months for _, b in inputs):
                    misread.append((kpi.id, variant, "no input covers the window the label names"))
                continue
            if time.window_months != months:
                misread.append((kpi.id, variant, f"label says {months} months, binding {time.window_months}"))
            flows = {PeriodRole.WINDOW} | ({PeriodRole.PRIOR_YEAR} if months == 12 else set())
            for item, given in inputs:
                kind = given.time_basis.kind
                if kind is TimeBasisKind.PERIOD_FLOW and item.period not in flows:
                    misread.append((kpi.id, variant, f"flow {item.name} read for {item.period.value}"))
                if kind is TimeBasisKind.TRAILING_WINDOW and given.time_basis.window_months != months:
                    misread.append((kpi.id, variant, f"{item.name} covers {given.time_basis.window_months} months"))
                if kind is TimeBasisKind.POINT_IN_TIME and item.period is PeriodRole.WINDOW:
                    misread.append((kpi.id, variant, f"balance {item.name} read over the window"))

    assert misread == []
    # Labels naming a window: NRR, GRR, logo churn and logo retention (4); both turnover rates and the layoffs
    # variant (3); prior-quarter NRR and GRR (2); the trailing_3m gross and net burns and the runway on trailing
    # burn (3); gross and net dollar churn, expansion and contraction rates (4); LTV and LTV:CAC (2): 18.
    assert labelled >= 18


def test_every_numeric_kpi_states_a_direction_and_a_plausible_range(catalog):
    lacking = sorted(
        kpi.id
        for kpi in catalog
        if kpi.field_type in NUMERIC_FIELD_TYPES and (kpi.polarity is None or kpi.plausible_range is None)
    )

    assert lacking == []


def test_no_two_kpis_share_a_label_even_ignoring_case(catalog):
    seen: dict[str, list[str]] = {}
    for kpi in catalog:
        seen.setdefault(kpi.label.casefold(), []).append(kpi.id)

    assert sorted(ids for ids in seen.values() if len(ids) > 1) == []


def test_every_benchmark_says_what_it_measured_and_how_far_its_figures_were_checked(catalog):
    unstated = [
        kpi.id
        for kpi in catalog
        if kpi.benchmark is not None
        and (
            not (kpi.benchmark.measured_as or "").strip()
            or not (kpi.benchmark.verification_note or "").strip()
            or (kpi.benchmark.measures_peers and kpi.benchmark.verification is None)
        )
    ]

    assert unstated == []


def test_a_benchmark_from_an_editorial_source_is_not_presented_as_peers(catalog):
    misread = [
        kpi.id
        for kpi in catalog
        if kpi.benchmark is not None
        and "editorial" in kpi.benchmark.source_name.casefold()
        and kpi.benchmark.measures_peers
    ]

    assert misread == []
    assert catalog.kpis["product.rd_efficiency"].benchmark is not None


def test_every_benchmark_names_a_variant_of_its_kpi_or_the_default(catalog):
    dangling = [
        kpi.id
        for kpi in catalog
        if kpi.benchmark is not None
        and kpi.benchmark.variant is not None
        and kpi.variant(kpi.benchmark.variant) is None
    ]

    assert dangling == []


def test_every_arr_movement_refuses_a_negative_amount_by_definition(catalog):
    for kpi_id in ARR_MOVEMENTS:
        bounds = catalog.kpis[kpi_id].plausible_range
        assert bounds is not None and bounds.min == 0 and bounds.min_by_definition, kpi_id


def test_no_formula_caps_a_retention_rate(catalog):
    # A cap hides a sign error; the per-customer cap belongs to the ledger computation.
    capped = [
        (kpi.id, variant)
        for kpi in catalog
        if kpi.family == "retention"
        for variant, _, _, expression in _labelled_sites(kpi)
        if expression is not None and "min(" in expression.formula
    ]

    assert capped == []


def test_every_merged_id_resolves_to_its_kpi_and_is_exported_under_its_own_id(catalog):
    index = SearchIndex(catalog)
    document = export_catalog(
        catalog, PublicFormat.INDEX, version=catalog.version, released_at=catalog.manifest.released_at
    )
    assert isinstance(document, dict)
    exported = {entry["rogueId"]: entry for entry in document["kpis"]}
    merged = [(kpi, kpi_id) for kpi in catalog for kpi_id in kpi.merged_ids]

    assert merged
    for kpi, kpi_id in merged:
        found = index.resolve(kpi_id)
        assert found is not None and found.id == kpi.id
        assert kpi_id not in catalog.kpis
        assert exported[kpi_id]["formula"] == kpi.formula
        assert exported[kpi_id]["domain"] == kpi_id.partition(".")[0]


def test_percent_kpis_are_bounded_on_the_0_to_100_scale_or_say_why_not(catalog):
    # A percent whose range stops below 1 would accept 0.76 for 76 %; every percent KPI admits values above 1.
    too_narrow = [
        kpi.id
        for kpi in catalog
        if kpi.binding.unit is Unit.PERCENT
        and kpi.plausible_range is not None
        and kpi.plausible_range.max is not None
        and kpi.plausible_range.max <= 1
    ]

    assert too_narrow == []


SHARED_NAMES = {
    # A family people call by one name: the search lists every member so the caller must choose.
    "acv": {"customers.avg_contract_value", "sales.avg_contract_value"},
    "avgcontractvalue": {"customers.avg_contract_value", "sales.avg_contract_value"},
    # The amount and its share, and two narrative fields, whose names differ only by '%' or domain.
    "arratrisk": {"customers.arr_at_risk", "customers.percent_arr_at_risk"},
    "atriskarr": {"customers.arr_at_risk", "customers.percent_arr_at_risk"},
    "assumptions": {"finance.assumptions", "fundraising.assumptions"},
    "capacityallocation": {"product.capacity_allocation", "product.capacity_allocation_pct"},
    # Spend on contractors and the number of contractors.
    "contractors": {"finance.contractors_outsourcing", "hr.total_contractors"},
    "freelancers": {"finance.contractors_outsourcing", "hr.total_contractors"},
}


def test_no_name_a_model_might_use_points_at_two_kpis_unless_listed_as_deliberate(catalog):
    # Slug, label and aliases, folded as the search folds them ('EBITDA %' and 'EBITDA' are one name).
    owners: dict[str, set[str]] = {}
    for kpi in catalog:
        for name in (kpi.slug, kpi.label, *kpi.aliases):
            owners.setdefault(normalize_term(name), set()).add(kpi.id)
    shared = {name: ids for name, ids in owners.items() if len(ids) > 1}

    assert shared == SHARED_NAMES
