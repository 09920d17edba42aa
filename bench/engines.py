"""ARR, NRR and the ARR bridge on DuckDB, PostgreSQL and Spark: the same generated ledger, the same run.

The ledger (1,000,000 lines by default) is served three ways: a CSV file read by DuckDB, a
PostgreSQL table (every column text, as the CSV is), and a Parquet file read by Spark in local
mode. Each KPI is computed with `compute_from_ledger` on each engine; all three values must agree.

Seconds per call:
- DuckDB cold: the first call on the file (reads and checks every row, then keeps the checked table);
  DuckDB warm: a later call, served from that table.
- PostgreSQL checks the table on every call, inside the engine (nothing is kept between calls: the table
  may change), so each of its calls is a cold call; the best of `--repeat` is kept.
- Spark cold: a call on a Parquet dataset not yet warm (the warm datasets are emptied before each), best of
  `--repeat`; Spark warm: a later call, served by the dataset's warm session and tables (`spark_cache`).
Ratios are to DuckDB cold (like for like: every row read and checked) and to DuckDB warm.

Peak memory is each engine's own, sampled every 50 ms: the benchmark process for DuckDB (in-process), the
PostgreSQL backend serving the calls, and the Spark JVM (driver and executors in local mode).

    python -m bench.engines                     # 1,000,000 lines; starts a throwaway PostgreSQL server
    python -m bench.engines --lines 100000 --engines duckdb postgresql
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import duckdb
import psutil

from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.context import ToolContext
from kpi_context.tools.ledger import spark_cache
from kpi_context.tools.ledger.engine import compute_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.values import Engine
from tests.support.engines import running_postgres

REPO = Path(__file__).resolve().parents[1]
KPIS = {
    "arr": ("sales.arr", "2025-Q4"),
    "nrr": ("customers.net_revenue_retention", "2025-Q4"),
    "bridge": ("sales.net_new_arr", "2025"),
}
"""Each KPI and its period (ARR at the period's close): the figures of `make bench-ledger`."""


class PeakSampler:
    """The largest RSS seen, every 50 ms, of the processes `find` returns (summed)."""

    def __init__(self, find: Callable[[], list[psutil.Process]]) -> None:
        self.find, self.peak, self._stop = find, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for process in self.find():
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            time.sleep(0.05)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _java_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "java" in p.name()]


def _postgres_backends(port: int) -> Callable[[], list[psutil.Process]]:
    def find() -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["name", "cmdline"]):
            line = " ".join(process.info.get("cmdline") or [])
            if process.info.get("name") == "postgres" and "127.0.0.1" in line and "idle" not in line:
                found.append(process)
        return found

    return find


def _call(context: ToolContext, registry: DatasetRegistry, dataset: str, kpi: str) -> tuple[Decimal, float]:
    ref, period = KPIS[kpi]
    started = time.perf_counter()
    value = compute_from_ledger(context, ref, dataset, datasets=registry, period=period)
    assert value.value is not None
    return value.value, time.perf_counter() - started


@contextmanager
def _ledger(lines: int) -> Iterator[tuple[Path, Path]]:
    with tempfile.TemporaryDirectory(prefix="engines-bench-") as tmp:
        csv_path, parquet = Path(tmp) / "ledger.csv", Path(tmp) / "ledger.parquet"
        generator = REPO / "scripts" / "generate_ledger.py"
        subprocess.run([sys.executable, str(generator), "--lines", str(lines), "--out", str(csv_path)], check=True)
        duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv_path}', all_varchar = true)) TO '{parquet}' (FORMAT parquet)")
        yield csv_path, parquet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ARR, NRR and the bridge on DuckDB, PostgreSQL and Spark")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="calls per KPI on PostgreSQL and Spark (best kept)")
    parser.add_argument("--engines", nargs="+", default=[e.value for e in Engine], choices=[e.value for e in Engine])
    args = parser.parse_args(argv)
    # A bench stopped with SIGTERM (a timeout, `kill`) still stops its PostgreSQL server and removes its files:
    # the signal becomes an exit, so the `with` blocks below unwind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    engines = [Engine(e) for e in args.engines]
    context = ToolContext.create(load_catalog())
    seconds: dict[tuple[str, str], float] = {}
    peaks: dict[str, float] = {}
    values: dict[str, set[Decimal]] = {kpi: set() for kpi in KPIS}
    with _ledger(args.lines) as (csv_path, parquet), running_postgres() as postgres:
        specs = [f"duckdb={csv_path}", f"spark=spark://local[2]?path={parquet.name}"]
        if Engine.POSTGRESQL in engines:
            postgres.load_csv("contract_lines", csv_path)
            specs.append(f"postgresql={postgres.url('contract_lines')}")
        registry = DatasetRegistry.from_cli(csv_path.parent, specs)
        for engine in engines:
            match engine:
                case Engine.DUCKDB:
                    sampler = PeakSampler(lambda: [psutil.Process()])
                case Engine.POSTGRESQL:
                    sampler = PeakSampler(_postgres_backends(postgres.port))
                case Engine.SPARK:
                    from kpi_context.tools.ledger.remote import spark_session

                    spark_session("local[2]")  # the JVM starts before the clock does, as in a running server
                    sampler = PeakSampler(_java_children)
            with sampler:
                for kpi in KPIS:
                    if engine is Engine.DUCKDB:
                        # A new registry has an empty store: its first call reads and checks the file.
                        fresh = DatasetRegistry.from_cli(csv_path.parent, specs)
                        value, seconds[("duckdb-cold", kpi)] = _call(context, fresh, "duckdb", kpi)
                        warm = [_call(context, registry, "duckdb", kpi) for _ in range(3)]
                        seconds[("duckdb-warm", kpi)] = min(s for _, s in warm)
                    elif engine is Engine.SPARK:
                        runs = []
                        for _ in range(args.repeat):
                            spark_cache.DATASETS.clear()
                            runs.append(_call(context, registry, "spark", kpi))
                        value, seconds[("spark", kpi)] = runs[0][0], min(s for _, s in runs)
                        warm = [_call(context, registry, "spark", kpi) for _ in range(args.repeat)]
                        seconds[("spark-warm", kpi)] = min(s for _, s in warm)
                    else:
                        runs = [_call(context, registry, engine.value, kpi) for _ in range(args.repeat)]
                        value, seconds[(engine.value, kpi)] = runs[0][0], min(s for _, s in runs)
                    values[kpi].add(value)
                    # Progress as it goes: a million lines on Spark takes minutes per call.
                    taken = {k[0]: v for k, v in seconds.items() if k[1] == kpi}
                    print(f"  {engine.value} {kpi}: {taken} -> {value}", file=sys.stderr, flush=True)
            peaks[engine.value] = sampler.peak / 2**20
    columns = [
        c
        for c in ("duckdb-cold", "duckdb-warm", "postgresql", "spark", "spark-warm")
        if any(k[0] == c for k in seconds)
    ]
    print(
        f"\n{args.lines:,} lines; seconds per call (PostgreSQL, Spark: best of {args.repeat}; cold calls check every row)"
    )
    print(f"{'KPI':<8}" + "".join(f"{c:>13}" for c in columns) + "  value")
    for kpi in KPIS:
        agree = "" if len(values[kpi]) == 1 else f"  DISAGREE {sorted(values[kpi])}"
        shown = next(iter(values[kpi]))
        print(f"{kpi:<8}" + "".join(f"{seconds[(c, kpi)]:>13.2f}" for c in columns) + f"  {shown}{agree}")
    print("\nratios to DuckDB (cold: every row read and checked, as on the other engines; warm: cached table)")
    print(f"{'KPI':<8}" + "".join(f"{e + ' / cold':>18}{e + ' / warm':>18}" for e in columns[2:]))
    for kpi in KPIS:
        cold, warm = seconds[("duckdb-cold", kpi)], seconds[("duckdb-warm", kpi)]
        row = "".join(f"{seconds[(e, kpi)] / cold:>17.1f}x{seconds[(e, kpi)] / warm:>17.1f}x" for e in columns[2:])
        print(f"{kpi:<8}{row}")
    print("\npeak memory of each engine, MB: " + ", ".join(f"{e} {mb:,.0f}" for e, mb in peaks.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
