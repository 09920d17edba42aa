"""The committed JSON Schema files match the models, and the schema stage reports faults by pointer."""

from __future__ import annotations

import json

from kpi_context.ontology.model import KpiDefinition
from kpi_context.ontology.public_format import PUBLIC_KPI_SCHEMA, public_kpi_schema_stale, write_public_kpi_schema
from kpi_context.ontology.schema import SCHEMA_DIR, SCHEMAS, generate, render, stale_schemas, write_schemas

ACV = "kpis/sales/avg_contract_value.json"


def test_the_committed_catalog_schemas_equal_what_the_models_generate():
    # On failure: run `make schema` and commit the regenerated files with the model change.
    assert stale_schemas() == []


def test_the_committed_public_format_schema_equals_what_its_model_generates():
    assert not public_kpi_schema_stale()


def test_every_committed_schema_declares_the_2020_12_dialect_and_its_id():
    for spec in (*SCHEMAS, PUBLIC_KPI_SCHEMA):
        document = json.loads((SCHEMA_DIR / spec.filename).read_text(encoding="utf-8"))
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert document["$id"] == spec.schema_id


def test_writing_the_schemas_into_an_empty_directory_makes_them_current(tmp_path):
    written = write_schemas(tmp_path)
    write_public_kpi_schema(tmp_path)

    assert sorted(p.name for p in written) == sorted(spec.filename for spec in SCHEMAS)
    assert stale_schemas(tmp_path) == []
    assert not public_kpi_schema_stale(tmp_path)
    assert write_schemas(tmp_path) == []


def test_a_hand_edited_schema_file_is_reported_as_drifted(tmp_path):
    write_schemas(tmp_path)
    path = tmp_path / "kpi.schema.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["title"] = "Edited by hand"
    path.write_text(render(document), encoding="utf-8")

    assert stale_schemas(tmp_path) == [path]


def test_the_generated_kpi_schema_forbids_unknown_properties():
    spec = next(s for s in SCHEMAS if s.model is KpiDefinition)

    assert generate(spec)["additionalProperties"] is False


# --- the schema stage of loading -----------------------------------------------------------


def test_a_number_given_as_a_string_is_a_schema_violation_although_pydantic_would_coerce_it(fixture_catalog):
    fixture_catalog.edit(ACV, lambda d: d["benchmark"].update(p25="25000"))
    # Pydantic's lax mode accepts the numeric string; the schema stage must catch it first.
    assert KpiDefinition.model_validate(fixture_catalog.read(ACV)).benchmark is not None

    outcome = fixture_catalog.check()

    issue = outcome.only("schema")
    assert (issue.file, issue.pointer) == (ACV, "/benchmark/p25")
    assert "model" not in outcome.rules()


def test_an_unknown_property_is_reported_at_its_own_pointer(fixture_catalog):
    fixture_catalog.edit(ACV, lambda d: d["binding"].update(colour="blue"))

    issue = fixture_catalog.check().only("schema")

    assert (issue.file, issue.pointer) == (ACV, "/binding/colour")
    assert "unknown property 'colour'" in issue.message


def test_each_missing_required_property_is_reported_once_at_its_pointer(fixture_catalog):
    def drop(document):
        del document["label"]
        del document["formula"]

    fixture_catalog.edit(ACV, drop)

    assert fixture_catalog.check().findings("schema") == {(ACV, "/label"), (ACV, "/formula")}


def test_a_value_outside_a_closed_vocabulary_is_reported_at_the_nested_field(fixture_catalog):
    fixture_catalog.edit(ACV, lambda d: d["binding"]["grain"].update(level="galaxy"))

    assert fixture_catalog.check().findings("schema") == {(ACV, "/binding/grain/level")}


def test_a_cross_field_fault_the_schema_cannot_express_is_reported_by_the_model_stage(fixture_catalog):
    # The id must equal domain.slug; each field is valid alone, so only pydantic sees the conflict.
    fixture_catalog.edit(ACV, lambda d: d.update(slug="avg_deal_value"))

    outcome = fixture_catalog.check()

    issue = outcome.only("model")
    assert (issue.file, issue.pointer) == (ACV, "")
    assert "must equal domain.slug" in issue.message
    assert "schema" not in outcome.rules()
