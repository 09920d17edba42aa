"""Strict validation of tool arguments: extra or mistyped arguments are refused, never coerced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from kpi_context.ontology.catalog import Catalog
from kpi_context.server.arguments import comparison_side, input_arguments, value_claim
from kpi_context.server.strict_arguments import argument_models, argument_problem
from kpi_context.server.tool_handlers import make_tools
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, ErrorDetail, KpiError

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
    assert problem.details["allowed"] == ["detail", "domain", "limit", "query", "stage", "tier"]


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


# --- governed options: published with their enums, checked by the middleware ----------------


def test_an_unknown_basis_key_is_refused_naming_it(models: dict[str, type[BaseModel]]) -> None:
    problem = argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "basis": {"colour": "red"}})
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.INVALID_ARGUMENT, "basis.colour")


def test_a_basis_value_outside_its_enum_is_refused_naming_the_key(models: dict[str, type[BaseModel]]) -> None:
    problem = argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "basis": {"churn_timing": "whenever"}})
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.INVALID_ARGUMENT, "basis.churn_timing")
    assert "'end_of_paid_period' or 'cancellation_date'" in problem.message


def test_every_basis_option_is_accepted(models: dict[str, type[BaseModel]]) -> None:
    basis = {"churn_timing": "cancellation_date", "grr_cap": "aggregate", "day_count": "actual_365"}
    assert argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "basis": basis}) is None


# --- bound values (inputs, left, right): plain objects, validated strictly in the tool body ------


def refused_in_the_body(check: Callable[[], object]) -> ErrorDetail:
    with pytest.raises(KpiError) as raised:
        check()
    assert raised.value.code is ErrorCode.INVALID_ARGUMENT
    assert "never coerced" in raised.value.detail.message
    return raised.value.detail


def test_a_bound_value_is_a_plain_object_to_the_middleware(models: dict[str, type[BaseModel]]) -> None:
    # Published as a plain object so the input schema stays small; the tool body checks its keys.
    left = {**ARR_BOUND, "confidence": "high"}
    assert argument_problem(models["compare_metrics"], {"left": left, "right": {"benchmark": "median"}}) is None


def test_an_extra_key_inside_a_bound_value_is_refused_at_its_path() -> None:
    detail = refused_in_the_body(lambda: value_claim({**ARR_BOUND, "confidence": "high"}, "left"))
    assert detail.field == "left.confidence"


def test_a_wrongly_typed_binding_inside_left_is_refused_at_its_path() -> None:
    detail = refused_in_the_body(lambda: value_claim({**ARR_BOUND, "binding": {"grain": "company"}}, "left"))
    assert detail.field == "left.binding.grain"


def test_the_reported_field_of_a_nested_extra_key_in_an_input_is_the_key_itself() -> None:
    bound = {"value": 120_000, "binding": {"grain": {"level": "account", "colour": "red"}}}
    detail = refused_in_the_body(lambda: input_arguments({"sales.arr": bound}))
    assert detail.field == "inputs.sales.arr.binding.grain.colour"


def test_an_unknown_grain_level_inside_an_input_is_refused_at_its_path() -> None:
    bound = {"value": 120_000, "binding": {"grain": {"level": "planet"}}}
    detail = refused_in_the_body(lambda: input_arguments({"sales.arr": bound}))
    assert detail.field == "inputs.sales.arr.binding.grain.level"


def test_a_number_written_as_text_inside_an_input_object_is_refused_at_value() -> None:
    # The union's branch tags ('int', 'float') are not the caller's keys, so the path ends at `value`.
    detail = refused_in_the_body(lambda: input_arguments({"sales.arr": {"value": "abc"}}))
    assert detail.field == "inputs.sales.arr.value"


def test_numbers_and_percent_strings_pass_through_as_they_are() -> None:
    assert input_arguments({"sales.gross_margin": "76%", "finance.total_sm": 600_000}) == {
        "sales.gross_margin": "76%",
        "finance.total_sm": 600_000,
    }


def test_an_unknown_benchmark_quartile_is_refused() -> None:
    detail = refused_in_the_body(lambda: comparison_side({"benchmark": "p90"}, "right"))
    assert detail.field == "right.benchmark"


def test_a_benchmark_reference_with_an_extra_key_is_refused() -> None:
    detail = refused_in_the_body(lambda: comparison_side({"benchmark": "median", "source": "mine"}, "right"))
    assert detail.field == "right.source"
