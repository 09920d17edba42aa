"""Rules about one definition's content: benchmark order, published sources, units, variants, production."""

from __future__ import annotations

import copy

from kpi_context.ontology.issues import Severity

ARR = "kpis/sales/arr.json"
ACV = "kpis/sales/avg_contract_value.json"
MARGIN = "kpis/sales/gross_margin.json"
CAC = "kpis/sales/cac.json"
RISKS = "kpis/customers/churn_risks.json"

CONTENT_RULES = ("benchmark_order", "published_source", "units_consistent", "variants_valid", "production")


def test_the_clean_fixture_catalog_passes_every_content_rule(fixture_catalog):
    outcome = fixture_catalog.check()

    assert not outcome.rules() & set(CONTENT_RULES), outcome.rendered()


# --- benchmark_order --------------------------------------------------------------------


def test_benchmark_with_median_below_p25_is_rejected(fixture_catalog):
    fixture_catalog.edit(ACV, lambda d: d["benchmark"].update(median=20000))

    issue = fixture_catalog.check().only("benchmark_order")

    # p25 25000 > median 20000: the quartiles are out of order.
    assert (issue.file, issue.pointer) == (ACV, "/benchmark")
    assert "p25 25000" in issue.message


def test_benchmark_naming_a_variant_the_kpi_lacks_is_rejected(fixture_catalog):
    fixture_catalog.edit(ACV, lambda d: d["benchmark"].update(variant="contract_value"))

    assert fixture_catalog.check().findings("benchmark_order") == {(ACV, "/benchmark/variant")}


# --- published_source -------------------------------------------------------------------


def test_published_tier_without_a_source_name_is_rejected(fixture_catalog):
    fixture_catalog.edit(ARR, lambda d: d["definition_source"].update(source_name="  "))

    assert fixture_catalog.check().findings("published_source") == {(ARR, "/definition_source/source_name")}


def test_published_tier_without_a_publication_date_is_rejected(fixture_catalog):
    fixture_catalog.edit(ARR, lambda d: d["definition_source"].update(publication_date=None))

    assert fixture_catalog.check().findings("published_source") == {(ARR, "/definition_source/publication_date")}


def test_editorial_tier_needs_neither_source_nor_date(fixture_catalog):
    fixture_catalog.edit(CAC, lambda d: d.update(definition_source={"tier": "editorial"}))

    assert fixture_catalog.check().findings("published_source") == set()


# --- units_consistent ---------------------------------------------------------------------


def test_percentage_kpi_with_a_ratio_unit_is_rejected_with_its_benchmark(fixture_catalog):
    fixture_catalog.edit(MARGIN, lambda d: d["binding"].update(unit="ratio"))

    # The field type says percentage but the binding says ratio, and the "%" benchmark no longer matches.
    assert fixture_catalog.check().findings("units_consistent") == {
        (MARGIN, "/binding/unit"),
        (MARGIN, "/benchmark/unit"),
    }


def test_percent_kpi_with_a_benchmark_in_ratio_is_rejected(fixture_catalog):
    # Quartiles of 0.65/0.75/0.80 read against values on the 0–100 scale would misplace every value.
    fixture_catalog.edit(MARGIN, lambda d: d["benchmark"].update(p25=0.65, median=0.75, p75=0.8, unit="ratio"))

    assert fixture_catalog.check().findings("units_consistent") == {(MARGIN, "/benchmark/unit")}


def test_percent_kpi_labelled_with_another_unit_is_rejected(fixture_catalog):
    fixture_catalog.edit(MARGIN, lambda d: d.update(unit_label="pct"))

    assert fixture_catalog.check().findings("units_consistent") == {(MARGIN, "/unit_label")}


# --- variants_valid -----------------------------------------------------------------------


def _second_variant(document):
    other = copy.deepcopy(document["variants"][0])
    other["binding"]["annualization"] = "current_contract_year"
    return other


def test_a_variant_named_default_is_rejected(fixture_catalog):
    fixture_catalog.edit(ACV, lambda d: d["variants"][0].update(id="default"))

    assert fixture_catalog.check().findings("variants_valid") == {(ACV, "/variants/0/id")}


def test_a_repeated_variant_id_is_rejected_at_the_repeat(fixture_catalog):
    fixture_catalog.edit(ACV, lambda d: d["variants"].append(_second_variant(d)))

    assert fixture_catalog.check().findings("variants_valid") == {(ACV, "/variants/1/id")}


def test_a_variant_with_the_default_rules_governs_nothing_and_is_rejected(fixture_catalog):
    def same_as_default(document):
        document["variants"][0]["binding"] = document["binding"]
        document["variants"][0]["expression"] = None

    fixture_catalog.edit(ACV, same_as_default)

    assert fixture_catalog.check().findings("variants_valid") == {(ACV, "/variants/0")}


def test_a_variant_in_another_unit_is_rejected(fixture_catalog):
    def monthly(document):
        document["variants"][0]["binding"]["unit"] = "currency_per_month"

    fixture_catalog.edit(ACV, monthly)

    assert (ACV, "/variants/0/binding/unit") in fixture_catalog.check().findings("variants_valid")


def test_a_text_kpi_cannot_have_variants(fixture_catalog):
    def add_variant(document):
        binding = dict(document["binding"], date_basis="period_close")
        document["variants"] = [{"id": "short", "label": "short form", "description": "One line.", "binding": binding}]

    fixture_catalog.edit(RISKS, add_variant)

    assert fixture_catalog.check().findings("variants_valid") == {(RISKS, "/variants")}


# --- production ---------------------------------------------------------------------------


def test_computed_kpi_without_an_expression_is_rejected(fixture_catalog):
    fixture_catalog.edit(CAC, lambda d: d.update(expression=None))

    assert fixture_catalog.check().findings("production") == {(CAC, "/expression")}


def test_primary_kpi_with_an_expression_is_rejected(fixture_catalog):
    fixture_catalog.edit(CAC, lambda d: d.update(production="primary"))

    assert fixture_catalog.check().findings("production") == {(CAC, "/expression")}


def test_a_computed_text_kpi_is_rejected(fixture_catalog):
    fixture_catalog.edit(RISKS, lambda d: d.update(production="computed"))

    assert fixture_catalog.check().findings("production") == {(RISKS, "/production")}


def test_a_text_kpi_must_say_what_belongs_in_it(fixture_catalog):
    fixture_catalog.edit(RISKS, lambda d: d.update(narrative_guidance=" "))

    assert fixture_catalog.check().findings("production") == {(RISKS, "/narrative_guidance")}


def test_a_numeric_kpi_without_drift_risk_is_a_warning_only(fixture_catalog):
    fixture_catalog.edit(CAC, lambda d: d.pop("drift_risk"))

    outcome = fixture_catalog.check()

    assert outcome.findings("production", Severity.WARNING) == {(CAC, "/drift_risk")}
    assert outcome.report.catalog is not None
