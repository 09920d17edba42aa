"""A Parquet directory (hive partitions read as columns) or glob as one dataset; every file kept inside the data dir."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.engine import compute_cuts_from_ledger, compute_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from tests.support.ledgers import line

MID_2026 = date(2026, 6, 30)

# A1: 1,200 a month = 14,400 a year; A2: 6,000 a year; A3: 3,000 a year. All in force on 2026-06-30.
A1 = line(contract_id="C1", account_id="A1", amount="1200", amount_period="month", region="amer")
A2 = line(contract_id="C2", account_id="A2", amount="6000", region="emea")
A3 = line(contract_id="C3", account_id="A3", amount="3000", region="emea")


def _write(path: Path, rows: list[dict[str, Any]], drop: tuple[str, ...] = ()) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = [c for c in rows[0] if c not in drop]
    pq.write_table(pa.Table.from_pylist([{c: r[c] for c in columns} for r in rows]), path)


def _arr(ctx, registry: DatasetRegistry) -> Decimal | None:
    return compute_from_ledger(ctx, "sales.arr", "lake", datasets=registry, as_of=MID_2026).value


def test_a_hive_partitioned_directory_is_one_ledger_with_its_partition_as_a_dimension(ctx, tmp_path):
    # region=amer holds A1 (14,400), region=emea holds A2 (6,000): ARR 20,400, split by the folders' region.
    export = tmp_path / "export"
    _write(export / "region=amer" / "part-0.parquet", [A1], drop=("region",))
    _write(export / "region=emea" / "part-0.parquet", [A2], drop=("region",))
    (export / "_SUCCESS").write_text("")  # an export's marker file is not part of the ledger
    registry = DatasetRegistry.from_cli(tmp_path, [f"lake={export}/"])
    assert _arr(ctx, registry) == Decimal(20400)
    cut = compute_cuts_from_ledger(ctx, "sales.arr", "lake", datasets=registry, group_by="region", as_of=MID_2026)
    assert {g.binding.grain.segment.member: g.value for g in cut.groups} == {
        "amer": Decimal(14400),
        "emea": Decimal(6000),
    }


def test_a_glob_reads_every_file_it_matches_and_nothing_else(ctx, tmp_path):
    # a.parquet (A1, 14,400) and b.parquet (A2, 6,000) match; other.pq (A3) does not: 20,400.
    _write(tmp_path / "lake" / "a.parquet", [A1])
    _write(tmp_path / "lake" / "b.parquet", [A2])
    _write(tmp_path / "lake" / "other.pq", [A3])
    registry = DatasetRegistry.from_cli(tmp_path, [f"lake={tmp_path}/lake/*.parquet"])
    value = compute_from_ledger(ctx, "sales.arr", "lake", datasets=registry, as_of=MID_2026)
    assert value.value == Decimal(20400)
    assert value.ledger is not None and (value.ledger.dataset, value.ledger.rows_read) == ("lake", 2)


def test_the_set_is_cached_until_a_file_is_added_then_read_again(ctx, tmp_path):
    # 20,400 from two files; a third file with A3 (3,000) makes another set: read again, 23,400.
    _write(tmp_path / "lake" / "a.parquet", [A1])
    _write(tmp_path / "lake" / "b.parquet", [A2])
    registry = DatasetRegistry.from_cli(tmp_path, [f"lake={tmp_path}/lake"])
    assert _arr(ctx, registry) == Decimal(20400)
    assert _arr(ctx, registry) == Decimal(20400)
    assert (registry.store.stats.loads, registry.store.stats.hits) == (1, 1)
    _write(tmp_path / "lake" / "c.parquet", [A3])
    assert _arr(ctx, registry) == Decimal(23400)
    assert (registry.store.stats.loads, registry.store.stats.cached) == (2, 1)


def test_a_glob_that_matches_no_parquet_file_is_refused_at_start(tmp_path):
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "notes.csv").write_text("a\n")
    with pytest.raises(KpiError) as info:
        DatasetRegistry.from_cli(tmp_path, [f"lake={tmp_path}/lake/*"])
    assert info.value.code is ErrorCode.DATASET_NOT_FOUND
    assert "matches no Parquet file" in info.value.detail.message


def test_a_file_linked_from_outside_the_data_directory_is_refused_not_skipped(tmp_path):
    data, outside = tmp_path / "data", tmp_path / "outside"
    _write(data / "lake" / "a.parquet", [A1])
    _write(outside / "secret.parquet", [A2])
    os.symlink(outside / "secret.parquet", data / "lake" / "b.parquet")
    with pytest.raises(KpiError) as info:
        DatasetRegistry.from_cli(data, [f"lake={data}/lake/*.parquet"])
    assert info.value.code is ErrorCode.PATH_NOT_ALLOWED


def test_a_link_out_added_after_start_is_refused_at_read_time(ctx, tmp_path):
    data, outside = tmp_path / "data", tmp_path / "outside"
    _write(data / "lake" / "a.parquet", [A1])
    _write(outside / "secret.parquet", [A2])
    registry = DatasetRegistry.from_cli(data, [f"lake={data}/lake"])
    os.symlink(outside / "secret.parquet", data / "lake" / "b.parquet")
    with pytest.raises(KpiError) as info:
        _arr(ctx, registry)
    assert info.value.code is ErrorCode.PATH_NOT_ALLOWED


def test_files_with_different_columns_are_refused_naming_the_file(ctx, tmp_path):
    _write(tmp_path / "lake" / "a.parquet", [A1])
    _write(tmp_path / "lake" / "b.parquet", [A2], drop=("region",))
    registry = DatasetRegistry.from_cli(tmp_path, [f"lake={tmp_path}/lake"])
    with pytest.raises(KpiError) as info:
        _arr(ctx, registry)
    detail = info.value.detail
    assert detail.code is ErrorCode.LEDGER_INVALID
    assert (detail.details["file"], detail.details["differing"]) == ("b.parquet", ["region"])


def test_files_without_a_required_column_are_refused_naming_it(ctx, tmp_path):
    _write(tmp_path / "lake" / "a.parquet", [A1], drop=("currency",))
    _write(tmp_path / "lake" / "b.parquet", [A2], drop=("currency",))
    registry = DatasetRegistry.from_cli(tmp_path, [f"lake={tmp_path}/lake/*.parquet"])
    with pytest.raises(KpiError) as info:
        _arr(ctx, registry)
    assert info.value.code is ErrorCode.LEDGER_INVALID
    assert info.value.detail.details["missing_columns"] == ["currency"]


def test_a_file_whose_name_looks_like_a_glob_is_that_one_file(ctx, tmp_path):
    # "ledger[1].parquet" exists: it is the dataset (A1, 14,400), not a pattern matching "ledger1.parquet" (A2).
    _write(tmp_path / "ledger[1].parquet", [A1])
    _write(tmp_path / "ledger1.parquet", [A2])
    registry = DatasetRegistry.from_cli(tmp_path, [f"lake={tmp_path}/ledger[1].parquet"])
    assert _arr(ctx, registry) == Decimal(14400)
