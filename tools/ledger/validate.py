"""Reading a ledger into DuckDB and judging every row before anything is computed.

Each row is checked in SQL and either becomes a typed line or is rejected with its row
number and every reason that applies; nothing is dropped without being counted, so a
result can always state rows read = rows used + rows rejected. Amounts stay DECIMAL
throughout: a cent that drifts here would drift in every KPI.

The file is read, typed and checked in one statement writing one table: the typed columns
and `reason`, '' for a usable row; a row's number is the table's rowid + 1 (the table keeps
file order). The reasons, the costly part, are spelled out only for rows failing a check.
A dataset's checked table is kept by the store across calls; inline rows get a temporary
one for the call.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import tempfile
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import cast

import duckdb

from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger import remote, spark_cache
from kpi_context.tools.ledger.parquet_sets import set_reader
from kpi_context.tools.ledger.source import (
    BUILTIN_DIMENSIONS,
    REQUIRED_COLUMNS,
    Dataset,
    InlineRows,
    LedgerFormat,
    LedgerSource,
    inline_jsonl,
)
from kpi_context.tools.ledger.store import Builder, CheckedTable, LedgerStore, Readable
from kpi_context.tools.values import Engine

REJECTIONS_LISTED = 1_000
"""Rejected rows listed one by one in a result; all of them are counted regardless."""

CHARGE_TYPES = ("recurring", "one_time", "usage_committed", "usage_overage", "services")
AMOUNT_PERIODS = ("month", "year", "term", "once")
CHANGE_TYPES = ("new", "renewal", "expansion", "contraction", "cancellation")
REMOVING_CHANGES = ("contraction", "cancellation")
DISCOUNT_DURATIONS = ("finite", "permanent")
"""How long a row's discount (amount below list_amount) lasts: for a limited time, or as long as the line."""

AMOUNT_INTEGER_DIGITS = 24
"""Digits before the point. Amounts are held as DECIMAL(38,6), 32 integer digits: eight to spare for sums.
A computation that still leaves the engine's decimals is refused as out_of_range, never wrapped."""
AMOUNT_DECIMALS = 6
"""Significant decimals: amounts are held as DECIMAL(38,6)."""
AMOUNT_TRAILING_ZEROS = 12
"""Zeros allowed after the six decimals, as typed exports write them (DECIMAL(18,8) prints 12000.00000000)."""
FIRST_YEAR, LAST_YEAR = 1900, 2199
"""The years a ledger date may fall in; anything else is a typo or a sentinel, never a contract.
DATE_PATTERN spells them out as (19|20|21)[0-9][0-9]."""

# The column rules as RE2 patterns over the text with its surrounding spaces (U+0020 only) allowed.
# [0-9] is ASCII only. A date's pattern fixes its shape and years; the cast then refuses 2025-02-30.
AMOUNT_PATTERN = rf"-?[0-9]{{1,{AMOUNT_INTEGER_DIGITS}}}(\.[0-9]{{1,{AMOUNT_DECIMALS}}}0{{0,{AMOUNT_TRAILING_ZEROS}}})?"
DATE_PATTERN = r"(19|20|21)[0-9][0-9]-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
CURRENCY_PATTERN = "[A-Z]{3}"

_PADDED_AMOUNT = f" *{AMOUNT_PATTERN} *"
_PADDED_DATE = f" *{DATE_PATTERN} *"

_READ_COLUMNS = (*REQUIRED_COLUMNS, "list_amount", "go_live_date", "line_id", "discount_duration")
"""The ledger columns the checks and the KPIs use, besides the dimensions; line_id only breaks ties."""

DIMENSION_LENGTH = 64
"""Characters a dimension value may have (a segment, region or plan name; an industry)."""
CONTROL_CHARACTERS = r"[\x00-\x1f\x7f-\x9f]"
"""RE2 class of the C0 and C1 control characters and DEL, none of which a dimension value may hold."""
UNASSIGNED = "unassigned"
"""The member of a row whose dimension value is missing, null, empty or only spaces."""


def dimension_column(name: str) -> str:
    """The checked table's column holding dimension `name`: prefixed, so no name can clash with another column."""
    return f'"dim_{name}"'


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


def _reader(fmt: LedgerFormat, path: Path, dimensions: tuple[str, ...], *, parallel: bool = True) -> str:
    quoted = sql_text(str(path))
    match fmt:
        case LedgerFormat.CSV:
            # RFC 4180 as written, nothing sniffed: a comma between fields, '"' quoting, '""' for a quote.
            options = "header = true, all_varchar = true, null_padding = true, delim = ',', quote = '\"', escape = '\"'"
            return f"read_csv({quoted}, {options}{'' if parallel else ', parallel = false'})"
        case LedgerFormat.PARQUET:
            return f"read_parquet({quoted})"
        case LedgerFormat.JSONL:
            # Every column declared: a key missing from a line reads as NULL and is reported on that row.
            columns = ", ".join(f"{sql_text(c)}: 'VARCHAR'" for c in (*_READ_COLUMNS, *dimensions))
            return f"read_json({quoted}, format = 'newline_delimited', columns = {{{columns}}})"


def read_checked(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    dataset: Dataset,
    temporary: bool = False,
    opened: Readable | None = None,
    dimensions: tuple[str, ...] = BUILTIN_DIMENSIONS,
) -> CheckedTable:
    """Read `dataset` into a new checked `table`; a file that cannot be read, or lacks a column, is refused.

    `opened` is where to read the file from when it is not `dataset.path` (the store passes a path to a
    file it has already opened and checked is a regular file); messages still name the dataset's file.
    `dimensions` are the dimension columns to keep (one the file lacks reads as unassigned on every row).
    """
    if dataset.files:
        readable = opened if isinstance(opened, tuple) else dataset.files
        try:
            reader = set_reader(con, dataset, readable)
            _create_checked(con, table, reader, temporary, dimensions)
        except duckdb.Error as exc:
            message = _first_line(exc)
            for path, file in zip(readable, dataset.files, strict=True):
                message = message.replace(str(path), file.name)
            raise KpiError(
                ErrorCode.LEDGER_INVALID,
                f"dataset {dataset.name!r} could not be read as parquet: {message}",
                field="ledger",
            ) from None
        return _summary(con, table)
    path = opened if isinstance(opened, Path) else dataset.path
    try:
        try:
            _create_checked(con, table, _reader(dataset.format, path, dimensions), temporary, dimensions)
        except duckdb.Error as exc:
            # DuckDB's parallel CSV scanner refuses a quoted line break in a file with short lines; the
            # serial one reads it. Only CSV, only then: the serial scan is slower on a large file.
            if dataset.format is not LedgerFormat.CSV or "parallel=false" not in str(exc):
                raise
            reader = _reader(dataset.format, path, dimensions, parallel=False)
            _create_checked(con, table, reader, temporary, dimensions)
    except duckdb.Error as exc:
        raise KpiError(
            ErrorCode.LEDGER_INVALID,
            f"{dataset.path.name} could not be read as {dataset.format.value}: "
            f"{_first_line(exc).replace(str(path), dataset.path.name)}",
            field="ledger",
        ) from None
    return _summary(con, table)


def _first_line(exc: Exception) -> str:
    """The first line of a DuckDB error, without the path it was read from (which may be a descriptor)."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _create_checked(
    con: duckdb.DuckDBPyConnection, table: str, reader: str, temporary: bool, dimensions: tuple[str, ...]
) -> None:
    present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()}
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        raise KpiError(
            ErrorCode.LEDGER_INVALID,
            f"the ledger has no column {', '.join(missing)}; required columns are {', '.join(REQUIRED_COLUMNS)}",
            field="ledger",
            details={"missing_columns": missing, "required_columns": list(REQUIRED_COLUMNS)},
        )
    checked = _checked_sql(reader, present, dimensions)
    con.execute(f"CREATE {'TEMP ' if temporary else ''}TABLE {table} AS {checked}")


def read_inline(
    con: duckdb.DuckDBPyConnection,
    table: str,
    name: str,
    rows: InlineRows,
    dimensions: tuple[str, ...] = BUILTIN_DIMENSIONS,
) -> CheckedTable:
    """Inline rows checked into a temporary `table`, read exactly as a .jsonl dataset of the same rows."""
    with tempfile.TemporaryDirectory(prefix="ledger-") as tmp:
        path = Path(tmp) / "rows.jsonl"
        path.write_text(inline_jsonl(rows.rows), encoding="utf-8")
        dataset = Dataset(name, path, LedgerFormat.JSONL)
        return read_checked(con, table, dataset=dataset, temporary=True, dimensions=dimensions)


_DATE_COLUMNS = (("start_date", "s"), ("end_date", "e"), ("signed_date", "signed"), ("go_live_date", "g"))
_DATE_RULE = f"YYYY-MM-DD, a calendar day of {FIRST_YEAR}–{LAST_YEAR}"
_AMOUNT_RULE = (
    f"an optional minus sign, 1–{AMOUNT_INTEGER_DIGITS} digits, then optionally a point and up to "
    f"{AMOUNT_DECIMALS} decimals; no plus sign, separator or exponent"
)


def _shown(column: str) -> str:
    """The column's text as a reason quotes it: at most 40 characters, control characters as '?'."""
    return f"regexp_replace(left({column}, 40), '{CONTROL_CHARACTERS}', '?', 'g')"


def _quoted(column: str) -> str:
    """The column's text as a reason quotes it, between single quotes (see `_shown`)."""
    return f"'''' || {_shown(column)} || ''''"


def _checks(dimensions: tuple[str, ...]) -> list[tuple[str, str]]:
    """(condition, reason) for every way a row can be unusable, over its text and its typed reading."""
    checks = [(f"{c} IS NULL OR trim({c}) = ''", sql_text(f"missing {c}")) for c in REQUIRED_COLUMNS]
    for name in dimensions:
        column = dimension_column(name)
        checks += [
            (
                f"length({column}) > {DIMENSION_LENGTH}",
                f"{sql_text(name + ' ')} || {_quoted(column)} || ' is longer than {DIMENSION_LENGTH} characters'",
            ),
            (
                f"regexp_matches({column}, '{CONTROL_CHARACTERS}')",
                f"{sql_text(name + ' ')} || {_quoted(column)} || ' holds a control character'",
            ),
        ]
    for column, typed in (("amount", "amount_net"), ("list_amount", "amount_list")):
        checks.append(
            (
                f"{column} IS NOT NULL AND trim({column}) <> '' AND {typed} IS NULL",
                f"'{column} ''' || {_shown(column)} || ''' is not a decimal number ({_AMOUNT_RULE})'",
            )
        )
    for column, typed in _DATE_COLUMNS:
        checks.append(
            (
                f"{column} IS NOT NULL AND trim({column}) <> '' AND {typed} IS NULL",
                f"'{column} ''' || {_shown(column)} || ''' is not a date ({_DATE_RULE})'",
            )
        )
    checks += [
        ("e < s", "'end_date is before start_date'"),
        (
            f"trim(charge_type) <> '' AND charge_type NOT IN ({_in_list(CHARGE_TYPES)})",
            f"'unknown charge_type ''' || {_shown('charge_type')} || ''' (expected {', '.join(CHARGE_TYPES)})'",
        ),
        (
            f"trim(amount_period) <> '' AND amount_period NOT IN ({_in_list(AMOUNT_PERIODS)})",
            f"'unknown amount_period ''' || {_shown('amount_period')} || ''' (expected {', '.join(AMOUNT_PERIODS)})'",
        ),
        (
            f"trim(change_type) <> '' AND change_type NOT IN ({_in_list(CHANGE_TYPES)})",
            f"'unknown change_type ''' || {_shown('change_type')} || ''' (expected {', '.join(CHANGE_TYPES)})'",
        ),
        (
            f"trim(currency) <> '' AND NOT regexp_full_match(currency, '{CURRENCY_PATTERN}')",
            f"'currency ''' || {_shown('currency')} || ''' is not an ISO 4217 code (three capitals A–Z)'",
        ),
        (
            f"amount_net < 0 AND change_type IN ({_in_list(tuple(c for c in CHANGE_TYPES if c not in REMOVING_CHANGES))})",
            "'negative amount on a ' || change_type || ' row; only contraction and cancellation rows remove value'",
        ),
        (
            f"amount_net > 0 AND change_type IN ({_in_list(REMOVING_CHANGES)})",
            "'a ' || change_type || ' row removes value: its amount must be negative'",
        ),
        # Signs, not the product: two 15-digit amounts multiplied overflow DECIMAL(38,6).
        ("sign(amount_list) * sign(amount_net) < 0", "'list_amount and amount have opposite signs'"),
        (
            f"trim(coalesce(discount_duration, '')) <> '' AND discount_duration NOT IN ({_in_list(DISCOUNT_DURATIONS)})",
            f"'unknown discount_duration ''' || {_shown('discount_duration')} || ''' (expected "
            f"{', '.join(DISCOUNT_DURATIONS)})'",
        ),
        (
            "trim(coalesce(discount_duration, '')) <> '' AND (list_amount IS NULL OR trim(list_amount) = '')",
            "'discount_duration needs list_amount: the price the discount is taken from'",
        ),
        (
            "charge_type = 'one_time' AND amount_period <> 'once'",
            "'a one_time line is charged once: amount_period must be ''once'''",
        ),
        (
            "amount_period = 'once' AND charge_type IN ('recurring', 'usage_committed')",
            "'a ' || charge_type || ' line cannot be charged once'",
        ),
    ]
    return checks


# A quick test that no check of `_checks` can fail, cheapest tests first, so that the reasons are spelled
# out only for the rest. It may only err on the safe side: a usable row it does not pass (false or NULL,
# e.g. a blank optional field) gets concat_ws of no reason, '' again. Each check's failure makes it false.
_CLEARLY_USABLE_COLUMNS = " AND ".join(
    (
        "s IS NOT NULL AND e IS NOT NULL AND signed IS NOT NULL AND e >= s",
        "(go_live_date IS NULL OR g IS NOT NULL)",
        f"charge_type IN ({_in_list(CHARGE_TYPES)})",
        f"amount_period IN ({_in_list(AMOUNT_PERIODS)})",
        f"change_type IN ({_in_list(CHANGE_TYPES)})",
        "(charge_type <> 'one_time' OR amount_period = 'once')",
        "(amount_period <> 'once' OR charge_type NOT IN ('recurring', 'usage_committed'))",
        f"(CASE WHEN change_type IN ({_in_list(REMOVING_CHANGES)}) THEN amount_net <= 0 ELSE amount_net >= 0 END)",
        "(list_amount IS NULL OR sign(amount_list) * sign(amount_net) >= 0)",
        # trim() builds a new string; a first character other than a space already shows the text is not blank.
        "contract_id <> '' AND (NOT starts_with(contract_id, ' ') OR trim(contract_id) <> '')",
        "account_id <> '' AND (NOT starts_with(account_id, ' ') OR trim(account_id) <> '')",
        f"regexp_full_match(currency, '{CURRENCY_PATTERN}')",
        # An amount is typed only when its text passed the rule: typed is passed.
        "amount_net IS NOT NULL",
        "(list_amount IS NULL OR amount_list IS NOT NULL)",
        f"(discount_duration IS NULL OR (discount_duration IN ({_in_list(DISCOUNT_DURATIONS)}) AND amount_list IS NOT NULL))",
    )
)


def _clearly_usable(dimensions: tuple[str, ...]) -> str:
    """`_CLEARLY_USABLE_COLUMNS`, and every dimension value short and free of control characters (or absent)."""
    short_and_clean = (
        f"({c} IS NULL OR (length({c}) <= {DIMENSION_LENGTH} AND NOT regexp_matches({c}, '{CONTROL_CHARACTERS}')))"
        for c in map(dimension_column, dimensions)
    )
    return " AND ".join((_CLEARLY_USABLE_COLUMNS, *short_and_clean))


def _date_reading(column: str) -> str:
    """The column's date, or NULL unless its text is YYYY-MM-DD (spaces around it aside) of a real day in range.

    DuckDB's own cast is far more lenient (it reads 'infinity', 'epoch', '2025/1/1', '2025-01-01T10:00'
    and BC dates), so the pattern decides what is a date and the cast only refuses days like 2025-02-30.
    """
    return f"CASE WHEN regexp_full_match({column}, '{_PADDED_DATE}') THEN TRY_CAST({column} AS DATE) END"


def _checked_sql(reader: str, present: set[str], dimensions: tuple[str, ...], *, numbered: bool = False) -> str:
    """One pass over the file: each column's text, its typed reading, and every reason the row is unusable.

    Every column is read as text first, whatever its type in the file (a Parquet DATE reads as its ISO
    text, a DOUBLE as its shortest text, NaN as 'nan'), so one set of rules judges every format.
    """

    # An empty text is NULL, as CSV reads it, so that '' gives the same reasons in every format.
    def read(column: str) -> str:
        return f"""NULLIF(CAST("{column}" AS VARCHAR), '')""" if column in present else "CAST(NULL AS VARCHAR)"

    text = ", ".join(
        [f"{read(c)} AS {c}" for c in _READ_COLUMNS] + [f"{read(d)} AS {dimension_column(d)}" for d in dimensions]
    )
    reasons = ", ".join(f"CASE WHEN {condition} THEN {reason} END" for condition, reason in _checks(dimensions))
    kept = "".join(f", {dimension_column(d)}" for d in dimensions)
    # A table in another engine has no row ids: its reader numbers the rows (`remote.source_relation`).
    if numbered:
        kept += ", rowid"
        text += ", rowid"
    # An amount is typed only once its text passed the rule: no lenient cast decides what is a number.
    amount, list_amount = (
        f"CASE WHEN regexp_full_match({c}, '{_PADDED_AMOUNT}') THEN TRY_CAST({c} AS DECIMAL(38,6)) END"
        for c in ("amount", "list_amount")
    )
    dates = ", ".join(f"{_date_reading(column)} AS {typed}" for column, typed in _DATE_COLUMNS)
    return f"""
        SELECT contract_id, account_id, charge_type, amount_period, change_type, currency,
               amount_net, amount_list, s, e, signed, COALESCE(g, s) AS live, line_id, discount_duration{kept},
               CASE WHEN {_clearly_usable(dimensions)} THEN '' ELSE concat_ws('; ', {reasons}) END AS reason
        FROM (
            SELECT *, {amount} AS amount_net, {list_amount} AS amount_list, {dates}
            FROM (SELECT {text} FROM {reader}) t
        ) typed
    """


def _summary(con: duckdb.DuckDBPyConnection, table: str) -> CheckedTable:
    rows_read = rows_rejected = 0
    currencies: dict[str, int] = {}
    for currency, used, rejected in con.execute(
        f"SELECT currency, count(*) FILTER (WHERE reason = ''), count(*) FILTER (WHERE reason <> '') "
        f"FROM {table} GROUP BY currency ORDER BY currency"
    ).fetchall():
        rows_read += int(used) + int(rejected)
        rows_rejected += int(rejected)
        if used:
            currencies[str(currency)] = int(used)
    rejections: list[dict[str, object]] = [
        {"row": int(row_no), "reason": reason}
        for row_no, reason in con.execute(
            f"SELECT rowid + 1, reason FROM {table} WHERE reason <> '' ORDER BY rowid LIMIT {REJECTIONS_LISTED}"
        ).fetchall()
    ]
    return CheckedTable(table, rows_read, rows_rejected, rejections, currencies)


@dataclass(frozen=True)
class OpenLedger:
    """A ledger ready to compute on: a cursor of its own, the usable lines, and what was rejected."""

    con: duckdb.DuckDBPyConnection
    validation: Validation
    lines: str
    """A SQL relation of the usable rows, amounts in the result's currency; the same in any cursor of the store."""
    derive: Callable[[Hashable, Builder], str]
    """The table `build` makes from the lines, kept with the dataset under a key naming all it depends on."""
    lines_key: Hashable
    """What the lines depend on beyond the file (the rates applied): part of the key of anything derived."""
    dimensions: tuple[str, ...]
    """The dimension columns of the lines, each as `dim_<name>`: a member, never blank (blank reads 'unassigned')."""
    engine: Engine = Engine.DUCKDB


@contextmanager
def open_ledger(
    store: LedgerStore, source: LedgerSource, requested_currency: str | None, data_dir: Path | None = None
) -> Iterator[OpenLedger]:
    """The ledger's usable lines in one currency, on a cursor of `store` that is closed when the block ends.

    A dataset's checked table, and the tables derived from it, come from the store (built now,
    or earlier from the same unchanged file); inline rows live in temporary tables of the cursor.
    A table in PostgreSQL or Spark is checked and computed there, in a session of the call.
    """
    if isinstance(source.origin, remote.WarehouseTable):
        with _opened_remotely(source, source.origin, requested_currency, data_dir) as opened:
            yield opened
        return
    with store.cursor() as con:
        work = itertools.count(1)

        def build_here(_key: Hashable, build: Builder) -> str:
            table = f"work_{next(work)}"
            build(con, f"TEMP TABLE {table}")
            return table

        match source.origin:
            case InlineRows() as rows:
                checked = read_inline(con, "inline_checked", source.name, rows, source.dimensions)
                yield _open(con, source, checked, requested_currency, build_here)
            case Dataset() as dataset:

                def load(cursor: duckdb.DuckDBPyConnection, table: str, opened: Readable) -> CheckedTable:
                    return read_checked(cursor, table, dataset=dataset, opened=opened, dimensions=source.dimensions)

                with store.checked(dataset.path, load, shown=dataset.name, files=dataset.files) as held:

                    def build_kept(key: Hashable, build: Builder) -> str:
                        # Past the store's bound for one dataset, a derived table lives only for the call.
                        return store.derived(held, key, build) or build_here(key, build)

                    yield _open(con, source, held.checked, requested_currency, build_kept)


@contextmanager
def _opened_remotely(
    source: LedgerSource, table: remote.WarehouseTable, requested_currency: str | None, data_dir: Path | None
) -> Iterator[OpenLedger]:
    """The checks and every derived table run in the engine's session: only counts and results come back.

    A Spark dataset given by a local Parquet path stays warm between calls (`spark_cache`); any other
    table is checked afresh on every call, in a session of the call.
    """
    check = functools.partial(_check_remotely, source, table)
    if table.engine is Engine.SPARK and table.path is not None and "://" not in table.path:
        with spark_cache.DATASETS.call(table, data_dir, source.dimensions, check) as warm:
            session = cast(duckdb.DuckDBPyConnection, warm.session)
            opened = _open(session, source, warm.checked, requested_currency, warm.derive)
            yield dataclasses.replace(opened, engine=table.engine)
        return
    with remote.session_for(table, data_dir) as engine_session:
        work = itertools.count(1)
        # The ledger SQL asks of a connection only execute(statement).fetchall(), which a session provides (in
        # the engine's dialect): it stands in for the DuckDB cursor the modules are written against.
        session = cast(duckdb.DuckDBPyConnection, engine_session)

        def build_here(_key: Hashable, build: Builder) -> str:
            name = f"work_{next(work)}"
            build(session, f"TEMP TABLE {name}")
            return name

        opened = _open(session, source, check(engine_session), requested_currency, build_here)
        yield dataclasses.replace(opened, engine=table.engine)


def _check_remotely(
    source: LedgerSource, table: remote.WarehouseTable, engine_session: remote.PostgresSession | remote.SparkSession
) -> CheckedTable:
    """The source rows checked into the session's temporary table `checked`; a missing column is refused."""
    session = cast(duckdb.DuckDBPyConnection, engine_session)
    used = (*_READ_COLUMNS, *source.dimensions)
    reader, present = remote.source_relation(engine_session, table, used)
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        raise KpiError(
            ErrorCode.LEDGER_INVALID,
            f"dataset {table.name!r} has no column {', '.join(missing)}; required columns are "
            f"{', '.join(REQUIRED_COLUMNS)}",
            field="ledger",
            details={"missing_columns": missing, "required_columns": list(REQUIRED_COLUMNS)},
        )
    session.execute(f"CREATE TEMP TABLE checked AS {_checked_sql(reader, present, source.dimensions, numbered=True)}")
    return _summary(session, "checked")


def _members(dimensions: tuple[str, ...]) -> str:
    """Each dimension's member: its text, or 'unassigned' when missing, null, empty or only spaces."""
    return "".join(
        f", CASE WHEN trim(coalesce({c}, '')) = '' THEN '{UNASSIGNED}' ELSE {c} END AS {c}"
        for c in map(dimension_column, dimensions)
    )


_DURATION = (
    f"CASE WHEN discount_duration IN ({_in_list(DISCOUNT_DURATIONS)}) THEN discount_duration END AS discount_duration"
)
"""A usable row's discount duration: one of the vocabulary, or NULL when blank (read as permanent)."""


def _usable(table: str, dimensions: tuple[str, ...]) -> str:
    return (
        "SELECT rowid + 1 AS row_no, currency, contract_id, account_id, charge_type, amount_period, change_type, "
        f"amount_net, amount_list, s, e, e + 1 AS ex, signed, live, line_id, {_DURATION}{_members(dimensions)} "
        f"FROM {table} WHERE reason = ''"
    )


def _open(
    con: duckdb.DuckDBPyConnection,
    source: LedgerSource,
    checked: CheckedTable,
    requested_currency: str | None,
    derive: Callable[[Hashable, Builder], str],
) -> OpenLedger:
    rows_read, rows_rejected, rejections = checked.rows_read, checked.rows_rejected, checked.rejections
    if rows_read == rows_rejected:
        raise KpiError(
            ErrorCode.LEDGER_INVALID,
            f"no usable row: all {rows_read} rows of {source.name!r} were rejected",
            field="ledger",
            details={"rows_read": rows_read, "rejections": rejections[:50]},
        )
    found = checked.currencies
    currency, rates = _conversion(found, requested_currency, dict(source.fx_rates))
    lines = f"({_usable(checked.table, source.dimensions)})"
    # Keyed by the rates actually applied: other rates give other tables, never these.
    lines_key = tuple(sorted(rates.items()))
    if any(rate != 1 for rate in rates.values()):
        lines = derive(("converted", lines_key), functools.partial(_convert, lines, rates, source.dimensions))
    validation = Validation(
        rows_read=rows_read,
        rows_used=rows_read - rows_rejected,
        rows_rejected=rows_rejected,
        rejections=list(rejections),
        currency=currency,
        converted_from=tuple(sorted(c for c in found if c != currency)),
    )
    return OpenLedger(con, validation, lines, derive, lines_key, source.dimensions)


def _convert(
    lines: str, rates: dict[str, Decimal], dimensions: tuple[str, ...], con: duckdb.DuckDBPyConnection, target: str
) -> None:
    """The usable rows with their amounts in the result's currency."""
    rate_rows = ", ".join(f"({sql_text(c)}, CAST({sql_text(str(r))} AS DECIMAL(38,12)))" for c, r in rates.items())
    # Rounded to six decimals after conversion: a converted amount is only as exact as its rate.
    con.execute(
        f"""
        CREATE {target} AS
        SELECT u.row_no, u.currency, u.contract_id, u.account_id, u.charge_type, u.amount_period, u.change_type,
               CAST(u.amount_net * f.rate AS DECIMAL(38,6)) AS amount_net,
               CAST(u.amount_list * f.rate AS DECIMAL(38,6)) AS amount_list,
               u.s, u.e, u.ex, u.signed, u.live, u.line_id, u.discount_duration{"".join(f", u.{dimension_column(d)}" for d in dimensions)}
        FROM {lines} u JOIN (VALUES {rate_rows}) f(currency, rate) ON f.currency = u.currency
        """
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
