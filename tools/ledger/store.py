"""One long-lived DuckDB database per server, holding the checked table of each dataset file it has read.

Reading and checking a large ledger costs far more than any KPI computed on it, so the
checked table of a dataset file is kept after the first call and reused until the file
changes: the cache key is the resolved path with the file's size and modification time,
so an edited or replaced file is read again. Only a few datasets are kept (least recently
used first out); inline rows are never cached.

Every call works on its own cursor: DuckDB gives each cursor its own connection (and its own
temporary tables) on the shared database, so calls from different threads never see each
other's working tables. The dictionary of cached tables is guarded by a lock; a table in use
by a call is dropped only once that call has released it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

CACHED_DATASETS = 4
"""Checked dataset tables kept at once; a million-line ledger takes on the order of 100 MB."""

DERIVED_PER_DATASET = 6
"""Tables derived from one dataset (conversions, priced lines under a set of options) kept with it."""


@dataclass(frozen=True)
class FileKey:
    """What identifies the content of a dataset file without reading it."""

    path: Path
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileKey:
        status = path.stat()
        return cls(path, status.st_size, status.st_mtime_ns)


@dataclass(frozen=True)
class CheckedTable:
    """A ledger read and checked into `table`: one row per ledger row, in file order, `reason` '' when usable."""

    table: str
    rows_read: int
    rows_rejected: int
    rejections: list[dict[str, object]]
    currencies: dict[str, int]
    """Usable rows per currency."""


@dataclass(frozen=True)
class CacheStats:
    loads: int
    """Dataset files read and checked."""
    hits: int
    """Calls served by a checked table already in the cache."""
    derivations: int
    """Tables built from a checked table: currency conversions, lines priced under a set of options."""
    derived_hits: int
    """Calls served by a derived table already built."""
    evictions: int
    cached: int
    """Datasets held now."""


@dataclass
class CachedLedger:
    """A checked table held by the store, with the tables derived from it and the calls using it."""

    key: FileKey
    checked: CheckedTable
    users: int = 0
    evicted: bool = False
    derived: dict[Hashable, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def tables(self) -> list[str]:
        return [self.checked.table, *self.derived.values()]


Loader = Callable[[duckdb.DuckDBPyConnection, str], CheckedTable]
"""Reads a ledger into the named table on the given cursor and reports what it found."""

Builder = Callable[[duckdb.DuckDBPyConnection, str], None]
"""Runs `CREATE <target> AS ...` on the given cursor, target being e.g. "TABLE derived_3" or "TEMP TABLE work_1"."""


class LedgerStore:
    """The engine's database and its least-recently-used cache of checked dataset tables."""

    def __init__(self, capacity: int = CACHED_DATASETS) -> None:
        if capacity < 1:
            raise ValueError("the store keeps at least one dataset")
        self._capacity = capacity
        self._lock = threading.Lock()
        self._db: duckdb.DuckDBPyConnection | None = None
        self._entries: OrderedDict[FileKey, CachedLedger] = OrderedDict()
        self._loading: dict[FileKey, threading.Lock] = {}
        self._next_table = 0
        self._loads = self._hits = self._derivations = self._derived_hits = self._evictions = 0

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                self._loads, self._hits, self._derivations, self._derived_hits, self._evictions, len(self._entries)
            )

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection of its own on the shared database; its temporary tables vanish when it closes."""
        with self._lock:
            if self._db is None:
                # Opened on first use, so a server that never reads a ledger never starts a database.
                self._db = duckdb.connect(":memory:")
            cursor = self._db.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def table_name(self, prefix: str) -> str:
        """A name no other table of this store has."""
        with self._lock:
            self._next_table += 1
            return f"{prefix}_{self._next_table}"

    @contextmanager
    def checked(self, path: Path, load: Loader) -> Iterator[CachedLedger]:
        """The checked table of the file at `path`, read with `load` unless cached; held until the block ends."""
        key = FileKey.of(path)
        entry = self._acquire(key)
        if entry is None:
            entry = self._load(key, load)
        try:
            yield entry
        finally:
            self._release(entry)

    def derived(self, held: CachedLedger, key: Hashable, build: Builder) -> str | None:
        """A table computed from a held checked table, built once and kept with it; None when it keeps enough.

        `key` must name everything the table depends on beyond the file (rates, options).
        """
        with held.lock:
            table = held.derived.get(key)
            if table is None:
                if len(held.derived) >= DERIVED_PER_DATASET:
                    return None
                table = self.table_name("derived")
                with self.cursor() as cursor:
                    build(cursor, f"TABLE {table}")
                held.derived[key] = table
                with self._lock:
                    self._derivations += 1
            else:
                with self._lock:
                    self._derived_hits += 1
            return table

    def _acquire(self, key: FileKey) -> CachedLedger | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            entry.users += 1
            self._hits += 1
            return entry

    def _load(self, key: FileKey, load: Loader) -> CachedLedger:
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        # One thread reads a given file; others asking for it meanwhile wait, then share its table.
        with loading:
            entry = self._acquire(key)
            if entry is not None:
                return entry
            table = self.table_name("checked")
            done = False
            try:
                with self.cursor() as cursor:
                    checked = load(cursor, table)
                done = True
            finally:
                with self._lock:
                    self._loading.pop(key, None)
                if not done:
                    self._drop([table])
            entry = CachedLedger(key, checked, users=1)
            # A file written while it was read serves this call but is not kept: its content may not match its key.
            entry.evicted = FileKey.of(key.path) != key
            with self._lock:
                self._loads += 1
                if entry.evicted:
                    return entry
                # An older version of the same file is out at once; then the least recently used, beyond capacity.
                out = [e for k, e in self._entries.items() if k.path == key.path]
                for old in out:
                    del self._entries[old.key]
                self._entries[key] = entry
                while len(self._entries) > self._capacity:
                    out.append(self._entries.popitem(last=False)[1])
                for old in out:
                    old.evicted = True
                self._evictions += len(out)
                unused = [t for old in out if old.users == 0 for t in old.tables()]
            self._drop(unused)
            return entry

    def _release(self, entry: CachedLedger) -> None:
        with self._lock:
            entry.users -= 1
            unused = entry.evicted and entry.users == 0
        if unused:
            self._drop(entry.tables())

    def _drop(self, tables: list[str]) -> None:
        if not tables:
            return
        with self.cursor() as cursor:
            for table in tables:
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
