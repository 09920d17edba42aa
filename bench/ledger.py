"""Ledger engine benchmark: ARR, NRR and the ARR bridge on a generated 1,000,000-line ledger.

Four implementations compute the same figures over the same file, in the same run, and must agree
to the cent:
- the engine, `compute_from_ledger` on a named dataset;
- the first floor: one hand-written DuckDB query per KPI, types guessed by the reader, no validation;
- the exact floor, made like for like: the file read with declared types, the ledger's validity
  rules as a filter, exact DECIMAL money and a term line's rate divided on integers;
- a straightforward pure-Python implementation (csv module, Decimal), streaming the file.

Cold: the first call on the file, one fresh process each (so its peak RSS is its own), the engine
and both floors interleaved, best of --repeat. Warm: in one process the engine (after its first
call) and both floors (on tables loaded from the file, the exact one holding validated typed rows)
are alternated, best of WARM_RUNS calls: the machine is shared, so they meet the same load.
Targets: warm ≤ 1.0× and cold ≤ 2.0× the exact floor, pure Python ≥ 30× the engine warm, peak
RSS ≤ 1 GB.

A series line compares a 24-month ARR series with the same 24 single calls, warm (target ≤ 0.2×,
every point equal to its single value), and the board pack with its single calls. The scaling
table runs the engine alone at each of --sizes (first call, warm ARR, NRR and bridge, peak RSS).
Generated ledgers are kept under data/generated/ (gitignored) and reused.

    python -m bench.ledger                              # 1,000,000 lines, CSV; scaling to 5,000,000
    python -m bench.ledger --lines 200000 --format parquet --sizes ''
    python -m bench.ledger --lines 100000 --series-only
    python -m bench.ledger --scaling-only --sizes 20000000   # make bench-ledger-20m
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.context import ToolContext

if TYPE_CHECKING:
    # Imported where used: the pure-Python and floor workers' peak RSS should not carry the engine.
    from kpi_context.tools.ledger.source import DatasetRegistry

REPO = Path(__file__).resolve().parents[1]
AS_OF = date(2025, 12, 31)
NRR_OPEN = date(2024, 12, 31)
BRIDGE_OPEN = date(2024, 12, 31)
KPIS = ("arr", "nrr", "bridge")
COLD_MODES = ("engine-cold", "floor-cold", "exact-cold", "checked-cold")
GENERATED = REPO / "data" / "generated"
"""Generated ledgers are kept here (gitignored) and reused by later runs."""
TILE = 1_000_000
"""The largest ledger the generator writes; larger ones repeat it (see `ledger_file`)."""
SCALING_SIZES = (100_000, 1_000_000, 5_000_000)
"""The scaling table's default sizes; `make bench-ledger-20m` adds the 20,000,000-line row."""
SERIES_START, SERIES_END = "2024-01", "2025-12"
PACK_PERIOD = "2025-Q4"
"""The board pack's quarter: its ledger KPIs at this quarter, the one before and the one a year earlier."""
"""The 24 months of the series comparison, closing on AS_OF."""
SERIES_TARGET = 0.2
WARM_RUNS = 3
"""Warm calls timed in one process after the first (the best is kept)."""


# --- the floor: hand-written DuckDB ---------------------------------------------------------


def _reader(path: Path) -> str:
    if path.suffix == ".parquet":
        return f"read_parquet('{path}')"
    if path.suffix == ".jsonl":
        return f"read_json('{path}', format = 'newline_delimited')"
    return f"read_csv('{path}', header = true)"


_UNITS_30_360 = (
    "(360 * (year(end_date + 1) - year(start_date)) + 30 * (month(end_date + 1) - month(start_date)) "
    "+ CASE WHEN day(end_date + 1) = 31 AND day(start_date) >= 30 THEN 30 ELSE day(end_date + 1) END "
    "- least(day(start_date), 30))"
)
"""A term line's length in 30/360 units, as the engine's default day count; both floors use it."""


def _floor_accounts(day: date) -> str:
    d = f"DATE '{day.isoformat()}'"
    return f"""
        SELECT account_id, sum(v) AS value FROM (
            SELECT contract_id, account_id, sum(rate) AS v FROM l
            WHERE eff <= {d} AND {d} <= end_date GROUP BY contract_id, account_id HAVING sum(rate) > 0
        ) c GROUP BY account_id"""


def _floor_bridge(base: str) -> str:
    """Net new ARR and new-logo ARR over the bridge window, on the lines `l` that `base` defines (both floors)."""
    o = f"DATE '{BRIDGE_OPEN.isoformat()}'"
    return f"""{base}, a AS ({_floor_accounts(BRIDGE_OPEN)}), b AS ({_floor_accounts(AS_OF)}),
        h AS (SELECT DISTINCT account_id FROM l WHERE rate > 0 AND eff <= {o})
        SELECT sum(coalesce(b.value, 0)) - sum(coalesce(a.value, 0)),
               sum(CASE WHEN a.account_id IS NULL AND h.account_id IS NULL THEN b.value END)
        FROM a FULL OUTER JOIN b ON a.account_id = b.account_id
        LEFT JOIN h ON h.account_id = coalesce(a.account_id, b.account_id)"""


def _floor_sql(relation: str, kpi: str) -> str:
    # 30/360 months for 'term' lines, as the engine's default day count.
    units = _UNITS_30_360
    base = f"""
        WITH l AS (
            SELECT contract_id, account_id, start_date, end_date, coalesce(go_live_date, start_date) AS eff,
                   CASE amount_period WHEN 'month' THEN amount * 12 WHEN 'year' THEN amount
                        ELSE amount * 360 / greatest({units}, 1) END AS rate
            FROM {relation}
            WHERE charge_type = 'recurring' AND change_type <> 'cancellation' AND amount_period <> 'once'
        )"""
    match kpi:
        case "arr":
            return f"{base} SELECT sum(value) FROM ({_floor_accounts(AS_OF)}) a"
        case "nrr":
            return f"""{base}, a AS ({_floor_accounts(NRR_OPEN)}), b AS ({_floor_accounts(AS_OF)})
                SELECT 100 * sum(coalesce(b.value, 0)) / sum(a.value) FROM a LEFT JOIN b USING (account_id)"""
        case _:
            return _floor_bridge(base)


_TYPED_COLUMNS = {
    "contract_id": "VARCHAR",
    "account_id": "VARCHAR",
    "charge_type": "VARCHAR",
    "amount": "DECIMAL(38,6)",
    "amount_period": "VARCHAR",
    "start_date": "DATE",
    "end_date": "DATE",
    "signed_date": "DATE",
    "go_live_date": "DATE",
    "currency": "VARCHAR",
    "change_type": "VARCHAR",
}
"""The columns the exact floor reads, typed by the reader itself (a value that does not parse fails the read)."""


def _exact_reader(path: Path) -> str:
    if path.suffix == ".parquet":
        columns = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in _TYPED_COLUMNS.items())
        return f"(SELECT {columns} FROM read_parquet('{path}'))"
    types = ", ".join(f"'{c}': '{t}'" for c, t in _TYPED_COLUMNS.items())
    return f"(SELECT {', '.join(_TYPED_COLUMNS)} FROM read_csv('{path}', header = true, types = {{{types}}}))"


# The rows a ledger may use, as the engine's checks define them, spelled out as one filter.
_VALID = """
    contract_id <> '' AND account_id <> '' AND amount IS NOT NULL AND start_date IS NOT NULL
    AND end_date >= start_date AND signed_date IS NOT NULL AND regexp_full_match(currency, '[A-Z]{3}')
    AND charge_type IN ('recurring', 'one_time', 'usage_committed', 'usage_overage', 'services')
    AND amount_period IN ('month', 'year', 'term', 'once')
    AND change_type IN ('new', 'renewal', 'expansion', 'contraction', 'cancellation')
    AND (CASE WHEN change_type IN ('contraction', 'cancellation') THEN amount <= 0 ELSE amount >= 0 END)
    AND (charge_type <> 'one_time' OR amount_period = 'once')
    AND year(start_date) BETWEEN 1900 AND 2199 AND year(end_date) BETWEEN 1900 AND 2199"""


def _exact_sql(relation: str, kpi: str) -> str:
    """The floor made like for like: validated rows, exact DECIMAL, a term line's rate divided exactly."""
    units = _UNITS_30_360
    # amount × 360 ÷ units to twelve decimals, truncated, on integers: DuckDB divides DECIMAL in floating point.
    term = (
        f"CAST(CAST(CAST(amount * 1000000 AS HUGEINT) * 360000000 // greatest({units}, 1) AS DECIMAL(38,0)) "
        "* CAST('0.000000000001' AS DECIMAL(13,12)) AS DECIMAL(38,12))"
    )
    base = f"""
        WITH l AS (
            SELECT contract_id, account_id, end_date, coalesce(go_live_date, start_date) AS eff,
                   CASE amount_period WHEN 'month' THEN CAST(amount * 12 AS DECIMAL(38,12))
                        WHEN 'year' THEN CAST(amount AS DECIMAL(38,12)) ELSE {term} END AS rate
            FROM {relation}
            WHERE {_VALID} AND charge_type = 'recurring' AND change_type <> 'cancellation' AND amount_period <> 'once'
        )"""
    match kpi:
        case "arr":
            return f"{base} SELECT sum(value), NULL FROM ({_floor_accounts(AS_OF)}) a"
        case "nrr":
            return f"""{base}, a AS ({_floor_accounts(NRR_OPEN)}), b AS ({_floor_accounts(AS_OF)})
                SELECT sum(coalesce(b.value, 0)), sum(a.value) FROM a LEFT JOIN b USING (account_id)"""
        case _:
            return _floor_bridge(base)


def _exact_value(kpi: str, row: tuple[object, ...]) -> Decimal:
    first = Decimal(str(row[0]))
    if kpi == "nrr":
        # The ratio in Python on the exact sums, as the engine takes it.
        return 100 * first / Decimal(str(row[1]))
    return first


def _checked_reader(path: Path, con: Any) -> str:
    """The file read as the engine reads it — every column as text, each row judged by the engine's own rules —
    keeping the usable rows under the names the exact floor reads (a row's go-live day already defaults to its
    start)."""
    from kpi_context.tools.ledger import validate
    from kpi_context.tools.ledger.source import LedgerFormat

    reader = validate._reader(LedgerFormat.of(path), path, validate.BUILTIN_DIMENSIONS)
    present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()}
    checked = validate._checked_sql(reader, present, validate.BUILTIN_DIMENSIONS)
    return (
        "(SELECT contract_id, account_id, charge_type, amount_period, change_type, currency, amount_net AS amount, "
        "s AS start_date, e AS end_date, signed AS signed_date, live AS go_live_date "
        f"FROM ({checked}) c WHERE reason = '')"
    )


def run_checked_floor(path: Path, kpi: str) -> tuple[Decimal, float]:
    """The exact floor over rows read and judged by the engine's rules (text, every rule), in one query (cold).

    What validation alone costs: no table is kept, no reason is spelled out for later, nothing is priced
    for another date — the hand-written answer to one question, over exactly the rows the engine uses.
    """
    import duckdb

    con = duckdb.connect()
    started = time.perf_counter()
    row = con.execute(_exact_sql(_checked_reader(path, con), kpi)).fetchone()
    seconds = time.perf_counter() - started
    assert row is not None
    return _exact_value(kpi, row), seconds


def run_exact(path: Path, kpi: str) -> tuple[Decimal, float]:
    """The like-for-like floor over the file (cold): typed read, validated rows, exact money."""
    import duckdb

    con = duckdb.connect()
    started = time.perf_counter()
    row = con.execute(_exact_sql(_exact_reader(path), kpi)).fetchone()
    seconds = time.perf_counter() - started
    assert row is not None
    return _exact_value(kpi, row), seconds


def run_warm(path: Path, kpi: str) -> dict[str, object]:
    """Warm engine, warm floor and warm like-for-like floor, interleaved in one process (best of each).

    The machine is shared: alternating the three within one process exposes them to the same load.
    """
    import duckdb

    context = ToolContext.create(load_catalog())
    registry = _registry(path)
    engine = _engine_call(context, registry, kpi)  # the first call reads, checks, prices and values
    con = duckdb.connect()
    con.execute(f"CREATE TABLE ledger AS SELECT * FROM {_reader(path)}")
    # The like-for-like floor keeps validated, typed rows, as the engine keeps its checked table.
    con.execute(f"CREATE TABLE typed AS SELECT * FROM {_exact_reader(path)} WHERE {_VALID}")
    best = {"engine": float("inf"), "floor": float("inf"), "exact": float("inf")}
    values: dict[str, Decimal] = {}
    for _ in range(WARM_RUNS):
        started = time.perf_counter()
        row = con.execute(_floor_sql("ledger", kpi)).fetchone()
        best["floor"] = min(best["floor"], time.perf_counter() - started)
        assert row is not None
        values["floor"] = Decimal(str(row[0]))
        started = time.perf_counter()
        row = con.execute(_exact_sql("typed", kpi)).fetchone()
        best["exact"] = min(best["exact"], time.perf_counter() - started)
        assert row is not None
        values["exact"] = _exact_value(kpi, row)
        started = time.perf_counter()
        values["engine"] = _engine_call(context, registry, kpi)
        best["engine"] = min(best["engine"], time.perf_counter() - started)
    assert engine == values["engine"]
    stats = registry.store.stats
    assert stats.loads == 1 and stats.hits == WARM_RUNS, f"warm calls were not served from the cache: {stats}"
    return {"seconds": best, "values": {k: str(v) for k, v in values.items()}}


def run_floor(path: Path, kpi: str, *, warm: bool) -> tuple[Decimal, float]:
    """The hand-written query's value and seconds: over the file (cold), or over a table loaded from it (warm)."""
    import duckdb

    con = duckdb.connect()
    if not warm:
        started = time.perf_counter()
        row = con.execute(_floor_sql(_reader(path), kpi)).fetchone()
        seconds = time.perf_counter() - started
    else:
        con.execute(f"CREATE TABLE ledger AS SELECT * FROM {_reader(path)}")
        seconds = float("inf")
        for _ in range(WARM_RUNS):
            started = time.perf_counter()
            row = con.execute(_floor_sql("ledger", kpi)).fetchone()
            seconds = min(seconds, time.perf_counter() - started)
    assert row is not None
    return Decimal(str(row[0])), seconds


# --- pure Python -------------------------------------------------------------------------------


def _units(start: date, end_exclusive: date) -> int:
    d2 = 30 if end_exclusive.day == 31 and start.day >= 30 else end_exclusive.day
    return 360 * (end_exclusive.year - start.year) + 30 * (end_exclusive.month - start.month) + d2 - min(start.day, 30)


def _python_accounts(lines: list[tuple[str, str, date, date, date, Decimal]], day: date) -> dict[str, Decimal]:
    contracts: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for contract, account, _start, end, eff, rate in lines:
        if eff <= day <= end:
            contracts[(contract, account)] += rate
    accounts: dict[str, Decimal] = defaultdict(Decimal)
    for (_, account), value in contracts.items():
        if value > 0:
            accounts[account] += value
    return accounts


def run_python(path: Path, kpi: str) -> Decimal:
    lines = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if (
                row["charge_type"] != "recurring"
                or row["change_type"] == "cancellation"
                or row["amount_period"] == "once"
            ):
                continue
            start, end = date.fromisoformat(row["start_date"]), date.fromisoformat(row["end_date"])
            amount = Decimal(row["amount"])
            match row["amount_period"]:
                case "month":
                    rate = amount * 12
                case "year":
                    rate = amount
                case _:
                    rate = amount * 360 / max(_units(start, end + timedelta(days=1)), 1)
            eff = date.fromisoformat(row["go_live_date"]) if row["go_live_date"] else start
            lines.append((row["contract_id"], row["account_id"], start, end, eff, rate))
    closing = _python_accounts(lines, AS_OF)
    if kpi == "arr":
        return sum(closing.values(), Decimal(0))
    opening = _python_accounts(lines, NRR_OPEN if kpi == "nrr" else BRIDGE_OPEN)
    if kpi == "nrr":
        return 100 * sum((closing.get(a, Decimal(0)) for a in opening), Decimal(0)) / sum(opening.values())
    return sum(closing.values(), Decimal(0)) - sum(opening.values(), Decimal(0))


# --- the engine --------------------------------------------------------------------------------


def run_engine(path: Path, kpi: str, *, warm: bool) -> tuple[Decimal, float]:
    """The engine's value and seconds: its first call on the file (cold), or its best later call (warm)."""
    # The catalog is loaded before the clock starts: a server loads it once at start-up.
    context = ToolContext.create(load_catalog())
    registry = _registry(path)
    started = time.perf_counter()
    value = _engine_call(context, registry, kpi)
    seconds = time.perf_counter() - started
    if warm:
        seconds = float("inf")
        for _ in range(WARM_RUNS):
            started = time.perf_counter()
            value = _engine_call(context, registry, kpi)
            seconds = min(seconds, time.perf_counter() - started)
    if warm:
        stats = registry.store.stats
        assert stats.loads == 1 and stats.hits == WARM_RUNS, f"warm calls were not served from the cache: {stats}"
    return value, seconds


def _registry(path: Path) -> DatasetRegistry:
    from kpi_context.tools.ledger.source import DatasetRegistry

    return DatasetRegistry.from_cli(path.parent, [f"bench={path}"])


def _engine_call(context: ToolContext, registry: DatasetRegistry, kpi: str) -> Decimal:
    from kpi_context.tools.ledger.engine import compute_from_ledger

    match kpi:
        case "arr":
            value = compute_from_ledger(context, "sales.arr", "bench", datasets=registry, as_of=AS_OF)
        case "nrr":
            value = compute_from_ledger(
                context, "customers.net_revenue_retention", "bench", datasets=registry, period="2025-Q4"
            )
        case _:
            value = compute_from_ledger(context, "sales.net_new_arr", "bench", datasets=registry, period="2025")
    assert value.value is not None
    return value.value


def run_series(path: Path) -> dict[str, object]:
    """A 24-month ARR series against 24 single calls, warm: best seconds of each and their ratio."""
    from kpi_context.tools.ledger.engine import compute_from_ledger, compute_series_from_ledger
    from kpi_context.tools.ledger.source import DatasetRegistry
    from kpi_context.tools.periods import Every, parse_period, periods_between

    context = ToolContext.create(load_catalog())
    registry = DatasetRegistry.from_cli(path.parent, [f"bench={path}"])
    months = periods_between(parse_period(SERIES_START), parse_period(SERIES_END), Every.MONTH)
    started = time.perf_counter()
    compute_from_ledger(context, "sales.arr", "bench", datasets=registry, as_of=AS_OF)
    first = time.perf_counter() - started
    singles_seconds = series_seconds = float("inf")
    for _ in range(WARM_RUNS):
        started = time.perf_counter()
        singles = [
            compute_from_ledger(context, "sales.arr", "bench", datasets=registry, period=month) for month in months
        ]
        singles_seconds = min(singles_seconds, time.perf_counter() - started)
        started = time.perf_counter()
        series = compute_series_from_ledger(context, "sales.arr", "bench", datasets=registry, periods=months)
        series_seconds = min(series_seconds, time.perf_counter() - started)
    assert [cut.total for cut in series] == singles, "a series point differs from its single value"
    return {
        "points": len(months),
        "first_call": first,
        "singles": singles_seconds,
        "series": series_seconds,
        "ratio": series_seconds / singles_seconds,
        "value": str(series[-1].total.value),
        **run_pack(context, registry),
    }


def run_pack(context: ToolContext, registry: DatasetRegistry) -> dict[str, object]:
    """The default board pack's ledger section against the same values as single calls, warm."""
    from kpi_context.tools.board_pack import LEDGER_SECTION, board_pack
    from kpi_context.tools.ledger.engine import compute_from_ledger
    from kpi_context.tools.periods import parse_period

    quarter = parse_period(PACK_PERIOD)
    periods = (quarter, quarter.shifted(-3), quarter.shifted(-12))
    board_pack(context, quarter, datasets=registry, ledger="bench")  # reads and prices under every option set
    pack_seconds = singles_seconds = float("inf")
    for _ in range(WARM_RUNS):
        started = time.perf_counter()
        pack = board_pack(context, quarter, datasets=registry, ledger="bench")
        pack_seconds = min(pack_seconds, time.perf_counter() - started)
        started = time.perf_counter()
        # The same values one call each: every ledger KPI of the pack at the quarter, a quarter and a year earlier.
        singles = [
            compute_from_ledger(context, kpi, "bench", datasets=registry, period=period)
            for kpi in LEDGER_SECTION
            for period in periods
        ]
        singles_seconds = min(singles_seconds, time.perf_counter() - started)
    current = {value.kpi: value.value for value in singles[:: len(periods)]}
    assert {item.kpi: item.value for item in pack.items} == current, "a pack value differs from its single value"
    return {
        "pack_kpis": len(pack.items),
        "pack_singles": len(LEDGER_SECTION) * len(periods),
        "pack": pack_seconds,
        "pack_singles_seconds": singles_seconds,
        "pack_ratio": pack_seconds / singles_seconds,
    }


def run_scaling(path: Path) -> dict[str, object]:
    """One process on one file: the first ARR call (read, check, price, value), then warm ARR, NRR and bridge."""
    from kpi_context.tools.errors import KpiError

    context = ToolContext.create(load_catalog())
    registry = _registry(path)
    started = time.perf_counter()
    try:
        _engine_call(context, registry, "arr")
    except KpiError as exc:
        # The refusal carries the kind of database error only; the benchmark wants the database's own words.
        raise SystemExit(f"{exc.detail.code}: {exc.detail.details} — {exc.__context__!r}") from exc
    result: dict[str, object] = {"first": time.perf_counter() - started}
    for kpi in KPIS:
        best = float("inf")
        for _ in range(WARM_RUNS):
            started = time.perf_counter()
            _engine_call(context, registry, kpi)
            best = min(best, time.perf_counter() - started)
        result[kpi] = best
    return result


def run_exact_warm(path: Path) -> dict[str, object]:
    """The like-for-like floor on a table of typed, validated rows (loaded before the clock): best of each KPI.

    A process of its own, so that its table does not count in the engine's peak memory.
    """
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE TABLE typed AS SELECT * FROM {_exact_reader(path)} WHERE {_VALID}")
    result: dict[str, object] = {}
    for kpi in KPIS:
        best = float("inf")
        for _ in range(WARM_RUNS):
            started = time.perf_counter()
            con.execute(_exact_sql("typed", kpi)).fetchone()
            best = min(best, time.perf_counter() - started)
        result[kpi] = best
    return result


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(mode: str, kpi: str, path: Path) -> None:
    result: dict[str, object]
    match mode:
        case "series":
            result = run_series(path)
        case "warm":
            result = run_warm(path, kpi)
        case "scaling":
            result = run_scaling(path)
        case "exact-warm":
            result = run_exact_warm(path)
        case "engine-cold":
            value, seconds = run_engine(path, kpi, warm=False)
            result = {"seconds": seconds, "value": str(value)}
        case "floor-cold":
            value, seconds = run_floor(path, kpi, warm=False)
            result = {"seconds": seconds, "value": str(value)}
        case "exact-cold":
            value, seconds = run_exact(path, kpi)
            result = {"seconds": seconds, "value": str(value)}
        case "checked-cold":
            value, seconds = run_checked_floor(path, kpi)
            result = {"seconds": seconds, "value": str(value)}
        case _:
            started = time.perf_counter()
            value = run_python(path, kpi)
            result = {"seconds": time.perf_counter() - started, "value": str(value)}
    result["peak_mb"] = _peak_mb()
    print(json.dumps(result))


def _run(mode: str, kpi: str, path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.ledger", "--worker", mode, kpi, str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if out.returncode != 0:
        raise SystemExit(f"the {mode} worker on {path.name} failed:\n{out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure(kpi: str, path: Path, python_path: Path, repeat: int) -> dict[str, dict[str, Any]]:
    """Every mode for one KPI; the cold processes interleaved (engine, floor, exact floor, …), best of `repeat`."""
    best: dict[str, dict[str, Any]] = {}
    for _ in range(repeat):
        for mode in (*COLD_MODES, "warm"):
            result = _run(mode, kpi, path)
            seconds = min(result["seconds"].values()) if mode == "warm" else result["seconds"]
            kept = best.get(mode)
            if kept is None:
                best[mode] = result
            elif mode == "warm":
                # Each of the three warm figures is its own best over the processes.
                kept["seconds"] = {k: min(v, result["seconds"][k]) for k, v in kept["seconds"].items()}
                kept["peak_mb"] = max(kept["peak_mb"], result["peak_mb"])
            elif seconds < kept["seconds"]:
                best[mode] = result
    best["python"] = _run("python", kpi, python_path)
    return best


def ledger_file(lines: int, fmt: str) -> Path:
    """A generated ledger of `lines` lines, kept under data/generated/ (gitignored) for later runs.

    Up to a million lines the generator writes it; a larger ledger is the million-line one repeated
    with each copy's contract, account and line ids prefixed by its number (independent books of the
    same shape), which DuckDB writes in seconds where the generator would take most of an hour.
    """
    GENERATED.mkdir(parents=True, exist_ok=True)
    path = GENERATED / f"ledger-{lines}.{fmt}"
    if path.exists():
        return path
    if lines <= TILE:
        generator = REPO / "scripts" / "generate_ledger.py"
        partial = path.with_suffix(f".partial{path.suffix}")
        command = [sys.executable, str(generator), "--lines", str(lines), "--out", str(partial)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        partial.rename(path)
        return path
    import duckdb

    if lines % TILE:
        raise SystemExit(
            f"a ledger of more than {TILE:,} lines is built from whole copies: give a multiple of {TILE:,}"
        )
    base = ledger_file(TILE, fmt)
    reader = f"read_csv('{base}', header = true, all_varchar = true)" if fmt == "csv" else f"read_parquet('{base}')"
    ids = ", ".join(f"copy || '-' || {c} AS {c}" for c in ("contract_id", "account_id", "line_id"))
    rest = "* EXCLUDE (contract_id, account_id, line_id, copy)"
    query = f"SELECT {ids}, {rest} FROM range({lines // TILE}) t(copy), {reader}"
    partial = path.with_suffix(f".partial{path.suffix}")
    options = "(HEADER)" if fmt == "csv" else "(FORMAT parquet)"
    # Row order does not matter to a ledger; not keeping it lets DuckDB stream the copies in bounded memory.
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": "1GB",
        "temp_directory": str(GENERATED / "tmp"),
        "preserve_insertion_order": False,
    }
    con = duckdb.connect(config=config)
    con.execute(f"COPY ({query}) TO '{partial}' {options}")
    con.close()
    partial.rename(path)
    return path


def _ratio(a: float, b: float) -> str:
    return f"{a / b:>9.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ARR, NRR and ARR bridge on a large generated ledger")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--repeat", type=int, default=3, help="processes per engine/floor measurement (best kept)")
    parser.add_argument("--series-only", action="store_true", help="only the series against single calls")
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, SCALING_SIZES)),
        help="comma-separated ledger sizes of the scaling table ('' for none)",
    )
    parser.add_argument("--scaling-only", action="store_true", help="only the scaling table")
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "KPI", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        mode, kpi, path = args.worker
        worker(mode, kpi, Path(path))
        return 0
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    if args.scaling_only:
        _print_scaling(sizes, args.format)
        return 0
    path = ledger_file(args.lines, args.format)
    csv_path = ledger_file(args.lines, "csv")
    if args.series_only:
        _print_series(path, args.lines)
        return 0
    print(
        f"\n{args.lines:,} lines, {args.format}; cold: best of {args.repeat} processes each, interleaved; "
        f"warm: engine, floor and exact floor alternated in one process, best of {WARM_RUNS} calls "
        f"(and of {args.repeat} processes); one pure-Python run"
    )
    print("seconds")
    print(
        f"{'KPI':<8}{'eng cold':>9}{'eng warm':>9}{'floor cold':>11}{'floor warm':>11}"
        f"{'exact cold':>11}{'exact warm':>11}{'python':>8}  value"
    )
    results = {}
    for kpi in KPIS:
        runs = measure(kpi, path, csv_path, args.repeat)
        results[kpi] = runs
        warm = runs["warm"]
        values = {Decimal(str(runs[m]["value"])) for m in (*COLD_MODES, "python")}
        values |= {Decimal(v) for v in warm["values"].values()}
        cents = {v.quantize(Decimal("0.01")) for v in values}
        agree = "" if len(cents) == 1 else f"  DISAGREE {sorted(cents)}"
        t = warm["seconds"]
        print(
            f"{kpi:<8}{runs['engine-cold']['seconds']:>9.3f}{t['engine']:>9.3f}{runs['floor-cold']['seconds']:>11.3f}"
            f"{t['floor']:>11.3f}{runs['exact-cold']['seconds']:>11.3f}{t['exact']:>11.3f}"
            f"{runs['python']['seconds']:>8.2f}  {runs['engine-cold']['value']}{agree}"
        )
    print(
        "\nratios — targets: warm ≤ 1.0× and cold ≤ 2.0× the exact floor (validated rows, exact DECIMAL); "
        "pure Python ≥ 30× the engine warm"
    )
    print(
        f"{'KPI':<8}{'warm/exact':>11}{'cold/exact':>11}{'warm/floor':>11}{'cold/floor':>11}{'py/warm':>9}{'py/cold':>9}"
        f"{'checked/exact':>14}{'cold/checked':>13}"
    )
    for kpi, runs in results.items():
        t = runs["warm"]["seconds"]
        ec, fc, xc, cc, py = (
            float(runs[m]["seconds"]) for m in ("engine-cold", "floor-cold", "exact-cold", "checked-cold", "python")
        )
        print(
            f"{kpi:<8}{_ratio(t['engine'], t['exact']):>11}{_ratio(ec, xc):>11}{_ratio(t['engine'], t['floor']):>11}"
            f"{_ratio(ec, fc):>11}{py / t['engine']:>8.0f}x{py / ec:>8.1f}x{_ratio(cc, xc):>14}{_ratio(ec, cc):>13}"
        )
    print(
        "  checked = the exact floor over rows read as text and judged by the engine's own rules, one query: "
        "what validation alone adds to the typed read"
    )
    print("\npeak RSS, MB (target: ≤ 1024 for the engine; warm is one process holding the engine and both floors)")
    modes = (*COLD_MODES, "warm", "python")
    print(f"{'KPI':<8}" + "".join(f"{mode:>13}" for mode in modes))
    for kpi, runs in results.items():
        print(f"{kpi:<8}" + "".join(f"{float(runs[mode]['peak_mb']):>13.0f}" for mode in modes))
    _print_series(path, args.lines)
    _print_scaling(sizes, args.format)
    return 0


def _print_scaling(sizes: list[int], fmt: str) -> None:
    if not sizes:
        return
    print(
        f"\nscaling ({fmt}): one process per size; first call = read, check, price and value, then ARR; "
        f"warm = best of {WARM_RUNS} calls"
    )
    print("  (÷ floor: the warm call over the like-for-like floor's best on its typed, validated table, same size)")
    print(
        f"{'lines':>12}{'first call s':>14}{'ARR warm s':>12}{'NRR warm s':>12}{'bridge warm s':>15}{'peak RSS MB':>13}"
        f"{'ARR ÷ floor':>13}{'NRR ÷ floor':>13}{'bridge ÷ floor':>16}"
    )
    for size in sizes:
        path = ledger_file(size, fmt)
        r = _run("scaling", "arr", path)
        floor = _run("exact-warm", "arr", path)
        print(
            f"{size:>12,}{r['first']:>14.2f}{r['arr']:>12.3f}{r['nrr']:>12.3f}{r['bridge']:>15.3f}{r['peak_mb']:>13.0f}"
            + "".join(f"{_ratio(r[k], floor[k]):>{w}}" for k, w in (("arr", 13), ("nrr", 13), ("bridge", 16))),
            flush=True,
        )


def _print_series(path: Path, lines: int) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench.ledger", "--worker", "series", "arr", str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    verdict = "meets" if r["ratio"] <= SERIES_TARGET else "misses"
    print(
        f"\nseries vs singles, {lines:,} lines: {r['points']} month-end ARR values (warm, best of {WARM_RUNS})\n"
        f"  first call (read, check, price, value): {r['first_call']:.3f} s\n"
        f"  {r['points']} single calls: {r['singles']:.3f} s   one series: {r['series']:.3f} s   "
        f"ratio {r['ratio']:.3f} ({verdict} the target ≤ {SERIES_TARGET}); peak RSS {r['peak_mb']:.0f} MB; "
        f"last point {r['value']}\n"
        f"board pack ({PACK_PERIOD}, ledger section, {r['pack_kpis']} KPIs): {r['pack']:.3f} s against "
        f"{r['pack_singles']} single calls {r['pack_singles_seconds']:.3f} s, ratio {r['pack_ratio']:.3f}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
