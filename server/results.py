"""Turns domain outcomes into MCP tool results: structured content on success, `is_error` with JSON text on refusal.

A refusal carries no structured content. Clients validate structured content against the tool's
output schema, and some (the official MCP Inspector among them) do so even when `is_error` is
set, so an `{"error": ...}` payload there would be rejected as not matching the schema. The
refusal's JSON therefore travels only as the text block.
"""

from __future__ import annotations

import base64
import json

from mcp.types import CallToolResult, ImageContent, TextContent
from pydantic import BaseModel

from kpi_context.tools.compare import UnsafeComparison
from kpi_context.tools.errors import KpiError


def success(model: BaseModel) -> CallToolResult:
    """The model as structured content, with the same JSON as text for clients that only read text.

    Fields at their default (null, empty, false) are left out: the output schema marks them
    optional with their default, and an assistant pays for every character it reads.
    """
    payload = model.model_dump(mode="json", exclude_defaults=True)
    return CallToolResult(content=[_text(payload)], structured_content=payload)


def with_image(result: CallToolResult, png: bytes) -> CallToolResult:
    """The result with a PNG image block after its text: the structured content is unchanged."""
    image = ImageContent(type="image", data=base64.b64encode(png).decode("ascii"), mime_type="image/png")
    return result.model_copy(update={"content": [*result.content, image]})


def refusal(error: KpiError) -> CallToolResult:
    """A domain refusal: `is_error` so an LLM cannot mistake it for a value, plus the reason as JSON text.

    An unsafe comparison carries its own richer payload (mismatches and remedies) instead of
    the plain error detail; both have the same `code`, `message` fields an LLM branches on.
    """
    return error_result(error.refusal if isinstance(error, UnsafeComparison) else error.detail)


def error_result(reason: BaseModel) -> CallToolResult:
    """`is_error` with `{"error": reason}` as compact JSON in the only text block, and no structured content.

    Structured content must match the tool's output schema, which describes the success result;
    clients that validate it even on errors would reject the error payload, so it is left out.
    """
    payload = {"error": reason.model_dump(mode="json", exclude_defaults=True)}
    return CallToolResult(content=[_text(payload)], is_error=True)


def _text(payload: object) -> TextContent:
    return TextContent(type="text", text=json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
