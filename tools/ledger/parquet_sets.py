"""A Parquet dataset of several files (a directory, hive-partitioned or not, or a glob) as one relation.

The files are read through the descriptors the store opened (so DuckDB reads the very files that
were checked to lie inside the data directory), which hides their paths from DuckDB: hive partition
values are therefore taken here from each file's path below the dataset's directory and joined to
its rows by file. The schemas are compared first, since DuckDB reading a list of files takes the
first file's columns for all of them without a word.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import duckdb

from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.source import Dataset


def sql_text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


_HIVE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_FILE_COLUMN = "__ledger_file"


def _partitions(dataset: Dataset) -> list[dict[str, str | None]]:
    """Each file's hive partition values: the `key=value` folders between the dataset's directory and the file."""
    found = []
    for name in dataset.names:
        values: dict[str, str | None] = {}
        for folder in name.split("/")[:-1]:
            key, sep, value = folder.partition("=")
            if sep and _HIVE_KEY.fullmatch(key):
                values[key] = None if value == _HIVE_NULL else unquote(value)
        found.append(values)
    return found


def set_reader(con: duckdb.DuckDBPyConnection, dataset: Dataset, readable: tuple[Path, ...]) -> str:
    """One relation over every file of a Parquet set, its hive partitions as text columns.

    Refused (`ledger_invalid`) unless every file has the same columns of the same types and the same
    partition keys, none of them also a column inside the files: DuckDB would otherwise quietly read
    the first file's columns from all of them.
    """
    names = dataset.names
    schemas = [
        tuple(con.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_text(str(path))})").fetchall())
        for path in readable
    ]
    partitions = _partitions(dataset)
    for name, schema, keys in zip(names, schemas, partitions, strict=True):
        if schema != schemas[0] or list(keys) != list(partitions[0]):
            columns = sorted({str(c[0]) for c in schema} ^ {str(c[0]) for c in schemas[0]})
            keys_differ = sorted(set(keys) ^ set(partitions[0]))
            differ = ", ".join(columns + keys_differ) or "the same columns with other types"
            raise KpiError(
                ErrorCode.LEDGER_INVALID,
                f"dataset {dataset.name!r} mixes schemas: {name} differs from {names[0]} ({differ}); every file of "
                "a Parquet dataset must have the same columns and partitions",
                field="ledger",
                details={"file": name, "first_file": names[0], "differing": columns + keys_differ},
            )
    inside = {str(c[0]) for c in schemas[0]}
    clash = sorted(set(partitions[0]) & inside)
    if clash:
        raise KpiError(
            ErrorCode.LEDGER_INVALID,
            f"dataset {dataset.name!r}: partition {clash[0]!r} is also a column inside the files; which one holds "
            "the value would be a guess",
            field="ledger",
        )
    files = ", ".join(sql_text(str(path)) for path in readable)
    scan = f"read_parquet([{files}], filename = {sql_text(_FILE_COLUMN)})"
    if not partitions[0]:
        return f"(SELECT * EXCLUDE ({_FILE_COLUMN}) FROM {scan})"
    # Each partition value picked by the row's file, in a projection: the rows keep the files' order.
    values = ", ".join(
        "CASE "
        + _FILE_COLUMN
        + " "
        + " ".join(
            f"WHEN {sql_text(str(path))} THEN {_text_or_null(found[key])}"
            for path, found in zip(readable, partitions, strict=True)
        )
        + f' END AS "{key}"'
        for key in partitions[0]
    )
    return f"(SELECT * EXCLUDE ({_FILE_COLUMN}), {values} FROM {scan})"


def _text_or_null(value: str | None) -> str:
    return "CAST(NULL AS VARCHAR)" if value is None else sql_text(value)
