"""Soak: 8 official MCP clients over streamable HTTP for ten minutes, the server's memory sampled throughout.

Starts `kpi-context serve --http` (sample ledger, signing secret) and runs `--clients` clients, each
opening a session, making `--calls-per-session` calls (lookups, computes from inputs, ledger values,
comparisons) and closing it, then opening the next, so session set-up and tear-down are soaked too.
The server's resident memory (RSS, with any worker processes) is sampled every `--sample-seconds`.

Reported: calls, calls/s, errors, sessions, ledger calls; the RSS samples (one a minute); and the
slope of a least-squares line through the samples of the second half of the run (the first half is
warm-up), in MB per minute, with its standard error. The samples are not independent: RSS swings
by ±10 MB with each ledger query in flight and drifts up and back down over minutes as the
allocator's arenas grow and shrink, so the standard error is a Newey–West (HAC) one that counts the
residuals' correlation over `--noise-window` seconds (one minute by default), not the naive
least-squares one. "Flat within noise" means the slope is within two such standard errors of zero;
otherwise the run reports GROWING (or SHRINKING). `--samples-out FILE` writes the samples as JSON.

`--diagnose` runs the server under a recorder (a wrapper in this file; the product is unchanged)
that samples the server's glibc malloc heap — bytes in use and bytes free but kept — and the count
of blocks Python's allocator holds; with `--tracemalloc` also its Python heap, snapshotted at the
middle and at the end of the run. At the end it asks the server to give free heap back to the
system (malloc_trim) and reports how much RSS that returned. Their slopes over the second half tell
where growth goes: Python objects (blocks, heap), malloc in use (native libraries: DuckDB's planner
and executor allocate there), malloc free but kept (fragmentation), or elsewhere. `--ledger-share 0`
replaces the ledger calls with computes from inputs, to see what the ledger path contributes.

Run: make bench-soak   (or python -m bench.soak --seconds 600 --clients 8 [--diagnose])
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import gc
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import anyio
import httpx
import psutil
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.support.servers import CLI, DATASET_ARGS, SECRET, free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[1]
LOOKUPS = ("ARR", "ACV", "net revenue retention", "CAC payback", "churn", "gross margin")
ACV = {"new_logo_contract_value": 1_240_000, "new_customers_signed": 20}
LEDGER_CALL = {"kpi": "sales.arr", "ledger": "sample", "as_of": "2026-09-30"}
SESSION_ERRORS = (
    MCPError,
    httpx.HTTPError,
    OSError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    ExceptionGroup,
)
"""How a session can fail on the wire: counted as an error, and the client opens the next session."""

PROBE_ENV = "KPI_SOAK_PROBE"
"""Where the diagnosed server writes its memory records (JSON lines); set only by this bench."""
TRACEMALLOC_FRAMES_ENV = "KPI_SOAK_TRACEMALLOC"
SNAPSHOT_SIGNAL = signal.SIGUSR1
TRIM_SIGNAL = signal.SIGUSR2


# --- statistics --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """A least-squares line through (seconds, MB) samples, per minute, with an autocorrelation-robust error."""

    slope: float
    """MB per minute."""
    stderr: float
    """Newey–West standard error of the slope, MB per minute."""
    naive_stderr: float
    """The textbook standard error, as if the samples were independent: how much it understates is the point."""
    residual_sd: float
    samples: int

    @property
    def verdict(self) -> str:
        if abs(self.slope) <= 2 * self.stderr:
            return "flat within noise"
        return "GROWING" if self.slope > 0 else "SHRINKING"


def fit(points: list[tuple[float, float]], window: float = 60.0) -> Fit:
    """Ordinary least squares through `points`, with a Newey–West error over lags up to `window` seconds.

    Bartlett weights 1 - lag/(L+1) for lags of at most L samples (L spans `window`): the usual choice,
    which keeps the variance estimate positive.
    """
    n = len(points)
    if n < 3:
        return Fit(0.0, math.inf, math.inf, 0.0, n)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if not sxx:
        return Fit(0.0, math.inf, math.inf, 0.0, n)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    residuals = [y - (my + slope * (x - mx)) for x, y in points]
    sse = sum(r * r for r in residuals)
    scores = [(x - mx) * r for x, r in zip(xs, residuals, strict=True)]
    step = (xs[-1] - xs[0]) / (n - 1)
    lags = min(n - 1, max(1, round(window / step))) if step > 0 else 1
    meat = sum(u * u for u in scores)
    for lag in range(1, lags + 1):
        weight = 1 - lag / (lags + 1)
        meat += 2 * weight * sum(a * b for a, b in zip(scores, scores[lag:], strict=False))
    hac = math.sqrt(max(meat, 0.0)) / sxx
    naive = math.sqrt(sse / (n - 2) / sxx)
    return Fit(60 * slope, 60 * max(hac, naive), 60 * naive, math.sqrt(sse / (n - 2)), n)


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    return fit(points).slope


# --- the diagnosed server (a wrapper around the real command; never used in production) ----------------


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _libc() -> Any:
    libc = ctypes.CDLL(None)
    if getattr(libc, "mallinfo2", None) is None:
        return None  # not glibc ≥ 2.33: the malloc figures are left out
    libc.mallinfo2.restype = _MallInfo2
    return libc


def _own_rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def serve_diagnosed(argv: list[str]) -> int:
    """`kpi-context` with `argv`, plus a thread recording the process's heaps to the file named by PROBE_ENV.

    SIGUSR1 dumps a tracemalloc snapshot next to that file (when tracing); SIGUSR2 runs a full collection
    and malloc_trim(0) and records RSS before and after, which is how much the allocator held free.
    """
    from kpi_context.server.cli import main as cli_main

    frames = int(os.environ.get(TRACEMALLOC_FRAMES_ENV) or 0)
    if frames:
        tracemalloc.start(frames)
    out = Path(os.environ[PROBE_ENV])
    every = float(os.environ.get("KPI_SOAK_PROBE_SECONDS", "2"))
    libc = _libc()
    wanted: list[str] = []
    wake = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        wanted.append("snapshot" if signum == SNAPSHOT_SIGNAL else "trim")
        wake.set()

    signal.signal(SNAPSHOT_SIGNAL, on_signal)
    signal.signal(TRIM_SIGNAL, on_signal)

    def record(extra: dict[str, Any]) -> None:
        # Blocks held by Python's own allocator: a count that grows with any leak of Python objects, cheap to read.
        line: dict[str, Any] = {
            "time": time.time(),
            "rss": _own_rss(),
            "python_blocks": sys.getallocatedblocks(),
            **extra,
        }
        if libc is not None:
            info = libc.mallinfo2()
            line["malloc_in_use"] = info.uordblks + info.hblkhd
            line["malloc_free"] = info.fordblks
        if frames:
            line["python_heap"] = tracemalloc.get_traced_memory()[0]
        with out.open("a") as sink:
            sink.write(json.dumps(line) + "\n")

    def recorder() -> None:
        snapshots = 0
        while True:
            wake.wait(every)
            wake.clear()
            while wanted:
                match wanted.pop(0):
                    case "snapshot" if frames:
                        gc.collect()
                        tracemalloc.take_snapshot().dump(f"{out}.{snapshots}.snapshot")
                        snapshots += 1
                    case "trim" if libc is not None:
                        gc.collect()
                        before = _own_rss()
                        libc.malloc_trim(0)
                        record({"trimmed_from": before})
            record({})

    threading.Thread(target=recorder, name="soak-recorder", daemon=True).start()
    return cli_main(argv)


@dataclass
class Probe:
    """The diagnosed server's records, read back after the run."""

    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)

    def read(self) -> None:
        if self.path.exists():
            self.records = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def series(self, key: str, since: float) -> list[tuple[float, float]]:
        return [(r["time"] - since, r[key] / 1e6) for r in self.records if key in r and "trimmed_from" not in r]

    def snapshots(self) -> list[Path]:
        return sorted(self.path.parent.glob(f"{self.path.name}.*.snapshot"))


# --- the soak ----------------------------------------------------------------------------------------------


def rss_mb(process: psutil.Process) -> float:
    """Resident memory of the server and its worker processes, in MB."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total / 1e6


async def _client(
    url: str, seed: int, deadline: float, steady_from: float, args: argparse.Namespace, tally: dict[str, Any]
) -> None:
    per_session, ledger_share = args.calls_per_session, args.ledger_share
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
                    elif draw < 0.9 - ledger_share or previous is None:
                        arguments = {"kpi": "sales.avg_contract_value", "inputs": ACV, "period": "2026-Q3"}
                        result = await client.call_tool("compute_kpi", {**arguments, "currency": "USD"})
                        previous = result.structured_content or previous
                    elif draw < 0.9:
                        result = await client.call_tool("compute_kpi", LEDGER_CALL)
                        tally["ledger_calls"] += 1
                        tally["steady_ledger_calls"] += time.monotonic() >= steady_from
                    else:
                        result = await client.call_tool("compare_metrics", {"left": previous, "right": previous})
                    tally["calls"] += 1
                    if result.is_error:
                        tally["errors"].append(str(result.content)[:200])
        except SESSION_ERRORS as exc:
            tally["errors"].append(f"{type(exc).__name__}: {exc}"[:200])


async def soak(
    url: str, server: psutil.Process, args: argparse.Namespace, *, halfway: Any = None
) -> tuple[dict[str, Any], list[tuple[float, float]], float]:
    """(tally, RSS samples as (seconds, MB), the monotonic start mapped to wall-clock time)."""
    tally: dict[str, Any] = {"calls": 0, "sessions": 0, "ledger_calls": 0, "steady_ledger_calls": 0, "errors": []}
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    wall_start = time.time()
    deadline = started + args.seconds

    async def sampler() -> None:
        signalled = False
        while time.monotonic() < deadline:
            samples.append((time.monotonic() - started, rss_mb(server)))
            if halfway is not None and not signalled and time.monotonic() - started >= args.warmup:
                halfway()
                signalled = True
            await anyio.sleep(args.sample_seconds)
        samples.append((time.monotonic() - started, rss_mb(server)))

    async with anyio.create_task_group() as group:
        group.start_soon(sampler)
        for seed in range(args.clients):
            group.start_soon(_client, url, seed, deadline, started + args.warmup, args, tally)
    return tally, samples, wall_start


def _start_server(args: argparse.Namespace, port: int, probe: Probe | None) -> subprocess.Popen[bytes]:
    serve = ["serve", "--http", "--port", str(port), *DATASET_ARGS, *args.server_arg]
    env = {**os.environ, "KPI_CONTEXT_SECRET": SECRET}
    for setting in args.server_env:
        name, _, value = setting.partition("=")
        env[name] = value
    command = [CLI, *serve]
    if probe is not None:
        env[PROBE_ENV] = str(probe.path)
        env["KPI_SOAK_PROBE_SECONDS"] = str(args.sample_seconds)
        if args.tracemalloc:
            env[TRACEMALLOC_FRAMES_ENV] = "12"
        code = "import sys; from bench.soak import serve_diagnosed; sys.exit(serve_diagnosed(sys.argv[1:]))"
        command = [sys.executable, "-c", code, *serve]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _line(name: str, result: Fit) -> str:
    return (
        f"{name}: {result.slope:+.3f} MB/min ± {result.stderr:.3f} (1 SE, Newey–West; {result.naive_stderr:.3f} if the "
        f"samples were independent; residual sd {result.residual_sd:.2f} MB, {result.samples} samples): {result.verdict}"
    )


def report(
    args: argparse.Namespace,
    tally: dict[str, Any],
    samples: list[tuple[float, float]],
    probe: Probe | None,
    wall: float,
) -> Fit:
    warmup = args.warmup
    steady = [p for p in samples if p[0] >= warmup] or samples
    rss = fit(steady, args.noise_window)
    second_half_ledger = tally["steady_ledger_calls"]
    print(
        f"soak: {args.clients} clients over HTTP, {args.seconds:.0f} s, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end (other jobs share the machine: timings are noisy)"
    )
    print(
        f"calls {tally['calls']}, {tally['calls'] / args.seconds:.1f} calls/s, sessions {tally['sessions']}, "
        f"ledger calls {tally['ledger_calls']}, errors {len(tally['errors'])}"
    )
    per_minute = [_nearest(samples, minute) for minute in range(0, int(args.seconds) + 1, 60)]
    print("RSS MB by minute: " + ", ".join(f"{t:.0f}s {mb:.1f}" for t, mb in per_minute))
    print(
        f"RSS MB: start {samples[0][1]:.1f}, after warm-up ({warmup:.0f} s) {steady[0][1]:.1f}, end {samples[-1][1]:.1f}, "
        f"peak {max(mb for _, mb in samples):.1f} ({len(samples)} samples every {args.sample_seconds:g} s)"
    )
    print(_line("RSS slope over the second half", rss))
    if rss.slope > 0 and second_half_ledger:
        # Context, not attribution: `--ledger-share 0` measures the same soak without ledger calls.
        grown = rss.slope * (args.seconds - warmup) / 60
        print(
            f"  = {rss.slope * 60:.0f} MB/hour; {grown * 1e3 / second_half_ledger:.1f} KB for each of the "
            f"{second_half_ledger} ledger calls after warm-up"
        )
    if probe is not None:
        probe.read()
        for key, name in (
            ("rss", "  server RSS (recorder)"),
            ("python_heap", "  Python heap (tracemalloc)"),
            ("malloc_in_use", "  malloc in use"),
            ("malloc_free", "  malloc free but kept"),
        ):
            # Records after the soak (the idle seconds before the server stops) are not part of the run.
            series = [p for p in probe.series(key, wall) if warmup <= p[0] <= args.seconds]
            if series:
                print(_line(name, fit(series, args.noise_window)))
        blocks = [p for p in probe.series("python_blocks", wall) if warmup <= p[0] <= args.seconds]
        if blocks:
            # series() scales to millions: the fit's "MB" here are millions of blocks.
            counted = fit(blocks, args.noise_window)
            print(
                f"  Python allocator blocks: {counted.slope * 1e6:+,.0f} blocks/min ± {counted.stderr * 1e6:,.0f} "
                f"(1 SE, Newey–West; {blocks[0][1] * 1e6:,.0f} blocks after warm-up): {counted.verdict}"
            )
        trims = [r for r in probe.records if "trimmed_from" in r]
        if trims:
            returned = (trims[-1]["trimmed_from"] - trims[-1]["rss"]) / 1e6
            print(f"  malloc_trim at the end returned {returned:.1f} MB of RSS to the system")
        _snapshot_diff(probe)
    for line in tally["errors"][:5]:
        print(f"  error: {line}")
    return rss


def _nearest(samples: list[tuple[float, float]], seconds: float) -> tuple[float, float]:
    return min(samples, key=lambda sample: abs(sample[0] - seconds))


def _snapshot_diff(probe: Probe) -> None:
    snapshots = probe.snapshots()
    if len(snapshots) < 2:
        return
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    first, last = (tracemalloc.Snapshot.load(str(path)).filter_traces(ignore) for path in (snapshots[0], snapshots[-1]))
    total = sum(s.size_diff for s in last.compare_to(first, "filename"))
    print(f"  Python heap between the middle and the end of the run: {total / 1e6:+.2f} MB; largest changes:")
    for stat in last.compare_to(first, "lineno")[:8]:
        print(f"    {stat}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calls-per-session", type=int, default=50)
    parser.add_argument("--sample-seconds", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=None, help="seconds left out of the slope (default: half)")
    parser.add_argument(
        "--noise-window", type=float, default=60.0, help="seconds over which samples count as correlated"
    )
    parser.add_argument("--samples-out", type=Path, default=None, help="write the RSS samples here as JSON")
    parser.add_argument("--ledger-share", type=float, default=0.1, help="share of calls that compute from the ledger")
    parser.add_argument("--server-arg", action="append", default=[], help="extra `serve` argument (repeatable)")
    parser.add_argument("--server-env", action="append", default=[], help="NAME=VALUE for the server (repeatable)")
    parser.add_argument("--diagnose", action="store_true", help="record the server's heaps (see above)")
    parser.add_argument("--tracemalloc", action="store_true", help="with --diagnose: trace the Python heap (slow)")
    args = parser.parse_args()
    if args.warmup is None:
        args.warmup = args.seconds / 2
    if not 0 <= args.ledger_share <= 0.5:
        parser.error("--ledger-share is between 0 and 0.5")
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        probe = Probe(Path(folder) / "probe.jsonl") if args.diagnose else None
        port = free_port()
        process = _start_server(args, port, probe)

        def halfway() -> None:
            process.send_signal(SNAPSHOT_SIGNAL)

        try:
            # Under tracemalloc the catalog loads several times slower.
            wait_until_serving(port, process, timeout=180 if args.tracemalloc else 30)
            run = functools.partial(
                soak,
                f"http://127.0.0.1:{port}/mcp",
                psutil.Process(process.pid),
                args,
                halfway=halfway if probe else None,
            )
            tally, samples, wall = anyio.run(run)
            if probe is not None:
                process.send_signal(SNAPSHOT_SIGNAL)
                process.send_signal(TRIM_SIGNAL)
                time.sleep(max(2 * args.sample_seconds, 10 if args.tracemalloc else 3))
        finally:
            process.terminate()
            process.wait(timeout=15)
        if args.samples_out is not None:
            args.samples_out.write_text(json.dumps({"seconds": args.seconds, "rss_mb": samples}))
        report(args, tally, samples, probe, wall)


if __name__ == "__main__":
    main()
