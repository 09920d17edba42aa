"""Rejects extra or mistyped tool arguments before the SDK's lenient validation sees them.

The SDK validates arguments in pydantic's lax mode (it turns "12" into 12 and drops unknown
keys) and even parses JSON hidden in strings. For a tool whose whole purpose is to stop silent
errors, a wrong argument must be refused, not repaired: this middleware validates the raw
`tools/call` arguments against each tool's own argument model in strict JSON mode and answers
with an `invalid_argument` error naming the field.
"""

from __future__ import annotations

import json
import math
import sys
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
    # An explicit null for an optional filter means "no filter", as the published schema says; a NaN or
    # Infinity written as such is refused by unreadable_argument.
    unreadable = unreadable_argument(arguments)
    if unreadable is not None:
        return unreadable
    try:
        text = json.dumps(dict(arguments), allow_nan=True)
    except (ValueError, RecursionError, TypeError):  # pragma: no cover — unreadable_argument finds these first
        return ErrorDetail(
            code=ErrorCode.INVALID_ARGUMENT,
            message="the arguments cannot be read as JSON values",
            field=None,
        )
    try:
        model.model_validate_json(text, strict=True)
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
            field=first["field"] or None,
            details={"errors": errors},
        )
    return _json_in_text(model, arguments)


def _json_in_text(model: type[BaseModel], arguments: Mapping[str, Any]) -> ErrorDetail | None:
    """A text argument the SDK would re-read as JSON after this check: refused, not silently converted.

    The SDK parses a string given for any argument not typed plain `str` ("null" for `variant` becomes
    None, "[]" for `ledger` a list), after strict validation has accepted it as text. No dataset name,
    period, variant or currency is JSON text, so such a string is refused here, naming the argument.
    """
    for name, value in arguments.items():
        field = model.model_fields.get(name)
        if not isinstance(value, str) or field is None or field.annotation is str:
            continue
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            continue
        if isinstance(parsed, str | int | float) and not isinstance(parsed, bool):
            continue  # the SDK leaves these as the text they are
        return ErrorDetail(
            code=ErrorCode.INVALID_ARGUMENT,
            message=f"argument {name!r} is JSON written as text ({value[:40]!r}); pass the value itself, "
            "not a string (values are never coerced)",
            field=name,
        )
    return None


MAX_DEPTH = 32
"""Deepest nesting of objects and arrays accepted in arguments; a bound value passed back is 4 deep."""
MAX_INTEGER_DIGITS = 40
"""Longest integer accepted anywhere in arguments; an amount has at most 32 integer digits."""
_INTEGER_LIMIT = 10**MAX_INTEGER_DIGITS
MAX_NODES = 500_000
"""Most values (objects, arrays, strings, numbers) in one call's arguments: a 10,000-row ledger of 14 columns has ~150,000."""


def unreadable_argument(arguments: Mapping[str, Any]) -> ErrorDetail | None:
    """A value no tool argument can hold, found before anything re-reads the arguments, or None.

    Nesting deeper than any argument needs, an integer too long to mean anything (Python refuses to
    print one of over 4,300 digits), NaN or Infinity where a number travels (JSON has neither), and
    text that is not valid Unicode (a lone surrogate) would otherwise fail the whole request, or be
    reported at a place in an internal copy. Each is refused here, naming the caller's argument.
    Iterative, so no input can exhaust the stack.
    """
    stack: list[tuple[tuple[str, ...], Any, int]] = [((str(key),), value, 1) for key, value in arguments.items()]
    seen = 0
    while stack:
        path, value, depth = stack.pop()
        seen += 1
        where = ".".join(path)
        if seen > MAX_NODES:
            return _unreadable(where, f"the arguments hold more than {MAX_NODES:,} values", ErrorCode.INVALID_ARGUMENT)
        if isinstance(value, Mapping | list) and depth > MAX_DEPTH:
            shown = where if len(where) <= 80 else f"{where[:60]}…"
            return _unreadable(
                path[0],
                f"argument {path[0]!r} is nested more than {MAX_DEPTH} levels deep (at {shown})",
                ErrorCode.INVALID_ARGUMENT,
            )
        if isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and _not_unicode(key):
                    return _unreadable(
                        where, f"a key in {where!r} is not valid Unicode text", ErrorCode.INVALID_ARGUMENT
                    )
                stack.append(((*path, str(key)), item, depth + 1))
        elif isinstance(value, list):
            stack.extend(((*path, str(index)), item, depth + 1) for index, item in enumerate(value))
        elif isinstance(value, bool):
            continue
        elif isinstance(value, OversizedInteger):
            return _unreadable(
                where,
                f"argument {where!r} is an integer of {value.digits:,} digits; numbers have at most "
                f"{MAX_INTEGER_DIGITS} digits",
                ErrorCode.OUT_OF_RANGE,
            )
        elif isinstance(value, int) and abs(value) >= _INTEGER_LIMIT:
            # bit_length, not str(): the text of a 5,000-digit integer is what Python refuses to make.
            return _unreadable(
                where,
                f"argument {where!r} is an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits; "
                f"numbers have at most {MAX_INTEGER_DIGITS} digits",
                ErrorCode.OUT_OF_RANGE,
            )
        elif isinstance(value, float) and not math.isfinite(value):
            return _unreadable(
                where, f"argument {where!r} is {value!r}: NaN and Infinity are not numbers", ErrorCode.INVALID_ARGUMENT
            )
        elif isinstance(value, str) and _not_unicode(value):
            return _unreadable(
                where, f"argument {where!r} is not valid Unicode text (a lone surrogate)", ErrorCode.INVALID_ARGUMENT
            )
    return None


class OversizedInteger:
    """Stands in for an integer literal too long for Python to read (over 4,300 digits).

    A transport's reading layer that meets such a literal can parse the line with `lenient_loads`
    instead of failing the whole request: the middleware then refuses the argument that holds it
    with `out_of_range`, naming it.
    """

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"OversizedInteger(digits={self.digits})"


def lenient_loads(text: str | bytes) -> Any:
    """JSON as `json.loads` reads it, with integers Python refuses to read kept as `OversizedInteger`.

    For a transport's reading layer: a line its strict parser refused (an over-long integer, nesting
    deeper than its limit) can still reach the middleware, which names the faulty argument. Raises
    ValueError or RecursionError as `json.loads` does for a line that is not JSON at all.
    """
    limit = sys.get_int_max_str_digits() or None

    def integer(literal: str) -> int | OversizedInteger:
        digits = len(literal.lstrip("-"))
        if limit is not None and digits > limit:
            return OversizedInteger(digits)
        return int(literal)

    return json.loads(text, parse_int=integer)


def _not_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _unreadable(where: str, message: str, code: ErrorCode) -> ErrorDetail:
    return ErrorDetail(code=code, message=message, field=where)


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
