"""The gate for other engines: every ledger KPI under every option value gives the same result on DuckDB,
PostgreSQL and Spark.

The same ledger is served three ways — a CSV file read by DuckDB, a PostgreSQL table, a Parquet
file read by Spark — and each KPI is computed with its default rules and then with each option
value in turn (one at a time, every value the KPI allows: `LEDGER_KPI_OPTIONS`, so an option added
later is covered without touching this file). Values must be equal to the last digit bound (money to
the cent), and so must the reason a value is undefined, the components, the contributing counts and
ids, and the rows read, used and rejected; a refusal must be the same refusal. Only the engine named
in the trace differs. The expected numbers are DuckDB's, whose own tests derive them by hand; this
file checks that the translation to other engines changes nothing.

Spark plans each statement for a good part of a second even on these small ledgers, and values the
contracts for seconds; its Parquet datasets stay warm between calls (`spark_cache`), so its cases are
visited grouped by the tables they need — the options that price the lines, then those that value the
contracts — and each table is built once per ledger.
"""

from __future__ import annotations

import csv
import dataclasses
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kpi_context.ontology.ledger_options import LEDGER_KPI_OPTIONS
from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import KpiError
from kpi_context.tools.ledger.engine import compute_from_ledger, compute_series_from_ledger
from kpi_context.tools.ledger.rules import rules_for
from kpi_context.tools.ledger.source import LEDGER_COLUMNS, DatasetRegistry
from kpi_context.tools.ledger.sql import priced_key
from kpi_context.tools.ledger.valued import valued_key
from kpi_context.tools.periods import parse_period
from kpi_context.tools.values import Engine
from tests.support.engines import essentials
from tests.support.ledgers import line

pytestmark = pytest.mark.engine_matrix

REPO = Path(__file__).resolve().parents[3]
GENERATOR = REPO / "scripts" / "generate_ledger.py"

LEDGERS = {"generated": ("2025-Q4", 0), "seed_003": ("2026", 5)}
"""Each ledger, the period its KPIs are read for (a point-in-time KPI at the period's close), and how many
account ids a trace lists: none takes the engine's running-sum path for levels, ids the per-account one."""


def _seed_003_rows() -> list[dict[str, Any]]:
    """The ACV examples of seed 003 (see test_seed_acv.py), one account each, in one ledger."""
    return [
        # A three-year contract at 150,000 a year.
        line(account_id="A1", contract_id="C1", amount="150000", end_date="2028-12-31"),
        # Two products and a one-time implementation on a one-year term.
        line(account_id="A2", contract_id="C2", product="core", amount="18000"),
        line(account_id="A2", contract_id="C2", product="add_on", amount="6000"),
        line(account_id="A2", contract_id="C2", charge_type="one_time", amount="1000", amount_period="once"),
        # Ten seats at 100 a month, ten more from May, co-termed.
        line(account_id="A3", contract_id="C3", amount="1000", amount_period="month"),
        line(
            account_id="A3",
            contract_id="C3",
            amount="1000",
            amount_period="month",
            start_date="2026-05-01",
            change_type="expansion",
            signed_date="2026-04-20",
        ),
    ]


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[c for c in LEDGER_COLUMNS if any(c in r for r in rows)])
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def ledger_files(tmp_path_factory) -> dict[str, Path]:
    data = tmp_path_factory.mktemp("engines")
    generated = data / "generated.csv"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--lines", "300", "--seed", "5", "--out", str(generated)],
        check=True,
        capture_output=True,
    )
    _write_csv(data / "seed_003.csv", _seed_003_rows())
    files = {name: data / f"{name}.csv" for name in LEDGERS}
    for path in files.values():
        # Spark reads the same rows from Parquet, every column as text (as the CSV is read).
        duckdb.sql(
            f"COPY (SELECT * FROM read_csv('{path}', all_varchar = true)) TO '{path.with_suffix('.parquet')}' "
            "(FORMAT parquet)"
        )
    return files


@pytest.fixture(scope="module")
def registry(ledger_files, postgres, spark) -> DatasetRegistry:
    specs = []
    for name, path in ledger_files.items():
        postgres.load_csv(name, path)
        specs += [
            f"{name}@duckdb={path}",
            f"{name}@postgresql={postgres.url(name)}",
            f"{name}@spark=spark://{spark}?path={path.with_suffix('.parquet').name}",
        ]
    return DatasetRegistry.from_cli(next(iter(ledger_files.values())).parent, specs)


def _outcome(run: Callable[[], Any]) -> Any:
    try:
        return run()
    except KpiError as exc:
        return ("refused", exc.code.value, exc.detail.field)


def _cases(ctx, kpi: str) -> list[dict[str, str]]:
    """The default rules, then every allowed value of every option key of the KPI, one key at a time.

    A value that leaves the rules as they were (the default's own value) is the default case again, run once;
    a value the KPI refuses is kept, so that every engine must refuse it alike.
    """
    spec = LEDGER_KPI_OPTIONS[kpi]
    seen, cases = set(), []
    for basis in [{}, *({key.value: value.value} for key in spec.keys for value in spec.allowed(key))]:
        try:
            rules = rules_for(ctx, kpi, None, basis)
        except KpiError:
            cases.append(basis)
            continue
        if (rules.options, rules.variant_id) not in seen:
            seen.add((rules.options, rules.variant_id))
            cases.append(basis)
    return cases


ENGINES = (Engine.DUCKDB, Engine.POSTGRESQL, Engine.SPARK)


def _compute(ctx, registry: DatasetRegistry, ledger: str, kpi: str, basis: dict[str, str], engine: Engine) -> Any:
    """The KPI's essentials on `engine`, or the refusal (code and field) it gives."""
    period, ids = LEDGERS[ledger]

    def run() -> Any:
        value = compute_from_ledger(
            dataclasses.replace(ctx, trace_ids=ids),
            kpi,
            f"{ledger}@{engine.value}",
            datasets=registry,
            period=period,
            basis=basis,
        )
        assert value.ledger is not None and value.ledger.engine is engine
        return essentials(value)

    return _outcome(run)


@dataclasses.dataclass(frozen=True)
class OptionSet:
    """Every (KPI, basis) case whose rules need the same priced lines and contract values."""

    tables: str
    """The priced and valued keys (text, for ordering); '' for the cases refused before any engine runs."""
    cases: tuple[tuple[str, dict[str, str]], ...]


def _option_sets() -> list[OptionSet]:
    """Every KPI's cases (`_cases`) grouped by the tables they derive, ordered by the pricing options first."""
    ctx = ToolContext.create(load_catalog(), secret=b"engine-matrix")
    grouped: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for kpi in sorted(LEDGER_KPI_OPTIONS):
        for basis in _cases(ctx, kpi):
            try:
                options = rules_for(ctx, kpi, None, basis).options
            except KpiError:
                tables = ""
            else:
                tables = repr((priced_key(options), valued_key(options)))
            grouped.setdefault(tables, []).append((kpi, basis))
    return [OptionSet(tables, tuple(cases)) for tables, cases in sorted(grouped.items())]


OPTION_SETS = _option_sets()

SparkOutcomes = dict[tuple[str, int], "Future[list[Any]]"]


@pytest.fixture(scope="module")
def on_spark(ctx, registry) -> Iterator[SparkOutcomes]:
    """Spark's outcome for every case, computed in a worker thread: one option set after another, per ledger.

    Spark plans in its own JVM (py4j waits without holding the GIL), so its half of the matrix runs while
    DuckDB and PostgreSQL compute theirs in the test thread; its tests then compare what it found.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="spark-matrix") as pool:
        futures = {
            (ledger, index): pool.submit(
                lambda ledger=ledger, found=found: [
                    _compute(ctx, registry, ledger, kpi, basis, Engine.SPARK) for kpi, basis in found.cases
                ]
            )
            for index, found in enumerate(OPTION_SETS)
            for ledger in LEDGERS
        }
        yield futures
        pool.shutdown(cancel_futures=True)


@pytest.mark.usefixtures("on_spark")  # Spark starts on its half of the matrix as this one starts.
@pytest.mark.parametrize("ledger", list(LEDGERS))
@pytest.mark.parametrize("kpi", sorted(LEDGER_KPI_OPTIONS))
def test_every_option_of_the_kpi_gives_the_same_result_on_duckdb_and_postgresql(ctx, registry, ledger, kpi):
    differences = []
    for basis in _cases(ctx, kpi):
        duck, other = (_compute(ctx, registry, ledger, kpi, basis, e) for e in (Engine.DUCKDB, Engine.POSTGRESQL))
        if other != duck:
            differences.append((basis, duck, other))
    assert differences == []


@pytest.mark.parametrize("ledger", list(LEDGERS))
@pytest.mark.parametrize("index", range(len(OPTION_SETS)), ids=[f"options{i:02}" for i in range(len(OPTION_SETS))])
def test_every_kpi_under_the_option_set_gives_the_same_result_on_spark_as_on_duckdb(
    ctx, registry, on_spark, ledger, index
):
    differences = []
    spark_found = on_spark[(ledger, index)].result()
    for (kpi, basis), spark in zip(OPTION_SETS[index].cases, spark_found, strict=True):
        duck = _compute(ctx, registry, ledger, kpi, basis, Engine.DUCKDB)
        if spark != duck:
            differences.append((kpi, basis, duck, spark))
    assert differences == []


@pytest.mark.parametrize("kpi", ["sales.arr", "customers.net_revenue_retention"])
def test_a_series_cut_by_segment_is_the_same_on_every_engine(ctx, registry, kpi):
    ctx = dataclasses.replace(ctx, trace_ids=5)
    periods = [parse_period(p) for p in ("2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4")]
    found = {}
    for engine in ENGINES:
        series = compute_series_from_ledger(
            ctx, kpi, f"generated@{engine.value}", datasets=registry, periods=periods, group_by="segment"
        )
        found[engine] = [
            (
                essentials(point.total),
                [essentials(g) for g in point.groups],
                point.reconciles,
                point.mix_shift,
            )
            for point in series
        ]
    for engine in ENGINES[1:]:
        assert found[engine] == found[Engine.DUCKDB], engine
