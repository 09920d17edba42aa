"""Loading a profile: three stages with pointers, the content hash, and the catalog as the profile changes it."""

from __future__ import annotations

import json

from kpi_context.ontology.loader import load_catalog
from kpi_context.ontology.profile_loader import apply_profile, check_profile, load_profile, profile_summary
from tests.support.profiles import EXAMPLE, example_document, minimal_document, write

CATALOG = load_catalog()


def test_a_file_that_is_not_json_is_one_json_issue(tmp_path):
    path = tmp_path / "p.json"
    path.write_text("{not json", encoding="utf-8")
    [issue] = check_profile(path, CATALOG).issues
    assert issue.rule == "json"


def test_schema_faults_are_reported_at_their_pointers_before_the_model_runs(tmp_path):
    document = minimal_document(fiscal_year_start_month=13, surprise=True)
    report = check_profile(write(tmp_path, document), CATALOG)
    assert report.profile is None
    assert {(i.rule, i.pointer) for i in report.issues} == {
        ("schema", "/fiscal_year_start_month"),
        ("schema", "/surprise"),
    }


def test_the_content_hash_ignores_key_order_and_spacing_but_not_content(tmp_path):
    document = example_document()
    first = load_profile(write(tmp_path, document, "a.json"), CATALOG).content_hash
    reordered = dict(reversed(list(document.items())))
    (tmp_path / "b.json").write_text(json.dumps(reordered), encoding="utf-8")
    assert load_profile(tmp_path / "b.json", CATALOG).content_hash == first
    document["locks"][0]["approval"]["approver"] = "Someone Else"
    assert load_profile(write(tmp_path, document, "c.json"), CATALOG).content_hash != first


def test_the_catalog_seen_through_a_profile_has_its_definitions_and_keeps_the_catalog_version_and_hash():
    loaded = load_profile(EXAMPLE, CATALOG)
    seen = apply_profile(CATALOG, loaded)
    assert seen.version == CATALOG.version and seen.content_hash == CATALOG.content_hash
    own = next(d for d in loaded.profile.definitions if d.id == "finance.burn_multiple")
    assert seen.kpis["finance.burn_multiple"] == own
    assert seen.kpis["finance.burn_multiple"] != CATALOG.kpis["finance.burn_multiple"]
    assert len(seen) == len(CATALOG)


def test_a_replacement_benchmark_takes_the_catalogs_place(tmp_path):
    bench = {
        "p25": 95,
        "median": 104,
        "p75": 112,
        "unit": "%",
        "source_name": "Globex peer set",
        "source_year": "2026",
        "higher_is_better": True,
    }
    document = minimal_document(
        benchmarks=[{"kpi": "customers.net_revenue_retention", "role": "replacement", "benchmark": bench}]
    )
    seen = apply_profile(CATALOG, load_profile(write(tmp_path, document), CATALOG))
    replaced = seen.kpis["customers.net_revenue_retention"].benchmark
    assert replaced is not None and replaced.source_name == "Globex peer set" and replaced.median == 104


def test_the_summary_states_the_fiscal_naming_rule_and_each_lock_with_its_approval():
    summary = profile_summary(load_profile(EXAMPLE, CATALOG))
    assert summary["fiscal_year"] == {
        "start_month": 2,
        "naming": "by the calendar year it ends in",
        "periods": "FYyyyy, FYyyyy-Qn, FYyyyy-Hn",
    }
    acv = next(lock for lock in summary["locks"] if lock["kpi"] == "sales.avg_contract_value")
    assert acv == {
        "kpi": "sales.avg_contract_value",
        "policy": "ACV policy",
        "variant": "first_year",
        "basis": {"discounts": "net"},
        "approved": "Dana Whitfield (CFO), 2026-10-05",
    }
    assert summary["definitions"][0]["status"] == "approved"


def test_the_committed_profile_schema_equals_what_the_profile_model_generates():
    from kpi_context.ontology.schema import PROFILE_SCHEMA, stale_schemas

    assert stale_schemas(specs=(PROFILE_SCHEMA,)) == [], "profile schema drifted: run `make schema`"


def test_a_hand_edited_profile_schema_is_reported_as_drifted(tmp_path):
    from kpi_context.ontology.schema import PROFILE_SCHEMA, stale_schemas, write_schemas

    write_schemas(tmp_path, (PROFILE_SCHEMA,))
    assert stale_schemas(tmp_path, (PROFILE_SCHEMA,)) == []
    (tmp_path / PROFILE_SCHEMA.filename).write_text("{}\n", encoding="utf-8")
    assert stale_schemas(tmp_path, (PROFILE_SCHEMA,)) == [tmp_path / PROFILE_SCHEMA.filename]
