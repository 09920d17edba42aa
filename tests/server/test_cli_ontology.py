"""`kpi-context ontology …` end to end on a copy of the fixture catalog: output, exit status, error lines."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kpi_context.server.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def root(tmp_path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(FIXTURES / "catalog", target)
    return target


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def edit(path: Path, change) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")


def assert_one_error_line(err: str, code: str, field: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"kpi-context: error [{code}] {field}: ")


# --- validate --------------------------------------------------------------------------------


def test_validate_of_a_clean_catalog_prints_a_summary_and_exits_zero(capsys, root):
    status, out, _ = run(capsys, "ontology", "validate", "--root", str(root))

    assert status == 0
    summary = out.strip().splitlines()[-1]
    assert "catalog 0.3.0 (sha256:" in summary
    assert "12 KPIs; 13 files read; 0 error(s), 0 warning(s); loaded in" in summary
    assert summary.endswith(" ms")


def test_validate_prints_every_issue_with_file_and_pointer_and_exits_one(capsys, root):
    edit(root / "kpis/sales/arr.json", lambda d: d["related_kpi_ids"].append("sales.unknown"))
    edit(root / "kpis/sales/cac.json", lambda d: d.pop("drift_risk"))

    status, out, _ = run(capsys, "ontology", "validate", "--root", str(root))

    assert status == 1
    lines = out.strip().splitlines()
    assert lines[:2] == [
        "error: kpis/sales/arr.json#/related_kpi_ids/1: [references_resolve] unknown KPI id 'sales.unknown'",
        "warning: kpis/sales/cac.json#/drift_risk: [production] numeric KPI without a drift risk",
    ]
    assert lines[2].startswith("catalog not loaded; 13 files read; 1 error(s), 1 warning(s)")


def test_validate_of_a_missing_directory_is_a_usage_error(capsys, tmp_path):
    status, out, err = run(capsys, "ontology", "validate", "--root", str(tmp_path / "nowhere"))

    assert (status, out) == (2, "")
    assert_one_error_line(err, "not_found", "root")


# --- show ------------------------------------------------------------------------------------


def test_show_resolves_an_alias_and_prints_the_card(capsys, root):
    status, out, _ = run(capsys, "ontology", "show", "Blended-ACV", "--root", str(root))

    assert status == 0
    assert out.startswith("Blended ACV  (customers.avg_contract_value)\n")
    assert "formula: sales.arr / customers.total_customers" in out
    assert "average per account over all active" in out


def test_show_json_carries_the_definition_and_the_catalog_it_came_from(capsys, root):
    status, out, _ = run(capsys, "ontology", "show", "sales.cac", "--json", "--root", str(root))

    document = json.loads(out)
    assert status == 0
    assert document["catalog_version"] == "0.3.0"
    assert document["content_hash"].startswith("sha256:")
    assert document["kpi"]["binding"]["grain"]["aggregation"] == "mean"


def test_show_of_an_unknown_name_suggests_the_nearest_kpis(capsys, root):
    status, out, err = run(capsys, "ontology", "show", "customer acquisition costs", "--root", str(root))

    assert (status, out) == (2, "")
    assert_one_error_line(err, "not_found", "kpi")
    assert "nearest: sales.cac" in err


def test_show_of_a_name_several_kpis_answer_to_asks_to_choose(capsys, root):
    edit(root / "kpis/customers/avg_contract_value.json", lambda d: d["aliases"].append("ACV"))

    status, _, err = run(capsys, "ontology", "show", "acv", "--root", str(root))

    assert status == 2
    assert_one_error_line(err, "ambiguous", "kpi")
    assert "customers.avg_contract_value" in err and "sales.avg_contract_value" in err


def test_commands_that_need_a_valid_catalog_refuse_an_invalid_one(capsys, root):
    edit(root / "kpis/sales/arr.json", lambda d: d["related_kpi_ids"].append("sales.unknown"))

    status, _, err = run(capsys, "ontology", "show", "sales.arr", "--root", str(root))

    assert status == 2
    assert_one_error_line(err, "catalog_invalid", "root")


# --- search ----------------------------------------------------------------------------------


def test_search_for_a_family_name_lists_every_member(capsys, root):
    status, out, _ = run(capsys, "ontology", "search", "ACV", "--root", str(root))

    assert status == 0
    assert out.startswith('"ACV" names the acv family')
    assert "sales.avg_contract_value" in out and "customers.avg_contract_value" in out


def test_search_filters_by_domain_and_prints_json(capsys, root):
    status, out, _ = run(capsys, "ontology", "search", "ACV", "--domain", "customers", "--json", "--root", str(root))

    hits = json.loads(out)["hits"]
    assert status == 0
    assert hits and {h["domain"] for h in hits} == {"customers"}


def test_search_with_a_limit_out_of_range_is_a_usage_error(capsys, root):
    status, _, err = run(capsys, "ontology", "search", "arr", "--limit", "0", "--root", str(root))

    assert status == 2
    assert_one_error_line(err, "invalid_argument", "limit")


def test_an_unknown_choice_is_rejected_by_the_argument_parser(capsys, root):
    with pytest.raises(SystemExit) as caught:
        main(["ontology", "search", "arr", "--domain", "marketing", "--root", str(root)])

    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# --- schema ----------------------------------------------------------------------------------


def test_schema_check_passes_on_the_committed_files(capsys):
    status, out, _ = run(capsys, "ontology", "schema", "--check")

    assert status == 0
    assert "match the models" in out


def test_schema_writes_into_a_directory_and_check_then_detects_drift(capsys, tmp_path):
    status, out, _ = run(capsys, "ontology", "schema", "--dir", str(tmp_path))
    assert status == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "catalog.schema.json",
        "kpi.schema.json",
        "public_kpi.schema.json",
    ]
    assert out.count("wrote ") == 3

    (tmp_path / "catalog.schema.json").write_text("{}\n", encoding="utf-8")
    status, out, _ = run(capsys, "ontology", "schema", "--check", "--dir", str(tmp_path))

    assert status == 1
    assert out.startswith(f"drifted: {tmp_path / 'catalog.schema.json'}")


# --- import ----------------------------------------------------------------------------------


def test_import_prints_the_source_summary_and_the_overlaps_and_writes_nothing_to_the_catalog(capsys, root):
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}

    status, out, _ = run(capsys, "ontology", "import", str(FIXTURES / "public" / "index.json"), "--root", str(root))

    assert status == 0
    assert out.startswith("imported source: public ontology index (index.json, v1.3.0)\n")
    assert "5 KPI(s) read: customers 1, hr 1, sales 3" in out
    assert "3 id(s) also in our catalog (ours is kept; nothing was changed):" in out
    assert "  sales.gross_margin: benchmark," in out
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_import_out_writes_the_validated_document(capsys, root, tmp_path):
    source = FIXTURES / "public" / "domain_list.json"
    out_file = tmp_path / "imported.json"

    status, out, _ = run(capsys, "ontology", "import", str(source), "--out", str(out_file), "--root", str(root))

    assert status == 0
    assert f"wrote {out_file}" in out
    assert json.loads(out_file.read_text(encoding="utf-8")) == json.loads(source.read_text(encoding="utf-8"))


def test_import_refuses_to_write_into_the_catalog(capsys, root):
    source = FIXTURES / "public" / "kpi_envelope.json"

    status, _, err = run(
        capsys, "ontology", "import", str(source), "--out", str(root / "kpis" / "x.json"), "--root", str(root)
    )

    assert status == 2
    assert_one_error_line(err, "refused_path", "out")
    assert not (root / "kpis" / "x.json").exists()


def test_import_of_a_flawed_document_reports_issues_exits_one_and_writes_nothing(capsys, root, tmp_path):
    document = json.loads((FIXTURES / "public" / "domain_list.json").read_text(encoding="utf-8"))
    document[2]["benchmark"]["median"] = 10
    flawed = tmp_path / "flawed.json"
    flawed.write_text(json.dumps(document), encoding="utf-8")

    status, out, _ = run(
        capsys, "ontology", "import", str(flawed), "--out", str(tmp_path / "o.json"), "--root", str(root)
    )

    assert status == 1
    assert f"error: {flawed}#/2/benchmark: [benchmark_order]" in out
    assert "not written" in out
    assert not (tmp_path / "o.json").exists()


def test_import_of_a_plain_http_url_is_refused_with_its_code(capsys, root):
    status, _, err = run(capsys, "ontology", "import", "http://example.com/index.json", "--root", str(root))

    assert status == 2
    assert_one_error_line(err, "insecure_url", "source")


# --- export ----------------------------------------------------------------------------------


def test_export_prints_the_full_index_by_default(capsys, root):
    status, out, _ = run(capsys, "ontology", "export", "--root", str(root))

    document = json.loads(out)
    assert status == 0
    assert (document["version"], document["releasedAt"], len(document["kpis"])) == ("0.3.0", "2026-10-01", 12)


def test_export_of_one_kpi_resolves_its_alias_and_writes_a_file(capsys, root, tmp_path):
    out_file = tmp_path / "acv.json"

    status, out, _ = run(
        capsys,
        "ontology",
        "export",
        "--format",
        "kpi",
        "--kpi",
        "blended acv",
        "--out",
        str(out_file),
        "--root",
        str(root),
    )

    assert status == 0
    assert out.strip() == f"wrote {out_file}"
    assert json.loads(out_file.read_text(encoding="utf-8"))["kpi"]["rogueId"] == "customers.avg_contract_value"


def test_export_of_a_domain_list_without_a_domain_is_a_usage_error(capsys, root):
    status, out, err = run(capsys, "ontology", "export", "--format", "domain", "--root", str(root))

    assert (status, out) == (2, "")
    assert_one_error_line(err, "invalid_argument", "domain")


# --- as a separate process -------------------------------------------------------------------


def _command() -> list[str]:
    script = Path(sys.executable).with_name("kpi-context")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "kpi_context.server.cli"]


def test_the_installed_command_validates_in_a_separate_process(root):
    done = subprocess.run(
        [*_command(), "ontology", "validate", "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0
    assert "0 error(s), 0 warning(s)" in done.stdout


def test_the_installed_command_fails_with_one_line_and_no_traceback(root):
    done = subprocess.run(
        [*_command(), "ontology", "show", "no such kpi", "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
