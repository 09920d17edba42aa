"""Strict validation of tool arguments: extra or mistyped arguments are refused, never coerced."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from kpi_context.ontology.catalog import Catalog
from kpi_context.server.arguments import comparison_side, input_arguments, value_claim
from kpi_context.server.registry import make_tools
from kpi_context.server.strict_arguments import OversizedInteger, argument_models, argument_problem, lenient_loads
from kpi_context.tools.errors import ErrorCode, ErrorDetail, KpiError

ARR_BOUND = {
    "kpi": "sales.arr",
    "value": "10000000",
    "currency": "USD",
    "as_of": "2026-09-30",
}


@pytest.fixture(scope="module")
def models(catalog: Catalog) -> dict[str, type[BaseModel]]:
    return argument_models(make_tools())


def test_each_tool_has_its_argument_model(models: dict[str, type[BaseModel]]) -> None:
    assert set(models) == {
        "lookup_kpi",
        "compute_kpi",
        "compare_metrics",
        "kpi_series",
        "board_pack",
        "check_narrative",
        "render_chart",
    }


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


# --- values no argument can hold: named, never a protocol error --------------------------------------


def nested(levels: int) -> Any:
    node: Any = 1
    for index in range(levels):
        node = [node] if index % 2 else {"a": node}
    return node


@pytest.mark.parametrize("levels", [40, 250, 5_000])
def test_a_deeply_nested_argument_is_refused_naming_the_argument(
    models: dict[str, type[BaseModel]], levels: int
) -> None:
    # 5,000 levels would exhaust the stack of a recursive re-serialisation; the scan is iterative.
    problem = argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "inputs": {"sales.arr": nested(levels)}})
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.INVALID_ARGUMENT, "inputs")
    assert "nested more than 32 levels" in problem.message


def test_a_bound_value_passed_back_is_well_inside_the_nesting_bound(models: dict[str, type[BaseModel]]) -> None:
    left = {**ARR_BOUND, "binding": {"grain": {"level": "company"}}, "ledger": {"contributing": {"ids": {"a": [1]}}}}
    assert argument_problem(models["compare_metrics"], {"left": left, "right": {"benchmark": "median"}}) is None


@pytest.mark.parametrize("digits", [41, 4_301, 10_000])
def test_an_integer_with_too_many_digits_is_out_of_range_naming_its_place(
    models: dict[str, type[BaseModel]], digits: int
) -> None:
    # Python refuses str() of an integer over 4,300 digits: the whole request used to fail.
    huge = 10 ** (digits - 1)  # `digits` digits, built without ever printing it
    problem = argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "inputs": {"sales.arr": huge}})
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.OUT_OF_RANGE, "inputs.sales.arr")
    assert "at most 40 digits" in problem.message


def test_an_integer_of_40_digits_passes_the_middleware(models: dict[str, type[BaseModel]]) -> None:
    # The tool itself then bounds a KPI input to 30 integer digits (out_of_range, see test_inputs).
    assert argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "inputs": {"sales.arr": 10**39}}) is None


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_nan_or_infinity_anywhere_is_refused_naming_its_place(
    models: dict[str, type[BaseModel]], number: float
) -> None:
    # A raw JSON-RPC line may carry NaN/Infinity literals (Python's json.dumps writes them).
    problem = argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "ledger": {"fx_rates": {"EUR": number}}})
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.INVALID_ARGUMENT, "ledger.fx_rates.EUR")


@pytest.mark.parametrize("name", ["domain", "stage", "tier"])
def test_a_lookup_filter_given_as_null_means_no_filter_as_the_schema_says(
    models: dict[str, type[BaseModel]], name: str
) -> None:
    # The published schema admits null for optional filters, and models often send it for "unset".
    assert argument_problem(models["lookup_kpi"], {"query": "ARR", name: None}) is None


def test_a_null_limit_is_refused_because_limit_is_not_nullable(models: dict[str, type[BaseModel]]) -> None:
    problem = argument_problem(models["lookup_kpi"], {"query": "ARR", "limit": None})
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.INVALID_ARGUMENT, "limit")


@pytest.mark.parametrize(("name", "value"), [("domain", math.nan), ("stage", math.inf), ("tier", -math.inf)])
def test_a_lookup_filter_given_as_a_non_finite_number_is_refused(
    models: dict[str, type[BaseModel]], name: str, value: float
) -> None:
    problem = argument_problem(models["lookup_kpi"], {"query": "ARR", name: value})
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.INVALID_ARGUMENT, name)


def test_text_that_is_not_unicode_is_refused_naming_its_place(models: dict[str, type[BaseModel]]) -> None:
    # A lone surrogate used to surface as "Invalid JSON … line 1 column N" of an internal copy, field "".
    problem = argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "inputs": {"sales.arr": {"kpi": "\ud800"}}})
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.INVALID_ARGUMENT, "inputs.sales.arr.kpi")
    assert "line 1 column" not in problem.message


def test_a_bound_value_checked_in_the_tool_body_is_held_to_the_same_bounds() -> None:
    with pytest.raises(KpiError) as raised:
        value_claim({**ARR_BOUND, "binding": nested(100)}, "left")
    assert (raised.value.code, raised.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "left")


@pytest.mark.parametrize("text", ["١٠٠٠", "١٠٠٠%", "７６%", "1٠0"])
def test_non_ascii_digits_are_refused_as_numbers_and_percents(models: dict[str, type[BaseModel]], text: str) -> None:
    problem = argument_problem(models["compute_kpi"], {"kpi": "sales.gross_margin", "inputs": {"x": text}})
    assert problem is not None
    assert problem.field is not None and problem.field.startswith("inputs.x")
    detail = refused_in_the_body(lambda: input_arguments({"x": {"value": text}}))
    assert detail.field == "inputs.x.value"


@pytest.mark.parametrize(
    ("tool", "name", "text"),
    [
        ("compute_kpi", "ledger", "[]"),  # would become a list: the SDK's own validation then fails the call
        ("compute_kpi", "variant", "null"),  # would become None: the default rules, silently
        ("compute_kpi", "period", '{"start": "2026-07-01"}'),
        ("compute_kpi", "currency", "true"),
        ("lookup_kpi", "domain", "null"),
    ],
)
def test_json_written_as_text_is_refused_before_the_sdk_rereads_it(
    models: dict[str, type[BaseModel]], tool: str, name: str, text: str
) -> None:
    arguments = {"kpi": "sales.arr"} if tool == "compute_kpi" else {"query": "ARR"}
    problem = argument_problem(models[tool], {**arguments, name: text})
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.INVALID_ARGUMENT, name)


@pytest.mark.parametrize(("name", "text"), [("ledger", "sample"), ("period", "2026"), ("variant", "largest_customer")])
def test_plain_text_that_json_reads_as_a_number_or_string_stays_text(
    models: dict[str, type[BaseModel]], name: str, text: str
) -> None:
    # "2026" parses as JSON 2026; the SDK leaves numbers as the text they are, so this is a valid period.
    assert argument_problem(models["compute_kpi"], {"kpi": "sales.arr", name: text}) is None


def test_the_largest_inline_ledger_passes_the_scan(models: dict[str, type[BaseModel]]) -> None:
    # 10,000 rows (the documented maximum) of 20 columns: 210,001 values, under the 500,000 bound.
    row = {f"c{i}": "x" for i in range(20)}
    ledger = {"rows": [dict(row) for _ in range(10_000)]}
    assert argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "ledger": ledger}) is None


def test_arguments_of_more_values_than_any_call_needs_are_refused(models: dict[str, type[BaseModel]]) -> None:
    ledger = {"rows": [{"a": 1}] * 300_000}  # 300,000 rows and 300,000 values in them: 600,002 in all
    problem = argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "ledger": ledger})
    assert problem is not None
    assert problem.code is ErrorCode.INVALID_ARGUMENT
    assert problem.field is not None and problem.field.startswith("ledger")


def test_a_line_with_an_integer_python_cannot_read_is_parsed_leniently_and_refused_by_name(
    models: dict[str, type[BaseModel]],
) -> None:
    # For the stdio reading layer: json.loads fails on this line as a whole (over 4,300 digits).
    line = '{"kpi": "sales.arr", "inputs": {"sales.arr": ' + "9" * 5_000 + "}}"
    with pytest.raises(ValueError):
        json.loads(line)
    arguments = lenient_loads(line)
    assert isinstance(arguments["inputs"]["sales.arr"], OversizedInteger)
    problem = argument_problem(models["compute_kpi"], arguments)
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.OUT_OF_RANGE, "inputs.sales.arr")
    assert "5,000 digits" in problem.message


def test_lenient_parsing_reads_ordinary_json_exactly_as_json_loads_does() -> None:
    line = '{"a": [1, -20, 3.5, "x", null, true], "b": {"c": 12345678901234567890}}'
    assert lenient_loads(line) == json.loads(line)


def test_a_line_nested_deeper_than_a_strict_parser_allows_is_refused_by_argument_name(
    models: dict[str, type[BaseModel]],
) -> None:
    # 300 levels: beyond pydantic's JSON parser (about 200), within Python's.
    line = '{"kpi": "sales.arr", "inputs": {"x": ' + "[" * 300 + "1" + "]" * 300 + "}}"
    problem = argument_problem(models["compute_kpi"], lenient_loads(line))
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.INVALID_ARGUMENT, "inputs")


@pytest.mark.parametrize("day", ["२०२६-०९-३०", "٢٠٢٦-٠٩-٣٠", "２０２６-09-30"])
def test_a_date_written_with_non_ascii_digits_is_refused(models: dict[str, type[BaseModel]], day: str) -> None:
    problem = argument_problem(models["compute_kpi"], {"kpi": "sales.arr", "as_of": day})
    assert problem is not None
    assert (problem.code, problem.field) == (ErrorCode.INVALID_ARGUMENT, "as_of")
