"""Every ledger column rule is exact, as the README states it, and the same in every format.

The oracle below is written from the README's "Ledger format" rules alone (plain Python, no
DuckDB, no code shared with the validator). A seeded generator makes rows from the rules and
from their violations; the validator must agree with the oracle on every row, in every format,
name the column at fault in the row's reason, and account for every row (read = used + rejected).
"""

from __future__ import annotations

import csv
import datetime
import json
import random
import string
from collections.abc import Iterator, Mapping
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
from tests.support.ledgers import line

# ---------------------------------------------------------------------------------------------
# The oracle: the README's rules, transcribed.

REQUIRED = (
    "contract_id",
    "account_id",
    "charge_type",
    "amount",
    "amount_period",
    "start_date",
    "end_date",
    "signed_date",
    "currency",
    "change_type",
)
CHARGE = {"recurring", "one_time", "usage_committed", "usage_overage", "services"}
PERIOD = {"month", "year", "term", "once"}
CHANGE = {"new", "renewal", "expansion", "contraction", "cancellation"}
REMOVING = {"contraction", "cancellation"}
DIGITS = set("0123456789")


def _blank(text: str | None) -> bool:
    return text is None or text.strip(" ") == ""


def _amount(text: str) -> Decimal | None:
    """README: optional '-', 1–24 ASCII digits, optionally '.' and 1–18 digits of which only the first 6
    may be other than 0; spaces (U+0020) around it are ignored. Nothing else."""
    body = text.strip(" ")
    digits = body[1:] if body.startswith("-") else body
    whole, dot, fraction = digits.partition(".")
    if not whole or len(whole) > 24 or not set(whole) <= DIGITS:
        return None
    # Up to 18 decimals, and the 7th onwards only zeros.
    if dot and (not fraction or len(fraction) > 18 or not set(fraction) <= DIGITS or set(fraction[6:]) - {"0"}):
        return None
    return Decimal(body)


def _date(text: str) -> date | None:
    """README: YYYY-MM-DD, ASCII digits, a real calendar day, year 1900–2199; spaces around it ignored."""
    body = text.strip(" ")
    if len(body) != 10 or body[4] != "-" or body[7] != "-":
        return None
    parts = body[:4], body[5:7], body[8:]
    if not all(set(p) <= DIGITS for p in parts):
        return None
    year, month, day = (int(p) for p in parts)
    if not 1900 <= year <= 2199:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def oracle(row: Mapping[str, str | None]) -> set[str]:
    """The columns (or 'row' for a rule between columns) that make the row unusable; empty when usable."""
    faults: set[str] = set()
    for column in REQUIRED:
        if _blank(row.get(column)):
            faults.add(column)
    amounts: dict[str, Decimal] = {}
    for column in ("amount", "list_amount"):
        text = row.get(column)
        if not _blank(text):
            assert text is not None
            value = _amount(text)
            if value is None:
                faults.add(column)
            else:
                amounts[column] = value
    dates: dict[str, date] = {}
    for column in ("start_date", "end_date", "signed_date", "go_live_date"):
        text = row.get(column)
        if not _blank(text):
            assert text is not None
            day = _date(text)
            if day is None:
                faults.add(column)
            else:
                dates[column] = day
    for column, allowed in (("charge_type", CHARGE), ("amount_period", PERIOD), ("change_type", CHANGE)):
        if not _blank(row.get(column)) and row.get(column) not in allowed:
            faults.add(column)
    currency = row.get("currency")
    if not _blank(currency):
        assert currency is not None
        if not (len(currency) == 3 and all(c in string.ascii_uppercase for c in currency)):
            faults.add("currency")
    if "start_date" in dates and "end_date" in dates and dates["end_date"] < dates["start_date"]:
        faults.add("row")
    change, charge, period = row.get("change_type"), row.get("charge_type"), row.get("amount_period")
    if "amount" in amounts and change in CHANGE:
        removing = change in REMOVING
        if (amounts["amount"] < 0 and not removing) or (amounts["amount"] > 0 and removing):
            faults.add("row")
    if "amount" in amounts and "list_amount" in amounts and amounts["amount"] * amounts["list_amount"] < 0:
        faults.add("row")
    if charge == "one_time" and period in PERIOD and period != "once":
        faults.add("row")
    if period == "once" and charge in {"recurring", "usage_committed"}:
        faults.add("row")
    return faults


# ---------------------------------------------------------------------------------------------
# The generator: rows from the rules, and from each rule's violations.

BAD_DATES = [
    "infinity",
    "-infinity",
    "epoch",
    "2025-01-01 (BC)",
    "-2025-01-01",
    "+2025-01-01",
    "2025/01/01",
    "2025-1-1",
    "2025-01-01T10:00",
    "2025-01-01 00:00:00",
    "2025-01-01Z",
    "2025-02-30",
    "2023-02-29",
    "2025-04-31",
    "2025-13-01",
    "2025-00-10",
    "2025-01-00",
    "2025-01-32",
    "1899-12-31",
    "2200-01-01",
    "0001-01-01",
    "9999-12-31",
    "20250101",
    "2025-01",
    "25-01-01",
    "today",
    "now",
    "\t2025-01-01",
    "2025-01-01\n",
    "٢٠٢٥-٠١-٠١",
    "２０２５-01-01",
    "2025-W01-1",
]
EDGE_DATES = ["1900-01-01", "2199-12-31", "2024-02-29", "2000-02-29", " 2025-06-30 ", "  2026-01-01"]
BAD_AMOUNTS = [
    "+100",
    "1,000",
    "1 000",
    "Infinity",
    "-Infinity",
    "inf",
    "NaN",
    "nan",
    "0x10",
    "1e3",
    "1E3",
    "١٠٠٠",
    "１００",
    "1234567890123456789012345",
    "-1234567890123456789012345",
    "1.1234567",
    "1.0000000000000000000",
    ".5",
    "5.",
    "--5",
    "- 5",
    "1.2.3",
    "12k",
    "$100",
    "1_000",
    "\t100",
    "100\n",
    "-",
]
EDGE_AMOUNTS = [
    "123456789012345678901234",
    "0.123456",
    "1.123456000000000000",
    "007",
    "-0",
    "0",
    " 42 ",
    "12000.00000000",
]
BAD_CURRENCIES = ["usd", "US", "USDX", " USD", "USD ", "ÜSD", "U$D", "123", "Usd"]
BAD_ENUMS = {
    "charge_type": ["Recurring", " recurring", "recurring ", "subscription", "one-time"],
    "amount_period": ["Month", "monthly", " year", "quarter"],
    "change_type": ["New", "renew", " new", "churn"],
}
BLANKS: list[str | None] = [None, "", "   "]


def _valid_date(rng: random.Random) -> str:
    day = date(1900, 1, 1) + datetime.timedelta(days=rng.randrange((date(2199, 12, 31) - date(1900, 1, 1)).days + 1))
    return day.isoformat()


def _valid_amount(rng: random.Random, negative: bool) -> str:
    whole = str(rng.randrange(10 ** rng.randint(1, 24)))
    text = whole
    if rng.random() < 0.4:
        fraction = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 6)))
        text += "." + fraction + "0" * rng.choice([0, 0, 0, 1, 6, 12])
    if negative:
        text = "-" + text
    return text


def _good_row(rng: random.Random, number: int) -> dict[str, str | None]:
    charge = rng.choice(sorted(CHARGE))
    if charge == "one_time":
        period = "once"
    elif charge in {"recurring", "usage_committed"}:
        period = rng.choice(["month", "year", "term"])
    else:
        period = rng.choice(sorted(PERIOD))
    change = rng.choice(sorted(CHANGE))
    negative = change in REMOVING
    start = _valid_date(rng)
    end_day = date.fromisoformat(start) + datetime.timedelta(days=rng.randrange(0, 1200))
    end = min(end_day, date(2199, 12, 31)).isoformat()
    row: dict[str, str | None] = {
        "contract_id": f"C{number}",
        "account_id": f"A{rng.randrange(50)}",
        "charge_type": charge,
        "amount": _valid_amount(rng, negative),
        "amount_period": period,
        "start_date": start,
        "end_date": end,
        "signed_date": _valid_date(rng),
        "currency": "".join(rng.choice(string.ascii_uppercase) for _ in range(3)),
        "change_type": change,
    }
    if rng.random() < 0.3:
        row["list_amount"] = _valid_amount(rng, negative)
    if rng.random() < 0.3:
        row["go_live_date"] = _valid_date(rng)
    return row


def _mutate(rng: random.Random, row: dict[str, str | None]) -> None:
    kind = rng.randrange(9)
    if kind == 0:
        row[rng.choice(["start_date", "end_date", "signed_date", "go_live_date"])] = rng.choice(BAD_DATES + EDGE_DATES)
    elif kind == 1:
        row[rng.choice(["amount", "list_amount"])] = rng.choice(BAD_AMOUNTS + EDGE_AMOUNTS)
    elif kind == 2:
        row["currency"] = rng.choice(BAD_CURRENCIES)
    elif kind == 3:
        column = rng.choice(sorted(BAD_ENUMS))
        row[column] = rng.choice(BAD_ENUMS[column] + sorted({"recurring", "once", "cancellation"}))
    elif kind == 4:
        row[rng.choice(REQUIRED)] = rng.choice(BLANKS)
    elif kind == 5:
        row["start_date"], row["end_date"] = row["end_date"], row["start_date"]
    elif kind == 6:
        amount = row["amount"] or ""
        row["amount"] = amount[1:] if amount.startswith("-") else "-" + amount
    elif kind == 7:
        row["change_type"] = rng.choice(sorted(CHANGE))
    else:
        row["amount_period"] = rng.choice(sorted(PERIOD))


def generated_rows(seed: int, count: int) -> list[dict[str, str | None]]:
    rng = random.Random(seed)
    rows = []
    for number in range(1, count + 1):
        row = _good_row(rng, number)
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            _mutate(rng, row)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# The same rows in each format, through the validator.

COLUMNS = (*REQUIRED, "list_amount", "go_live_date")


def _write(rows: list[dict[str, str | None]], path: Path, fmt: LedgerFormat) -> None:
    match fmt:
        case LedgerFormat.CSV:
            with path.open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(COLUMNS)
                writer.writerows([[row.get(c) or "" for c in COLUMNS] for row in rows])
        case LedgerFormat.JSONL:
            path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        case LedgerFormat.PARQUET:
            schema = pa.schema([(c, pa.string()) for c in COLUMNS])
            pq.write_table(pa.Table.from_pylist([{c: row.get(c) for c in COLUMNS} for row in rows], schema), path)


@contextmanager
def _checked(rows: list[dict[str, str | None]], tmp_path: Path, fmt: str) -> Iterator[list[tuple[int, str]]]:
    """(row number, reason) for every row, in file order, read as `fmt` ('inline' or a file format)."""
    store = LedgerStore()
    with store.cursor() as con:
        if fmt == "inline":
            checked = read_inline(con, "t", "inline", InlineRows(tuple(rows)))
        else:
            path = tmp_path / f"rows.{fmt}"
            _write(rows, path, LedgerFormat(fmt))
            checked = read_checked(con, "t", dataset=Dataset("rows", path, LedgerFormat(fmt)), temporary=True)
        listed = con.execute("SELECT rowid + 1, reason FROM t ORDER BY rowid").fetchall()
        assert checked.rows_read == len(listed)
        used = sum(1 for _, reason in listed if reason == "")
        assert (checked.rows_read - checked.rows_rejected, checked.rows_rejected) == (used, len(listed) - used)
        yield [(int(n), str(r)) for n, r in listed]


def disagreements(rows: list[dict[str, str | None]], checked: list[tuple[int, str]]) -> list[str]:
    """Rows where the validator's verdict differs from the oracle's, or its reason omits a faulted column."""
    found = []
    for row, (number, reason) in zip(rows, checked, strict=True):
        faults = oracle(row)
        if bool(faults) != bool(reason):
            found.append(f"row {number}: oracle {sorted(faults) or 'usable'}, validator {reason or 'usable'!r}: {row}")
        elif any(column not in reason for column in faults - {"row"}):
            found.append(f"row {number}: oracle faults {sorted(faults)} not all named in {reason!r}")
    return found


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
