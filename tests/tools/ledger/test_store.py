"""The checked table of a dataset file is kept across calls, and never served once the file or the rates differ."""

from __future__ import annotations

import dataclasses
import os
import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

from kpi_context.tools.ledger.engine import compute_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.ledger.store import LedgerStore

HEADER = (
    "contract_id,account_id,charge_type,amount,amount_period,start_date,end_date,signed_date,currency,change_type\n"
)
MID_2026 = date(2026, 6, 30)


def _row(contract: str, amount: str, currency: str = "USD") -> str:
    return f"{contract},A{contract},recurring,{amount},year,2026-01-01,2026-12-31,2026-01-01,{currency},new\n"


def _registry(data: Path, *files: str, capacity: int = 4) -> DatasetRegistry:
    registry = DatasetRegistry.from_cli(data, [f"{Path(f).stem}={data / f}" for f in files])
    return dataclasses.replace(registry, store=LedgerStore(capacity))


def test_a_second_call_on_the_same_dataset_reuses_its_checked_table(ctx, tmp_path):
    (tmp_path / "book.csv").write_text(HEADER + _row("C1", "12000") + _row("C2", "3000"), encoding="utf-8")
    registry = _registry(tmp_path, "book.csv")
    arr = compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
    customers = compute_from_ledger(ctx, "customers.total_customers", "book", datasets=registry, as_of=MID_2026)
    # 12,000 + 3,000 = 15,000 from two accounts; the file was read once, the second call was a hit.
    assert (arr.value, customers.value) == (Decimal(15000), Decimal(2))
    stats = registry.store.stats
    assert (stats.loads, stats.hits, stats.cached) == (1, 1, 1)
    # ARR and customer count price the lines under the same rules: one priced table, reused once.
    assert (stats.derivations, stats.derived_hits) == (1, 1)
    assert customers.ledger is not None and customers.ledger.rows_read == 2


def test_a_modified_file_is_read_again(ctx, tmp_path):
    path = tmp_path / "book.csv"
    path.write_text(HEADER + _row("C1", "12000"), encoding="utf-8")
    registry = _registry(tmp_path, "book.csv")
    before = compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
    path.write_text(HEADER + _row("C1", "12000") + _row("C2", "6000"), encoding="utf-8")
    stamp = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))
    after = compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
    # 12,000 before; 12,000 + 6,000 = 18,000 after the second contract was added.
    assert (before.value, after.value) == (Decimal(12000), Decimal(18000))
    stats = registry.store.stats
    # The old version is dropped at once rather than left to age out.
    assert (stats.loads, stats.hits, stats.cached, stats.evictions) == (2, 0, 1, 1)


def test_a_file_rewritten_with_the_same_size_is_read_again_by_its_modification_time(ctx, tmp_path):
    path = tmp_path / "book.csv"
    path.write_text(HEADER + _row("C1", "12000"), encoding="utf-8")
    registry = _registry(tmp_path, "book.csv")
    before = compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
    path.write_text(HEADER + _row("C1", "13000"), encoding="utf-8")
    stamp = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))
    after = compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
    assert (before.value, after.value) == (Decimal(12000), Decimal(13000))
    assert registry.store.stats.loads == 2


def test_a_different_fx_table_is_not_served_from_another_ones_conversion(ctx, tmp_path):
    (tmp_path / "fx.csv").write_text(HEADER + _row("C1", "12000") + _row("C2", "1000", "EUR"), encoding="utf-8")
    registry = _registry(tmp_path, "fx.csv")

    def arr(rate: str) -> Decimal | None:
        ledger = {"dataset": "fx", "fx_rates": {"EUR": rate}}
        return compute_from_ledger(ctx, "sales.arr", ledger, datasets=registry, as_of=MID_2026, currency="USD").value

    # 12,000 USD + 1,000 EUR × 1.1 = 13,100; × 1.2 = 13,200; 1.10 is the same rate as 1.1.
    assert (arr("1.1"), arr("1.2"), arr("1.10")) == (Decimal(13100), Decimal(13200), Decimal(13100))
    stats = registry.store.stats
    # One read of the file; per rate a conversion and the lines priced from it, built once each.
    assert (stats.loads, stats.hits) == (1, 2)
    assert (stats.derivations, stats.derived_hits) == (4, 2)


def test_inline_rows_are_never_cached(compute, registry, make_line):
    compute("sales.arr", [make_line()], as_of=MID_2026)
    compute("sales.arr", [make_line()], as_of=MID_2026)
    stats = registry.store.stats
    assert (stats.loads, stats.hits, stats.cached, stats.derivations) == (0, 0, 0, 0)


def test_the_least_recently_used_dataset_leaves_when_the_store_is_full(ctx, tmp_path):
    for name, amount in (("a", "1000"), ("b", "2000")):
        (tmp_path / f"{name}.csv").write_text(HEADER + _row("C1", amount), encoding="utf-8")
    registry = _registry(tmp_path, "a.csv", "b.csv", capacity=1)
    values = [compute_from_ledger(ctx, "sales.arr", name, datasets=registry, as_of=MID_2026).value for name in "aba"]
    assert values == [Decimal(1000), Decimal(2000), Decimal(1000)]
    stats = registry.store.stats
    # Room for one: b pushes a out, and a coming back pushes b out; every call read its file.
    assert (stats.loads, stats.hits, stats.evictions, stats.cached) == (3, 0, 2, 1)


def test_calls_from_several_threads_share_one_read_and_agree(ctx, tmp_path):
    rows = "".join(_row(f"C{n}", "1000") for n in range(1, 201))
    (tmp_path / "book.csv").write_text(HEADER + rows, encoding="utf-8")
    registry = _registry(tmp_path, "book.csv")
    values: list[Decimal | None] = []

    def call() -> None:
        values.append(compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026).value)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 200 contracts × 1,000 = 200,000, in every thread; the file was read by one of them only.
    assert values == [Decimal(200000)] * 8
    stats = registry.store.stats
    assert (stats.loads, stats.hits) == (1, 7)
