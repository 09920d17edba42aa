"""Warm Spark datasets: a Parquet path is read once and its tables reused until a file changes.

Each test counts what Spark was asked to do — sessions opened (each reads the Parquet path) and
temporary tables computed (each a local checkpoint) — besides the cache's own statistics, so a
call served warm is seen to compute nothing but its measure.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger import remote, spark_cache
from kpi_context.tools.ledger.engine import compute_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.ledger.spark_cache import WarmDatasets
from kpi_context.tools.ledger.store import CacheStats
from kpi_context.tools.values import Engine
from tests.support.engines import essentials
from tests.support.ledgers import fiscal_ledger, line

AS_OF = date(2026, 6, 30)


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    """The rows as a Parquet file, every column text (as a CSV export would be)."""
    staged = path.with_suffix(".staged.csv")
    with staged.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{staged}', all_varchar = true)) TO '{path}' (FORMAT parquet)")
    staged.unlink()


@pytest.fixture
def warm(monkeypatch) -> Any:
    """A cache of the test's own (so its statistics start at zero), emptied after the test."""
    cache = WarmDatasets()
    monkeypatch.setattr(spark_cache, "DATASETS", cache)
    yield cache
    cache.clear()


@pytest.fixture
def spark_work(monkeypatch) -> Counter[str]:
    """Counts Spark sessions opened (each reads the source) and temporary tables computed (checkpoints)."""
    counts: Counter[str] = Counter()
    opened, execute = remote.SparkSession.__init__, remote.SparkSession.execute

    def counting_init(self, *args: Any) -> None:
        counts["sessions"] += 1
        opened(self, *args)

    def counting_execute(self, query: str) -> Any:
        if remote._TEMP_TABLE.match(query):
            counts["tables"] += 1
        return execute(self, query)

    monkeypatch.setattr(remote.SparkSession, "__init__", counting_init)
    monkeypatch.setattr(remote.SparkSession, "execute", counting_execute)
    return counts


def _lake(tmp_path: Path, spark: str, **paths: str) -> DatasetRegistry:
    return DatasetRegistry.from_cli(tmp_path, [f"{name}=spark://{spark}?{where}" for name, where in paths.items()])


def _arr(ctx, registry: DatasetRegistry, name: str = "lake", **options: Any) -> Any:
    return compute_from_ledger(ctx, "sales.arr", name, datasets=registry, as_of=AS_OF, **options)


def test_a_second_call_on_an_unchanged_parquet_dataset_reads_and_computes_nothing_again(
    ctx, tmp_path, spark, warm, spark_work
):
    # One line of 12,000 a year, live on 2026-06-30: ARR 12,000 both times.
    _write_parquet(tmp_path / "ledger.parquet", [line()])
    registry = _lake(tmp_path, spark, lake="path=ledger.parquet")
    first = _arr(ctx, registry)
    # One session read the file; four tables were computed: checked, priced, valued, live_accounts
    # (one currency: no conversion table).
    assert (spark_work["sessions"], spark_work["tables"]) == (1, 4)
    second = _arr(ctx, registry)
    assert (spark_work["sessions"], spark_work["tables"]) == (1, 4)
    assert first.value == second.value == Decimal(12000)
    assert second.ledger is not None and second.ledger.engine is Engine.SPARK
    assert warm.stats == CacheStats(loads=1, hits=1, derivations=3, derived_hits=3, evictions=0, cached=1)


def test_a_rewritten_file_is_read_anew_and_gives_the_new_value(ctx, tmp_path, spark, warm, spark_work):
    path = tmp_path / "ledger.parquet"
    _write_parquet(path, [line()])
    registry = _lake(tmp_path, spark, lake="path=ledger.parquet")
    assert _arr(ctx, registry).value == Decimal(12000)
    # The same line at 24,000 a year: ARR 24,000. The amount's text is as long as before, so only the
    # file's stamps (or, this soon after writing, its content) tell the versions apart.
    _write_parquet(path, [line(amount="24000")])
    assert _arr(ctx, registry).value == Decimal(24000)
    assert spark_work["sessions"] == 2
    # The older version left as the new one came in.
    assert (warm.stats.loads, warm.stats.hits, warm.stats.evictions, warm.stats.cached) == (2, 0, 1, 1)


def test_a_file_added_to_a_parquet_directory_is_read_with_the_rest(ctx, tmp_path, spark, warm):
    (tmp_path / "lake").mkdir()
    _write_parquet(tmp_path / "lake" / "part-1.parquet", [line()])
    registry = _lake(tmp_path, spark, lake="path=lake")
    assert _arr(ctx, registry).value == Decimal(12000)
    # A second contract of 6,000 a year for another account: 12,000 + 6,000 = 18,000.
    _write_parquet(tmp_path / "lake" / "part-2.parquet", [line(account_id="A2", contract_id="C2", amount="6000")])
    assert _arr(ctx, registry).value == Decimal(18000)
    assert (warm.stats.loads, warm.stats.cached) == (2, 1)


def test_other_options_reuse_the_checked_and_priced_tables_but_value_contracts_anew(
    ctx, tmp_path, spark, warm, spark_work
):
    _write_parquet(tmp_path / "ledger.parquet", [line()])
    registry = _lake(tmp_path, spark, lake="path=ledger.parquet")
    default = _arr(ctx, registry)
    # Annualization is a valuing option, not a pricing one: the priced lines are reused, the contract values
    # and live stretches built again. 12,000 a year is 1,000 a month, times 12: 12,000 again.
    monthly = _arr(ctx, registry, basis={"annualization": "mrr_times_12"})
    assert default.value == monthly.value == Decimal(12000)
    assert spark_work["sessions"] == 1
    # 4 tables the first time, then valued and live_accounts: 6.
    assert spark_work["tables"] == 6
    assert warm.stats == CacheStats(loads=1, hits=1, derivations=5, derived_hits=1, evictions=0, cached=1)


def test_a_warm_call_and_a_fresh_call_give_the_same_result(ctx, tmp_path, spark, warm):
    # The fiscal ledger plus a row whose amount is no number. On 2026-06-30 A1 (12,000, from 2025) and A3
    # (3,000, from 2026-06-01) are live, A2 starts in October: ARR 15,000 from 3 of 4 rows, 1 rejected.
    rows = [*fiscal_ledger(), line(account_id="A9", contract_id="C9", amount="12,000")]
    path = tmp_path / "ledger.parquet"
    _write_parquet(path, rows)
    from kpi_context.tools.ledger.remote import spark_session

    # The same file as a catalog table (a global temporary view): a dataset that is never kept warm.
    spark_session(spark).read.parquet(str(path)).createOrReplaceGlobalTempView("kpi_cache_fresh")
    registry = _lake(tmp_path, spark, lake="path=ledger.parquet", fresh="table=global_temp.kpi_cache_fresh")
    _arr(ctx, registry)
    cached = _arr(ctx, registry)
    fresh = _arr(ctx, registry, name="fresh")
    assert cached.value == Decimal(15000)
    assert cached.ledger is not None and (cached.ledger.rows_read, cached.ledger.rows_rejected) == (4, 1)
    assert essentials(cached) == essentials(fresh)
    # The catalog table was read for its call and not kept: one dataset warm, loaded once, hit once.
    assert (warm.stats.loads, warm.stats.hits, warm.stats.cached) == (1, 1, 1)
    _arr(ctx, registry, name="fresh")
    assert (warm.stats.loads, warm.stats.cached) == (1, 1)


def test_a_parquet_file_without_a_required_column_is_refused_and_nothing_is_kept(ctx, tmp_path, spark, warm):
    row = line()
    del row["currency"]
    _write_parquet(tmp_path / "ledger.parquet", [row])
    with pytest.raises(KpiError) as refused:
        _arr(ctx, _lake(tmp_path, spark, lake="path=ledger.parquet"))
    assert refused.value.code is ErrorCode.LEDGER_INVALID
    assert refused.value.detail.details["missing_columns"] == ["currency"]
    assert (warm.stats.loads, warm.stats.cached) == (0, 0)


def test_a_refused_call_leaves_the_warm_dataset_usable(ctx, tmp_path, spark, warm):
    _write_parquet(tmp_path / "ledger.parquet", [line(segment="smb")])
    registry = _lake(tmp_path, spark, lake="path=ledger.parquet")
    # Refused after its views were made (no row has segment 'enterprise'), then before (a USD ledger asked in
    # EUR, no rates): the views of the first are dropped, so the next call makes its own.
    with pytest.raises(KpiError) as no_member:
        _arr(ctx, registry, where={"segment": "enterprise"})
    assert (no_member.value.code, no_member.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "where.segment")
    with pytest.raises(KpiError) as no_rate:
        _arr(ctx, registry, currency="EUR")
    assert no_rate.value.code is ErrorCode.CURRENCY_MISMATCH
    assert _arr(ctx, registry, where={"segment": "smb"}).value == Decimal(12000)
    assert (warm.stats.loads, warm.stats.hits) == (1, 2)


def test_past_its_bounds_the_cache_drops_the_least_recently_used(ctx, tmp_path, spark, monkeypatch):
    cache = WarmDatasets(capacity=1, derived=3)
    monkeypatch.setattr(spark_cache, "DATASETS", cache)
    _write_parquet(tmp_path / "a.parquet", [line()])
    _write_parquet(tmp_path / "b.parquet", [line()])
    registry = _lake(tmp_path, spark, a="path=a.parquet", b="path=b.parquet")
    try:
        _arr(ctx, registry, "a")
        _arr(ctx, registry, "a", basis={"annualization": "mrr_times_12"})
        # Held after the second call, oldest use first: valued₁, live₁, priced (reused), valued₂, live₂. Three
        # are kept: valued₁ and live₁ go. The default rules again rebuild those two (3 + 2 + 2 = 7 built).
        assert (cache.stats.derivations, cache.stats.evictions) == (5, 2)
        _arr(ctx, registry, "a")
        assert (cache.stats.derivations, cache.stats.derived_hits) == (7, 2)
        # The third call trimmed valued₂ and live₂ (4 evictions); a second dataset, with room for one, puts the
        # first out (5).
        _arr(ctx, registry, "b")
        assert (cache.stats.loads, cache.stats.cached, cache.stats.evictions) == (2, 1, 5)
    finally:
        cache.clear()
