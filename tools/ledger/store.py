"""One long-lived DuckDB database per server, holding the checked table of each dataset file it has read.

Reading and checking a large ledger costs far more than any KPI computed on it, so the
checked table of a dataset file is kept after the first call and reused until the file
changes. The cache key is the resolved path with the file's device, inode, size, modification
time and change time (ctime): a file replaced by a rename has another inode, and a file
rewritten in place has another ctime even when its size is the same and its modification time
was set back, since no call can set ctime. A file changed within RACY_NS of being read (when
two writes could share a timestamp tick) is kept with a fingerprint of its content, compared
again on every use until the file has aged.

A file is opened (without following a final symlink, without blocking) and must be a regular
file before DuckDB reads it: a FIFO or device is refused, never read. DuckDB reads the very file
opened, through /proc/self/fd where the OS offers it. Its key (and, if recent, its content) is
compared before and after the read; a file changed while it was read (a non-atomic rewrite) is read once more, and
refused with `dataset_unavailable` if it changes again, never served half-written. The
fingerprint is taken only for a recent file: any write to an older one moves its ctime. Only a few
datasets are kept (least recently used first out); inline rows are never cached.

The database runs under a memory limit with a private spill directory (removed with the store):
DuckDB keeps what fits in memory and writes the rest of the checked and derived tables, and of
large joins and sorts, to that directory, so a ledger of tens of millions of lines is computed in
bounded memory rather than held whole in the process. (An in-memory database that spills was
measured faster than a database file: a table that fits is never written at all.)

Every call works on its own cursor: DuckDB gives each cursor its own connection (and its own
temporary tables) on the shared database, so calls from different threads never see each
other's working tables. The dictionary of cached tables is guarded by a lock; a table in use
by a call is dropped only once that call has released it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kpi_context.tools.errors import ErrorCode, KpiError

CACHED_DATASETS = 4
"""Checked dataset tables kept at once; a million-line ledger takes on the order of 100 MB."""

DERIVED_PER_DATASET = 16
"""Tables derived from one dataset kept with it: conversions and, per set of options, the priced lines, the
contract values through time and the accounts' live stretches (three tables)."""


MEMORY_LIMIT = "512MB"
"""DuckDB's buffer memory for the store's database; beyond it, tables and large operators spill to disk.
The process's peak RSS is this, the interpreter and DuckDB's working allocations outside its buffers."""


RACY_NS = 2_000_000_000
"""A file changed this recently when read is checked by content until it is older: timestamps are coarse."""

_CHUNK = 1 << 20

_FD_DIR = Path("/proc/self/fd")


@dataclass(frozen=True)
class FileKey:
    """What identifies the content of a dataset file without reading it."""

    path: Path
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, path: Path, status: os.stat_result) -> FileKey:
        return cls(path, status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


class OpenedFile:
    """A dataset file opened for reading, checked to be a regular file; DuckDB reads it through `readable`."""

    def __init__(self, path: Path, shown: str) -> None:
        self.path, self.shown = path, shown
        # Non-blocking: opening a FIFO for reading would otherwise wait for a writer. A regular file ignores it.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            self.fd = os.open(path, flags)
        except FileNotFoundError:
            raise self.unavailable("its file is gone (deleted or moved since the server started)") from None
        except OSError as exc:
            raise self.unavailable(f"its file cannot be opened ({exc.strerror or 'OS error'})") from None
        status = os.fstat(self.fd)
        if not stat.S_ISREG(status.st_mode):
            os.close(self.fd)
            raise KpiError(
                ErrorCode.PATH_NOT_ALLOWED,
                f"dataset {shown!r} is not a regular file (a FIFO, device or directory); ledgers are read only "
                "from regular files",
                field="ledger",
            )
        proc = _FD_DIR / str(self.fd)
        self.readable = proc if proc.exists() else path

    def unavailable(self, why: str) -> KpiError:
        return KpiError(ErrorCode.DATASET_UNAVAILABLE, f"dataset {self.shown!r} is unavailable: {why}", field="ledger")

    def key(self) -> FileKey:
        return FileKey.of(self.path, os.fstat(self.fd))

    def fingerprint(self) -> bytes:
        """A digest of the whole content, read through the open descriptor."""
        digest, offset = hashlib.blake2b(digest_size=20), 0
        while chunk := os.pread(self.fd, _CHUNK, offset):
            digest.update(chunk)
            offset += len(chunk)
        return digest.digest()

    def close(self) -> None:
        os.close(self.fd)


@dataclass(frozen=True)
class FileSetKey:
    """What identifies the content of a set of dataset files (a Parquet directory or glob): each file's key."""

    path: Path
    """The directory the files were matched under: a set of the same dataset replaces an older one."""
    members: tuple[FileKey, ...]


class OpenedFileSet:
    """Every file of a dataset of several files, opened and checked as one file is; DuckDB reads `readable`."""

    def __init__(self, path: Path, files: tuple[Path, ...], shown: str) -> None:
        self.path, self.shown = path, shown
        self.files: list[OpenedFile] = []
        try:
            for file in files:
                self.files.append(OpenedFile(file, shown))
        except KpiError:
            self.close()
            raise
        self.readable = tuple(file.readable for file in self.files)

    def unavailable(self, why: str) -> KpiError:
        return KpiError(ErrorCode.DATASET_UNAVAILABLE, f"dataset {self.shown!r} is unavailable: {why}", field="ledger")

    def key(self) -> FileSetKey:
        return FileSetKey(self.path, tuple(file.key() for file in self.files))

    def fingerprint(self) -> bytes:
        digest = hashlib.blake2b(digest_size=20)
        for file in self.files:
            digest.update(file.fingerprint())
        return digest.digest()

    def close(self) -> None:
        for file in self.files:
            file.close()


Key = FileKey | FileSetKey
Opened = OpenedFile | OpenedFileSet
Readable = Path | tuple[Path, ...]
"""Where DuckDB reads a dataset: the opened file, or each opened file of a set."""


def _recent(key: Key) -> bool:
    members = key.members if isinstance(key, FileSetKey) else (key,)
    return any(time.time_ns() - max(m.ctime_ns, m.mtime_ns) < RACY_NS for m in members)


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

    key: Key
    checked: CheckedTable
    fingerprint: bytes | None = None
    """The content's digest while the file is recent enough for a change to share its timestamps; else None."""
    users: int = 0
    evicted: bool = False
    derived: dict[Hashable, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def tables(self) -> list[str]:
        return [self.checked.table, *self.derived.values()]


Loader = Callable[[duckdb.DuckDBPyConnection, str, Readable], CheckedTable]
"""Reads the ledger at the given path(s) into the named table on the given cursor and reports what it found."""

Builder = Callable[[duckdb.DuckDBPyConnection, str], None]
"""Runs `CREATE <target> AS ...` on the given cursor, target being e.g. "TABLE derived_3" or "TEMP TABLE work_1"."""


class LedgerStore:
    """The engine's database and its least-recently-used cache of checked dataset tables."""

    def __init__(self, capacity: int = CACHED_DATASETS, memory_limit: str = MEMORY_LIMIT) -> None:
        if capacity < 1:
            raise ValueError("the store keeps at least one dataset")
        self._capacity = capacity
        self._memory_limit = memory_limit
        self._lock = threading.Lock()
        self._db: duckdb.DuckDBPyConnection | None = None
        self._entries: OrderedDict[Key, CachedLedger] = OrderedDict()
        self._loading: dict[Key, threading.Lock] = {}
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
                self._db, directory = _open_database(self._memory_limit)
                # Closed and removed with the store (or at exit): the file is a cache, never shared or kept.
                weakref.finalize(self, _close_database, self._db, directory)
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
    def checked(
        self, path: Path, load: Loader, *, shown: str | None = None, files: tuple[Path, ...] = ()
    ) -> Iterator[CachedLedger]:
        """The checked table of the file at `path`, read with `load` unless cached; held until the block ends.

        `shown` names the dataset in errors: a file gone is `dataset_unavailable`, one that is not a
        regular file `path_not_allowed`, one that keeps changing while it is read `dataset_unavailable`.
        With `files` (a dataset of several files found under the directory `path`), every file is opened
        and checked so, and the table is kept under the key of all of them: a file added, removed or
        changed is another set, read anew.
        """
        opened: Opened = (
            OpenedFileSet(path, files, shown or path.name) if files else OpenedFile(path, shown or path.name)
        )
        try:
            key = opened.key()
            entry = self._acquire(key)
            if entry is not None and entry.fingerprint is not None:
                entry = self._confirm(entry, opened)
            if entry is None:
                entry = self._load(opened, load)
        finally:
            opened.close()
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

    def _acquire(self, key: Key) -> CachedLedger | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            entry.users += 1
            self._hits += 1
            return entry

    def _confirm(self, entry: CachedLedger, opened: Opened) -> CachedLedger | None:
        """A held entry of a recent file, if its content is still the one read; None (and it leaves) if not."""
        if opened.fingerprint() == entry.fingerprint:
            if not _recent(entry.key):
                entry.fingerprint = None
            return entry
        with self._lock:
            if self._entries.get(entry.key) is entry:
                del self._entries[entry.key]
                entry.evicted = True
                self._evictions += 1
            self._hits -= 1
        self._release(entry)
        return None

    def _load(self, opened: Opened, load: Loader) -> CachedLedger:
        key = requested = opened.key()
        with self._lock:
            loading = self._loading.setdefault(requested, threading.Lock())
        # One thread reads a given file; others asking for it meanwhile wait, then share its table.
        with loading:
            try:
                entry = self._acquire(key)
                if entry is not None:
                    return entry
                key, checked, fingerprint = self._read_settled(opened, key, load)
            finally:
                with self._lock:
                    self._loading.pop(requested, None)
            entry = CachedLedger(key, checked, fingerprint, users=1)
            with self._lock:
                self._loads += 1
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

    def _read_settled(self, opened: Opened, key: Key, load: Loader) -> tuple[Key, CheckedTable, bytes | None]:
        """The file read and checked while its content stayed the same; read twice at most, else refused.

        A write during the read moves the file's ctime to the time of that write. For a file last changed
        more than RACY_NS before, that is another ctime, so comparing keys suffices; a recent file could
        be written again within the same timestamp tick, so its content is fingerprinted before and after.
        """
        for attempt in (1, 2):
            racy = _recent(key)
            before = opened.fingerprint() if racy else None
            table = self.table_name("checked")
            done = False
            try:
                with self.cursor() as cursor:
                    checked = load(cursor, table, opened.readable)
                after_key = opened.key()
                done = after_key == key and (not racy or opened.fingerprint() == before)
            finally:
                if not done:
                    self._drop([table])
            if done:
                return key, checked, before
            # Written while it was read: what was read may be half of the file. Once more, from its new state.
            key = after_key
            if attempt == 2:
                break
        raise opened.unavailable("its file changed while it was being read, twice; try again once it is written")

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


def _open_database(memory_limit: str) -> tuple[duckdb.DuckDBPyConnection, Path]:
    """A new in-memory database that spills to a private temporary directory."""
    directory = Path(tempfile.mkdtemp(prefix="kpi-ledger-"))
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": memory_limit,
        "temp_directory": str(directory),
    }
    return duckdb.connect(":memory:", config=config), directory


def _close_database(db: duckdb.DuckDBPyConnection, directory: Path) -> None:
    db.close()
    shutil.rmtree(directory, ignore_errors=True)
