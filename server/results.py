"""Turns domain outcomes into MCP tool results: structured content on success, `is_error` with a payload on refusal."""

from __future__ import annotations

import json

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from kpi_context.tools.compare import UnsafeComparison
from kpi_context.tools.errors import KpiError


def success(model: BaseModel) -> CallToolResult:
    """The model as structured content, with the same JSON as text for clients that only read text."""
    payload = model.model_dump(mode="json")
    return CallToolResult(content=[_text(payload)], structured_content=payload)


def refusal(error: KpiError) -> CallToolResult:
    """A domain refusal: `is_error` so an LLM cannot mistake it for a value, plus the structured reason.

    An unsafe comparison carries its own richer payload (mismatches and remedies) instead of
    the plain error detail; both have the same `code`, `message` fields an LLM branches on.
    """
    return error_result(error.refusal if isinstance(error, UnsafeComparison) else error.detail)


def error_result(reason: BaseModel) -> CallToolResult:
    """`is_error` with `{"error": reason}` as structured content and the same JSON as text."""
    payload = {"error": reason.model_dump(mode="json")}
    return CallToolResult(content=[_text(payload)], structured_content=payload, is_error=True)


def _text(payload: object) -> TextContent:
    return TextContent(type="text", text=json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
