"""The stdio transport: a reading layer in front of the MCP SDK's server loop, so every line gets an answer.

The SDK's own stdio transport (`mcp.server.stdio.stdio_server`, SDK 2.3) parses each line and,
when that fails, hands the exception to the server loop, which logs it and answers nothing; a
request id that is null, a boolean, a fraction or an object even passes its check as a
*notification*. A client that sent such a line waits forever. This module is a reading layer in
this project, not a fix to the SDK: it reads stdin itself, answers every malformed line with a
JSON-RPC error on stdout (-32700 when the line is not JSON, -32600 when it is JSON but not a valid
message, echoing the request's id whenever it is a valid one), and passes each well-formed message
to the SDK's server loop exactly as the SDK's transport would have (same parser, same message
objects). Lines are bounded (`MAX_LINE_BYTES`, the HTTP body limit): a longer one is answered as
soon as it crosses the bound and the rest of it is skipped, never held in memory.

While serving, fd 0 reads end-of-file and fd 1 writes to stderr, as with the SDK's transport: stray
reads or prints by library code cannot corrupt the protocol stream.
"""

from __future__ import annotations

import codecs
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
import pydantic_core
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import MCPServer
from mcp.shared.message import SessionMessage
from mcp_types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
    jsonrpc_message_adapter,
)
from pydantic import ValidationError

from kpi_context.server.strict_arguments import OversizedInteger, lenient_loads

MAX_LINE_BYTES = 4_000_000
"""Longest line read, in bytes: the same bound as an HTTP request body."""
READ_CHUNK = 1 << 16
ID_SCAN_BYTES = 1 << 16
"""How much of an over-long line is searched for its request id."""
OFF_LOOP_BYTES = 1 << 16
"""Lines longer than this are parsed in a worker thread, not on the event loop."""


@dataclass(frozen=True)
class Refusal:
    """The JSON-RPC error that answers one malformed line."""

    code: int
    message: str
    id: RequestId | None = None

    def wire(self) -> bytes:
        error = {"jsonrpc": "2.0", "id": self.id, "error": {"code": self.code, "message": self.message}}
        return json.dumps(error).encode() + b"\n"


@dataclass(frozen=True)
class Overlong:
    """A line longer than the bound: its first bytes (to find its id) and the bound it crossed."""

    head: bytes
    limit: int


def read_message(line: bytes) -> SessionMessage | Refusal | None:
    """One stdin line (without its newline): the message for the server, the error to answer, or None if blank."""
    if line.endswith(b"\r"):
        line = line[:-1]
    if not line.strip():
        return None
    if line.startswith(codecs.BOM_UTF8):
        return Refusal(PARSE_ERROR, "Parse error: the line starts with a byte-order mark; send UTF-8 without one")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Refusal(PARSE_ERROR, f"Parse error: the line is not valid UTF-8 (byte {exc.start})")
    try:
        raw = pydantic_core.from_json(text)  # the SDK's own parser (NaN is left to the tools to refuse)
    except ValueError as exc:
        return _unparsable(text, str(exc))
    return _checked(text, raw)


def _unparsable(text: str, reason: str) -> SessionMessage | Refusal:
    # Python's parser is more lenient (lone surrogate escapes, deeper nesting): when it can read
    # the line, the line is JSON the server will not take, and its id is known, so the client can be told.
    try:
        lenient = lenient_loads(text)
    except (ValueError, RecursionError):
        if "trailing characters" in reason:
            return Refusal(
                PARSE_ERROR, "Parse error: the line holds more than one JSON value; send one message per line"
            )
        return Refusal(PARSE_ERROR, f"Parse error: the line is not JSON ({reason})")
    if ("number out of range" in reason and _holds(lenient, OversizedInteger)) or "recursion limit" in reason:
        # JSON, only with an integer longer than Python reads or nesting deeper than the SDK's parser takes:
        # the message goes on, and the strict-argument middleware refuses the argument that holds it
        # (out_of_range for the integer, invalid_argument past its depth limit), naming it.
        return _checked(text, lenient, parsed=True)
    if "surrogate" in reason or "hex escape" in reason:
        why = "a string holds a lone UTF-16 surrogate escape such as \\ud800, which is not a character"
    elif "recursion limit" in reason:
        why = "the message is nested too deeply"
    else:
        why = f"the message is not strict JSON: {reason}"
    return Refusal(INVALID_REQUEST, f"Invalid request: {why}", _valid_id(lenient))


def _holds(node: object, kind: type) -> bool:
    if isinstance(node, kind):
        return True
    if isinstance(node, dict):
        return any(_holds(item, kind) for item in node.values())
    if isinstance(node, list):
        return any(_holds(item, kind) for item in node)
    return False


def _valid_id(raw: object) -> RequestId | None:
    """The message's id if it is one a reply may carry (a string or an integer), else None."""
    if not isinstance(raw, dict):
        return None
    found = raw.get("id")
    if isinstance(found, str) or (isinstance(found, int) and not isinstance(found, bool)):
        return found
    return None


def _checked(text: str, raw: object, *, parsed: bool = False) -> SessionMessage | Refusal:
    if isinstance(raw, list):
        return Refusal(INVALID_REQUEST, "Invalid request: batches are not supported; send one message per line")
    if not isinstance(raw, dict):
        return Refusal(INVALID_REQUEST, "Invalid request: a JSON-RPC message is an object")
    rid = _valid_id(raw)

    def refuse(why: str, echo: RequestId | None = rid) -> Refusal:
        return Refusal(INVALID_REQUEST, f"Invalid request: {why}", echo)

    if raw.get("jsonrpc") != "2.0":
        return refuse('"jsonrpc" must be "2.0"')
    has_id = "id" in raw
    expected: type[JSONRPCMessage]
    if "method" in raw:
        if has_id and rid is None:
            return refuse('"id" must be a string or an integer (not null, a boolean, a fraction or an object)')
        if not isinstance(raw["method"], str):
            return refuse('"method" must be a string')
        if "result" in raw or "error" in raw:
            return refuse('a message has either "method" or "result"/"error", not both')
        if raw.get("params") is not None and not isinstance(raw["params"], dict):
            return refuse('"params" must be an object')
        expected = JSONRPCRequest if has_id else JSONRPCNotification
    elif "result" in raw or "error" in raw:
        if "result" in raw and "error" in raw:
            return refuse('a response has "result" or "error", not both')
        if "result" in raw and rid is None:
            return refuse('a result needs the "id" (a string or an integer) of the request it answers')
        if "error" in raw and (not has_id or (raw["id"] is not None and rid is None)):
            return refuse('an error needs the "id" of the request it answers (a string, an integer or null)')
        expected = JSONRPCResponse if "result" in raw else JSONRPCError
    else:
        return refuse('the message has no "method" (a request) and no "result" or "error" (a response)')
    try:
        if parsed:
            # Already read leniently (an over-long integer): validated from the parsed form.
            message = jsonrpc_message_adapter.validate_python(raw, by_name=False)
        else:
            # Exactly what the SDK's own stdio transport does with a line.
            message = jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValidationError as exc:
        return refuse(_first_problem(exc, expected))
    if not isinstance(message, expected):
        return refuse(f"the message does not form a valid {expected.__name__}")
    return SessionMessage(message)


def _first_problem(exc: ValidationError, expected: type[JSONRPCMessage]) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    # The union's error lists every branch; the branch this message claims to be is the one to name.
    own = [error for error in errors if error["loc"][:1] == (expected.__name__,)] or errors
    first = own[0]
    where = ".".join(str(part) for part in first["loc"][1:] if part != expected.__name__)
    return f'"{where}": {first["msg"]}' if where else str(first["msg"])


def id_in_head(head: bytes) -> RequestId | None:
    """The top-level request id in the first bytes of an over-long line, when it comes before the bulk."""
    text = head.decode("utf-8", errors="ignore")
    decoder = json.JSONDecoder()
    at = _skip_space(text, 0)
    if not text.startswith("{", at):
        return None
    at += 1
    try:
        while True:
            at = _skip_space(text, at)
            key, at = decoder.raw_decode(text, at)
            at = _skip_space(text, at)
            if not isinstance(key, str) or not text.startswith(":", at):
                return None
            value, at = decoder.raw_decode(text, _skip_space(text, at + 1))
            if key == "id":
                return _valid_id({"id": value})
            at = _skip_space(text, at)
            if not text.startswith(",", at):
                return None
            at += 1
    except (ValueError, RecursionError):
        return None  # the id, if any, lies beyond the bytes kept


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


class LineSplitter:
    """Splits bytes into lines of at most `limit` bytes; a longer line yields one `Overlong` and is skipped."""

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        self._limit = limit
        self._buffer = bytearray()
        self._skipping = False

    def feed(self, chunk: bytes) -> list[bytes | Overlong]:
        found: list[bytes | Overlong] = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            crossed = self._take(piece)
            if crossed is not None:
                found.append(crossed)
            if end < 0:
                return found
            if self._skipping:
                self._skipping = False
            else:
                found.append(bytes(self._buffer))
            self._buffer = bytearray()
            start = end + 1

    def close(self) -> list[bytes | Overlong]:
        """The last line, when the input ends without a newline."""
        last: list[bytes | Overlong] = [] if self._skipping or not self._buffer else [bytes(self._buffer)]
        self._buffer = bytearray()
        return last

    def _take(self, piece: bytes) -> Overlong | None:
        if self._skipping:
            return None
        if len(self._buffer) + len(piece) <= self._limit:
            self._buffer += piece
            return None
        head = bytes(self._buffer[:ID_SCAN_BYTES])
        head += piece[: ID_SCAN_BYTES - len(head)]
        self._buffer = bytearray()
        self._skipping = True
        return Overlong(head, self._limit)


async def judge(item: bytes | Overlong) -> SessionMessage | Refusal | None:
    if isinstance(item, Overlong):
        return Refusal(
            INVALID_REQUEST,
            f"Invalid request: the line is longer than {item.limit:,} bytes, the most one message may take; "
            "the rest of it was skipped",
            id_in_head(item.head),
        )
    if len(item) > OFF_LOOP_BYTES:
        return await anyio.to_thread.run_sync(read_message, item)
    return read_message(item)


async def read_batches(fd: int, limit: int = MAX_LINE_BYTES) -> AsyncIterator[list[bytes | Overlong]]:
    """The lines of `fd`, in the batches one read brings (so that answers to a flood go out in few writes)."""
    splitter = LineSplitter(limit)
    while True:
        # A read blocks its thread; on cancellation the thread is left to end with the process.
        chunk = await anyio.to_thread.run_sync(os.read, fd, READ_CHUNK, abandon_on_cancel=True)
        if not chunk:
            yield splitter.close()
            return
        yield splitter.feed(chunk)


class _Wire:
    """stdout, written whole line by whole line by the server's replies and the reader's refusals alike."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = anyio.Lock()
        self._broken = False

    async def send(self, data: bytes) -> None:
        async with self._lock:
            if self._broken:
                return
            try:
                await anyio.to_thread.run_sync(_write_all, self._fd, data)
            except OSError:
                self._broken = True  # the client is gone; its stdin will end too


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


async def serve_stdio(server: MCPServer[Any], *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
    """Serve `server` over this process's stdin and stdout until stdin ends."""
    with _claimed_stdio() as (wire_in, wire_out):
        await serve_fds(server, wire_in, wire_out, max_line_bytes=max_line_bytes)


async def serve_fds(
    server: MCPServer[Any], wire_in: int, wire_out: int, *, max_line_bytes: int = MAX_LINE_BYTES
) -> None:
    # The SDK's own in-memory client reaches the low-level server the same way.
    lowlevel: Server[Any] = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]
    # Unbuffered, as in the SDK's transport: a slow reader holds up the next line, never piles them up.
    to_server, server_reads = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    server_writes, from_server = anyio.create_memory_object_stream[SessionMessage](0)
    wire = _Wire(wire_out)

    async def read() -> None:
        async with to_server:
            async for batch in read_batches(wire_in, max_line_bytes):
                refusals = bytearray()
                for item in batch:
                    outcome = await judge(item)
                    if isinstance(outcome, SessionMessage):
                        if refusals:
                            await wire.send(bytes(refusals))
                            refusals = bytearray()
                        await to_server.send(outcome)
                    elif outcome is not None:
                        refusals += outcome.wire()
                if refusals:
                    await wire.send(bytes(refusals))

    async def write() -> None:
        async with from_server:
            async for message in from_server:
                text = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                await wire.send(text.encode() + b"\n")

    async with anyio.create_task_group() as writing:
        writing.start_soon(write)
        async with anyio.create_task_group() as reading:
            reading.start_soon(read)
            await lowlevel.run(server_reads, server_writes, lowlevel.create_initialization_options())
            reading.cancel_scope.cancel()


@contextmanager
def _claimed_stdio() -> Iterator[tuple[int, int]]:
    """Private duplicates of fds 0 and 1 for the wire; fd 0 reads the null device and fd 1 goes to stderr meanwhile."""
    sys.stdout.flush()
    try:
        wire_in, wire_out = _dup_high(0), _dup_high(1)
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            os.dup2(null, 0)
            os.dup2(2, 1)
        finally:
            os.close(null)
    except OSError:
        yield 0, 1  # descriptors cannot be moved here: serve the wire in place
        return
    try:
        yield wire_in, wire_out
    finally:
        sys.stdout.flush()
        os.dup2(wire_in, 0)
        os.dup2(wire_out, 1)
        # The duplicates stay open: an abandoned reader thread may still be blocked on wire_in.


def _dup_high(fd: int) -> int:
    if sys.platform == "win32":  # pragma: no cover
        return os.dup(fd)
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
