"""The checked table of a dataset file is kept across calls, and never served once the file or the rates differ."""

from __future__ import annotations

import dataclasses
import os
import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger import store as store_module
from kpi_context.tools.ledger.engine import compute_from_ledger
from kpi_context.tools.ledger.source import Dataset, DatasetRegistry, LedgerFormat
from kpi_context.tools.ledger.store import LedgerStore
from kpi_context.tools.ledger.validate import read_checked

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
    # ARR and customer count price and value the lines under the same rules: one priced table, one table of
    # contract values and one of live accounts, each built once and reused once.
    assert (stats.derivations, stats.derived_hits) == (3, 3)
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
    # One read of the file; per rate a conversion, the lines priced from it, their contract values and live
    # accounts, built once each (4 × 2 = 8); the third call, at rate 1.10, reuses the first one's four tables.
    assert (stats.loads, stats.hits) == (1, 2)
    assert (stats.derivations, stats.derived_hits) == (8, 4)


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


# --- files that change under the server -------------------------------------------------------------


def test_a_same_size_rewrite_that_restores_the_modification_time_is_read_again(ctx, tmp_path):
    path = tmp_path / "book.csv"
    path.write_text(HEADER + _row("C1", "12000"), encoding="utf-8")
    old = path.stat()
    registry = _registry(tmp_path, "book.csv")
    before = compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
    # Same size (12000 → 13000), same inode, modification time set back: only the change time moves.
    path.write_text(HEADER + _row("C1", "13000"), encoding="utf-8")
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (old.st_size, old.st_mtime_ns)
    after = compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
    assert (before.value, after.value) == (Decimal(12000), Decimal(13000))
    assert registry.store.stats.loads == 2


def test_a_file_replaced_by_a_rename_with_the_same_size_and_time_is_read_again(ctx, tmp_path):
    path = tmp_path / "book.csv"
    path.write_text(HEADER + _row("C1", "12000"), encoding="utf-8")
    old = path.stat()
    registry = _registry(tmp_path, "book.csv")
    before = compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
    fresh = tmp_path / "fresh.tmp"
    fresh.write_text(HEADER + _row("C1", "13000"), encoding="utf-8")
    os.utime(fresh, ns=(old.st_atime_ns, old.st_mtime_ns))
    fresh.replace(path)
    after = compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
    assert (before.value, after.value) == (Decimal(12000), Decimal(13000))


def test_a_recent_file_is_confirmed_by_its_content_when_its_timestamps_cannot_tell(ctx, tmp_path, monkeypatch):
    # A file system whose change time and inode say nothing (a coarse clock, a network mount): the key
    # alone would serve the old table after a same-size rewrite with the old modification time. The file
    # was written just now, so its table is kept with a content fingerprint, and that tells.
    real_of = store_module.FileKey.of

    def blind(path: Path, status: os.stat_result) -> store_module.FileKey:
        return dataclasses.replace(real_of(path, status), inode=0, ctime_ns=0)

    monkeypatch.setattr(store_module.FileKey, "of", staticmethod(blind))
    path = tmp_path / "book.csv"
    path.write_text(HEADER + _row("C1", "12000"), encoding="utf-8")
    old = path.stat()
    registry = _registry(tmp_path, "book.csv")
    first = compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
    again = compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
    path.write_text(HEADER + _row("C1", "13000"), encoding="utf-8")
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    after = compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
    assert (first.value, again.value, after.value) == (Decimal(12000), Decimal(12000), Decimal(13000))
    stats = registry.store.stats
    # Read, served once from the cache (content unchanged), then read again once the content differed.
    assert (stats.loads, stats.hits, stats.evictions) == (2, 1, 1)


def _load_that_rewrites(path: Path, rewrites: int):
    """read_checked, with the file rewritten in place (same size) while the first `rewrites` reads run."""
    done = {"reads": 0}

    def load(con, table: str, opened: Path):
        checked = read_checked(con, table, dataset=Dataset("book", path, LedgerFormat.CSV), opened=opened)
        done["reads"] += 1
        if done["reads"] <= rewrites:
            path.write_text(HEADER + _row("C1", str(13000 + done["reads"] * 1000)), encoding="utf-8")
        return checked

    return load, done


@pytest.mark.parametrize("racy_ns", [store_module.RACY_NS, 0], ids=["recent file: by content", "older file: by key"])
def test_a_file_rewritten_while_it_is_read_is_read_again_and_never_served_half_written(tmp_path, monkeypatch, racy_ns):
    # With RACY_NS 0 every file counts as old: the rewrite is seen by its change time alone.
    monkeypatch.setattr(store_module, "RACY_NS", racy_ns)
    path = tmp_path / "book.csv"
    path.write_text(HEADER + _row("C1", "12000"), encoding="utf-8")
    store = LedgerStore()
    load, done = _load_that_rewrites(path, rewrites=1)
    with store.checked(path, load, shown="book") as held, store.cursor() as con:
        amounts = con.execute(f"SELECT amount_net FROM {held.checked.table}").fetchall()
    # The first read saw 12,000 but the file became 14,000 during it: read again, 14,000 is what is served.
    assert (done["reads"], amounts) == (2, [(Decimal(14000),)])


def test_a_file_that_keeps_changing_while_it_is_read_is_refused_as_unavailable(tmp_path):
    path = tmp_path / "book.csv"
    path.write_text(HEADER + _row("C1", "12000"), encoding="utf-8")
    store = LedgerStore()
    load, done = _load_that_rewrites(path, rewrites=2)
    with pytest.raises(KpiError) as caught, store.checked(path, load, shown="book"):
        pass
    assert (caught.value.code, caught.value.detail.field) == (ErrorCode.DATASET_UNAVAILABLE, "ledger")
    assert "changed while it was being read" in caught.value.detail.message
    # Two reads, nothing kept: no table is left behind for a later call to be served from.
    assert done["reads"] == 2 and store.stats.cached == 0


def test_a_dataset_swapped_for_a_fifo_is_refused_at_once_without_blocking(ctx, tmp_path):
    path = tmp_path / "book.csv"
    path.write_text(HEADER + _row("C1", "12000"), encoding="utf-8")
    registry = _registry(tmp_path, "book.csv")
    path.unlink()
    os.mkfifo(path)
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - the outcome is asserted below
            outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():
        # Unblock the reader so the test process can end, then fail: the call must never wait on a FIFO.
        with open(path, "w"):
            pass
        pytest.fail("the call blocked on a FIFO")
    (error,) = outcome
    assert isinstance(error, KpiError)
    assert (error.code, error.detail.field) == (ErrorCode.PATH_NOT_ALLOWED, "ledger")
    assert "not a regular file" in error.detail.message


def test_a_registered_dataset_deleted_after_start_up_is_unavailable(ctx, tmp_path):
    path = tmp_path / "book.csv"
    path.write_text(HEADER + _row("C1", "12000"), encoding="utf-8")
    registry = _registry(tmp_path, "book.csv")
    path.unlink()
    with pytest.raises(KpiError) as caught:
        compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
    assert (caught.value.code, caught.value.detail.field) == (ErrorCode.DATASET_UNAVAILABLE, "ledger")
    assert "'book'" in caught.value.detail.message and "gone" in caught.value.detail.message


def test_a_symlink_swapped_in_after_the_path_was_checked_is_not_followed(tmp_path):
    # The registry resolved the path to a file; it is replaced by a link (even to a file inside the
    # directory) before the store opens it: the store does not follow it.
    path = tmp_path / "book.csv"
    path.write_text(HEADER + _row("C1", "12000"), encoding="utf-8")
    (tmp_path / "other.csv").write_text(HEADER + _row("C1", "99000"), encoding="utf-8")
    store = LedgerStore()
    path.unlink()
    path.symlink_to(tmp_path / "other.csv")
    load, _ = _load_that_rewrites(path, rewrites=0)
    with pytest.raises(KpiError) as caught, store.checked(path, load, shown="book"):
        pass
    assert caught.value.code is ErrorCode.DATASET_UNAVAILABLE


def test_a_file_that_cannot_be_read_is_named_by_its_file_not_by_the_descriptor_it_was_read_through(ctx, tmp_path):
    (tmp_path / "book.parquet").write_bytes(b"not a parquet file")
    registry = _registry(tmp_path, "book.parquet")
    with pytest.raises(KpiError) as caught:
        compute_from_ledger(ctx, "sales.arr", "book", datasets=registry, as_of=MID_2026)
    assert caught.value.code is ErrorCode.LEDGER_INVALID
    message = caught.value.detail.message
    assert message.startswith("book.parquet could not be read as parquet") and "/proc/" not in message
