"""Rules `unique_ids`, `id_matches_path`, `unique_labels` and `merged_ids`: one definition per id and per label."""

from __future__ import annotations

from kpi_context.ontology.rules.identity import expected_path

ARR = "kpis/sales/arr.json"


def test_the_clean_fixture_catalog_has_no_identity_findings(fixture_catalog):
    outcome = fixture_catalog.check()

    assert outcome.findings("unique_ids") == set()
    assert outcome.findings("id_matches_path") == set()
    assert outcome.report.catalog is not None


def test_an_id_defined_in_two_files_is_reported_at_the_second_file(fixture_catalog):
    fixture_catalog.write("kpis/sales/arr_copy.json", fixture_catalog.read(ARR))

    outcome = fixture_catalog.check()

    # Files are read in path order and "arr.json" sorts before "arr_copy.json", so the copy is the repeat.
    issue = outcome.only("unique_ids")
    assert (issue.file, issue.pointer) == ("kpis/sales/arr_copy.json", "/id")
    assert "already defined in kpis/sales/arr.json" in issue.message
    assert outcome.report.catalog is None


def test_a_definition_stored_under_the_wrong_path_is_rejected_at_its_id(fixture_catalog):
    document = fixture_catalog.read("kpis/sales/cac.json")
    (fixture_catalog.root / "kpis/sales/cac.json").unlink()
    fixture_catalog.write("kpis/finance/cac.json", document)

    outcome = fixture_catalog.check()

    issue = outcome.only("id_matches_path")
    assert (issue.file, issue.pointer) == ("kpis/finance/cac.json", "/id")
    assert "must be defined in kpis/sales/cac.json" in issue.message
    # The id itself still resolves, so nobody referencing sales.cac gets a second, misleading error.
    assert outcome.findings("references_resolve") == set()


def test_the_expected_path_of_an_id_is_its_domain_folder_and_slug_file():
    assert expected_path("customers.acv_trend_pct") == "kpis/customers/acv_trend_pct.json"


def test_two_kpis_with_one_label_are_reported_at_the_second(fixture_catalog):
    fixture_catalog.edit("kpis/sales/cac.json", lambda d: d.update(label="gross margin"))

    outcome = fixture_catalog.check()

    # sales.cac sorts before sales.gross_margin, so the margin is the repeat; case does not make labels differ.
    issue = outcome.only("unique_labels")
    assert (issue.file, issue.pointer) == ("kpis/sales/gross_margin.json", "/label")
    assert "sales.cac" in issue.message
    assert outcome.report.catalog is None


def test_a_merged_id_that_is_still_defined_is_reported(fixture_catalog):
    fixture_catalog.edit("kpis/sales/gross_margin.json", lambda d: d.update(merged_ids=["sales.cac"]))

    issue = fixture_catalog.check().only("merged_ids")

    assert (issue.file, issue.pointer) == ("kpis/sales/gross_margin.json", "/merged_ids/0")
    assert "still defined" in issue.message


def test_an_id_merged_into_two_kpis_is_reported_at_the_second(fixture_catalog):
    for path in ("kpis/sales/cac.json", "kpis/sales/gross_margin.json"):
        fixture_catalog.edit(path, lambda d: d.update(merged_ids=["finance.gross_margin_pct"]))

    issue = fixture_catalog.check().only("merged_ids")

    assert (issue.file, issue.pointer) == ("kpis/sales/gross_margin.json", "/merged_ids/0")
    assert "already merged into sales.cac" in issue.message


def test_a_reference_to_a_merged_id_names_the_kpi_to_use_instead(fixture_catalog):
    fixture_catalog.edit("kpis/sales/gross_margin.json", lambda d: d.update(merged_ids=["finance.gross_margin_pct"]))
    fixture_catalog.edit("kpis/sales/cac.json", lambda d: d["related_kpi_ids"].append("finance.gross_margin_pct"))

    issue = fixture_catalog.check().only("references_resolve")

    assert "merged into sales.gross_margin" in issue.message


def test_a_clean_fixture_with_a_merged_id_loads(fixture_catalog):
    fixture_catalog.edit("kpis/sales/gross_margin.json", lambda d: d.update(merged_ids=["finance.gross_margin_pct"]))

    outcome = fixture_catalog.check()

    assert outcome.rendered() == []
