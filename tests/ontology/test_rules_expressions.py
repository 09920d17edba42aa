"""Rule `expression_types`: formulas parse, use exactly their inputs, and yield their KPI's unit and grain."""

from __future__ import annotations

from kpi_context.ontology.issues import Severity

ACV = "kpis/sales/avg_contract_value.json"
BLENDED = "kpis/customers/avg_contract_value.json"
TREND = "kpis/customers/acv_trend_pct.json"
CAC = "kpis/sales/cac.json"
PAYBACK = "kpis/sales/cac_payback_period.json"

SEED_002_PAYBACK = "sales.cac / (per_month(sales.new_business) * ratio(sales.gross_margin))"


def _set_formula(formula, *extra_inputs):
    def change(document):
        document["expression"]["formula"] = formula
        document["expression"]["inputs"].extend(extra_inputs)

    return change


def test_every_expression_of_the_clean_fixture_type_checks(fixture_catalog):
    assert fixture_catalog.check().findings("expression_types") == set()


def test_the_seed_cac_payback_formula_is_rejected_as_a_grain_mismatch(fixture_catalog):
    # Seed 002 divides CAC (an average per new customer) by company-total monthly new ARR.
    def seed_formula(document):
        document["expression"]["formula"] = SEED_002_PAYBACK
        document["expression"]["inputs"][0] = {"name": "sales.cac", "kpi": "sales.cac"}

    fixture_catalog.edit(PAYBACK, seed_formula)

    outcome = fixture_catalog.check()

    issue = outcome.only("expression_types")
    assert (issue.file, issue.pointer) == (PAYBACK, "/expression/formula")
    assert "grain mismatch" in issue.message
    assert outcome.report.catalog is None


def test_a_formula_that_does_not_parse_is_reported_at_the_formula(fixture_catalog):
    fixture_catalog.edit(BLENDED, _set_formula("sales.arr / (customers.total_customers"))

    issue = fixture_catalog.check().only("expression_types")

    assert (issue.file, issue.pointer) == (BLENDED, "/expression/formula")
    assert "does not parse" in issue.message


def test_a_formula_using_an_undeclared_name_is_rejected(fixture_catalog):
    fixture_catalog.edit(BLENDED, _set_formula("sales.arr / customers.total_customers + sales.expansion"))

    issue = fixture_catalog.check().only("expression_types")

    assert (issue.file, issue.pointer) == (BLENDED, "/expression/formula")
    assert "'sales.expansion', which is not a declared input" in issue.message


def test_an_input_the_formula_never_uses_is_rejected(fixture_catalog):
    unused = {"name": "sales.new_business", "kpi": "sales.new_business"}
    fixture_catalog.edit(BLENDED, _set_formula("sales.arr / customers.total_customers", unused))

    assert fixture_catalog.check().findings("expression_types") == {(BLENDED, "/expression/inputs/2")}


def test_an_input_name_declared_twice_is_rejected_at_the_second_name(fixture_catalog):
    twice = {"name": "sales.arr", "kpi": "sales.arr"}
    fixture_catalog.edit(BLENDED, _set_formula("sales.arr / customers.total_customers", twice))

    assert fixture_catalog.check().findings("expression_types") == {(BLENDED, "/expression/inputs/2/name")}


def test_an_input_naming_a_variant_its_kpi_lacks_is_rejected(fixture_catalog):
    fixture_catalog.edit(TREND, lambda d: d["expression"]["inputs"][0].update(variant="weighted"))

    issue = fixture_catalog.check().only("expression_types")

    assert (issue.file, issue.pointer) == (TREND, "/expression/inputs/0/variant")
    assert "variants: none" in issue.message


def test_arithmetic_on_a_text_kpi_is_rejected(fixture_catalog):
    text_input = {"name": "customers.churn_risks", "kpi": "customers.churn_risks"}
    fixture_catalog.edit(
        BLENDED, _set_formula("sales.arr / customers.total_customers + customers.churn_risks", text_input)
    )

    assert fixture_catalog.check().findings("expression_types") == {(BLENDED, "/expression/inputs/2")}


def test_a_formula_yielding_a_ratio_for_a_percent_kpi_is_rejected(fixture_catalog):
    # Without percent(), (current − prior) ÷ prior is a ratio such as 0.05, not 5 on the 0–100 scale.
    fixture_catalog.edit(TREND, _set_formula("(acv_current - acv_prior) / acv_prior"))

    issue = fixture_catalog.check().only("expression_types")

    assert (issue.file, issue.pointer) == (TREND, "/expression/formula")
    assert "yields ratio but the KPI is declared in percent" in issue.message


def test_a_per_customer_formula_declared_as_a_company_total_is_rejected(fixture_catalog):
    fixture_catalog.edit(CAC, lambda d: d["binding"]["grain"].update(level="company", aggregation="total"))

    issue = fixture_catalog.check().only("expression_types")

    assert (issue.file, issue.pointer) == (CAC, "/expression/formula")
    assert "amount per new customer" in issue.message


def test_an_average_over_another_population_than_declared_is_rejected(fixture_catalog):
    fixture_catalog.edit(BLENDED, lambda d: d["binding"]["grain"].update(population="new_logos_in_period"))

    issue = fixture_catalog.check().only("expression_types")

    assert "averages over population all_active" in issue.message


def test_averaging_new_logo_arr_over_all_active_customers_is_rejected(fixture_catalog):
    def mixed(document):
        document["expression"]["formula"] = "sales.new_business / customers.total_customers"
        document["expression"]["inputs"][0] = {"name": "sales.new_business", "kpi": "sales.new_business"}

    fixture_catalog.edit(BLENDED, mixed)

    issue = fixture_catalog.check().only("expression_types")

    assert issue.pointer == "/expression/formula"
    assert "population mismatch" in issue.message


def test_a_variant_reusing_the_formula_under_an_incompatible_binding_is_reported_at_its_binding(fixture_catalog):
    def total_variant(document):
        binding = dict(document["binding"])
        binding["grain"] = {"level": "company", "aggregation": "total", "population": "all_active"}
        document["variants"] = [{"id": "summed", "label": "summed", "description": "Adds up.", "binding": binding}]

    fixture_catalog.edit(BLENDED, total_variant)

    issue = fixture_catalog.check().only("expression_types")

    assert (issue.file, issue.pointer) == (BLENDED, "/variants/0/binding")


def test_a_raw_input_without_a_description_is_a_warning(fixture_catalog):
    fixture_catalog.edit(ACV, lambda d: d["variants"][0]["expression"]["inputs"][0].pop("description"))

    outcome = fixture_catalog.check()

    assert outcome.findings("expression_types", Severity.WARNING) == {(ACV, "/variants/0/expression/inputs/0")}
    assert outcome.report.catalog is not None


def test_a_raw_input_cannot_name_a_variant(fixture_catalog):
    fixture_catalog.edit(ACV, lambda d: d["variants"][0]["expression"]["inputs"][0].update(variant="first_year"))

    assert fixture_catalog.check().findings("expression_types") == {(ACV, "/variants/0/expression/inputs/0/variant")}
