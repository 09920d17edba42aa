"""The tool surface is a public API: it may change only together with its committed snapshot."""

from __future__ import annotations

import json
import re
from typing import Any

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.ledger_options import OptionKey
from kpi_context.server.surface import SNAPSHOT_PATH, live_surface, render
from kpi_context.tools.errors import ErrorCode
from tests.server.conftest import memory_client


async def test_the_live_tool_surface_matches_the_committed_snapshot() -> None:
    live = render(await live_surface())
    committed = SNAPSHOT_PATH.read_text(encoding="utf-8")
    assert live == committed, "tool surface changed: review the diff, then run `make snapshot`"


async def test_every_tool_is_read_only_with_input_and_output_schemas() -> None:
    surface = json.loads(render(await live_surface()))
    names = [tool["name"] for tool in surface["tools"]]
    assert names == [
        "board_pack",
        "check_narrative",
        "compare_metrics",
        "compute_kpi",
        "kpi_series",
        "lookup_kpi",
        "render_chart",
    ]
    for tool in surface["tools"]:
        assert tool["annotations"]["readOnlyHint"] is True
        assert tool["annotations"]["idempotentHint"] is True
        assert tool["inputSchema"]["type"] == "object"
        assert tool["outputSchema"]["type"] == "object"
        assert len(tool["description"]) > 200


async def test_lookup_parameters_keep_the_names_the_user_fixed() -> None:
    surface = json.loads(render(await live_surface()))
    tools = {tool["name"]: tool for tool in surface["tools"]}
    assert set(tools["lookup_kpi"]["inputSchema"]["properties"]) == {
        "query",
        "domain",
        "stage",
        "tier",
        "limit",
        "detail",
    }
    assert {"kpi", "inputs", "variant", "period", "as_of", "currency", "basis"} <= set(
        tools["compute_kpi"]["inputSchema"]["properties"]
    )
    assert set(tools["compare_metrics"]["inputSchema"]["properties"]) == {"left", "right"}


async def published_tools() -> dict[str, dict[str, Any]]:
    surface = json.loads(render(await live_surface()))
    return {tool["name"]: tool for tool in surface["tools"]}


def enum_of(schema: dict[str, Any]) -> set[Any]:
    """The allowed values of a published (possibly nullable) enum property."""
    return set(schema["enum"]) - {None}


async def test_compute_publishes_every_basis_key_with_its_allowed_values() -> None:
    tools = await published_tools()
    basis = tools["compute_kpi"]["inputSchema"]["properties"]["basis"]
    [options] = [branch for branch in basis["anyOf"] if branch.get("type") == "object"]
    # Unknown keys are not allowed, and every governed option key is listed with its closed vocabulary.
    assert options["additionalProperties"] is False
    assert set(options["properties"]) == {key.value for key in OptionKey} | {"value_basis", "date_basis"}
    assert enum_of(options["properties"]["churn_timing"]) == {"end_of_paid_period", "cancellation_date"}
    assert enum_of(options["properties"]["grr_cap"]) == {"per_customer", "aggregate"}
    for key in OptionKey:
        assert enum_of(options["properties"][key.value]), key


async def test_lookup_publishes_the_detail_choice_with_card_as_default() -> None:
    tools = await published_tools()
    detail = tools["lookup_kpi"]["inputSchema"]["properties"]["detail"]
    assert detail["enum"] == ["card", "full"]
    assert detail["default"] == "card"


async def test_input_schemas_are_inlined_without_titles() -> None:
    for tool in (await published_tools()).values():
        text = json.dumps(tool["inputSchema"])
        assert '"$ref"' not in text and '"$defs"' not in text
        assert '"title"' not in text


MODEL_TEXT_BUDGET = 9_000
"""Characters of tool text a model reads on every conversation, for the first three tools together."""

TOOL_TEXT_BUDGETS = {
    "lookup_kpi": 1_600,
    "compute_kpi": 6_000,
    "compare_metrics": 1_000,
    "kpi_series": 2_500,
    "board_pack": 2_600,
    "check_narrative": 1_200,
    "render_chart": 1_400,
}
"""Each tool's share. Later tools reuse compute_kpi's vocabulary (basis, ledger) by reference instead of
repeating its schema, so the whole surface stays under the sum of these (16,300 characters)."""


def _model_text(tool: dict[str, Any]) -> str:
    schema = json.dumps(tool["inputSchema"], ensure_ascii=False, separators=(",", ":"))
    return tool["name"] + tool["title"] + tool["description"] + schema


async def test_the_three_tools_cost_a_model_at_most_9000_characters_to_read() -> None:
    tools = await published_tools()
    sizes = {name: len(_model_text(tools[name])) for name in ("lookup_kpi", "compute_kpi", "compare_metrics")}
    assert sum(sizes.values()) <= MODEL_TEXT_BUDGET, sizes


async def test_every_tool_stays_within_its_share_of_the_context_budget() -> None:
    tools = await published_tools()
    assert set(tools) == set(TOOL_TEXT_BUDGETS)
    sizes = {name: len(_model_text(tool)) for name, tool in tools.items()}
    over = {name: (size, TOOL_TEXT_BUDGETS[name]) for name, size in sizes.items() if size > TOOL_TEXT_BUDGETS[name]}
    assert not over, over


async def server_instructions(catalog: Catalog) -> str:
    async with memory_client(catalog)() as client:
        instructions = client.instructions
    assert instructions is not None
    return instructions


async def test_the_instructions_name_every_error_code(catalog: Catalog) -> None:
    instructions = await server_instructions(catalog)
    # Each code as a word of its own ("not_found", not a piece of a longer name).
    unnamed = [code.value for code in ErrorCode if not re.search(rf"\b{code.value}\b", instructions)]
    assert unnamed == []


async def test_the_instructions_state_the_percent_scale_and_where_the_ledger_format_is(catalog: Catalog) -> None:
    instructions = await server_instructions(catalog)
    assert "Percents are on the 0–100 scale" in instructions
    assert "kpi://ledger-format" in instructions
