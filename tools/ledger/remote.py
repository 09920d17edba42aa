"""Ledgers that live in PostgreSQL or Apache Spark: the same checks and KPIs, run inside that engine.

A session runs each ledger statement, written in DuckDB's dialect, as the engine's own SQL
(`dialect.py`); only results come back — counts, sums and a few ids — never the ledger. The
checked table, the priced lines and the contract values are temporary tables of the session
(PostgreSQL) or checkpointed temporary views of a session of its own (Spark), dropped when the call
ends — except for a Spark dataset given by a local Parquet path, which `spark_cache` keeps warm.

Credentials: a PostgreSQL password comes from PGPASSWORD or the operator's password file, never
from the dataset's URL (refused), and no message, listing or result repeats the connection
string: errors name the dataset and the kind of failure only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.dialect import transpile
from kpi_context.tools.values import Engine

SOURCE_VIEW = "kpi_ledger_source"
"""The name a Spark session gives the dataset's rows (a Parquet path, or the catalog table)."""

_TEMP_TABLE = re.compile(r"\s*CREATE\s+TEMP\s+TABLE\s+(\w+)\s+AS\s+(.*)", re.DOTALL | re.IGNORECASE)
_TEMP_VIEW = re.compile(r"\s*CREATE\s+TEMP\s+VIEW\s+(\w+)\s", re.IGNORECASE)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")


@dataclass(frozen=True)
class WarehouseTable:
    """A ledger in a PostgreSQL table, or in a Spark table or Parquet path."""

    name: str
    engine: Engine
    location: str
    """PostgreSQL: host:port/database, with the user; Spark: the master (local[2], spark://host:7077)."""
    table: str | None = None
    """A table name, optionally schema-qualified."""
    path: str | None = None
    """Spark only: a Parquet file or directory."""
    connect: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    """PostgreSQL connection keywords (host, port, dbname, user); never a password."""
    password_file: Path | None = field(default=None, compare=False, repr=False)

    def described(self) -> str:
        """What listings and logs show: engine, place and table, no credentials."""
        where = self.table if self.table is not None else self.path
        return f"{self.engine.value} {self.location} {where}"


class Rows(Protocol):
    def fetchall(self) -> list[Any]: ...


# --- parsing a dataset URL -------------------------------------------------------------


def parse_warehouse(name: str, spec: str, password_file: Path | None = None) -> WarehouseTable | None:
    """`postgresql://user@host:port/db?table=T` or `spark://MASTER?table=T|path=P`; None for anything else.

    MASTER is local[N] / local[*] (in-process) or host:port of a standalone master. A password in the
    URL is refused without being repeated: it belongs in PGPASSWORD or the password file.
    """
    scheme = spec.partition("://")[0].lower()
    if scheme in ("postgresql", "postgres"):
        return _postgres(name, spec, password_file)
    if scheme == "spark":
        return _spark(name, spec)
    return None


def _bad(name: str, why: str) -> KpiError:
    return KpiError(ErrorCode.INVALID_ARGUMENT, f"dataset {name!r}: {why}", field="dataset")


def _query(name: str, query: str, allowed: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, found in parse_qs(query, keep_blank_values=True).items():
        if key not in allowed:
            raise _bad(name, f"unknown option {key!r}; the URL takes {', '.join(allowed)}")
        if len(found) != 1 or not found[0]:
            raise _bad(name, f"give {key} once, with a value")
        values[key] = found[0]
    return values


def _table_name(name: str, table: str | None) -> str:
    if table is None:
        raise _bad(name, "name the ledger's table: ?table=contract_lines (optionally schema.table)")
    if not all(_IDENTIFIER.fullmatch(part) for part in table.split(".")) or table.count(".") > 1:
        raise _bad(name, f"table {table!r} is not a plain [schema.]table name")
    return table


def _postgres(name: str, spec: str, password_file: Path | None) -> WarehouseTable:
    parts = urlsplit(spec)
    if parts.password is not None:
        raise _bad(name, "the URL holds a password; give it in PGPASSWORD or --pg-password-file instead")
    options = _query(name, parts.query, ("table",))
    try:
        port = parts.port or 5432
    except ValueError:
        raise _bad(name, "the port is not a number") from None
    host = parts.hostname or ""
    database = unquote(parts.path.lstrip("/"))
    if not host or not database or not parts.username:
        raise _bad(name, "write postgresql://USER@HOST:PORT/DATABASE?table=TABLE")
    connect = {"host": host, "port": str(port), "dbname": database, "user": unquote(parts.username)}
    location = f"{connect['user']}@{host}:{port}/{database}"
    table = _table_name(name, options.get("table"))
    return WarehouseTable(name, Engine.POSTGRESQL, location, table, None, connect, password_file)


def _spark(name: str, spec: str) -> WarehouseTable:
    rest = spec.partition("://")[2]
    master, _, query = rest.partition("?")
    options = _query(name, query, ("table", "path"))
    if not master:
        raise _bad(name, "write spark://local[2]?table=T (or ?path=P.parquet), or spark://HOST:PORT?...")
    if not re.fullmatch(r"local(\[(\d+|\*)\])?", master):
        master = f"spark://{master}"
    if ("table" in options) == ("path" in options):
        raise _bad(name, "give exactly one of ?table= or ?path=")
    table = _table_name(name, options["table"]) if "table" in options else None
    return WarehouseTable(name, Engine.SPARK, master, table, options.get("path"))


# --- PostgreSQL -----------------------------------------------------------------------


class _Fetched:
    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def fetchall(self) -> list[Any]:
        return self.rows


class PostgresSession:
    """One connection for one call; its temporary tables go with it."""

    def __init__(self, table: WarehouseTable) -> None:
        import psycopg

        self._errors = psycopg
        self.name = table.name
        password = None
        if table.password_file is not None:
            try:
                password = table.password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise self.unavailable(f"its password file cannot be read ({exc.strerror or 'OS error'})") from None
        conninfo = psycopg.conninfo.make_conninfo(**table.connect, **({"password": password} if password else {}))
        try:
            self.con = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise self._connect_error(exc) from None

    def unavailable(self, why: str) -> KpiError:
        return KpiError(ErrorCode.DATASET_UNAVAILABLE, f"dataset {self.name!r} is unavailable: {why}", field="ledger")

    def _connect_error(self, exc: Exception) -> KpiError:
        # libpq's text can hold the connection string; only its class of failure is reported.
        text = str(exc).lower()
        if "password" in text or "authentication" in text:
            return self.unavailable("PostgreSQL refused the credentials (set PGPASSWORD or --pg-password-file)")
        if "does not exist" in text:
            return self.unavailable("PostgreSQL has no such database or role")
        return self.unavailable("the PostgreSQL server cannot be reached")

    def execute(self, query: str) -> Rows:
        created = _TEMP_TABLE.match(query)
        try:
            with self.con.cursor() as cursor:
                cursor.execute(transpile(query, Engine.POSTGRESQL).encode())
                rows = cursor.fetchall() if cursor.description is not None else []
                if created is not None:
                    # Temporary tables are never analysed automatically; without statistics every join is a guess.
                    cursor.execute(f"ANALYZE {created.group(1)}".encode())
        except self._errors.Error as exc:
            raise self._failed(exc) from None
        return _Fetched(rows)

    def _failed(self, exc: Exception) -> KpiError:
        errors = self._errors.errors
        if isinstance(exc, errors.NumericValueOutOfRange):
            return _out_of_range(self.name)
        if isinstance(exc, errors.InsufficientPrivilege):
            return self.unavailable("permission denied on its table")
        if isinstance(exc, self._errors.OperationalError):
            return self.unavailable("the connection to PostgreSQL failed")
        return _engine_error(self.name, type(exc).__name__)

    def columns(self, table: str) -> dict[str, str]:
        """Column name → type of `table`; refused when it is missing or cannot be read by this role."""
        found = self.execute_raw(
            "SELECT to_regclass(%s) IS NOT NULL, "
            "CASE WHEN to_regclass(%s) IS NOT NULL THEN has_table_privilege(to_regclass(%s), 'SELECT') END",
            (table, table, table),
        )
        exists, readable = found[0]
        if not exists:
            raise self.unavailable(f"PostgreSQL has no table {table!r} (or this role cannot see it)")
        if not readable:
            raise self.unavailable(f"permission denied: this role cannot SELECT from {table!r}")
        rows = self.execute_raw(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (table,),
        )
        return {str(n): str(t) for n, t in rows}

    def execute_raw(self, query: str, parameters: tuple[object, ...]) -> list[Any]:
        try:
            with self.con.cursor() as cursor:
                cursor.execute(query.encode(), parameters)
                return cursor.fetchall()
        except self._errors.Error as exc:
            raise self._failed(exc) from None

    def relation(self, table: str) -> str:
        return ".".join(f'"{part}"' for part in table.split("."))

    def close(self) -> None:
        self.con.close()


# --- Spark ----------------------------------------------------------------------------

_SESSIONS: dict[str, Any] = {}
_SESSIONS_LOCK = threading.Lock()

SPARK_CONFIG = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    # Decimal arithmetic keeps every declared decimal place (and fails on overflow) instead of rounding
    # scales down past 38 digits: the ledger's DECIMAL(38,12) sums stay exact.
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.driver.memory": "2g",
}


def spark_session(master: str, config: Mapping[str, str] | None = None) -> Any:
    """The process's SparkSession for `master`, started on first use (a JVM: seconds), with `config` added."""
    with _SESSIONS_LOCK:
        if master not in _SESSIONS:
            from pyspark.sql import SparkSession

            builder = SparkSession.builder.master(master).appName("kpi-context")
            for key, value in {**SPARK_CONFIG, **(config or {})}.items():
                builder = builder.config(key, value)
            _SESSIONS[master] = builder.getOrCreate()
            _SESSIONS[master].sparkContext.setLogLevel("ERROR")
        return _SESSIONS[master]


class SparkSession:
    """A session of its own (temporary views are per session), on the process's Spark context.

    For one call, or held warm across calls by `spark_cache`: the temporary tables and views a call
    creates are its own and go when it ends (`end_call`), except those `keep` hands to the caller.
    """

    def __init__(self, table: WarehouseTable, data_dir: Path | None) -> None:
        from pyspark.errors import PySparkException

        self._errors = PySparkException
        self.name = table.name
        self.created: dict[str, Any] = {}
        """Temporary tables of the current call: name → its checkpointed frame."""
        self.views: list[str] = []
        """Temporary views of the current call."""
        self.checkpoints = 0
        """Temporary tables computed over the session's life: what a warm call should not repeat."""
        try:
            self.spark = spark_session(table.location).newSession()
        except (PySparkException, RuntimeError, OSError):
            raise self.unavailable("the Spark session could not be started (is Java installed?)") from None
        try:
            if table.path is not None:
                frame = self.spark.read.parquet(spark_path(table, data_dir))
            else:
                assert table.table is not None
                frame = self.spark.table(table.table)
        except PySparkException as exc:
            what = table.path if table.path is not None else table.table
            if "NOT_FOUND" in str(exc.getCondition() or ""):
                raise self.unavailable(f"Spark finds no table or Parquet data at {what!r}") from None
            raise self.unavailable(f"Spark cannot read {what!r} ({type(exc).__name__})") from None
        frame.createOrReplaceTempView(SOURCE_VIEW)
        self.schema = {f.name: f.dataType.simpleString() for f in frame.schema.fields}

    def unavailable(self, why: str) -> KpiError:
        return KpiError(ErrorCode.DATASET_UNAVAILABLE, f"dataset {self.name!r} is unavailable: {why}", field="ledger")

    def execute(self, query: str) -> Rows:
        created = _TEMP_TABLE.match(query)
        try:
            if created is not None:
                # Spark's temporary table: the rows computed once and kept, their lineage cut (a local
                # checkpoint), so that later statements plan against a scan, not against every step before it.
                name, body = created.groups()
                frame = self.spark.sql(transpile(body, Engine.SPARK)).localCheckpoint(eager=True)
                frame.createOrReplaceTempView(name)
                self.created[name] = frame
                self.checkpoints += 1
                return _Fetched([])
            rows = [tuple(r) for r in self.spark.sql(transpile(query, Engine.SPARK)).collect()]
        except self._errors as exc:
            condition = str(exc.getCondition() or "")
            if "OVERFLOW" in condition or "OUT_OF_RANGE" in condition:
                raise _out_of_range(self.name) from None
            raise _engine_error(self.name, condition or type(exc).__name__) from None
        view = _TEMP_VIEW.match(query)
        if view is not None:
            self.views.append(view.group(1))
        return _Fetched(rows)

    def keep(self, name: str) -> Any:
        """Temporary table `name` of this call, handed over: it outlives the call until `release`d."""
        return self.created.pop(name)

    def release(self, name: str, frame: Any) -> None:
        """A kept table gone: its view dropped, its rows freed."""
        with suppress(self._errors):
            self.spark.catalog.dropTempView(name)
        with suppress(self._errors):
            frame.unpersist()

    def end_call(self) -> None:
        """The call's own views and tables dropped, so that the next call on the session starts clean."""
        for name in self.views:
            with suppress(self._errors):
                self.spark.catalog.dropTempView(name)
        for name, frame in self.created.items():
            self.release(name, frame)
        self.views, self.created = [], {}

    def close(self) -> None:
        self.end_call()


def spark_path(table: WarehouseTable, data_dir: Path | None) -> str:
    """A local Parquet path must lie inside the data directory, as every file dataset does."""
    assert table.path is not None
    if "://" in table.path:
        return table.path
    if data_dir is None:
        raise KpiError(
            ErrorCode.PATH_NOT_ALLOWED, f"dataset {table.name!r}: a local Parquet path needs --data-dir", field="ledger"
        )
    resolved = (data_dir / table.path).resolve()
    if not resolved.is_relative_to(data_dir):
        raise KpiError(
            ErrorCode.PATH_NOT_ALLOWED,
            f"dataset {table.name!r}: its Parquet path is outside the data directory",
            field="ledger",
        )
    return str(resolved)


def _out_of_range(name: str) -> KpiError:
    return KpiError(
        ErrorCode.OUT_OF_RANGE,
        f"dataset {name!r}: the ledger's amounts exceed the engine's exact decimals (DECIMAL(38,6) per line and sum)",
        field="ledger",
    )


def _engine_error(name: str, kind: str) -> KpiError:
    return KpiError(
        ErrorCode.LEDGER_INVALID,
        f"dataset {name!r} could not be computed by the engine; check its columns and values against "
        "kpi://ledger-format",
        field="ledger",
        details={"database_error": kind},
    )


# --- opening --------------------------------------------------------------------------


@contextmanager
def session_for(table: WarehouseTable, data_dir: Path | None) -> Iterator[PostgresSession | SparkSession]:
    session: PostgresSession | SparkSession
    match table.engine:
        case Engine.POSTGRESQL:
            session = PostgresSession(table)
        case Engine.SPARK:
            session = SparkSession(table, data_dir)
        case Engine.DUCKDB:
            raise ValueError("a DuckDB dataset is a file")
    try:
        yield session
    finally:
        session.close()


_TEXT = ("text", "character varying", "character", "varchar", "string", "char")
_EXACT_NUMBERS = ("smallint", "integer", "bigint", "numeric", "decimal", "int", "tinyint")
DATE_COLUMNS = ("start_date", "end_date", "signed_date", "go_live_date")
AMOUNT_COLUMNS = ("amount", "list_amount")


def _family(type_name: str) -> str:
    base = type_name.lower().split("(")[0].strip()
    if base.startswith(_TEXT):
        return "text"
    if base in _EXACT_NUMBERS:
        return "number"
    if base == "date":
        return "date"
    return "other"


def check_types(name: str, types: Mapping[str, str], used: tuple[str, ...]) -> None:
    """Refuse columns whose type cannot hold what the ledger format says: money as floats, dates as timestamps.

    Text is always accepted (each row is checked as a CSV's would be); amounts may be exact numbers,
    dates may be dates, ids and dimensions may be whole numbers.
    """
    wrong: dict[str, str] = {}
    for column in used:
        if column not in types:
            continue
        family = _family(types[column])
        allowed = {"text"}
        if column in AMOUNT_COLUMNS:
            allowed.add("number")
        elif column in DATE_COLUMNS:
            allowed.add("date")
        elif column not in ("charge_type", "amount_period", "change_type", "currency"):
            allowed.add("number")
        if family not in allowed:
            wrong[column] = types[column]
    if wrong:
        listed = ", ".join(f"{c} is {t}" for c, t in wrong.items())
        raise KpiError(
            ErrorCode.LEDGER_INVALID,
            f"dataset {name!r} has columns of the wrong type: {listed}. Amounts are exact numbers or text (never "
            "floating point), dates are DATE or YYYY-MM-DD text, codes are text",
            field="ledger",
            details={"wrong_types": wrong},
        )


def source_relation(
    session: PostgresSession | SparkSession, table: WarehouseTable, used: tuple[str, ...]
) -> tuple[str, set[str]]:
    """(the rows to check as a SQL relation with a 0-based `rowid` in the table's order, the columns present)."""
    if isinstance(session, PostgresSession):
        assert table.table is not None
        types = session.columns(table.table)
        relation, order = session.relation(table.table), "ctid"
        # Text compares byte-wise, as on DuckDB: ties between line ids break the same way.
        text = '{} COLLATE "C"'
    else:
        types = session.schema
        relation, order = SOURCE_VIEW, "monotonically_increasing_id()"
        text = "{}"
    check_types(table.name, types, used)
    present = {c for c in used if c in types}
    columns = ", ".join(text.format(f'CAST("{c}" AS VARCHAR)') + f' AS "{c}"' for c in sorted(present))
    return f"(SELECT {columns}, row_number() OVER (ORDER BY {order}) - 1 AS rowid FROM {relation}) src", present
