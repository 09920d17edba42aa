"""Strict validation of tool arguments: extra or mistyped arguments are refused, never coerced."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from kpi_context.ontology.catalog import Catalog
from kpi_context.server.strict_arguments import argument_models, argument_problem
from kpi_context.server.tool_handlers import make_tools
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode

ARR_BOUND = {
    "kpi": "sales.arr",
    "value": "10000000",
    "currency": "USD",
    "as_of": "2026-09-30",
}


@pytest.fixture(scope="module")
def models(catalog: Catalog) -> dict[str, type[BaseModel]]:
    return argument_models(make_tools(ToolContext.create(catalog, secret=b"strict-tests")))


def test_each_tool_has_its_argument_model(models: dict[str, type[BaseModel]]) -> None:
    assert set(models) == {"lookup_kpi", "compute_kpi", "compare_metrics"}


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("lookup_kpi", {"query": "ARR"}),
        ("lookup_kpi", {"query": "ACV", "domain": "sales", "stage": "seed", "tier": "published", "limit": 10}),
        (
            "compute_kpi",
            {"kpi": "sales.arr", "inputs": {"sales.arr": 10_000_000}, "as_of": "2026-09-30", "currency": "USD"},
        ),
        # A bound value may carry its number as an exact decimal string.
        ("compute_kpi", {"kpi": "sales.arr", "inputs": {"sales.arr": ARR_BOUND}, "as_of": "2026-09-30"}),
        ("compute_kpi", {"kpi": "sales.avg_contract_value", "basis": {"recurring_inclusion": "recurring_only"}}),
        ("compare_metrics", {"left": ARR_BOUND, "right": {"benchmark": "median"}}),
        ("compare_metrics", {"left": ARR_BOUND, "right": ARR_BOUND}),
    ],
)
def test_valid_arguments_pass(models: dict[str, type[BaseModel]], tool: str, arguments: dict[str, Any]) -> None:
    assert argument_problem(models[tool], arguments) is None


def test_an_extra_argument_is_refused_naming_it_and_the_allowed_ones(models: dict[str, type[BaseModel]]) -> None:
    problem = argument_problem(models["lookup_kpi"], {"query": "ARR", "colour": "red", "answer": 42})
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.INVALID_ARGUMENT, "answer")
    assert problem.details["unknown"] == ["answer", "colour"]
    assert problem.details["allowed"] == ["domain", "limit", "query", "stage", "tier"]


def test_the_servers_own_context_parameter_is_not_an_argument(models: dict[str, type[BaseModel]]) -> None:
    problem = argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "ctx": {}})
    assert problem is not None
    assert problem.field == "ctx"


@pytest.mark.parametrize("limit", ["12", 12.0, 12.5, True])
def test_a_limit_that_is_not_a_json_integer_is_refused_not_coerced(
    models: dict[str, type[BaseModel]], limit: object
) -> None:
    problem = argument_problem(models["lookup_kpi"], {"query": "ARR", "limit": limit})
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.INVALID_ARGUMENT, "limit")
    assert "never coerced" in problem.message


def test_a_number_written_as_a_string_is_refused_as_an_input(models: dict[str, type[BaseModel]]) -> None:
    problem = argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "inputs": {"sales.arr": "12"}})
    assert problem is not None
    assert problem.field is not None and problem.field.startswith("inputs.sales.arr")


def test_a_date_that_is_not_iso_is_refused(models: dict[str, type[BaseModel]]) -> None:
    problem = argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "as_of": "30/09/2026"})
    assert problem is not None
    assert problem.field == "as_of"


def test_a_missing_required_argument_is_refused(models: dict[str, type[BaseModel]]) -> None:
    problem = argument_problem(models["lookup_kpi"], {"limit": 3})
    assert problem is not None
    assert problem.field == "query"


def test_an_extra_key_inside_a_bound_value_is_refused_at_its_path(models: dict[str, type[BaseModel]]) -> None:
    problem = argument_problem(
        models["compare_metrics"], {"left": {**ARR_BOUND, "confidence": "high"}, "right": {"benchmark": "median"}}
    )
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.INVALID_ARGUMENT, "left.confidence")


def test_an_extra_key_deep_in_an_input_binding_is_refused(models: dict[str, type[BaseModel]]) -> None:
    bound = {"value": 120_000, "binding": {"grain": {"level": "account", "colour": "red"}}}
    problem = argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "inputs": {"sales.arr": bound}})
    assert problem is not None
    assert problem.code is ErrorCode.INVALID_ARGUMENT
    assert any(e["field"].endswith("binding.grain.colour") for e in problem.details["errors"])


def test_the_reported_field_of_a_nested_extra_key_is_the_key_itself(models: dict[str, type[BaseModel]]) -> None:
    bound = {"value": 120_000, "binding": {"grain": {"level": "account", "colour": "red"}}}
    problem = argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "inputs": {"sales.arr": bound}})
    assert problem is not None
    assert problem.field == "inputs.sales.arr.binding.grain.colour"


def test_an_unknown_benchmark_quartile_is_refused(models: dict[str, type[BaseModel]]) -> None:
    problem = argument_problem(models["compare_metrics"], {"left": ARR_BOUND, "right": {"benchmark": "p90"}})
    assert problem is not None
    assert problem.field is not None and problem.field.startswith("right")
