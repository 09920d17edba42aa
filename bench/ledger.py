"""Ledger engine benchmark: ARR, NRR and the ARR bridge on a generated 1,000,000-line ledger.

Each measurement runs in a fresh process so its peak RSS is its own, and is compared in the
same run with two references over the same file:
- the floor: one hand-written DuckDB query per KPI, straight from the file, no validation;
- a straightforward pure-Python implementation (csv module, Decimal), streaming the file.
All three must agree on the value; the table prints times, peak RSS and the ratios.

    python -m bench.ledger                    # 1,000,000 lines, CSV, in a temporary directory
    python -m bench.ledger --lines 200000 --format parquet
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.context import ToolContext

REPO = Path(__file__).resolve().parents[1]
AS_OF = date(2025, 12, 31)
NRR_OPEN = date(2024, 12, 31)
BRIDGE_OPEN = date(2024, 12, 31)
KPIS = ("arr", "nrr", "bridge")
IMPLEMENTATIONS = ("engine", "duckdb", "python")


# --- the floor: hand-written DuckDB ---------------------------------------------------------


def _reader(path: Path) -> str:
    if path.suffix == ".parquet":
        return f"read_parquet('{path}')"
    if path.suffix == ".jsonl":
        return f"read_json('{path}', format = 'newline_delimited')"
    return f"read_csv('{path}', header = true)"


def _floor_accounts(day: date) -> str:
    d = f"DATE '{day.isoformat()}'"
    return f"""
        SELECT account_id, sum(v) AS value FROM (
            SELECT contract_id, account_id, sum(rate) AS v FROM l
            WHERE eff <= {d} AND {d} <= end_date GROUP BY contract_id, account_id HAVING sum(rate) > 0
        ) c GROUP BY account_id"""


def _floor_sql(path: Path, kpi: str) -> str:
    # 30/360 months for 'term' lines, as the engine's default day count.
    units = (
        "(360 * (year(end_date + 1) - year(start_date)) + 30 * (month(end_date + 1) - month(start_date)) "
        "+ CASE WHEN day(end_date + 1) = 31 AND day(start_date) >= 30 THEN 30 ELSE day(end_date + 1) END "
        "- least(day(start_date), 30))"
    )
    base = f"""
        WITH l AS (
            SELECT contract_id, account_id, start_date, end_date, coalesce(go_live_date, start_date) AS eff,
                   CASE amount_period WHEN 'month' THEN amount * 12 WHEN 'year' THEN amount
                        ELSE amount * 360 / greatest({units}, 1) END AS rate
            FROM {_reader(path)}
            WHERE charge_type = 'recurring' AND change_type <> 'cancellation' AND amount_period <> 'once'
        )"""
    match kpi:
        case "arr":
            return f"{base} SELECT sum(value) FROM ({_floor_accounts(AS_OF)}) a"
        case "nrr":
            return f"""{base}, a AS ({_floor_accounts(NRR_OPEN)}), b AS ({_floor_accounts(AS_OF)})
                SELECT 100 * sum(coalesce(b.value, 0)) / sum(a.value) FROM a LEFT JOIN b USING (account_id)"""
        case _:
            o = f"DATE '{BRIDGE_OPEN.isoformat()}'"
            return f"""{base}, a AS ({_floor_accounts(BRIDGE_OPEN)}), b AS ({_floor_accounts(AS_OF)}),
                h AS (SELECT DISTINCT account_id FROM l WHERE rate > 0 AND eff <= {o})
                SELECT sum(coalesce(b.value, 0)) - sum(coalesce(a.value, 0)),
                       sum(CASE WHEN a.account_id IS NULL AND h.account_id IS NULL THEN b.value END)
                FROM a FULL OUTER JOIN b ON a.account_id = b.account_id
                LEFT JOIN h ON h.account_id = coalesce(a.account_id, b.account_id)"""


def run_duckdb(path: Path, kpi: str) -> Decimal:
    import duckdb

    row = duckdb.connect().execute(_floor_sql(path, kpi)).fetchone()
    assert row is not None
    return Decimal(str(row[0]))


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


def run_engine(path: Path, kpi: str, context: ToolContext) -> Decimal:
    from kpi_context.tools.ledger.engine import compute_from_ledger
    from kpi_context.tools.ledger.source import DatasetRegistry

    registry = DatasetRegistry.from_cli(path.parent, [f"bench={path}"])
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


def worker(implementation: str, kpi: str, path: Path) -> None:
    # The catalog is loaded before the clock starts: a server loads it once at start-up.
    context = ToolContext.create(load_catalog()) if implementation == "engine" else None
    started = time.perf_counter()
    match implementation:
        case "engine":
            assert context is not None
            value = run_engine(path, kpi, context)
        case "duckdb":
            value = run_duckdb(path, kpi)
        case _:
            value = run_python(path, kpi)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "value": str(value)}))


def measure(implementation: str, kpi: str, path: Path, repeat: int) -> dict[str, float | str]:
    best: dict[str, float | str] | None = None
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-m", "bench.ledger", "--worker", implementation, kpi, str(path)],
            check=True,
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    assert best is not None
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ARR, NRR and ARR bridge on a large generated ledger")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine/DuckDB measurement (best kept)")
    parser.add_argument("--worker", nargs=3, metavar=("IMPL", "KPI", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        implementation, kpi, path = args.worker
        worker(implementation, kpi, Path(path))
        return 0
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        path = Path(tmp) / f"ledger.{args.format}"
        csv_path = Path(tmp) / "ledger.csv"
        generator = REPO / "scripts" / "generate_ledger.py"
        subprocess.run([sys.executable, str(generator), "--lines", str(args.lines), "--out", str(csv_path)], check=True)
        if args.format == "parquet":
            subprocess.run([sys.executable, str(generator), "--lines", str(args.lines), "--out", str(path)], check=True)
        print(
            f"\n{args.lines:,} lines, {args.format}; best of {args.repeat} for engine and DuckDB, one pure-Python run"
        )
        header = f"{'KPI':<7}{'engine s':>10}{'floor s':>9}{'python s':>10}{'eng/floor':>11}{'py/eng':>8}"
        header += f"{'RSS eng MB':>12}{'floor MB':>10}{'py MB':>8}  value"
        print(header)
        for kpi in KPIS:
            engine = measure("engine", kpi, path, args.repeat)
            floor = measure("duckdb", kpi, path, args.repeat)
            python = measure("python", kpi, csv_path, 1)
            values = {Decimal(str(r["value"])).quantize(Decimal("0.01")) for r in (engine, floor, python)}
            agree = "" if len(values) == 1 else f"  DISAGREE {sorted(values)}"
            e, f, p = (float(r["seconds"]) for r in (engine, floor, python))
            print(
                f"{kpi:<7}{e:>10.2f}{f:>9.2f}{p:>10.2f}{e / f:>10.2f}x{p / e:>7.1f}x"
                f"{float(engine['peak_mb']):>12.0f}{float(floor['peak_mb']):>10.0f}{float(python['peak_mb']):>8.0f}"
                f"  {engine['value']}{agree}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
