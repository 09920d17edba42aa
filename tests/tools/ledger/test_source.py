"""Datasets under the data directory, the three file formats and inline rows; paths outside refused."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.source import MAX_INLINE_ROWS, MAX_LEDGER_NAME, Dataset, DatasetRegistry, LedgerFormat

ROWS = [
    # 1,200 a month + 6,000 a year = 20,400 ARR in mid-2026.
    {
        "contract_id": "C1",
        "account_id": "A1",
        "charge_type": "recurring",
        "amount": "1200",
        "amount_period": "month",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "signed_date": "2025-12-20",
        "currency": "USD",
        "change_type": "new",
    },
    {
        "contract_id": "C2",
        "account_id": "A2",
        "charge_type": "recurring",
        "amount": "6000",
        "amount_period": "year",
        "start_date": "2026-02-01",
        "end_date": "2027-01-31",
        "signed_date": "2026-01-15",
        "currency": "USD",
        "change_type": "new",
        "go_live_date": "2026-02-01",
    },
]


def _write_all(data: Path) -> None:
    columns = list(ROWS[1])
    lines = [",".join(columns)] + [",".join(str(row.get(c, "")) for c in columns) for row in ROWS]
    (data / "l.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (data / "l.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    pq.write_table(pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in ROWS]), data / "l.parquet")


@pytest.mark.parametrize("name", ["l.csv", "l.jsonl", "l.parquet"])
def test_every_file_format_gives_the_same_arr(ctx, tmp_path, name):
    from kpi_context.tools.ledger.engine import compute_from_ledger

    _write_all(tmp_path)
    registry = DatasetRegistry.from_cli(tmp_path, [f"demo={tmp_path / name}"])
    arr = compute_from_ledger(ctx, "sales.arr", "demo", datasets=registry, as_of=date(2026, 6, 30))
    assert arr.value == Decimal(20400)
    assert arr.ledger is not None and arr.ledger.dataset == "demo"
    assert (arr.ledger.rows_read, arr.ledger.rows_used) == (2, 2)


def test_inline_rows_give_the_same_arr(compute):
    arr = compute("sales.arr", ROWS, as_of=date(2026, 6, 30))
    assert arr.value == Decimal(20400)
    assert arr.ledger is not None and arr.ledger.dataset == "inline"


def test_a_dataset_can_be_named_inside_a_ledger_object(ctx, tmp_path):
    from kpi_context.tools.ledger.engine import compute_from_ledger

    _write_all(tmp_path)
    registry = DatasetRegistry.from_cli(tmp_path, [f"demo={tmp_path / 'l.csv'}"])
    arr = compute_from_ledger(ctx, "sales.arr", {"dataset": "demo"}, datasets=registry, as_of=date(2026, 6, 30))
    assert arr.value == Decimal(20400)


def test_too_many_inline_rows_are_refused(compute):
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", [ROWS[0]] * (MAX_INLINE_ROWS + 1), as_of=date(2026, 6, 30))
    assert caught.value.code is ErrorCode.LEDGER_TOO_LARGE


def test_a_path_climbing_out_of_the_data_directory_is_refused(compute, registry):
    (registry.data_dir.parent / "secret.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", "../secret.csv", as_of=date(2026, 6, 30))
    assert caught.value.code is ErrorCode.PATH_NOT_ALLOWED


def test_an_absolute_path_outside_the_data_directory_is_refused(compute, registry):
    outside = registry.data_dir.parent / "other.csv"
    outside.write_text("x\n", encoding="utf-8")
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", str(outside), as_of=date(2026, 6, 30))
    assert caught.value.code is ErrorCode.PATH_NOT_ALLOWED


def test_a_symlink_escaping_the_data_directory_is_refused(compute, registry):
    outside = registry.data_dir.parent / "elsewhere.csv"
    outside.write_text("x\n", encoding="utf-8")
    (registry.data_dir / "inside.csv").symlink_to(outside)
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", "inside.csv", as_of=date(2026, 6, 30))
    assert caught.value.code is ErrorCode.PATH_NOT_ALLOWED


def test_a_dataset_registered_outside_the_data_directory_is_refused_at_start(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "l.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(KpiError) as caught:
        DatasetRegistry.from_cli(data, [f"demo={tmp_path / 'l.csv'}"])
    assert caught.value.code is ErrorCode.PATH_NOT_ALLOWED


def test_a_registered_link_swapped_to_point_outside_is_refused_at_read_time(ctx, tmp_path):
    from kpi_context.tools.ledger.engine import compute_from_ledger

    data = tmp_path / "data"
    data.mkdir()
    _write_all(data)
    link = data / "current.csv"
    link.symlink_to(data / "l.csv")
    registry = DatasetRegistry.from_cli(data, [f"demo={link}"])
    assert registry.datasets["demo"].path == (data / "l.csv").resolve()
    # A registry holding the link itself (not its target) must still refuse once the link points outside.
    escaped = DatasetRegistry(data, {"demo": Dataset("demo", link, LedgerFormat.CSV)})
    link.unlink()
    (tmp_path / "outside.csv").write_text("x\n", encoding="utf-8")
    link.symlink_to(tmp_path / "outside.csv")
    with pytest.raises(KpiError) as caught:
        compute_from_ledger(ctx, "sales.arr", "demo", datasets=escaped, as_of=date(2026, 6, 30))
    assert caught.value.code is ErrorCode.PATH_NOT_ALLOWED


def test_an_unknown_dataset_name_is_refused_listing_the_known_ones(compute):
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", "nosuch", as_of=date(2026, 6, 30))
    assert caught.value.code is ErrorCode.DATASET_NOT_FOUND


def test_an_unsupported_file_format_is_refused(compute, registry):
    (registry.data_dir / "l.xlsx").write_text("x", encoding="utf-8")
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", "l.xlsx", as_of=date(2026, 6, 30))
    assert caught.value.code is ErrorCode.UNSUPPORTED_FORMAT


def test_a_malformed_dataset_spec_is_refused(tmp_path):
    with pytest.raises(KpiError) as caught:
        DatasetRegistry.from_cli(tmp_path, ["no-equals-sign"])
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT


def test_without_a_data_directory_no_dataset_or_path_can_be_named() -> None:
    registry = DatasetRegistry(data_dir=None)
    for reference in ("sample", "ledger.csv", "/etc/passwd"):
        with pytest.raises(KpiError) as info:
            registry.resolve(reference)
        assert (info.value.code, info.value.detail.field) == (ErrorCode.DATASET_NOT_FOUND, "ledger")


# --- ledger names a call cannot use ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("sam\x00ple", "control character U+0000"),
        ("sample\n", "control character U+000A"),
        ("sa\x1bmple", "control character U+001B"),
        ("x" * (MAX_LEDGER_NAME + 1), f"at most {MAX_LEDGER_NAME}"),
    ],
)
def test_a_ledger_name_with_a_control_character_or_too_long_is_an_invalid_argument(compute, name, why):
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", name, as_of=date(2026, 6, 30))
    assert (caught.value.code, caught.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "ledger")
    assert why in caught.value.detail.message


def test_a_bad_name_inside_a_ledger_object_names_ledger_dataset(ctx, registry):
    from kpi_context.tools.ledger.engine import compute_from_ledger

    with pytest.raises(KpiError) as caught:
        compute_from_ledger(ctx, "sales.arr", {"dataset": "a\x00.csv"}, datasets=registry, as_of=date(2026, 6, 30))
    assert (caught.value.code, caught.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "ledger.dataset")


def test_a_name_of_the_longest_allowed_length_is_looked_up(compute):
    # 200 characters pass the name rule; no dataset has that name, so it is not found (not an OS error).
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", "x" * MAX_LEDGER_NAME, as_of=date(2026, 6, 30))
    assert caught.value.code is ErrorCode.DATASET_NOT_FOUND


def test_a_path_component_too_long_for_the_os_is_not_found(compute):
    # 199 characters then ".csv": within the name rule, but longer than a file name may be (255 bytes in UTF-8).
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", "é" * 196 + ".csv", as_of=date(2026, 6, 30))
    assert (caught.value.code, caught.value.detail.field) == (ErrorCode.DATASET_NOT_FOUND, "ledger")


def test_a_path_in_a_symlink_loop_is_refused(compute, registry):
    (registry.data_dir / "a.csv").symlink_to(registry.data_dir / "b.csv")
    (registry.data_dir / "b.csv").symlink_to(registry.data_dir / "a.csv")
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", "a.csv", as_of=date(2026, 6, 30))
    assert (caught.value.code, caught.value.detail.field) == (ErrorCode.PATH_NOT_ALLOWED, "ledger")


def test_a_fifo_named_by_path_is_refused_as_not_a_regular_file(compute, registry):
    os.mkfifo(registry.data_dir / "pipe.csv")
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", "pipe.csv", as_of=date(2026, 6, 30))
    assert (caught.value.code, caught.value.detail.field) == (ErrorCode.PATH_NOT_ALLOWED, "ledger")


def test_a_fifo_registered_at_start_up_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(KpiError) as caught:
        DatasetRegistry.from_cli(tmp_path, [f"demo={tmp_path / 'pipe.csv'}"])
    assert caught.value.code is ErrorCode.PATH_NOT_ALLOWED
