"""The `check_narrative` tool: a draft checked against the bound values or board pack it is based on."""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel, Field, ValidationError

from kpi_context.server.arguments import VALUE_HELP, value_claim
from kpi_context.server.results import refusal, success
from kpi_context.server.tool_support import Services, check_text_lengths, off_loop, services_of
from kpi_context.tools.board_pack import BoardPack
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.narrative import checks
from kpi_context.tools.narrative.model import MAX_TEXT, MAX_VALUES, NarrativeCheck

TITLE = "Check a draft narrative against its values"
DESCRIPTION = f"""Check a draft (text or Markdown, ≤{MAX_TEXT:,} characters) against the bound values it is based
on (`values`, as compute_kpi returned them) and/or a board_pack result (`pack`). Each finding has its span, a
code and a fix: unbacked_number, mismatched_value, unsafe_comparison, unlabelled_basis, missing_pair (a
warning). Deterministic, no model. Run it before anyone reads the draft."""

M = TypeVar("M", bound=BaseModel)


def read_result(model: type[M], raw: dict[str, Any], field: str) -> M:
    """A result this server returned earlier (a board pack, a series), passed back whole and read strictly."""
    try:
        return model.model_validate_json(json.dumps(raw), strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in (field, *error["loc"]))
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"argument {where!r} is not valid: {error['msg']}; pass the {field} result back whole, as returned",
            field=where,
        ) from None


async def check_narrative(
    text: Annotated[str, Field(description="The draft: plain text or Markdown.", max_length=MAX_TEXT)],
    values: Annotated[
        list[dict[str, Any]] | None,
        Field(description=f"The values the draft quotes. Each: {VALUE_HELP}", max_length=MAX_VALUES),
    ] = None,
    pack: Annotated[dict[str, Any] | None, Field(description="A board_pack result, passed back whole.")] = None,
    *,
    ctx: Context[Services, Any],
) -> Annotated[CallToolResult, NarrativeCheck]:
    services = services_of(ctx)
    try:
        check_text_lengths(values, "values")
        check_text_lengths(pack, "pack")
        claims = [value_claim(raw, f"values.{index}") for index, raw in enumerate(values or [])]
        board = None if pack is None else read_result(BoardPack, pack, "pack")
        found = await off_loop(checks.check_narrative, services.context, text, claims, board)
        return success(found)
    except KpiError as error:
        return refusal(error)
