"""Loading in three stages: every finding of every stage in one run, a content hash, a clear failure."""

from __future__ import annotations

import hashlib
import json

import pytest

from kpi_context.ontology.issues import CatalogError, Severity
from kpi_context.ontology.loader import check_catalog, load_catalog

ARR = "kpis/sales/arr.json"
CAC = "kpis/sales/cac.json"


def test_the_clean_fixture_catalog_loads_with_no_issue(fixture_catalog):
    report = check_catalog(fixture_catalog.root)

    assert report.issues == ()
    assert report.catalog is not None
    # 12 definition files plus the manifest.
    assert report.files_read == 13
    assert len(report.catalog) == 12
    assert report.catalog.version == "0.3.0"
    assert report.catalog.get("sales.cac_payback_period") is not None


def test_the_content_hash_is_sha256_over_the_canonical_manifest_and_definitions_in_id_order(fixture_catalog):
    catalog = load_catalog(fixture_catalog.root)

    def canonical(data):
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    documents = {}
    for path in fixture_catalog.root.glob("kpis/*/*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        documents[data["id"]] = data
    digest = hashlib.sha256(canonical(fixture_catalog.read("catalog.json")))
    for kpi_id in sorted(documents):
        digest.update(canonical(documents[kpi_id]))

    assert catalog.content_hash == "sha256:" + digest.hexdigest()


def test_reformatting_a_file_keeps_the_content_hash(fixture_catalog):
    before = load_catalog(fixture_catalog.root).content_hash
    document = fixture_catalog.read(ARR)
    reordered = dict(reversed(list(document.items())))
    (fixture_catalog.root / ARR).write_text(json.dumps(reordered, indent=4), encoding="utf-8")

    assert load_catalog(fixture_catalog.root).content_hash == before


def test_changing_a_definition_changes_the_content_hash(fixture_catalog):
    before = load_catalog(fixture_catalog.root).content_hash
    fixture_catalog.edit(ARR, lambda d: d.update(label="Annual Recurring Revenue"))

    assert load_catalog(fixture_catalog.root).content_hash != before


def test_load_catalog_raises_with_every_issue_when_any_is_an_error(fixture_catalog):
    fixture_catalog.edit(ARR, lambda d: d["related_kpi_ids"].append("sales.unknown_one"))
    fixture_catalog.edit(CAC, lambda d: d["related_kpi_ids"].append("sales.unknown_two"))

    with pytest.raises(CatalogError) as caught:
        load_catalog(fixture_catalog.root)

    assert {(i.file, i.pointer) for i in caught.value.errors} == {
        (ARR, "/related_kpi_ids/1"),
        (CAC, "/related_kpi_ids/0"),
    }
    assert "2 error(s)" in str(caught.value)


def test_findings_of_all_three_stages_are_reported_in_one_run(fixture_catalog):
    (fixture_catalog.root / "kpis/sales/broken.json").write_text('{"id": "sales.broken",', encoding="utf-8")
    fixture_catalog.edit(CAC, lambda d: d["binding"].update(unit="dollars"))
    fixture_catalog.edit(ARR, lambda d: d["related_kpi_ids"].append("sales.unknown"))

    outcome = fixture_catalog.check()

    assert outcome.rules() == {"json", "schema", "references_resolve"}, outcome.rendered()


def test_issues_are_sorted_by_file_then_pointer(fixture_catalog):
    fixture_catalog.edit(CAC, lambda d: d["related_kpi_ids"].extend(["sales.zz", "sales.aa"]))
    fixture_catalog.edit(ARR, lambda d: d["related_kpi_ids"].append("sales.unknown"))

    pointers = [(i.file, i.pointer) for i in fixture_catalog.check().report.issues]

    assert pointers == [(ARR, "/related_kpi_ids/1"), (CAC, "/related_kpi_ids/0"), (CAC, "/related_kpi_ids/1")]


def test_a_file_that_is_not_json_is_reported_with_line_and_column(fixture_catalog):
    (fixture_catalog.root / ARR).write_text('{\n  "id": "sales.arr"\n  "slug": "arr"\n}', encoding="utf-8")

    issue = fixture_catalog.check().only("json")

    # The missing comma is noticed at the start of the third line's key.
    assert (issue.file, issue.pointer) == (ARR, "")
    assert "line 3, column 3" in issue.message


def test_a_file_that_is_not_utf8_is_reported_as_unreadable(fixture_catalog):
    (fixture_catalog.root / ARR).write_bytes(b'{"label": "\xff"}')

    issue = fixture_catalog.check().only("read")

    assert issue.file == ARR


def test_a_missing_manifest_is_reported_and_nothing_loads(fixture_catalog):
    (fixture_catalog.root / "catalog.json").unlink()

    outcome = fixture_catalog.check()

    assert outcome.findings("read") == {("catalog.json", "")}
    assert outcome.report.catalog is None


def test_a_manifest_version_that_is_not_semver_is_a_schema_violation(fixture_catalog):
    fixture_catalog.edit("catalog.json", lambda d: d.update(version="1.0"))

    assert fixture_catalog.check().findings("schema") == {("catalog.json", "/version")}


def test_a_catalog_without_definitions_is_reported(tmp_path, fixture_catalog):
    root = tmp_path / "empty"
    root.mkdir()
    (root / "catalog.json").write_text((fixture_catalog.root / "catalog.json").read_text(), encoding="utf-8")

    report = check_catalog(root)

    assert [(i.rule, i.file) for i in report.issues] == [("read", "kpis")]
    assert report.catalog is None


def test_warnings_do_not_block_loading_and_travel_with_the_catalog(fixture_catalog):
    fixture_catalog.edit(CAC, lambda d: d.pop("drift_risk"))

    catalog = load_catalog(fixture_catalog.root)

    assert [(w.severity, w.file, w.pointer) for w in catalog.warnings] == [(Severity.WARNING, CAC, "/drift_risk")]


def test_a_fixture_load_report_states_its_duration_and_files(fixture_catalog):
    # Load time is measured by bench/catalog_load.py against a same-run baseline, not bounded here.
    report = check_catalog(fixture_catalog.root)

    assert report.seconds > 0
    assert report.files_read == 13  # the manifest and the twelve fixture definitions
