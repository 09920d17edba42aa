"""The official MCP Inspector CLI against the real server, over stdio and over streamable HTTP.

The Inspector validates a tool's structured content against its output schema even when the
result is an error, so it is the strictest client we know of: any schema complaint it prints,
for a success or for a refusal, fails these tests. `scripts/install_inspector.sh` puts it (and
the Node 22 it needs) in .tools/node/; the first test to need it runs the script, which returns
at once when the pinned versions are already there. Off CI a failed install (no network, no
npm) skips these tests; on CI (`CI=true`) it fails them.

In CLI mode (`--format json`) the Inspector prints `{"result": <CallToolResult>}` on stdout and
exits 0; a result with `isError: true` is printed the same way and exits 5 with a
`tool_is_error` envelope on stderr; a protocol or schema failure prints only an error envelope
on stderr and exits 1.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mcp.types import CallToolResult

from kpi_context.ontology.catalog import Catalog
from tests.server.conftest import memory_client
from tests.support.results import outcome
from tests.support.servers import CLI, DATASET_ARGS, SECRET, RunningServer

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "scripts" / "install_inspector.sh"
NODE = ROOT / ".tools" / "node" / "bin" / "node"
INSPECTOR = ROOT / ".tools" / "node" / "bin" / "mcp-inspector"
ON_CI = os.environ.get("CI", "").lower() in {"true", "1"}

EXIT_OK = 0
EXIT_TOOL_ERROR = 5  # the Inspector's exit status for a result with `isError: true`
# What the Inspector (its own check, or the SDK client's) says when structured content does not
# fit the output schema: "Structured content does not match the tool's output schema: …",
# "Tool … declares an output schema but returned no structured content", or Ajv's bare
# "data must have required property 'kpi', …, data must NOT have additional properties".
SCHEMA_COMPLAINT = re.compile(r"output schema|structured content|\bdata(/\S*)? must\b", re.IGNORECASE)

ACV_Q3 = {
    "kpi": "sales.avg_contract_value",
    # First contracts signed in Q3 worth 1,240,000 a year across 20 new customers: 1,240,000 ÷ 20 = 62,000.
    "inputs": {"new_logo_contract_value": 1_240_000, "new_customers_signed": 20},
    "period": "2026-Q3",
    "currency": "USD",
}
ARR = {"kpi": "sales.arr", "inputs": {"sales.arr": 10_000_000}, "as_of": "2026-09-30", "currency": "USD"}
# For the comparison only the two bindings matter, so the ACV is reported rather than computed
# from its parts: the test then does not depend on how the catalog's ACV formula names its inputs.
ACV_REPORTED = {
    "kpi": "sales.avg_contract_value",
    "inputs": {"sales.avg_contract_value": 62_000},
    "period": "2026-Q3",
    "currency": "USD",
}


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    def complaints(self) -> list[str]:
        """Lines of the Inspector's own output that object to a result's schema.

        The result itself (KPI prose included) is left out: only what the Inspector adds is read.
        """
        own = self.stderr.splitlines()
        try:
            printed = json.loads(self.stdout)
        except json.JSONDecodeError:
            own += self.stdout.splitlines()
        else:
            if isinstance(printed, dict):
                own += [json.dumps(value) for key, value in printed.items() if key != "result"]
        return [line for line in own if SCHEMA_COMPLAINT.search(line)]

    def result(self) -> CallToolResult:
        printed = json.loads(self.stdout)
        return CallToolResult.model_validate(printed["result"])

    def envelope(self) -> dict[str, Any]:
        """The Inspector's `{"error": …}` envelope: its last JSON line on stderr."""
        for line in reversed(self.stderr.splitlines()):
            if line.startswith('{"error"'):
                found: dict[str, Any] = json.loads(line)["error"]
                return found
        raise AssertionError(f"no error envelope on stderr: {self.stderr}")


@dataclass(frozen=True)
class Inspector:
    home: Path

    def call(self, target: Sequence[str], tool: str, arguments: dict[str, Any]) -> Run:
        """`tools/call` through the Inspector CLI, the arguments passed verbatim as one JSON object."""
        done = subprocess.run(
            [
                str(NODE),
                str(INSPECTOR),
                "--cli",
                "--format",
                "json",
                # A stdio server loads the catalog before it answers; on a busy machine that can
                # take longer than the Inspector's default 15 s.
                "--connect-timeout",
                "90000",
                *target,
                "--method",
                "tools/call",
                "--tool-name",
                tool,
                "--tool-args-json",
                json.dumps(arguments),
            ],
            # Its catalog, client config and secrets go to a throwaway home, never the user's.
            env={**os.environ, "HOME": str(self.home), "NO_PROXY": "127.0.0.1,localhost", "NO_COLOR": "1"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Run(done.returncode, done.stdout, done.stderr)


def succeeded(run: Run) -> dict[str, Any]:
    """The payload of a successful call, after checking the Inspector accepted it as it is."""
    assert not run.complaints(), run.complaints()
    assert run.returncode == EXIT_OK, run.stderr
    is_error, payload = outcome(run.result())
    assert not is_error, payload
    return payload


def refused(run: Run) -> dict[str, Any]:
    """The `error` object of a refused call, after checking the Inspector reported it as a tool error only."""
    assert not run.complaints(), run.complaints()
    assert run.returncode == EXIT_TOOL_ERROR, run.stderr
    assert run.envelope()["code"] == "tool_is_error"
    is_error, payload = outcome(run.result())
    assert is_error, payload
    error: dict[str, Any] = payload["error"]
    return error


@pytest.fixture(scope="module")
def inspector(tmp_path_factory: pytest.TempPathFactory) -> Inspector:
    try:
        done = subprocess.run([str(INSTALLER)], capture_output=True, text=True, timeout=900, check=False)
        failure = None if done.returncode == 0 else f"exit status {done.returncode}:\n{done.stderr}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        failure = str(exc)
    if failure is not None:
        message = f"could not install the MCP Inspector with {INSTALLER.relative_to(ROOT)}: {failure}"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)
    return Inspector(tmp_path_factory.mktemp("inspector-home"))


@pytest.fixture(scope="module", params=["stdio", "http"])
def target(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """How the Inspector reaches the server: a command it launches, or the URL of the HTTP server."""
    if request.param == "stdio":
        # The Inspector hands a stdio server only a few safe variables; the secret is passed
        # explicitly so values signed in this test process verify there.
        yield ["-e", f"KPI_CONTEXT_SECRET={SECRET}", "--transport", "stdio", CLI, "serve", *DATASET_ARGS]
    else:
        server: RunningServer = request.getfixturevalue("http_server")
        yield ["--transport", "http", "--server-url", server.url]


@pytest.fixture(scope="module")
def acv_and_arr(catalog: Catalog) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new-logo ACV and a company ARR, computed through the official Python client."""

    async def compute() -> tuple[dict[str, Any], dict[str, Any]]:
        async with memory_client(catalog)() as client:
            acv = outcome(await client.call_tool("compute_kpi", ACV_REPORTED))
            arr = outcome(await client.call_tool("compute_kpi", ARR))
        assert not acv[0] and not arr[0], (acv, arr)
        return acv[1], arr[1]

    acv, arr = asyncio.run(compute())
    assert (acv["status"], arr["status"]) == ("reported", "reported")
    return acv, arr


@pytest.fixture(scope="module")
def runs(inspector: Inspector, target: list[str]) -> dict[str, Run]:
    """The calls of this module that need no prior result, run at once: each stdio call starts its own server."""
    calls = {
        "lookup": ("lookup_kpi", {"query": "sales.arr"}),
        "compute": ("compute_kpi", ACV_Q3),
        "unknown_kpi": ("compute_kpi", {"kpi": "sales.zzqx_not_a_kpi"}),
        "unknown_term": ("lookup_kpi", {"query": "zzqx flurb"}),
        "series": (
            "kpi_series",
            {"kpi": "sales.arr", "ledger": "sample", "start": "2026-Q1", "end": "2026-Q3", "every": "quarter"},
        ),
        "pack": ("board_pack", {"period": "2026-Q3", "ledger": "sample", "currency": "USD"}),
    }
    with ThreadPoolExecutor(max_workers=min(len(calls), os.cpu_count() or 1)) as pool:
        started = {name: pool.submit(inspector.call, target, tool, args) for name, (tool, args) in calls.items()}
    return {name: future.result() for name, future in started.items()}


def test_lookup_by_id_succeeds_without_complaint(runs: dict[str, Run]) -> None:
    result = succeeded(runs["lookup"])
    assert result["exact"] is True
    assert result["matches"][0]["id"] == "sales.arr"


def test_compute_from_inputs_succeeds_without_complaint(runs: dict[str, Run]) -> None:
    # 1,240,000 new-business ARR ÷ 20 new logos = 62,000 per new customer.
    value = succeeded(runs["compute"])
    assert Decimal(value["value"]) == Decimal("62000")
    assert value["period"] == {"start": "2026-07-01", "end": "2026-09-30"}
    assert value["provenance"]["signature"]


def test_a_series_succeeds_without_complaint(runs: dict[str, Run]) -> None:
    series = succeeded(runs["series"])
    assert [point["period"] for point in series["points"]] == ["Q1 2026", "Q2 2026", "Q3 2026"]


def test_a_board_pack_succeeds_without_complaint(runs: dict[str, Run]) -> None:
    # Without finance inputs the finance half is listed as not computable, never guessed.
    pack = succeeded(runs["pack"])
    assert pack["items"][0]["kpi"] == "sales.arr"
    assert {entry["kpi"] for entry in pack["not_computable"]} >= {"finance.runway_months"}


def test_an_unknown_kpi_is_refused_as_not_found_without_complaint(runs: dict[str, Run]) -> None:
    error = refused(runs["unknown_kpi"])
    assert (error["code"], error["field"]) == ("not_found", "kpi")
    assert error["details"]["suggestions"]


def test_an_unknown_term_is_refused_as_not_found_without_complaint(runs: dict[str, Run]) -> None:
    error = refused(runs["unknown_term"])
    assert (error["code"], error["field"]) == ("not_found", "query")


def test_acv_against_arr_is_refused_as_unsafe_without_complaint(
    inspector: Inspector, target: list[str], acv_and_arr: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    acv, arr = acv_and_arr
    error = refused(inspector.call(target, "compare_metrics", {"left": acv, "right": arr}))
    assert error["code"] == "unsafe_comparison"
    assert error["comparable"] is False
    assert {"grain.level", "grain.aggregation"} <= {m["axis"] for m in error["mismatches"]}
    assert error["remedies"]
