"""Load: many official MCP clients over streamable HTTP on 127.0.0.1, for a bounded time.

Starts `kpi-context serve --http` (with the sample ledger and a signing secret) and runs
`--clients` official clients, spread over `--client-procs` processes so the clients' own
CPU cost does not serialise on one event loop. Every client loops over the workload below
until `--seconds` have passed, one call at a time. Reported: calls/s, p50/p90/p99 per tool,
errors (an `is_error` result, an exception or a timeout all count), and whether the target
holds: p99 ≤ 1 s for lookups and computes from inputs, 0 errors.

Run: make bench-load   (or python -m bench.load --clients 32 --seconds 60 --workers 2)
With `--workers N` (N > 0) the single-process server is measured first in the same run, as the baseline
the multi-process figures are compared with; `--workers 0` measures only the single process.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import anyio
import httpx
from mcp import Client

from tests.support.servers import CLI, DATASET_ARGS, SECRET, free_port, wait_until_serving

TARGET_P99_S = 1.0
TARGET_TOOLS = ("lookup_kpi", "compute_kpi[inputs]")

LOOKUPS = ("ARR", "ACV", "net revenue retention", "CAC payback", "gross margin", "sales.arr", "churn", "burn multiple")
COMPUTES: tuple[dict[str, Any], ...] = (
    {
        "kpi": "sales.avg_contract_value",
        "inputs": {"new_logo_contract_value": 1_240_000, "new_customers_signed": 20},
        "period": "2026-Q3",
        "currency": "USD",
    },
    {
        "kpi": "sales.avg_contract_value",
        "inputs": {"new_logo_contract_value": 1_000_000, "new_customers_signed": 20},
        "period": "2026-Q2",
        "currency": "USD",
    },
)
LEDGER_CALL = {"kpi": "sales.arr", "ledger": "sample", "as_of": "2026-09-30"}
"""A ledger computation, counted separately: it is not part of the latency target (cached after the first call)."""


def _workload(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    """(label, tool, arguments): mostly lookups and computes from inputs, some ledger values."""
    draw = rng.random()
    if draw < 0.45:
        return "lookup_kpi", "lookup_kpi", {"query": rng.choice(LOOKUPS)}
    if draw < 0.9:
        return "compute_kpi[inputs]", "compute_kpi", dict(rng.choice(COMPUTES))
    return "compute_kpi[ledger]", "compute_kpi", dict(LEDGER_CALL)


async def _one_client(url: str, seed: int, deadline: float, samples: dict[str, list[float]], errors: list[str]) -> None:
    rng = random.Random(seed)
    try:
        async with Client(url) as client:
            while time.monotonic() < deadline:
                label, tool, arguments = _workload(rng)
                started = time.perf_counter()
                try:
                    with anyio.fail_after(30):
                        result = await client.call_tool(tool, arguments)
                except Exception as exc:  # noqa: BLE001 — every failure is counted, never raised
                    errors.append(f"{label}: {type(exc).__name__}: {exc}"[:200])
                    continue
                samples.setdefault(label, []).append(time.perf_counter() - started)
                if result.is_error:
                    errors.append(f"{label}: is_error {str(result.content)[:160]}")
    except Exception as exc:  # noqa: BLE001
        errors.append(f"session: {type(exc).__name__}: {exc}"[:200])


def _client_process(url: str, seeds: list[int], deadline_in: float) -> tuple[dict[str, list[float]], list[str]]:
    samples: dict[str, list[float]] = {}
    errors: list[str] = []

    async def main() -> None:
        deadline = time.monotonic() + deadline_in
        async with anyio.create_task_group() as group:
            for seed in seeds:
                group.start_soon(_one_client, url, seed, deadline, samples, errors)

    anyio.run(main)
    return samples, errors


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0–100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def start_server(workers: int, extra: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    args = [CLI, "serve", "--http", "--port", str(port), *DATASET_ARGS, *extra]
    if workers > 0:
        args += ["--workers", str(workers)]
    process = subprocess.Popen(
        args,
        env={**os.environ, "KPI_CONTEXT_SECRET": SECRET},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_serving(port, process)
    _wait_for_workers(port, max(workers, 1))
    return process, f"http://127.0.0.1:{port}/mcp"


def _wait_for_workers(port: int, workers: int, timeout: float = 120) -> None:
    """The parent listens before its workers have loaded the catalog: wait until `workers` pids answer /healthz."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < workers and time.monotonic() < deadline:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            if answer.status_code == 200:
                seen.add(int(answer.json().get("pid", 0)))
        except httpx.HTTPError:
            time.sleep(0.2)
    if len(seen) < workers:
        raise RuntimeError(f"only {len(seen)} of {workers} workers answered /healthz within {timeout:.0f} s")


def measure(
    clients: int, seconds: float, workers: int, client_procs: int, extra: list[str]
) -> tuple[dict[str, list[float]], list[str], float]:
    process, url = start_server(workers, extra)
    try:
        seeds = list(range(clients))
        shares = [seeds[i::client_procs] for i in range(client_procs)]
        started = time.monotonic()
        with ProcessPoolExecutor(max_workers=client_procs) as pool:
            futures = [pool.submit(_client_process, url, share, seconds) for share in shares if share]
            outcomes = [future.result() for future in futures]
        elapsed = time.monotonic() - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    samples: dict[str, list[float]] = {}
    errors: list[str] = []
    for part, failed in outcomes:
        for label, values in part.items():
            samples.setdefault(label, []).extend(values)
        errors += failed
    return samples, errors, elapsed


def report(
    clients: int, seconds: float, workers: int, samples: dict[str, list[float]], errors: list[str], elapsed: float
) -> tuple[float, float]:
    """Print one run's figures; returns (calls/s, worst p99 of the target tools in seconds)."""
    total = sum(len(v) for v in samples.values())
    mode = f"--workers {workers}" if workers > 0 else "single process"
    print(f"load: {clients} clients over HTTP, {seconds:.0f} s, server {mode}, {os.cpu_count()} cores")
    print(f"calls {total}, {total / elapsed:.1f} calls/s, errors {len(errors)}")
    print(f"{'tool':<22}{'calls':>8}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for label in sorted(samples):
        values = samples[label]
        print(
            f"{label:<22}{len(values):>8}{percentile(values, 50) * 1000:>10.0f}{percentile(values, 90) * 1000:>10.0f}"
            f"{percentile(values, 99) * 1000:>10.0f}{max(values) * 1000:>10.0f}"
        )
    for line in errors[:5]:
        print(f"  error: {line}")
    worst = max((percentile(samples[t], 99) for t in TARGET_TOOLS if samples.get(t)), default=math.inf)
    held = worst <= TARGET_P99_S and not errors
    print(
        f"target p99 ≤ {TARGET_P99_S:.0f} s for {', '.join(TARGET_TOOLS)} and 0 errors: {'met' if held else 'MISSED'}"
    )
    return total / elapsed, worst


def run(clients: int, seconds: float, workers: int, client_procs: int, extra: list[str], baseline: bool) -> int:
    if baseline and workers > 0:
        base_rate, base_p99 = report(clients, seconds, 0, *measure(clients, seconds, 0, client_procs, extra))
        print()
    samples, errors, elapsed = measure(clients, seconds, workers, client_procs, extra)
    rate, worst = report(clients, seconds, workers, samples, errors, elapsed)
    if baseline and workers > 0:
        print(
            f"against the single-process baseline of this run: calls/s {rate / base_rate:.2f}x, "
            f"worst target p99 {worst / base_p99:.2f}x"
        )
    return 0 if worst <= TARGET_P99_S and not errors else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes; 0 = single process")
    parser.add_argument("--client-procs", type=int, default=2, help="processes the clients are spread over")
    parser.add_argument("--server-arg", action="append", default=[], help="extra `serve` argument (repeatable)")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the single-process run measured first as the baseline"
    )
    args = parser.parse_args()
    sys.exit(run(args.clients, args.seconds, args.workers, args.client_procs, args.server_arg, not args.no_baseline))


if __name__ == "__main__":
    main()
