"""The tool surface is a public API: it may change only together with its committed snapshot."""

from __future__ import annotations

import json

from kpi_context.server.surface import SNAPSHOT_PATH, live_surface, render


async def test_the_live_tool_surface_matches_the_committed_snapshot() -> None:
    live = render(await live_surface())
    committed = SNAPSHOT_PATH.read_text(encoding="utf-8")
    assert live == committed, "tool surface changed: review the diff, then run `make snapshot`"


async def test_every_tool_is_read_only_with_input_and_output_schemas() -> None:
    surface = json.loads(render(await live_surface()))
    names = [tool["name"] for tool in surface["tools"]]
    assert names == ["compare_metrics", "compute_kpi", "lookup_kpi"]
    for tool in surface["tools"]:
        assert tool["annotations"]["readOnlyHint"] is True
        assert tool["annotations"]["idempotentHint"] is True
        assert tool["inputSchema"]["type"] == "object"
        assert tool["outputSchema"]["type"] == "object"
        assert len(tool["description"]) > 200


async def test_lookup_parameters_keep_the_names_the_user_fixed() -> None:
    surface = json.loads(render(await live_surface()))
    tools = {tool["name"]: tool for tool in surface["tools"]}
    assert set(tools["lookup_kpi"]["inputSchema"]["properties"]) == {"query", "domain", "stage", "tier", "limit"}
    assert {"kpi", "inputs", "variant", "period", "as_of", "currency", "basis"} <= set(
        tools["compute_kpi"]["inputSchema"]["properties"]
    )
    assert set(tools["compare_metrics"]["inputSchema"]["properties"]) == {"left", "right"}
