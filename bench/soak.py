"""Soak: 8 official MCP clients over streamable HTTP for ten minutes, the server's memory sampled throughout.

Starts `kpi-context serve --http` (sample ledger, signing secret) and runs `--clients` clients, each
opening a session, making `--calls-per-session` calls (lookups, computes from inputs, ledger values,
comparisons) and closing it, then opening the next, so session set-up and tear-down are soaked too.
The server's resident memory (RSS, with any worker processes) is sampled every `--sample-seconds`.
Reported: calls, calls/s, errors, sessions opened, RSS at start / end / peak and the slope of a
least-squares line through the samples after the first `--warmup` seconds, in MB per minute and
as a ratio to the post-warm-up starting RSS per hour. "Flat within noise" means the line's drift
over the run is no larger than twice the standard deviation of the samples around it.

Run: make bench-soak   (or python -m bench.soak --seconds 600 --clients 8)
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import time
from typing import Any

import anyio
import psutil
from mcp import Client

from tests.support.servers import CLI, DATASET_ARGS, SECRET, free_port, wait_until_serving

LOOKUPS = ("ARR", "ACV", "net revenue retention", "CAC payback", "churn", "gross margin")
ACV = {"new_logo_contract_value": 1_240_000, "new_customers_signed": 20}


def rss_mb(process: psutil.Process) -> float:
    """Resident memory of the server and its worker processes, in MB."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total / 1e6


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


async def _client(url: str, seed: int, deadline: float, per_session: int, tally: dict[str, Any]) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        try:
            async with Client(url) as client:
                tally["sessions"] += 1
                previous: dict[str, Any] | None = None
                for _ in range(per_session):
                    if time.monotonic() >= deadline:
                        break
                    draw = rng.random()
                    if draw < 0.4:
                        result = await client.call_tool("lookup_kpi", {"query": rng.choice(LOOKUPS)})
                    elif draw < 0.8 or previous is None:
                        arguments = {"kpi": "sales.avg_contract_value", "inputs": ACV, "period": "2026-Q3"}
                        result = await client.call_tool("compute_kpi", {**arguments, "currency": "USD"})
                        previous = result.structured_content or previous
                    elif draw < 0.9:
                        result = await client.call_tool(
                            "compute_kpi", {"kpi": "sales.arr", "ledger": "sample", "as_of": "2026-09-30"}
                        )
                    else:
                        result = await client.call_tool("compare_metrics", {"left": previous, "right": previous})
                    tally["calls"] += 1
                    if result.is_error:
                        tally["errors"].append(str(result.content)[:200])
        except Exception as exc:  # noqa: BLE001 — counted, never raised: the soak goes on
            tally["errors"].append(f"{type(exc).__name__}: {exc}"[:200])


async def soak(url: str, server: psutil.Process, args: argparse.Namespace) -> tuple[dict[str, Any], list]:
    tally: dict[str, Any] = {"calls": 0, "sessions": 0, "errors": []}
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    deadline = started + args.seconds

    async def sampler() -> None:
        while time.monotonic() < deadline:
            samples.append((time.monotonic() - started, rss_mb(server)))
            await anyio.sleep(args.sample_seconds)
        samples.append((time.monotonic() - started, rss_mb(server)))

    async with anyio.create_task_group() as group:
        group.start_soon(sampler)
        for seed in range(args.clients):
            group.start_soon(_client, url, seed, deadline, args.calls_per_session, tally)
    return tally, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calls-per-session", type=int, default=50)
    parser.add_argument("--sample-seconds", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=None, help="seconds left out of the slope (default 10%%)")
    parser.add_argument("--server-arg", action="append", default=[], help="extra `serve` argument (repeatable)")
    args = parser.parse_args()
    warmup = args.warmup if args.warmup is not None else args.seconds / 10
    port = free_port()
    process = subprocess.Popen(
        [CLI, "serve", "--http", "--port", str(port), *DATASET_ARGS, *args.server_arg],
        env={**os.environ, "KPI_CONTEXT_SECRET": SECRET},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_serving(port, process)
        tally, samples = anyio.run(soak, f"http://127.0.0.1:{port}/mcp", psutil.Process(process.pid), args)
    finally:
        process.terminate()
        process.wait(timeout=15)
    steady = [p for p in samples if p[0] >= warmup] or samples
    values = [mb for _, mb in steady]
    slope = slope_per_minute(steady)
    fit_mean_x, fit_mean_y = statistics.fmean(t for t, _ in steady), statistics.fmean(values)
    residuals = [mb - (fit_mean_y + slope / 60 * (t - fit_mean_x)) for t, mb in steady]
    noise = 2 * statistics.pstdev(residuals) if len(residuals) > 1 else 0.0
    drift = slope * (steady[-1][0] - steady[0][0]) / 60
    print(f"soak: {args.clients} clients over HTTP, {args.seconds:.0f} s, {os.cpu_count()} cores")
    print(
        f"calls {tally['calls']}, {tally['calls'] / args.seconds:.1f} calls/s, sessions {tally['sessions']}, "
        f"errors {len(tally['errors'])}"
    )
    print(
        f"RSS MB: start {samples[0][1]:.1f}, after warm-up ({warmup:.0f} s) {steady[0][1]:.1f}, end {samples[-1][1]:.1f}, "
        f"peak {max(mb for _, mb in samples):.1f} ({len(samples)} samples)"
    )
    print(
        f"slope after warm-up: {slope:+.3f} MB/min ({slope * 60 / steady[0][1] * 100:+.2f} % of the post-warm-up RSS "
        f"per hour); fitted drift over the run {drift:+.1f} MB against noise (2 sd of residuals) {noise:.1f} MB: "
        f"{'flat within noise' if abs(drift) <= noise else 'GROWING'}"
    )
    for line in tally["errors"][:5]:
        print(f"  error: {line}")


if __name__ == "__main__":
    main()
