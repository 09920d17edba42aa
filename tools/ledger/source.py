"""Where a ledger comes from: named datasets under one data directory, or rows inline in the call.

Files are read by DuckDB itself; Python never holds the ledger. A dataset's path must resolve
(symlinks followed) inside the configured data directory, checked when the server starts and
again at every read, so a link swapped later cannot reach outside it either. A ledger name or
path is at most MAX_LEDGER_NAME characters with no control character; a dataset must be a
regular file (never a FIFO or device, which could block a read forever).
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.remote import WarehouseTable, parse_warehouse
from kpi_context.tools.ledger.store import LedgerStore
from kpi_context.tools.values import Engine

MAX_LEDGER_NAME = 200
"""Characters in a dataset name or path given in a call: more is never a real name, and the OS refuses it."""

MAX_INLINE_ROWS = 10_000
"""Inline rows travel inside a tool call; anything larger belongs in a dataset file."""

INLINE_DATASET = "inline"

REQUIRED_COLUMNS = (
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
BUILTIN_DIMENSIONS = ("segment", "region", "product", "plan", "industry")
"""Dimension columns every ledger may carry; an operator (or an inline ledger) can declare more."""
OPTIONAL_COLUMNS = ("line_id", "list_amount", "go_live_date", "discount_duration", *BUILTIN_DIMENSIONS)
LEDGER_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

MAX_DIMENSIONS = 16
"""Dimensions a ledger may declare beyond the built-in ones."""
_DIMENSION_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def check_dimensions(declared: object, field: str) -> tuple[str, ...]:
    """The built-in dimensions and the declared ones, each a lower-case column name that is no other ledger column.

    Refused (`invalid_argument`, naming `field`) when not a list of names, when a name is not
    [a-z][a-z0-9_]* (at most 64 characters), names a non-dimension ledger column, or there are too many.
    """
    if declared is None:
        return BUILTIN_DIMENSIONS
    if isinstance(declared, str) or not isinstance(declared, Sequence):
        raise KpiError(ErrorCode.INVALID_ARGUMENT, "dimensions is a list of column names", field=field)
    if len(declared) > MAX_DIMENSIONS:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"{len(declared)} dimensions declared; at most {MAX_DIMENSIONS} beyond the built-in {list(BUILTIN_DIMENSIONS)}",
            field=field,
            details={"limit": MAX_DIMENSIONS},
        )
    names = list(BUILTIN_DIMENSIONS)
    for index, name in enumerate(declared):
        where = f"{field}.{index}"
        if not isinstance(name, str) or not _DIMENSION_NAME.fullmatch(name):
            raise KpiError(
                ErrorCode.INVALID_ARGUMENT,
                f"dimension {name!r} is not a column name: lower-case ASCII letters, digits and '_', "
                "starting with a letter, at most 64 characters",
                field=where,
            )
        if name in LEDGER_COLUMNS and name not in BUILTIN_DIMENSIONS:
            raise KpiError(
                ErrorCode.INVALID_ARGUMENT,
                f"{name!r} is a ledger column with its own meaning, not a dimension",
                field=where,
            )
        if name not in names:
            names.append(name)
    return tuple(names)


class LedgerFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    JSONL = "jsonl"

    @classmethod
    def of(cls, path: Path) -> LedgerFormat:
        suffix = path.suffix.lower()
        match suffix:
            case ".csv":
                return cls.CSV
            case ".parquet" | ".pq":
                return cls.PARQUET
            case ".jsonl" | ".ndjson":
                return cls.JSONL
            case _:
                raise KpiError(
                    ErrorCode.UNSUPPORTED_FORMAT,
                    f"{path.name}: ledgers are read from .csv, .parquet or .jsonl files",
                    field="ledger",
                    details={"suffix": suffix},
                )


@dataclass(frozen=True)
class Dataset:
    name: str
    path: Path
    """The file; for a set of Parquet files, the directory they were found under (hive partitions are read
    from the part of each file's path below it)."""
    format: LedgerFormat
    files: tuple[Path, ...] = ()
    """For a Parquet directory or glob: every file it matched, resolved inside the data directory, sorted;
    empty for a single file."""
    pattern: str | None = None
    """For a set: the glob under `path` its files are matched with, again at every read."""
    names: tuple[str, ...] = ()
    """For a set: each file's path below `path` as matched (before links are followed), in the order of `files`."""


MAX_DATASET_FILES = 512
"""Files one Parquet directory or glob may match: each is held open while it is read."""
_GLOB_CHARACTERS = frozenset("*?[")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def _parquet_set(root: Path, name: str, raw_path: Path) -> Dataset | None:
    """A directory (every Parquet file below it) or a glob, as a dataset of several files; None for one file.

    Only .parquet (.pq) files count. The directory, and every file matched, must resolve inside `root`:
    a file reached through a symlink pointing out is refused, not skipped. A match with no Parquet file,
    or more than MAX_DATASET_FILES, is refused too.
    """
    parts = raw_path.parts
    glob_at = next((i for i, part in enumerate(parts) if _GLOB_CHARACTERS & set(part)), None)
    if glob_at is not None and os.path.lexists(root / raw_path):
        glob_at = None  # a file whose name holds '[' or '*' is that file, not a pattern
    if glob_at is None:
        if not (root / raw_path).is_dir():
            return None
        base, pattern = root / raw_path, "**/*"
    else:
        base, pattern = root / Path(*parts[:glob_at]), str(Path(*parts[glob_at:]))
    shown = str(raw_path)
    base = _inside(root, base, shown)
    if not base.is_dir():
        raise KpiError(ErrorCode.DATASET_NOT_FOUND, f"dataset {name!r}: no directory at {shown!r}", field="ledger")
    files: dict[Path, str] = {}
    for match in sorted(base.glob(pattern)):
        # Only Parquet files count: an export's other files (_SUCCESS, checksums) and folders are not rows.
        if match.suffix.lower() not in _PARQUET_SUFFIXES or match.is_dir():
            continue
        within = match.relative_to(base).as_posix()
        resolved = _inside(root, match, f"{shown}: {within}")
        if regular_file_status(resolved, within) is None:
            continue  # gone since it was listed
        # A file reached twice (through a link inside the directory) is read once.
        files.setdefault(resolved, within)
        if len(files) > MAX_DATASET_FILES:
            raise KpiError(
                ErrorCode.LEDGER_TOO_LARGE,
                f"dataset {name!r} matches more than {MAX_DATASET_FILES} files; merge them into fewer, larger files",
                field="ledger",
                details={"limit": MAX_DATASET_FILES},
            )
    if not files:
        raise KpiError(
            ErrorCode.DATASET_NOT_FOUND, f"dataset {name!r}: {shown!r} matches no Parquet file", field="ledger"
        )
    return Dataset(name, base, LedgerFormat.PARQUET, tuple(files), pattern, tuple(files.values()))


def _inside(data_dir: Path, candidate: Path, shown: str) -> Path:
    """`candidate` resolved (symlinks followed); refused unless it stays under `data_dir`."""
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError, ValueError):
        # A link loop, or a name the OS cannot take: not a file this server can read.
        raise KpiError(
            ErrorCode.PATH_NOT_ALLOWED, f"{shown!r} cannot be resolved to a file path", field="ledger"
        ) from None
    if not resolved.is_relative_to(data_dir):
        raise KpiError(
            ErrorCode.PATH_NOT_ALLOWED,
            f"{shown!r} is outside the data directory; ledgers are read only from files under it",
            field="ledger",
        )
    return resolved


def check_ledger_name(name: str, field: str) -> str:
    """A dataset name or path as given in a call: refused when too long or holding a control character."""
    if len(name) > MAX_LEDGER_NAME:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"the ledger name is {len(name):,} characters long; a dataset name or path has at most {MAX_LEDGER_NAME}",
            field=field,
            details={"length": len(name), "limit": MAX_LEDGER_NAME},
        )
    bad = next((c for c in name if unicodedata.category(c) in ("Cc", "Cs")), None)
    if bad is not None:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"the ledger name holds the control character U+{ord(bad):04X}; give a dataset name or a file path",
            field=field,
        )
    return name


def regular_file_status(path: Path, shown: str) -> os.stat_result | None:
    """The status of `path` (links followed), None when nothing is there; refused unless a regular file."""
    try:
        status = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return None
        raise KpiError(
            ErrorCode.DATASET_UNAVAILABLE, f"{shown!r} cannot be read: {exc.strerror or 'OS error'}", field="ledger"
        ) from None
    if not stat.S_ISREG(status.st_mode):
        raise KpiError(
            ErrorCode.PATH_NOT_ALLOWED,
            f"{shown!r} is not a regular file (a directory, FIFO or device); ledgers are read only from files",
            field="ledger",
        )
    return status


@dataclass(frozen=True)
class DatasetRegistry:
    """Named ledgers the server was started with, all under one data directory, and the store that reads them."""

    data_dir: Path | None
    """None when the operator configured no directory: then only inline rows can be computed."""
    datasets: Mapping[str, Dataset | WarehouseTable] = field(default_factory=lambda: MappingProxyType({}))
    store: LedgerStore = field(default_factory=LedgerStore, compare=False, repr=False)
    """The engine's database: checked dataset tables are kept there from one call to the next."""
    dimensions: tuple[str, ...] = BUILTIN_DIMENSIONS
    """The dimension columns of every dataset: the built-in ones and those the operator declared."""

    @classmethod
    def from_cli(
        cls,
        data_dir: str | Path,
        specs: Iterable[str] = (),
        dimensions: Iterable[str] = (),
        pg_password_file: Path | None = None,
    ) -> DatasetRegistry:
        """Build from `--data-dir DIR`, repeated `--dataset NAME=PATH` and repeated `--dimension NAME`.

        PATH is read as any command-line path (relative to the working directory) and must lie
        inside DIR. It may also be a directory of Parquet files (hive partitions such as
        `region=emea/` read as columns) or a glob such as `export/*.parquet`: every file matched
        must lie inside DIR too. A path named in a tool call instead is relative to DIR. Each NAME is a dimension
        column the datasets carry beyond the built-in ones (segment, region, product, plan, industry).
        PATH may instead be a table in PostgreSQL or Spark (`remote.parse_warehouse`).
        """
        declared = check_dimensions(list(dimensions), "dimension")
        root = Path(data_dir).resolve()
        if not root.is_dir():
            raise KpiError(
                ErrorCode.DATASET_NOT_FOUND, f"data directory {str(data_dir)!r} does not exist", field="data_dir"
            )
        found: dict[str, Dataset | WarehouseTable] = {}
        for spec in specs:
            name, sep, raw_path = spec.partition("=")
            name = name.strip()
            if not sep or not name or not raw_path.strip():
                raise KpiError(ErrorCode.INVALID_ARGUMENT, f"dataset {spec!r} is not NAME=PATH", field="dataset")
            if name in found:
                raise KpiError(ErrorCode.INVALID_ARGUMENT, f"dataset {name!r} is given twice", field="dataset")
            warehouse = parse_warehouse(name, raw_path.strip(), pg_password_file)
            if warehouse is not None:
                found[name] = warehouse
            else:
                path = Path(raw_path.strip()).absolute()
                found[name] = _parquet_set(root, name, path) or cls._locate(root, name, path)
        _one_spark_master(found)
        return cls(root, MappingProxyType(found), dimensions=declared)

    @staticmethod
    def _locate(root: Path, name: str, raw_path: Path) -> Dataset:
        # An absolute `raw_path` replaces `root` in the join; either way the resolved file must be under root.
        path = _inside(root, root / raw_path, str(raw_path))
        if regular_file_status(path, str(raw_path)) is None:
            raise KpiError(
                ErrorCode.DATASET_NOT_FOUND, f"dataset {name!r}: no file at {str(raw_path)!r}", field="ledger"
            )
        return Dataset(name, path, LedgerFormat.of(path))

    def resolve(self, reference: str) -> Dataset | WarehouseTable:
        """A registered name, or a file path relative to the data directory."""
        if self.data_dir is None:
            raise KpiError(
                ErrorCode.DATASET_NOT_FOUND,
                "this server was started without a data directory; pass ledger={'rows': [...]} or start it "
                "with --data-dir and --dataset NAME=PATH",
                field="ledger",
            )
        known = self.datasets.get(reference)
        if isinstance(known, WarehouseTable):
            return known
        if known is not None and known.pattern is not None:
            # Matched again at read time: files may have come or gone, and each must still resolve inside.
            found = _parquet_set(self.data_dir, known.name, known.path / known.pattern)
            assert found is not None
            return found
        if known is not None:
            # Checked again at read time: the file or a link on its path may have changed since start.
            return Dataset(known.name, _inside(self.data_dir, known.path, known.name), known.format)
        looks_like_path = "/" in reference or "\\" in reference or "." in reference
        if not looks_like_path:
            raise KpiError(
                ErrorCode.DATASET_NOT_FOUND,
                f"no dataset named {reference!r}; the server has {sorted(self.datasets)}",
                field="ledger",
                details={"datasets": sorted(self.datasets)},
            )
        return self._locate(self.data_dir, reference, Path(reference))


def _one_spark_master(found: Mapping[str, Dataset | WarehouseTable]) -> None:
    """Refuse Spark datasets on different masters: a process holds one Spark context, bound to one master.

    Spark would hand a second master's datasets the first context without a word, so a dataset meant
    for a cluster would be computed on this machine instead.
    """
    masters: dict[str, str] = {}
    for name, dataset in found.items():
        if isinstance(dataset, WarehouseTable) and dataset.engine is Engine.SPARK:
            masters.setdefault(dataset.location, name)
    if len(masters) > 1:
        named = ", ".join(f"{name!r} on {master}" for master, name in masters.items())
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"Spark datasets name different masters ({named}); one server runs one Spark context: "
            "give every spark:// dataset the same master",
            field="dataset",
        )


@dataclass(frozen=True)
class InlineRows:
    rows: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class LedgerSource:
    """A ledger to read, and the exchange rates the caller supplied for it (currency → rate to the result's)."""

    name: str
    origin: Dataset | InlineRows | WarehouseTable
    fx_rates: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    dimensions: tuple[str, ...] = BUILTIN_DIMENSIONS
    """Its dimension columns: the built-in ones, and those its registry or inline ledger declared."""


_LEDGER_KEYS = {"rows", "dataset", "fx_rates", "dimensions"}


def ledger_source(ledger: str | Mapping[str, Any], datasets: DatasetRegistry) -> LedgerSource:
    """Read the `ledger` argument: "NAME", {"dataset": "NAME", "fx_rates": {...}} or {"rows": [...], ...}.

    Inline rows may declare dimension columns of their own (`"dimensions": ["team"]`); a dataset's are
    the ones the operator declared for the server.
    """
    if isinstance(ledger, str):
        dataset = datasets.resolve(check_ledger_name(ledger, "ledger"))
        return LedgerSource(dataset.name, dataset, dimensions=datasets.dimensions)
    unknown = sorted(set(ledger) - _LEDGER_KEYS)
    if unknown:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"ledger takes 'rows' or 'dataset', and optionally 'fx_rates' and (with rows) 'dimensions'; not {unknown}",
            field=f"ledger.{unknown[0]}",
        )
    fx = _fx_rates(ledger.get("fx_rates"))
    if ("rows" in ledger) == ("dataset" in ledger):
        raise KpiError(ErrorCode.INVALID_ARGUMENT, "ledger needs exactly one of 'rows' or 'dataset'", field="ledger")
    if "dataset" in ledger:
        name = ledger["dataset"]
        if not isinstance(name, str):
            raise KpiError(ErrorCode.INVALID_ARGUMENT, "ledger.dataset must be a name", field="ledger.dataset")
        if ledger.get("dimensions") is not None:
            raise KpiError(
                ErrorCode.INVALID_ARGUMENT,
                f"a dataset's dimensions are declared by the operator (--dimension); this server's are "
                f"{list(datasets.dimensions)}",
                field="ledger.dimensions",
                details={"dimensions": list(datasets.dimensions)},
            )
        dataset = datasets.resolve(check_ledger_name(name, "ledger.dataset"))
        return LedgerSource(dataset.name, dataset, fx, datasets.dimensions)
    dimensions = check_dimensions(ledger.get("dimensions"), "ledger.dimensions")
    return LedgerSource(INLINE_DATASET, InlineRows(_rows(ledger["rows"])), fx, dimensions)


def _rows(raw: object) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise KpiError(ErrorCode.INVALID_ARGUMENT, "ledger.rows must be a list of objects", field="ledger.rows")
    if len(raw) > MAX_INLINE_ROWS:
        raise KpiError(
            ErrorCode.LEDGER_TOO_LARGE,
            f"{len(raw)} inline rows; at most {MAX_INLINE_ROWS:,} travel in a call — serve larger ledgers as a dataset",
            field="ledger.rows",
            details={"rows": len(raw), "limit": MAX_INLINE_ROWS},
        )
    if not raw:
        raise KpiError(ErrorCode.LEDGER_INVALID, "the ledger has no rows", field="ledger.rows")
    for number, row in enumerate(raw, start=1):
        if not isinstance(row, Mapping):
            raise KpiError(
                ErrorCode.LEDGER_INVALID, f"row {number} is not an object", field=f"ledger.rows.{number - 1}"
            )
    return tuple(raw)


def _fx_rates(raw: object) -> Mapping[str, Decimal]:
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, Mapping):
        raise KpiError(ErrorCode.INVALID_ARGUMENT, "fx_rates maps a currency code to a rate", field="ledger.fx_rates")
    rates: dict[str, Decimal] = {}
    for code, value in raw.items():
        where = f"ledger.fx_rates.{code}"
        if not (isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()):
            raise KpiError(ErrorCode.INVALID_ARGUMENT, f"{code!r} is not an ISO 4217 code", field=where)
        try:
            # repr() of a float is the shortest text that round-trips: the number the caller wrote.
            rate = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            raise KpiError(ErrorCode.INVALID_ARGUMENT, f"rate {value!r} is not a number", field=where) from None
        if isinstance(value, bool) or not rate.is_finite() or rate <= 0:
            raise KpiError(ErrorCode.INVALID_ARGUMENT, f"rate {value!r} must be a positive number", field=where)
        rates[code] = rate
    return MappingProxyType(rates)


def inline_jsonl(rows: Iterable[Mapping[str, Any]]) -> str:
    """Inline rows as JSON Lines, so DuckDB reads them exactly as it reads a .jsonl dataset."""
    return "\n".join(json.dumps({k: _json_value(v) for k, v in row.items()}, default=str) for row in rows) + "\n"


_LONGEST_INTEGER = 10**40
"""Beyond any amount's digits; a larger integer is written as a token the amount rule rejects."""


def _json_value(value: Any) -> Any:
    # An integer of thousands of digits cannot even be printed (Python's 4,300-digit limit): it is
    # written as a token the row's checks reject, so that row alone is refused, with its number.
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _LONGEST_INTEGER:
        return f"<integer of {value.bit_length()} bits>"
    return value
