"""Rejects extra or mistyped tool arguments before the SDK's lenient validation sees them.

The SDK validates arguments in pydantic's lax mode (it turns "12" into 12 and drops unknown
keys) and even parses JSON hidden in strings. For a tool whose whole purpose is to stop silent
errors, a wrong argument must be refused, not repaired: this middleware validates the raw
`tools/call` arguments against each tool's own argument model in strict JSON mode and answers
with an `invalid_argument` error naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver.tools import Tool
from pydantic import BaseModel, ValidationError

from kpi_context.server.results import error_result
from kpi_context.tools.errors import ErrorCode, ErrorDetail


def argument_models(tools: Iterable[Tool]) -> dict[str, type[BaseModel]]:
    """Each tool's argument model: the one the SDK derived from the tool function's signature."""
    return {tool.name: tool.fn_metadata.arg_model for tool in tools}


def argument_problem(model: type[BaseModel], arguments: Mapping[str, Any]) -> ErrorDetail | None:
    """Why `arguments` are not acceptable to `model` in strict mode, or None when they are."""
    allowed = {field.alias or name for name, field in model.model_fields.items()}
    extra = sorted(set(arguments) - allowed)
    if extra:
        return ErrorDetail(
            code=ErrorCode.INVALID_ARGUMENT,
            message=f"unknown argument {extra[0]!r}; this tool takes {sorted(allowed)}",
            field=extra[0],
            details={"unknown": extra, "allowed": sorted(allowed)},
        )
    try:
        model.model_validate_json(json.dumps(dict(arguments)), strict=True)
    except ValidationError as exc:
        located = [(_data_path(arguments, error["loc"]), error["msg"]) for error in exc.errors()]
        # The deepest fault is the most specific: for a number-or-object input given an object, the
        # fault inside the object matters, not that the object is not a number.
        located.sort(key=lambda item: -len(item[0]))
        errors = [{"field": ".".join(path), "message": message} for path, message in located]
        first = errors[0]
        return ErrorDetail(
            code=ErrorCode.INVALID_ARGUMENT,
            message=f"argument {first['field']!r} is not valid: {first['message']} (values are never coerced)",
            field=first["field"],
            details={"errors": errors},
        )
    return None


def _data_path(arguments: Mapping[str, Any], loc: tuple[int | str, ...]) -> tuple[str, ...]:
    """The error's location as keys and indexes of the caller's data.

    pydantic puts the name of each union branch it tried into `loc` ("int", "ValueClaim"); those are
    not where the caller's value sits, so a step that is not a key or index of the data is dropped.
    """
    node: Any = arguments
    path: list[str] = []
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int):
            node = node[part] if 0 <= part < len(node) else None
        elif isinstance(node, Mapping) and isinstance(part, str) and not path_is_branch(part):
            node = None  # a missing or unknown key: it is the fault's own place
        else:
            continue
        path.append(str(part))
    return tuple(path)


def path_is_branch(part: str) -> bool:
    """Union branch tags are type names: 'int', 'float', 'str', 'ValueClaim', 'constrained-str', 'function-after[...]'."""
    builtin = part in {"int", "float", "str", "bool", "decimal", "none"}
    return builtin or part[:1].isupper() or "[" in part or "-" in part


class StrictArguments:
    """Server middleware: strict validation of `tools/call` arguments for the tools it knows."""

    def __init__(self, models: Mapping[str, type[BaseModel]]) -> None:
        self._models = dict(models)

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = ctx.params
        if ctx.method != "tools/call" or params is None:
            return await call_next(ctx)
        model = self._models.get(str(params.get("name")))
        arguments = params.get("arguments") or {}
        # Malformed params (arguments not an object) are a protocol error; the SDK reports those itself.
        if model is None or not isinstance(arguments, Mapping):
            return await call_next(ctx)
        problem = argument_problem(model, arguments)
        if problem is not None:
            return error_result(problem)
        return await call_next(ctx)
