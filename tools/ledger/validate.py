"""Reading a ledger into DuckDB and judging every row before anything is computed.

Each row is checked in SQL and either becomes a typed line or is rejected with its row
number and every reason that applies; nothing is dropped without being counted, so a
result can always state rows read = rows used + rows rejected. Amounts stay DECIMAL
throughout: a cent that drifts here would drift in every KPI.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.source import (
    LEDGER_COLUMNS,
    REQUIRED_COLUMNS,
    Dataset,
    InlineRows,
    LedgerFormat,
    LedgerSource,
    inline_jsonl,
)

REJECTIONS_LISTED = 1_000
"""Rejected rows listed one by one in a result; all of them are counted regardless."""

CHARGE_TYPES = ("recurring", "one_time", "usage_committed", "usage_overage", "services")
AMOUNT_PERIODS = ("month", "year", "term", "once")
CHANGE_TYPES = ("new", "renewal", "expansion", "contraction", "cancellation")
REMOVING_CHANGES = ("contraction", "cancellation")

# Up to six decimals (trailing zeros beyond them are harmless): amounts are held as DECIMAL(38,6).
_AMOUNT_PATTERN = r"^-?[0-9]{1,24}(\.[0-9]{1,6}0*)?$"


@dataclass(frozen=True)
class Validation:
    rows_read: int
    rows_used: int
    rows_rejected: int
    rejections: list[dict[str, object]]
    currency: str | None
    converted_from: tuple[str, ...]
    """Currencies other than the result's that were converted with the caller's rates."""


def sql_text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _in_list(values: tuple[str, ...]) -> str:
    return ", ".join(sql_text(v) for v in values)


def load_raw(con: duckdb.DuckDBPyConnection, source: LedgerSource) -> None:
    """Create table `raw`: one VARCHAR column per ledger column, rows in file order (rowid = row - 1)."""
    match source.origin:
        case InlineRows(rows=rows):
            with tempfile.TemporaryDirectory(prefix="ledger-") as tmp:
                path = Path(tmp) / "rows.jsonl"
                path.write_text(inline_jsonl(rows), encoding="utf-8")
                _load_file(con, Dataset(source.name, path, LedgerFormat.JSONL))
        case Dataset() as dataset:
            _load_file(con, dataset)


def _reader(dataset: Dataset) -> str:
    path = sql_text(str(dataset.path))
    match dataset.format:
        case LedgerFormat.CSV:
            return f"read_csv({path}, header = true, all_varchar = true, null_padding = true)"
        case LedgerFormat.PARQUET:
            return f"read_parquet({path})"
        case LedgerFormat.JSONL:
            # Every column declared: a key missing from a line reads as NULL and is reported on that row.
            columns = ", ".join(f"{sql_text(c)}: 'VARCHAR'" for c in LEDGER_COLUMNS)
            return f"read_json({path}, format = 'newline_delimited', columns = {{{columns}}})"


def _load_file(con: duckdb.DuckDBPyConnection, dataset: Dataset) -> None:
    reader = _reader(dataset)
    try:
        present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()}
        missing = [c for c in REQUIRED_COLUMNS if c not in present]
        if missing:
            raise KpiError(
                ErrorCode.LEDGER_INVALID,
                f"the ledger has no column {', '.join(missing)}; required columns are {', '.join(REQUIRED_COLUMNS)}",
                field="ledger",
                details={"missing_columns": missing, "required_columns": list(REQUIRED_COLUMNS)},
            )
        select = ", ".join(
            f'CAST("{c}" AS VARCHAR) AS {c}' if c in present else f"CAST(NULL AS VARCHAR) AS {c}"
            for c in LEDGER_COLUMNS
        )
        con.execute(f"CREATE TEMP TABLE raw AS SELECT {select} FROM {reader}")
    except duckdb.Error as exc:
        raise KpiError(
            ErrorCode.LEDGER_INVALID,
            f"{dataset.path.name} could not be read as {dataset.format.value}: {str(exc).splitlines()[0]}",
            field="ledger",
        ) from None


def _reasons_sql() -> str:
    """One SQL expression: every reason a raw row is unusable, joined by '; ' ('' when none)."""
    checks = [f"CASE WHEN {c} IS NULL OR trim({c}) = '' THEN 'missing {c}' END" for c in REQUIRED_COLUMNS]
    for column in ("amount", "list_amount"):
        checks.append(
            f"CASE WHEN {column} IS NOT NULL AND trim({column}) <> '' "
            f"AND NOT regexp_matches(trim({column}), '{_AMOUNT_PATTERN}') "
            f"THEN '{column} ''' || left({column}, 40) || ''' is not a decimal number' END"
        )
    for column in ("start_date", "end_date", "signed_date", "go_live_date"):
        checks.append(
            f"CASE WHEN {column} IS NOT NULL AND trim({column}) <> '' AND TRY_CAST(trim({column}) AS DATE) IS NULL "
            f"THEN '{column} ''' || left({column}, 40) || ''' is not a date (YYYY-MM-DD)' END"
        )
    checks += [
        "CASE WHEN TRY_CAST(trim(end_date) AS DATE) < TRY_CAST(trim(start_date) AS DATE) "
        "THEN 'end_date is before start_date' END",
        f"CASE WHEN charge_type NOT IN ({_in_list(CHARGE_TYPES)}) "
        f"THEN 'unknown charge_type ''' || left(charge_type, 40) || ''' (expected {', '.join(CHARGE_TYPES)})' END",
        f"CASE WHEN amount_period NOT IN ({_in_list(AMOUNT_PERIODS)}) "
        f"THEN 'unknown amount_period ''' || left(amount_period, 40) || ''' (expected {', '.join(AMOUNT_PERIODS)})' END",
        f"CASE WHEN change_type NOT IN ({_in_list(CHANGE_TYPES)}) "
        f"THEN 'unknown change_type ''' || left(change_type, 40) || ''' (expected {', '.join(CHANGE_TYPES)})' END",
        "CASE WHEN NOT regexp_matches(currency, '^[A-Z]{3}$') "
        "THEN 'currency ''' || left(currency, 40) || ''' is not an ISO 4217 code' END",
        f"CASE WHEN TRY_CAST(amount AS DECIMAL(38,6)) < 0 AND change_type NOT IN ({_in_list(REMOVING_CHANGES)}) "
        "THEN 'negative amount on a ' || change_type || ' row; only contraction and cancellation rows remove value' END",
        f"CASE WHEN TRY_CAST(amount AS DECIMAL(38,6)) > 0 AND change_type IN ({_in_list(REMOVING_CHANGES)}) "
        "THEN 'a ' || change_type || ' row removes value: its amount must be negative' END",
        "CASE WHEN TRY_CAST(list_amount AS DECIMAL(38,6)) * TRY_CAST(amount AS DECIMAL(38,6)) < 0 "
        "THEN 'list_amount and amount have opposite signs' END",
        "CASE WHEN charge_type = 'one_time' AND amount_period <> 'once' "
        "THEN 'a one_time line is charged once: amount_period must be ''once''' END",
        "CASE WHEN amount_period = 'once' AND charge_type IN ('recurring', 'usage_committed') "
        "THEN 'a ' || charge_type || ' line cannot be charged once' END",
    ]
    return "concat_ws('; ', " + ", ".join(checks) + ")"


def check_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Create table `checked` from `raw`: typed columns where they parse, and `reason` ('' for a good row)."""
    con.execute(
        f"""
        CREATE TEMP TABLE checked AS
        SELECT rowid + 1 AS row_no,
               contract_id, account_id, charge_type, amount_period, change_type, currency,
               TRY_CAST(amount AS DECIMAL(38,6)) AS amount,
               TRY_CAST(list_amount AS DECIMAL(38,6)) AS list_amount,
               TRY_CAST(trim(start_date) AS DATE) AS s,
               TRY_CAST(trim(end_date) AS DATE) AS e,
               TRY_CAST(trim(signed_date) AS DATE) AS signed,
               COALESCE(TRY_CAST(trim(go_live_date) AS DATE), TRY_CAST(trim(start_date) AS DATE)) AS live,
               {_reasons_sql()} AS reason
        FROM raw
        """
    )
    con.execute("DROP TABLE raw")


_LINE_COLUMNS = (
    "c.row_no, c.contract_id, c.account_id, c.charge_type, c.amount_period, c.change_type, "
    "c.amount AS amount_net, c.list_amount AS amount_list, c.s, c.e, c.e + 1 AS ex, c.signed, c.live"
)


def validate(
    con: duckdb.DuckDBPyConnection,
    source: LedgerSource,
    requested_currency: str | None,
) -> Validation:
    """Load, check and type the ledger into table `lines` (one currency); report what was rejected."""
    load_raw(con, source)
    check_rows(con)
    counts = con.execute("SELECT count(*), count(*) FILTER (WHERE reason <> '') FROM checked").fetchone()
    assert counts is not None  # an aggregate without GROUP BY always returns one row
    rows_read, rows_rejected = int(counts[0]), int(counts[1])
    rejections: list[dict[str, object]] = [
        {"row": int(row_no), "reason": reason}
        for row_no, reason in con.execute(
            f"SELECT row_no, reason FROM checked WHERE reason <> '' ORDER BY row_no LIMIT {REJECTIONS_LISTED}"
        ).fetchall()
    ]
    if rows_read == rows_rejected:
        raise KpiError(
            ErrorCode.LEDGER_INVALID,
            f"no usable row: all {rows_read} rows of {source.name!r} were rejected",
            field="ledger",
            details={"rows_read": rows_read, "rejections": rejections[:50]},
        )
    found = {
        str(code): int(n)
        for code, n in con.execute(
            "SELECT currency, count(*) FROM checked WHERE reason = '' GROUP BY currency ORDER BY currency"
        ).fetchall()
    }
    currency, rates = _conversion(found, requested_currency, dict(source.fx_rates))
    if all(rate == 1 for rate in rates.values()):
        # One currency, nothing to convert: the lines are the good rows as they are, without a copy.
        con.execute(f"CREATE TEMP VIEW lines AS SELECT {_LINE_COLUMNS} FROM checked c WHERE c.reason = ''")
    else:
        con.execute("CREATE TEMP TABLE fx (currency VARCHAR, rate DECIMAL(38,12))")
        con.executemany("INSERT INTO fx VALUES (?, CAST(? AS DECIMAL(38,12)))", [[c, str(r)] for c, r in rates.items()])
        # Rounded to six decimals after conversion: a converted amount is only as exact as its rate.
        converted = _LINE_COLUMNS.replace("c.amount AS", "CAST(c.amount * f.rate AS DECIMAL(38,6)) AS").replace(
            "c.list_amount AS", "CAST(c.list_amount * f.rate AS DECIMAL(38,6)) AS"
        )
        con.execute(
            f"CREATE TEMP TABLE lines AS SELECT {converted} FROM checked c JOIN fx f ON f.currency = c.currency "
            "WHERE c.reason = ''"
        )
    return Validation(
        rows_read=rows_read,
        rows_used=rows_read - rows_rejected,
        rows_rejected=rows_rejected,
        rejections=rejections,
        currency=currency,
        converted_from=tuple(sorted(c for c in found if c != currency)),
    )


def _conversion(
    found: dict[str, int], requested: str | None, fx_rates: dict[str, Decimal]
) -> tuple[str, dict[str, Decimal]]:
    """The result's currency and a rate into it for every currency present; refused when one is missing."""
    if not fx_rates:
        if len(found) > 1:
            raise KpiError(
                ErrorCode.CURRENCY_MISMATCH,
                f"the ledger mixes currencies {found} (rows per currency); give ledger.fx_rates and `currency`",
                field="ledger",
                details={"currencies": found},
            )
        (only,) = found
        if requested is not None and requested != only:
            raise KpiError(
                ErrorCode.CURRENCY_MISMATCH,
                f"the ledger is in {only}, not {requested}; give ledger.fx_rates to convert",
                field="currency",
                details={"currencies": found},
            )
        return only, {only: Decimal(1)}
    if requested is None:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            "with fx_rates, give `currency`: the currency the rates convert into",
            field="currency",
        )
    missing = sorted(c for c in found if c != requested and c not in fx_rates)
    if missing:
        raise KpiError(
            ErrorCode.CURRENCY_MISMATCH,
            f"no rate into {requested} for {missing}; fx_rates must cover every currency in the ledger",
            field="ledger.fx_rates",
            details={"currencies": found, "missing_rates": missing},
        )
    return requested, {c: (Decimal(1) if c == requested else fx_rates[c]) for c in found}
