"""The leaner published output schemas accept and reject exactly what the generated ones do."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.model import Domain
from kpi_context.server.output_schemas import lean_schema
from kpi_context.tools.compare import Comparison
from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.context import ToolContext
from kpi_context.tools.lookup import Detail, LookupResult, lookup_kpi
from kpi_context.tools.values import BoundValue


def _validator(schema: dict[str, Any]) -> Any:
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def on_the_wire(model: BaseModel) -> dict[str, Any]:
    """The payload exactly as the server sends it: fields at their default are left out (server/results.py)."""
    payload: dict[str, Any] = model.model_dump(mode="json", exclude_defaults=True)
    return payload


@pytest.fixture(scope="module")
def payloads(catalog: Catalog) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    ctx = ToolContext.create(catalog, secret=b"k")
    # 1,240,000 ÷ 20 = 62,000: a value with inputs, a benchmark position and a provenance.
    value = compute_from_inputs(
        ctx,
        "sales.avg_contract_value",
        {"new_logo_contract_value": 1_240_000, "new_customers_signed": 20},
        period="2026-Q3",
        currency="USD",
    )
    # The full record, so the payload carries enums and nested bindings to break.
    found = lookup_kpi(ctx, "ACV", detail=Detail.FULL)
    return {
        "bound_value": (BoundValue.model_json_schema(), on_the_wire(value)),
        "lookup": (LookupResult.model_json_schema(), on_the_wire(found)),
    }


def _mutations(payload: dict[str, Any]) -> list[dict[str, Any]]:
    wrong_enum = copy.deepcopy(payload)
    wrong_type = copy.deepcopy(payload)
    missing = copy.deepcopy(payload)
    if "binding" in payload:
        wrong_enum["binding"]["grain"]["level"] = "planet"
        wrong_type["inputs"][0]["label"] = 7
        del missing["label"]
    else:
        wrong_enum["matches"][0]["full"]["production"] = "astrology"
        wrong_type["matches"][0]["full"]["variants"][0]["binding"]["time_basis"]["window_months"] = "twelve"
        del missing["matches"][0]["rules"]
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


class Node(BaseModel):
    """A recursive model: no result model of the tools is recursive any more, but lean_schema must stay correct."""

    name: str
    children: list[Node] = []


def _nested(depth: int, leaf_name: object = "leaf") -> dict[str, Any]:
    node: dict[str, Any] = {"name": leaf_name, "children": []}
    for level in range(depth):
        node = {"name": f"level {level}", "children": [node]}
    return node


def test_recursive_definitions_are_kept_as_references() -> None:
    lean = lean_schema(Node.model_json_schema())
    assert set(lean["$defs"]) == {"Node"}
    # Unrolled two levels deep, then referenced.
    two_deep = lean["properties"]["children"]["items"]["properties"]["children"]["items"]
    assert two_deep == {"$ref": "#/$defs/Node"}


@pytest.mark.parametrize("depth", [0, 1, 2, 5])
def test_a_recursive_schema_still_checks_every_level(depth: int) -> None:
    original, lean = _validator(Node.model_json_schema()), _validator(lean_schema(Node.model_json_schema()))
    assert original.is_valid(_nested(depth)) and lean.is_valid(_nested(depth))
    # A name of the wrong type at the deepest level is caught below the unrolled part too.
    assert not original.is_valid(_nested(depth, leaf_name=7))
    assert not lean.is_valid(_nested(depth, leaf_name=7))


def test_published_tool_results_need_no_references() -> None:
    """The results the tools return are not recursive, so their lean schemas are fully inlined."""
    for model in (BoundValue, LookupResult, Comparison):
        lean = lean_schema(model.model_json_schema())
        assert "$defs" not in lean
        assert "$ref" not in json.dumps(lean)


class Filter(BaseModel):
    """An optional enum argument, as lookup_kpi's `domain` and `tier` and every key of compute_kpi's `basis`."""

    domain: Domain | None = None


def test_a_nullable_enum_still_accepts_null() -> None:
    original, lean = _validator(Filter.model_json_schema()), _validator(lean_schema(Filter.model_json_schema()))
    assert original.is_valid({"domain": None})
    assert lean.is_valid({"domain": None})


def test_a_nullable_enum_still_refuses_a_value_outside_it() -> None:
    original, lean = _validator(Filter.model_json_schema()), _validator(lean_schema(Filter.model_json_schema()))
    for instance in ({"domain": "astrology"}, {"domain": 3}):
        assert not original.is_valid(instance)
        assert not lean.is_valid(instance)
    assert lean.is_valid({"domain": "sales"}) and lean.is_valid({})


def test_a_property_named_title_is_kept_while_generated_titles_go() -> None:
    class Chart(BaseModel):
        title: str
        note: str | None = None

    lean = lean_schema(Chart.model_json_schema())
    # "title" as a property name is data the client must accept; "title" as a keyword is only a label.
    assert set(lean["properties"]) == {"title", "note"}
    assert "title" not in lean["properties"]["title"] and "title" not in lean
    assert lean["required"] == ["title"]
