"""The README's "Ledger format" rules as an independent oracle, and a generator of rows from those rules.

The oracle is written from the README alone (plain Python, no DuckDB, no code shared with the
validator). The generator makes rows that follow the rules and rows that break one or two of them,
seeded, so the same seed gives the same rows. Both the column-rule tests
(tests/tools/ledger/test_column_rules.py, through the validator) and the fuzz bench (bench/fuzz.py,
through the real server) judge the validator's verdicts with `disagreements`: one oracle, not two.
"""

from __future__ import annotations

import csv
import datetime
import json
import random
import string
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kpi_context.tools.ledger.source import LedgerFormat

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


def _good_row(rng: random.Random, number: int, currency: str | None) -> dict[str, str | None]:
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
        "currency": currency or "".join(rng.choice(string.ascii_uppercase) for _ in range(3)),
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


def generated_rows(seed: int, count: int, *, currency: str | None = None) -> list[dict[str, str | None]]:
    """`count` rows numbered from 1: each follows every rule, then 0, 1 or 2 mutations may break some.

    A row that follows the rules has a random valid currency, or `currency` when given — a ledger
    computed on (not only validated) must be in one currency, or it is refused before its rows are
    reported. A mutation can still make the currency invalid.
    """
    rng = random.Random(seed)
    rows = []
    for number in range(1, count + 1):
        row = _good_row(rng, number, currency)
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            _mutate(rng, row)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# The same rows in each format, and the oracle's judgement of a validator's verdicts.

COLUMNS = (*REQUIRED, "list_amount", "go_live_date")


def write_ledger(rows: Sequence[Mapping[str, str | None]], path: Path, fmt: LedgerFormat) -> None:
    """The rows as a ledger file of `fmt`, every column as text (a blank written as empty in CSV, null otherwise)."""
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


def disagreements(rows: Sequence[Mapping[str, str | None]], checked: Sequence[tuple[int, str]]) -> list[str]:
    """Rows where the validator's verdict differs from the oracle's, or its reason omits a faulted column.

    `checked` is (row number, reason) for every row in order, the reason empty for a usable row.
    """
    found = []
    for row, (number, reason) in zip(rows, checked, strict=True):
        faults = oracle(row)
        if bool(faults) != bool(reason):
            found.append(f"row {number}: oracle {sorted(faults) or 'usable'}, validator {reason or 'usable'!r}: {row}")
        elif any(column not in reason for column in faults - {"row"}):
            found.append(f"row {number}: oracle faults {sorted(faults)} not all named in {reason!r}")
    return found
