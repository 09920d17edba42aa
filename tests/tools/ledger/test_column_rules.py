"""Every ledger column rule is exact, as the README states it, and the same in every format.

The oracle (tests/support/ledger_oracle.py) is written from the README's "Ledger format" rules
alone (plain Python, no DuckDB, no code shared with the validator); the fuzz bench uses the same
one. A seeded generator makes rows from the rules and from their violations; the validator must
agree with the oracle on every row, in every format, name the column at fault in the row's
reason, and account for every row (read = used + rejected).
"""

from __future__ import annotations

import csv
import datetime
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kpi_context.tools.ledger.source import Dataset, InlineRows, LedgerFormat
from kpi_context.tools.ledger.store import LedgerStore
from kpi_context.tools.ledger.validate import read_checked, read_inline
from tests.support.ledger_oracle import (
    BAD_AMOUNTS,
    BAD_CURRENCIES,
    BAD_DATES,
    COLUMNS,
    EDGE_AMOUNTS,
    EDGE_DATES,
    disagreements,
    generated_rows,
    oracle,
    write_ledger,
)
from tests.support.ledgers import line

# ---------------------------------------------------------------------------------------------
# The same rows in each format, through the validator.


@contextmanager
def _checked(rows: list[dict[str, str | None]], tmp_path: Path, fmt: str) -> Iterator[list[tuple[int, str]]]:
    """(row number, reason) for every row, in file order, read as `fmt` ('inline' or a file format)."""
    store = LedgerStore()
    with store.cursor() as con:
        if fmt == "inline":
            checked = read_inline(con, "t", "inline", InlineRows(tuple(rows)))
        else:
            path = tmp_path / f"rows.{fmt}"
            write_ledger(rows, path, LedgerFormat(fmt))
            checked = read_checked(con, "t", dataset=Dataset("rows", path, LedgerFormat(fmt)), temporary=True)
        listed = con.execute("SELECT rowid + 1, reason FROM t ORDER BY rowid").fetchall()
        assert checked.rows_read == len(listed)
        used = sum(1 for _, reason in listed if reason == "")
        assert (checked.rows_read - checked.rows_rejected, checked.rows_rejected) == (used, len(listed) - used)
        yield [(int(n), str(r)) for n, r in listed]


FORMATS = ["inline", "csv", "jsonl", "parquet"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_validator_agrees_with_the_readme_oracle_on_generated_rows(tmp_path, fmt):
    rows = generated_rows(seed=8, count=3000)
    with _checked(rows, tmp_path, fmt) as checked:
        # Row numbers run 1…n in file order: every row is accounted for.
        assert [n for n, _ in checked] == list(range(1, len(rows) + 1))
        assert disagreements(rows, checked) == []
        # The generator exercises both sides of the rules: a good share of rows on each.
        rejected = sum(1 for _, reason in checked if reason)
        assert 0.2 * len(rows) < rejected < 0.8 * len(rows)


def test_every_format_gives_the_same_verdict_and_reason_on_every_row(tmp_path):
    rows = generated_rows(seed=9, count=1000)
    verdicts = {}
    for fmt in FORMATS:
        with _checked(rows, tmp_path, fmt) as checked:
            verdicts[fmt] = checked
    assert verdicts["csv"] == verdicts["inline"]
    assert verdicts["jsonl"] == verdicts["inline"]
    assert verdicts["parquet"] == verdicts["inline"]


def _reasons(rows: list[dict[str, str | None]], tmp_path: Path) -> list[str]:
    with _checked(rows, tmp_path, "inline") as checked:
        return [reason for _, reason in checked]


@pytest.mark.parametrize("text", BAD_DATES)
def test_a_date_that_is_not_a_real_iso_day_from_1900_to_2199_is_rejected(tmp_path, text):
    (reason,) = _reasons([line(end_date=text)], tmp_path)
    assert reason.startswith("end_date ") and "is not a date (YYYY-MM-DD" in reason


@pytest.mark.parametrize("text", EDGE_DATES)
def test_a_real_iso_day_within_the_years_is_accepted_with_spaces_around_it(tmp_path, text):
    # start_date 1900-01-01 keeps every edge date on or after the start.
    assert _reasons([line(start_date="1900-01-01", end_date=text)], tmp_path) == [""]


@pytest.mark.parametrize("text", BAD_AMOUNTS)
def test_an_amount_outside_the_decimal_rule_is_rejected(tmp_path, text):
    (reason,) = _reasons([line(amount=text)], tmp_path)
    assert reason.startswith("amount ") and "is not a decimal number" in reason


@pytest.mark.parametrize("text", EDGE_AMOUNTS)
def test_an_amount_inside_the_decimal_rule_is_accepted(tmp_path, text):
    assert _reasons([line(amount=text)], tmp_path) == [""]


@pytest.mark.parametrize("text", BAD_CURRENCIES)
def test_a_currency_other_than_three_ascii_capitals_is_rejected(tmp_path, text):
    (reason,) = _reasons([line(currency=text)], tmp_path)
    assert "is not an ISO 4217 code" in reason


def test_an_infinite_end_date_no_longer_gives_an_arr(compute, make_line):
    # The one-line ledger: end_date "infinity" gave ARR 360,000 with no row rejected.
    # Now the row is rejected, and a ledger with no usable row is refused.
    from kpi_context.tools.errors import ErrorCode, KpiError

    with pytest.raises(KpiError) as caught:
        compute("sales.arr", [make_line(amount="1000", end_date="infinity")], as_of=date(2026, 6, 30))
    assert caught.value.code is ErrorCode.LEDGER_INVALID
    assert "end_date 'infinity' is not a date" in str(caught.value.detail.details["rejections"][0]["reason"])


def _typed_parquet(path: Path, **columns: pa.Array) -> None:
    base = {c: pa.array([v] * len(next(iter(columns.values())))) for c, v in line().items()}
    base.update(columns)
    pq.write_table(pa.table(base), path)


def test_typed_parquet_dates_go_through_the_same_rules(tmp_path):
    # A DATE column reads as its ISO text: 2026-12-31 is used; 1850-01-01 is outside the years; a TIMESTAMP
    # column reads as "2026-12-31 00:00:00", which is not YYYY-MM-DD.
    path = tmp_path / "typed.parquet"
    _typed_parquet(path, end_date=pa.array([date(2026, 12, 31), date(1850, 1, 1)], pa.date32()))
    store = LedgerStore()
    with store.cursor() as con:
        read_checked(con, "t", dataset=Dataset("t", path, LedgerFormat.PARQUET), temporary=True)
        reasons = [r for (r,) in con.execute("SELECT reason FROM t ORDER BY rowid").fetchall()]
    assert reasons[0] == ""
    assert reasons[1].startswith("end_date '1850-01-01' is not a date")
    stamps = tmp_path / "stamps.parquet"
    _typed_parquet(stamps, end_date=pa.array([datetime.datetime(2026, 12, 31)], pa.timestamp("us")))
    with store.cursor() as con:
        read_checked(con, "t", dataset=Dataset("t", stamps, LedgerFormat.PARQUET), temporary=True)
        (reason,) = con.execute("SELECT reason FROM t").fetchone() or ("",)
    assert reason.startswith("end_date '2026-12-31 00:00:00' is not a date")


def test_typed_parquet_amounts_go_through_the_same_rules(tmp_path):
    # DOUBLE 12000.0 → "12000.0" used; NaN, infinity and 1e20 (printed "1e+20") rejected;
    # DECIMAL(18,8) 12000 → "12000.00000000" used (trailing zeros); INT64 12000 → "12000" used.
    path = tmp_path / "typed.parquet"
    _typed_parquet(path, amount=pa.array([12000.0, float("nan"), float("inf"), 1e20], pa.float64()))
    store = LedgerStore()
    with store.cursor() as con:
        read_checked(con, "t", dataset=Dataset("t", path, LedgerFormat.PARQUET), temporary=True)
        reasons = [r for (r,) in con.execute("SELECT reason FROM t ORDER BY rowid").fetchall()]
    assert reasons[0] == ""
    assert [r.split(" is not")[0] for r in reasons[1:]] == ["amount 'nan'", "amount 'inf'", "amount '1e+20'"]
    for array in (pa.array([Decimal(12000)], pa.decimal128(18, 8)), pa.array([12000], pa.int64())):
        other = tmp_path / "other.parquet"
        _typed_parquet(other, amount=array)
        with store.cursor() as con:
            read_checked(con, "t", dataset=Dataset("t", other, LedgerFormat.PARQUET), temporary=True)
            assert con.execute("SELECT reason FROM t").fetchall() == [("",)]


def test_inline_numbers_read_as_their_text_and_non_finite_ones_are_rejected(tmp_path):
    rows: list[dict] = [
        line(amount=12000),
        line(amount=12000.5),
        line(amount=float("nan")),
        line(amount=float("inf")),
        line(amount=10**5000),
        line(amount=True),
    ]
    reasons = _reasons(rows, tmp_path)
    assert reasons[:2] == ["", ""]
    assert all("amount" in r and "is not a decimal number" in r for r in reasons[2:])


def test_the_duckdb_date_cast_is_lenient_which_is_why_it_is_not_the_rule():
    # A guard on the reason for the rules: if DuckDB ever turns strict this test says so.
    con = duckdb.connect()
    assert con.execute("SELECT TRY_CAST('infinity' AS DATE) IS NOT NULL").fetchone() == (True,)


# ---------------------------------------------------------------------------------------------
# Dimension columns: the README's rule, transcribed, on top of the shared oracle.

DIMENSIONS = ("segment", "region", "product", "plan", "industry")
CONTROL = {chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))}
"""README: no control character — C0 (U+0000–U+001F), DEL and C1 (U+0080–U+009F)."""


def dimension_faults(row: dict[str, str | None]) -> set[str]:
    """README: a dimension value is optional text of at most 64 characters with no control character."""
    return {
        column
        for column in DIMENSIONS
        if (text := row.get(column)) is not None and (len(text) > 64 or any(c in CONTROL for c in text))
    }


GOOD_MEMBERS = ["enterprise", "mid_market", "EMEA", "Île-de-France", "日本", "a" * 64, "  spaced  ", "   ", "", "x'y"]
BAD_MEMBERS = ["a" * 65, "é" * 65, "tab\there", "line\nbreak", "bell\x07", "del\x7f", "nel\x85", "c1\x9f", "\x1f"]


def rows_with_dimensions(seed: int, count: int) -> list[dict[str, str | None]]:
    """The shared generator's rows, each with some dimension columns set to a good or a bad value."""
    rng = random.Random(seed)
    rows = generated_rows(seed=seed, count=count)
    for row in rows:
        for column in DIMENSIONS:
            roll = rng.random()
            if roll < 0.5:
                row[column] = rng.choice(GOOD_MEMBERS)
            elif roll < 0.58:
                row[column] = rng.choice(BAD_MEMBERS)
    return rows


def _write_with_dimensions(rows: list[dict[str, str | None]], path: Path, fmt: LedgerFormat) -> None:
    columns = (*COLUMNS, *DIMENSIONS)
    match fmt:
        case LedgerFormat.CSV:
            with path.open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(columns)
                writer.writerows([[row.get(c) or "" for c in columns] for row in rows])
        case LedgerFormat.JSONL:
            path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        case LedgerFormat.PARQUET:
            schema = pa.schema([(c, pa.string()) for c in columns])
            pq.write_table(pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows], schema), path)


def _verdicts(rows: list[dict[str, str | None]], tmp_path: Path, fmt: str) -> list[str]:
    store = LedgerStore()
    with store.cursor() as con:
        if fmt == "inline":
            checked = read_inline(con, "t", "inline", InlineRows(tuple(rows)))
        else:
            path = tmp_path / f"dims.{fmt}"
            _write_with_dimensions(rows, path, LedgerFormat(fmt))
            checked = read_checked(con, "t", dataset=Dataset("dims", path, LedgerFormat(fmt)), temporary=True)
        reasons = [str(r) for (r,) in con.execute("SELECT reason FROM t ORDER BY rowid").fetchall()]
    assert checked.rows_read == len(reasons) == len(rows)
    assert checked.rows_read - checked.rows_rejected == sum(1 for r in reasons if r == "")
    return reasons


@pytest.mark.parametrize("fmt", FORMATS)
def test_dimension_values_are_judged_by_the_readme_rule_in_every_format(tmp_path, fmt):
    rows = rows_with_dimensions(seed=12, count=1500)
    reasons = _verdicts(rows, tmp_path, fmt)
    found = []
    for number, (row, reason) in enumerate(zip(rows, reasons, strict=True), start=1):
        faults = oracle(row) | dimension_faults(row)
        if bool(faults) != bool(reason):
            found.append(f"row {number}: oracle {sorted(faults) or 'usable'}, validator {reason or 'usable'!r}")
        elif any(column not in reason for column in faults - {"row"}):
            found.append(f"row {number}: oracle faults {sorted(faults)} not all named in {reason!r}")
    assert found == []
    # Both sides of the dimension rule are exercised, on rows otherwise usable.
    clean = [dimension_faults(row) for row in rows if not oracle(row)]
    assert sum(1 for f in clean if f) > 50 and sum(1 for f in clean if not f) > 50


def test_every_format_judges_dimension_values_alike(tmp_path):
    rows = rows_with_dimensions(seed=13, count=600)
    verdicts = {fmt: _verdicts(rows, tmp_path, fmt) for fmt in FORMATS}
    assert verdicts["csv"] == verdicts["jsonl"] == verdicts["parquet"] == verdicts["inline"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a" * 65, "segment '" + "a" * 40 + "' is longer than 64 characters"),
        ("tab\there", "segment 'tab?here' holds a control character"),
        ("nul\x00", "segment 'nul?' holds a control character"),
        ("nel\x85", "segment 'nel?' holds a control character"),
    ],
)
def test_a_bad_dimension_value_rejects_its_row_with_the_reason(tmp_path, value, reason):
    assert _reasons([line(), line(segment=value)], tmp_path) == ["", reason]


def test_a_declared_dimension_is_judged_and_an_undeclared_column_is_ignored(tmp_path):
    rows = (line(team="x" * 65), line(other="x" * 65))
    store = LedgerStore()
    with store.cursor() as con:
        read_inline(con, "t", "inline", InlineRows(rows), dimensions=(*DIMENSIONS, "team"))
        reasons = [str(r) for (r,) in con.execute("SELECT reason FROM t ORDER BY rowid").fetchall()]
    assert reasons == ["team '" + "x" * 40 + "' is longer than 64 characters", ""]
