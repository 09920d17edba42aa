"""Reading a `tools/call` result the way the server sends it, for every test that calls a tool.

A success carries its payload as structured content (and the same JSON as text). A refusal is
`is_error` with no structured content: its only content block is text holding `{"error": {...}}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from mcp import Client
from mcp.types import CallToolResult, TextContent


def outcome(result: CallToolResult) -> tuple[bool, dict[str, Any]]:
    """`(is_error, payload)`: the structured content of a success, or the parsed JSON of a refusal's text.

    Fails the test when the result breaks the contract: a success without structured content
    or whose text is not the same JSON, a refusal with structured content, with anything but
    one text block, or without an `{"error": {"code": ...}}` object.
    """
    if not result.is_error:
        assert result.structured_content is not None, result.content
        assert [json.loads(_text(block)) for block in result.content] == [result.structured_content]
        return False, result.structured_content
    assert result.structured_content is None, result.structured_content
    assert len(result.content) == 1, result.content
    payload = json.loads(_text(result.content[0]))
    assert isinstance(payload, dict) and set(payload) == {"error"}, payload
    assert isinstance(payload["error"], dict) and "code" in payload["error"], payload
    return True, payload


async def call(
    connect: Callable[[], AbstractAsyncContextManager[Client]], tool: str, arguments: dict[str, Any]
) -> tuple[bool, dict[str, Any], int]:
    """One call in a fresh conversation: `(is_error, payload, characters of text the model reads)`."""
    async with connect() as client:
        result = await client.call_tool(tool, arguments)
    is_error, payload = outcome(result)
    return is_error, payload, sum(len(block.text) for block in result.content if isinstance(block, TextContent))


def _text(block: object) -> str:
    assert isinstance(block, TextContent), block
    return block.text
