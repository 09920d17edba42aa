"""`kpi-context profile validate|show PATH`: every issue listed, structured output, non-zero exit when invalid."""

from __future__ import annotations

import json

from kpi_context.server.cli import main
from tests.support.profiles import EXAMPLE, minimal_document, write


def test_validate_of_the_example_prints_a_summary_and_exits_zero(capsys):
    assert main(["profile", "validate", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("profile acme (sha256:")
    assert "0 error(s), 0 warning(s)" in out


def test_validate_lists_every_issue_with_file_and_pointer_and_exits_one(capsys, tmp_path):
    document = minimal_document(catalog_version="1.0.0", slide_labels=[{"kpi": "sales.nothing", "label": "Nothing"}])
    assert main(["profile", "validate", str(write(tmp_path, document))]) == 1
    out = capsys.readouterr().out
    assert "error: profile.json#/catalog_version: [catalog_pin]" in out
    assert "error: profile.json#/slide_labels/0/kpi: [slide_label]" in out
    assert "profile not loaded; 2 error(s)" in out


def test_show_prints_the_profile_as_json(capsys):
    assert main(["profile", "show", str(EXAMPLE)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["valid"] is True
    assert shown["organisation"]["id"] == "acme"
    assert shown["reporting_currency"] == "USD"
    assert shown["definitions"][0]["status"] == "approved"


def test_show_of_an_invalid_profile_lists_its_issues_and_exits_one(capsys, tmp_path):
    assert main(["profile", "show", str(write(tmp_path, minimal_document(reporting_currency="usd")))]) == 1
    shown = json.loads(capsys.readouterr().out)
    assert shown["valid"] is False
    assert [(i["rule"], i["pointer"]) for i in shown["issues"]] == [("schema", "/reporting_currency")]


def test_a_missing_profile_file_is_a_usage_error(capsys, tmp_path):
    assert main(["profile", "validate", str(tmp_path / "nope.json")]) == 2
    assert "[not_found] path" in capsys.readouterr().err


def test_profile_schema_writes_the_schema_and_check_detects_drift(capsys, tmp_path):
    assert main(["profile", "schema", "--dir", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["profile.schema.json"]
    assert main(["profile", "schema", "--check", "--dir", str(tmp_path)]) == 0
    (tmp_path / "profile.schema.json").write_text("{}\n", encoding="utf-8")
    assert main(["profile", "schema", "--check", "--dir", str(tmp_path)]) == 1
    assert "drifted:" in capsys.readouterr().out
