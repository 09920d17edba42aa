"""The leaner published output schemas accept and reject exactly what the generated ones do."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from kpi_context.ontology.catalog import Catalog
from kpi_context.server.output_schemas import lean_schema
from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.context import ToolContext
from kpi_context.tools.lookup import LookupResult, lookup_kpi
from kpi_context.tools.values import BoundValue


def _validator(schema: dict[str, Any]) -> Any:
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.fixture(scope="module")
def payloads(catalog: Catalog) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    ctx = ToolContext.create(catalog, secret=b"k")
    value = compute_from_inputs(
        ctx,
        "sales.avg_contract_value",
        {"sales.new_business": 1_240_000, "sales.new_customers_added": 20},
        period="2026-Q3",
        currency="USD",
    )
    return {
        "bound_value": (BoundValue.model_json_schema(), value.model_dump(mode="json")),
        "lookup": (LookupResult.model_json_schema(), lookup_kpi(ctx, "ACV").model_dump(mode="json")),
    }


def _mutations(payload: dict[str, Any]) -> list[dict[str, Any]]:
    wrong_enum = copy.deepcopy(payload)
    wrong_type = copy.deepcopy(payload)
    missing = copy.deepcopy(payload)
    if "binding" in payload:
        wrong_enum["binding"]["grain"]["level"] = "planet"
        wrong_type["inputs"][0]["value"]["unit"] = 7
        del missing["label"]
    else:
        wrong_enum["matches"][0]["domain"] = "astrology"
        wrong_type["matches"][0]["variants"][0]["binding"]["time_basis"]["window_months"] = "twelve"
        del missing["matches"][0]["binding"]
    return [wrong_enum, wrong_type, missing]


@pytest.mark.parametrize("kind", ["bound_value", "lookup"])
def test_lean_schema_accepts_a_real_result(kind: str, payloads: dict[str, Any]) -> None:
    schema, payload = payloads[kind]
    assert _validator(lean_schema(schema)).is_valid(payload)


@pytest.mark.parametrize("kind", ["bound_value", "lookup"])
def test_lean_schema_rejects_what_the_generated_schema_rejects(kind: str, payloads: dict[str, Any]) -> None:
    schema, payload = payloads[kind]
    original, lean = _validator(schema), _validator(lean_schema(schema))
    for broken in _mutations(payload):
        assert not original.is_valid(broken)
        assert not lean.is_valid(broken)


def test_nullable_fields_still_accept_null(payloads: dict[str, Any]) -> None:
    schema, payload = payloads["bound_value"]
    undefined = {**payload, "value": None, "undefined_reason": "zero customers"}
    assert _validator(lean_schema(schema)).is_valid(undefined)


def test_recursive_definitions_are_kept_as_references() -> None:
    lean = lean_schema(BoundValue.model_json_schema())
    assert "BoundValue" in lean["$defs"]
