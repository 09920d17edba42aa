"""Context cost: how many characters an LLM must read in a fixed board-prep session, now and at a baseline.

Context is a budget like latency: every character a tool returns, and every character of the
tool listing, is read by the model. This replays one fixed script — a Q3 2026 board prep on
the bundled sample ledger: eight lookups, ledger computations (ARR at three quarter closes,
the Q3 ARR bridge, retention, ACV, customers, CARR), two reported finance figures and four
comparisons that pass back values returned earlier — against two servers in the same run:

- the baseline: a release commit (default 57fba06, the first release), checked out in a
  temporary `git worktree` that is removed at the end;
- the current working tree, as it is on disk (uncommitted changes included).

Each runs as `python -m kpi_context.server.cli serve` over stdio, with this interpreter, from a
temporary package directory (`kpi_context/__init__.py` plus symlinks to the tree's `ontology`,
`tools` and `server`), and is reached with the official MCP client (`stdio_client` +
`ClientSession`). Before each run a probe checks that every `kpi_context` module, and the
catalog, load from that tree and not through the editable install.

Measured per call: the characters of the text content blocks (what most clients show the
model), the characters of the structured content as compact JSON, and `is_error`. A call
that errors still counts (errors are context too) and is flagged. Also measured: the
`tools/list` listing (compact JSON; model-facing part = name, title, description and input
schema; output schemas apart) and the server's `instructions`. Figures are deterministic:
no timings, and a fixed signing secret.

The headline is current ÷ baseline of the session's text characters; "model context" adds the
instructions and the model-facing tool definitions. A comparison whose input call returned no
value is skipped (0 characters) and flagged, and the totals are then not like for like. The
exit status is 0 whatever the figures, 1 when the measurement could not be made.

    python -m bench.context_cost                      # or: make bench-context
    python -m bench.context_cost --baseline 57fba06 --json build/context_cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED, CallToolResult, Tool

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BASELINE = "57fba06"
SUBPACKAGES = ("ontology", "tools", "server")
DATASET = "sample"
SECRET = "bench-context-cost"  # fixed, so signatures (and every character) repeat run to run
STARTUP_TIMEOUT = 120.0
CALL_TIMEOUT = 120.0


# --------------------------------------------------------------------------- the script


@dataclass(frozen=True)
class Ref:
    """Stands for the structured content returned by the earlier step `key`, passed back verbatim."""

    key: str


@dataclass(frozen=True)
class Step:
    key: str
    tool: str
    arguments: Mapping[str, Any]
    summary: str
    refusal: bool = False  # the call is meant to be refused (`is_error`): an unsafe comparison


def _lookup(query: str) -> Step:
    return Step(f"lookup {query}", "lookup_kpi", {"query": query}, f'"{query}"')


def _ledger(key: str, kpi: str, *, period: str | None = None, as_of: str | None = None) -> Step:
    when = {"period": period} if period else {"as_of": as_of}
    return Step(key, "compute_kpi", {"kpi": kpi, "ledger": DATASET, **when}, f"{kpi} {period or '@' + str(as_of)}")


def _compare(key: str, left: str, right: str | Mapping[str, str], *, refusal: bool = False) -> Step:
    other: Any = Ref(right) if isinstance(right, str) else dict(right)
    shown = right if isinstance(right, str) else json.dumps(right, separators=(",", ":"))
    return Step(key, "compare_metrics", {"left": Ref(left), "right": other}, f"{left} vs {shown}", refusal)


LOOKUPS = ("ARR", "NRR", "ACV", "CAC payback", "magic number", "Rule of 40", "runway", "YoY growth")

SCRIPT: tuple[Step, ...] = (
    *(_lookup(query) for query in LOOKUPS),
    _ledger("arr_q1", "sales.arr", as_of="2026-03-31"),
    _ledger("arr_q2", "sales.arr", as_of="2026-06-30"),
    _ledger("arr_q3", "sales.arr", as_of="2026-09-30"),
    _ledger("net_new_arr", "sales.net_new_arr", period="2026-Q3"),
    _ledger("new_business", "sales.new_business", period="2026-Q3"),
    _ledger("expansion", "sales.expansion", period="2026-Q3"),
    _ledger("downgrades", "sales.downgrades", period="2026-Q3"),
    _ledger("churn_arr", "sales.churn_arr", period="2026-Q3"),
    _ledger("nrr", "customers.net_revenue_retention", period="2026-Q3"),
    _ledger("grr", "customers.gross_revenue_retention", period="2026-Q3"),
    _ledger("acv_new_logo", "sales.avg_contract_value", period="2026-Q3"),
    _ledger("acv_blended", "customers.avg_contract_value", as_of="2026-09-30"),
    _ledger("acv_trend", "customers.acv_trend_pct", period="2026-Q3"),
    _ledger("customers", "customers.total_customers", as_of="2026-09-30"),
    _ledger("churned", "customers.customers_churned", period="2026-Q3"),
    _ledger("logo_churn", "customers.logo_churn_rate", period="2026-Q3"),
    _ledger("carr", "sales.carr", as_of="2026-09-30"),
    # Reported by finance, bound as primary figures (both are period-flow KPIs).
    Step(
        "total_sm",
        "compute_kpi",
        {"kpi": "finance.total_sm", "inputs": {"finance.total_sm": 1450000}, "period": "2026-Q3", "currency": "USD"},
        "finance.total_sm 2026-Q3 = 1,450,000 USD",
    ),
    Step(
        "gross_margin",
        "compute_kpi",
        {"kpi": "sales.gross_margin", "inputs": {"sales.gross_margin": 76}, "period": "2026-Q3"},
        "sales.gross_margin 2026-Q3 = 76",
    ),
    _compare("cmp arr trend", "arr_q3", "arr_q2"),  # a trend: one KPI, two closes
    _compare("cmp nrr benchmark", "nrr", {"benchmark": "median"}),
    _compare("cmp acv", "acv_new_logo", "acv_blended", refusal=True),  # new-logo vs blended ACV
    _compare("cmp carr arr", "carr", "arr_q3", refusal=True),  # signed (CARR) vs live (ARR) recurring
)


# --------------------------------------------------------------------------- measuring


@dataclass
class CallCost:
    key: str
    tool: str
    summary: str
    text_chars: int
    structured_chars: int
    is_error: bool
    note: str = ""
    error: str = ""  # the error's code (or the start of its text) when is_error
    skipped: bool = False  # not called: an earlier call it passes back returned no value


@dataclass
class ToolsCost:
    count: int
    total_chars: int  # compact JSON of the whole tools array
    model_chars: int  # name + title + description + inputSchema, per tool
    output_schema_chars: int  # outputSchema, per tool
    names: list[str] = field(default_factory=list)


@dataclass
class ServerCost:
    label: str
    revision: str
    instructions_chars: int
    tools: ToolsCost
    calls: list[CallCost]

    @property
    def text_total(self) -> int:
        return sum(call.text_chars for call in self.calls)

    @property
    def structured_total(self) -> int:
        return sum(call.structured_chars for call in self.calls)

    @property
    def model_context_total(self) -> int:
        """What a typical client puts before the model: instructions, tool definitions, result text."""
        return self.instructions_chars + self.tools.model_chars + self.text_total


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def tools_cost(tools: Sequence[Tool]) -> ToolsCost:
    """The listing as sent (fields the server set, nulls included), split into model-facing and output schema."""
    dumped = [tool.model_dump(mode="json", by_alias=True, exclude_unset=True) for tool in tools]
    model_keys = ("name", "title", "description", "inputSchema")
    return ToolsCost(
        count=len(dumped),
        total_chars=len(compact(dumped)),
        model_chars=sum(len(compact({k: tool[k] for k in model_keys if k in tool})) for tool in dumped),
        output_schema_chars=sum(len(compact(tool["outputSchema"])) for tool in dumped if "outputSchema" in tool),
        names=[tool["name"] for tool in dumped],
    )


class _Unresolved(Exception):
    pass


def _resolve(value: Any, answers: Mapping[str, CallToolResult]) -> Any:
    if isinstance(value, Ref):
        answer = answers.get(value.key)
        if answer is None or answer.is_error or answer.structured_content is None:
            raise _Unresolved(value.key)
        return answer.structured_content
    if isinstance(value, Mapping):
        return {k: _resolve(v, answers) for k, v in value.items()}
    return value


CallTool = Callable[[str, dict[str, Any]], Awaitable[CallToolResult]]


async def replay(
    call_tool: CallTool, script: Sequence[Step] = SCRIPT, remark: Callable[[], str] | None = None
) -> list[CallCost]:
    """Runs `script` through `call_tool` in order and measures each answer.

    `remark`, called after each call, returns a note for that call's row (e.g. a failed
    client-side validation).
    """
    answers: dict[str, CallToolResult] = {}
    costs: list[CallCost] = []
    for step in script:
        try:
            arguments = _resolve(step.arguments, answers)
        except _Unresolved as missing:
            note = f"skipped: no value from {missing}"
            costs.append(CallCost(step.key, step.tool, step.summary, 0, 0, True, note, "skipped", skipped=True))
            continue
        try:
            with anyio.fail_after(CALL_TIMEOUT):
                result = await call_tool(step.tool, arguments)
        except MCPError as error:  # a protocol-level error reaches the model as its JSON
            if error.code == CONNECTION_CLOSED:  # the server is gone: no figure, a failed measurement
                raise
            text = compact(error.error.model_dump(mode="json", by_alias=True, exclude_none=True))
            costs.append(CallCost(step.key, step.tool, step.summary, len(text), 0, True, error=f"JSON-RPC {text[:80]}"))
            continue
        answers[step.key] = result
        notes = [remark()] if remark else []
        if other := [block.type for block in result.content if block.type != "text"]:
            notes.append(f"non-text blocks: {', '.join(other)}")
        structured = result.structured_content
        text = "".join(block.text for block in result.content if block.type == "text")
        costs.append(
            CallCost(
                key=step.key,
                tool=step.tool,
                summary=step.summary,
                text_chars=len(text),
                structured_chars=0 if structured is None else len(compact(structured)),
                is_error=bool(result.is_error),
                note="; ".join(note for note in notes if note),
                error=_error_summary(text) if result.is_error else "",
            )
        )
    return costs


def _error_summary(text: str) -> str:
    """The error's `code` when the text is the server's `{"error": {...}}` JSON, else the start of the text."""
    try:
        payload = json.loads(text)
    except ValueError:
        return text[:80]
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return error["code"]
    return text[:80]


class _LenientSession(ClientSession):
    """Notes, instead of raising, a result that fails the client's output-schema check: its characters still count."""

    last_invalid = ""

    async def validate_tool_result(self, name: str, result: CallToolResult) -> None:
        try:
            await super().validate_tool_result(name, result)
        except RuntimeError as exc:
            self.last_invalid = f"fails client output validation: {str(exc)[:100]}"


async def measure_server(label: str, revision: str, params: StdioServerParameters, errlog: TextIO) -> ServerCost:
    """Starts the server over stdio, reads its instructions and tool listing, and replays the script."""
    async with stdio_client(params, errlog=errlog) as (read, write), _LenientSession(read, write) as session:
        with anyio.fail_after(STARTUP_TIMEOUT):
            initialized = await session.initialize()
            listing = await session.list_tools()

        async def call_tool(name: str, arguments: dict[str, Any]) -> CallToolResult:
            session.last_invalid = ""
            result = await session.call_tool(name, arguments)
            if not isinstance(result, CallToolResult):
                raise TypeError(f"{name}: unexpected result type {type(result).__name__}")
            return result

        calls = await replay(call_tool, SCRIPT, remark=lambda: session.last_invalid)
    return ServerCost(label, revision, len(initialized.instructions or ""), tools_cost(listing.tools), calls)


# --------------------------------------------------------------------------- the two servers


class BenchError(Exception):
    """The measurement itself could not be made (git, a tree that does not load, a server that does not start)."""


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


@contextmanager
def baseline_worktree(rev: str) -> Iterator[tuple[Path, str]]:
    """A detached `git worktree` of `rev` in a temporary directory, removed on the way out (also on failure)."""
    try:
        commit = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except BenchError:
        raise BenchError(f"--baseline {rev}: not a commit of this repository") from None
    with tempfile.TemporaryDirectory(prefix="kpi-context-baseline-") as tmp:
        path = Path(tmp) / "tree"
        _git("worktree", "add", "--detach", "--quiet", str(path), commit)
        try:
            yield path, commit
        finally:
            try:
                _git("worktree", "remove", "--force", str(path))
            except BenchError as exc:
                print(f"warning: could not remove the baseline worktree {path}: {exc}", file=sys.stderr)


@contextmanager
def package_dir(tree: Path) -> Iterator[Path]:
    """A directory holding `kpi_context/` laid out as installed: `__init__.py` copied, the subpackages symlinked."""
    with tempfile.TemporaryDirectory(prefix="kpi-context-pkg-") as tmp:
        package = Path(tmp) / "kpi_context"
        package.mkdir()
        shutil.copyfile(tree / "kpi_context" / "__init__.py", package / "__init__.py")
        for name in SUBPACKAGES:
            (package / name).symlink_to(tree / name, target_is_directory=True)
        yield Path(tmp)


# Imports every module of the package, then reports any loaded from outside the package directory
# (the venv's editable install maps `kpi_context.*` to the working tree and would catch whatever
# is missing from the tree under test) and where the catalog is read from.
_PROBE = """
import importlib, json, pkgutil, sys
import kpi_context
failed = []
for info in pkgutil.walk_packages(kpi_context.__path__, "kpi_context."):
    try:
        importlib.import_module(info.name)
    except Exception as exc:
        failed.append(f"{info.name}: {exc!r}")
from kpi_context.ontology.catalog import CATALOG_ROOT
root = sys.argv[1]
outside = sorted(n for n, m in sys.modules.items() if n.split(".")[0] == "kpi_context"
                 and not (getattr(m, "__file__", None) or "").startswith(root))
print(json.dumps({"outside": outside, "failed": failed, "catalog": str(CATALOG_ROOT)}))
"""


def _environment(package_root: Path) -> dict[str, str]:
    # stdio_client starts from a minimal inherited environment and merges this over it.
    return {"PYTHONPATH": str(package_root), "KPI_CONTEXT_SECRET": SECRET, "PYTHONHASHSEED": "0"}


def probe(tree: Path, package_root: Path) -> None:
    """Fails unless every `kpi_context` module and the catalog load from `tree` through `package_root`."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | _environment(package_root)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(package_root) + os.sep],
        cwd=package_root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"probe of {tree} failed: {done.stderr.strip()[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    if found["outside"]:
        raise BenchError(f"modules of {tree} load from elsewhere: {', '.join(found['outside'])}")
    if found["failed"]:  # the server may not need them; if it does, it fails to start and says why
        print(f"warning: modules of {tree} do not import: {'; '.join(found['failed'])}", file=sys.stderr)
    if not Path(found["catalog"]).resolve().is_relative_to(tree.resolve()):
        raise BenchError(f"the catalog of {tree} is read from {found['catalog']}")


async def measure_tree(label: str, revision: str, tree: Path) -> ServerCost:
    """Runs the server of `tree` (a checkout) over stdio with this interpreter and measures the session."""
    with package_dir(tree) as package_root, tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        probe(tree, package_root)
        data = tree / "data"
        params = StdioServerParameters(
            command=sys.executable,
            args=[
                "-m",
                "kpi_context.server.cli",
                "serve",
                "--data-dir",
                str(data),
                "--dataset",
                f"{DATASET}={data / 'sample_ledger.csv'}",
            ],
            env=_environment(package_root),
            cwd=package_root,  # `python -m` puts the working directory first on sys.path
        )
        try:
            return await measure_server(label, revision, params, errlog)
        except Exception as exc:
            causes = _leaves(exc)
            if not all(isinstance(cause, SERVER_FAILURES) for cause in causes):
                raise
            errlog.seek(0)
            stderr = errlog.read().strip()
            reason = "; ".join(repr(cause) for cause in causes)
            tail = "\n".join(stderr.splitlines()[-20:])
            raise BenchError(f"the {label} server failed ({reason}); the end of its stderr:\n{tail}") from exc


# What a server that exits, hangs or breaks the protocol looks like to the client.
SERVER_FAILURES = (MCPError, OSError, TimeoutError, anyio.BrokenResourceError, anyio.ClosedResourceError)


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, as task groups raise them."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


# --------------------------------------------------------------------------- report


def _ratio(current: int, baseline: int) -> str:
    return f"{current / baseline:.2f}" if baseline else "—"


def _mark(call: CallCost) -> str:
    return ("E" if call.is_error else " ") + ("!" if call.note else " ")


def report(baseline: ServerCost, current: ServerCost) -> str:
    lines = [
        f"context cost of a fixed board-prep session ({len(SCRIPT)} calls), characters",
        f"baseline = {baseline.revision}, current = {current.revision}; text = text content blocks, "
        "struct = structured content as compact JSON; E = is_error, ! = see notes",
        "",
        f"{'#':>2}  {'tool':<16}{'arguments':<46}{'base text':>10}{'cur text':>10}{'ratio':>7}"
        f"{'base struct':>12}{'cur struct':>11}{'ratio':>7}  b  c",
    ]
    for index, (old, new) in enumerate(zip(baseline.calls, current.calls, strict=True), start=1):
        summary = new.summary if len(new.summary) <= 45 else new.summary[:44] + "…"
        lines.append(
            f"{index:>2}  {new.tool:<16}{summary:<46}{old.text_chars:>10,}{new.text_chars:>10,}"
            f"{_ratio(new.text_chars, old.text_chars):>7}{old.structured_chars:>12,}{new.structured_chars:>11,}"
            f"{_ratio(new.structured_chars, old.structured_chars):>7}  {_mark(old)} {_mark(new)}"
        )
    lines += [
        f"{'':>2}  {'session total':<62}{baseline.text_total:>10,}{current.text_total:>10,}"
        f"{_ratio(current.text_total, baseline.text_total):>7}{baseline.structured_total:>12,}"
        f"{current.structured_total:>11,}{_ratio(current.structured_total, baseline.structured_total):>7}",
        "",
        f"{'tools/list (compact JSON)':<40}{'baseline':>10}{'current':>10}{'ratio':>7}",
    ]
    rows = [
        ("tools", baseline.tools.count, current.tools.count),
        ("total", baseline.tools.total_chars, current.tools.total_chars),
        ("  model-facing (name+title+desc+input)", baseline.tools.model_chars, current.tools.model_chars),
        ("  output schemas", baseline.tools.output_schema_chars, current.tools.output_schema_chars),
        ("initialize instructions", baseline.instructions_chars, current.instructions_chars),
        ("model context (instr+tools+text)", baseline.model_context_total, current.model_context_total),
    ]
    lines += [f"{name:<40}{old:>10,}{new:>10,}{_ratio(new, old):>7}" for name, old, new in rows]
    notes = [
        f"  {side} #{index} {call.key}: {call.note}"
        for side, cost in (("baseline", baseline), ("current", current))
        for index, call in enumerate(cost.calls, start=1)
        if call.note
    ]
    if notes:
        lines += ["", "notes:", *notes]
    lines += ["", f"expected refusals: {', '.join(f'#{i}' for i, step in enumerate(SCRIPT, 1) if step.refusal)}"]
    for side, cost in (("baseline", baseline), ("current", current)):
        unexpected = [
            f"#{i} {call.key} ({call.error or 'answered, a refusal was expected'})"
            for i, (step, call) in enumerate(zip(SCRIPT, cost.calls, strict=True), start=1)
            if call.is_error != step.refusal
        ]
        lines.append(f"unexpected outcomes, {side}: {'; '.join(unexpected) or 'none'}")
    skipped = sum(call.skipped for call in (*baseline.calls, *current.calls))
    lines.append(
        f"HEADLINE current/baseline session total (text): {_ratio(current.text_total, baseline.text_total)} "
        f"({current.text_total:,} / {baseline.text_total:,} chars); "
        f"structured: {_ratio(current.structured_total, baseline.structured_total)}"
    )
    if skipped:
        lines.append(f"warning: {skipped} call(s) skipped, so the totals are not like for like")
    return "\n".join(lines)


def figures(baseline: ServerCost, current: ServerCost) -> dict[str, Any]:
    def side(cost: ServerCost) -> dict[str, Any]:
        return {
            "revision": cost.revision,
            "instructions_chars": cost.instructions_chars,
            "tools": asdict(cost.tools),
            "session_text_chars": cost.text_total,
            "session_structured_chars": cost.structured_total,
            "model_context_chars": cost.model_context_total,
            "calls": [asdict(call) for call in cost.calls],
        }

    def ratio(current_value: int, baseline_value: int) -> float | None:
        return round(current_value / baseline_value, 4) if baseline_value else None

    return {
        "script": [{"key": step.key, "tool": step.tool, "summary": step.summary} for step in SCRIPT],
        "baseline": side(baseline),
        "current": side(current),
        "ratios": {
            "session_text": ratio(current.text_total, baseline.text_total),
            "session_structured": ratio(current.structured_total, baseline.structured_total),
            "tools_total": ratio(current.tools.total_chars, baseline.tools.total_chars),
            "tools_model": ratio(current.tools.model_chars, baseline.tools.model_chars),
            "model_context": ratio(current.model_context_total, baseline.model_context_total),
        },
    }


# --------------------------------------------------------------------------- main


async def run(rev: str) -> tuple[ServerCost, ServerCost]:
    with baseline_worktree(rev) as (tree, commit):
        baseline = await measure_tree("baseline", commit[:7], tree)
    current = await measure_tree("current", "working tree", REPO)
    return baseline, current


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--baseline", default=DEFAULT_BASELINE, metavar="REV", help="baseline commit (default %(default)s)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    try:
        baseline, current = anyio.run(run, args.baseline)
    except BenchError as exc:
        print(f"bench.context_cost: {exc}", file=sys.stderr)
        return 1
    print(report(baseline, current))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(figures(baseline, current), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
