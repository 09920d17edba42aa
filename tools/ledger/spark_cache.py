"""Warm Spark datasets: a Parquet path's checked and derived tables kept between calls while its files are unchanged.

Spark plans every statement anew, and a call that starts cold reads and checks the ledger, prices
it and values its contracts before its own statement runs — seconds of planning even on a small
ledger. A dataset given by a local Parquet path (`spark://MASTER?path=...`) can be known unchanged
cheaply: its files are listed, and each one's relative name, size, inode, modification and change
times form its signature. Such a dataset keeps one long-lived Spark session (a `newSession()` of the
process's context) holding its checked table and the tables derived from it (conversions, priced
lines, contract values, accounts' live stretches) as local checkpoints; a call on the same master,
path, dimensions and signature reuses them. A file added, removed or rewritten is another signature:
the dataset is read anew and the old version's tables are dropped at once.

A file set changed within `RACY_NS` of being read could be written again within the same timestamp
tick; its content is fingerprinted and compared on every use until it has aged, as the DuckDB
store does for files.

Catalog tables (`?table=`), URIs with a scheme (`s3a://...`) and PostgreSQL tables have no cheap
signature — a table can change under us with nothing to list — so they stay cold: checked on every call.

The temporary views a call creates (`lines`, `valued`, ...) are per session, so the calls on one warm
dataset take turns on its lock; calls on different datasets run side by side.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import duckdb

from kpi_context.tools.ledger.remote import SparkSession, WarehouseTable, spark_path
from kpi_context.tools.ledger.store import RACY_NS, Builder, CacheStats, CheckedTable

WARM_DATASETS = 4
"""Datasets kept warm at once, least recently used out first. Each holds a Spark session and its checked
table in the JVM's block manager (memory, spilling to local disk); the DuckDB store keeps as many files.
A server usually serves a handful of datasets; the equality tests use two."""

WARM_DERIVED = 16
"""Derived tables kept per warm dataset, least recently used out first: a set of options costs three (priced
lines, contract values, live stretches), a currency conversion one more, so a few rule sets asked in turn
(the default and a few variants) stay warm. Pricing depends on fewer options than valuing does, so the
equality tests, which visit the option sets ordered by their pricing and then their valuing, build each
table once under this bound."""

_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileStamp:
    """What identifies one file's content without reading it."""

    name: str
    """Relative to the dataset's path ('' for a path that is a single file)."""
    size: int
    inode: int
    mtime_ns: int
    ctime_ns: int


@dataclass(frozen=True)
class WarmKey:
    master: str
    path: str
    """The resolved local path."""
    dimensions: tuple[str, ...]
    """The dimension columns kept in the checked table: other dimensions, another table."""
    files: tuple[FileStamp, ...]


def file_set(path: Path) -> tuple[FileStamp, ...]:
    """The stamps of the file at `path`, or of every file under the directory `path`, in name order."""
    found: list[tuple[str, os.stat_result]] = []
    if path.is_file():
        found.append(("", path.stat()))
    elif path.is_dir():
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in files:
                full = Path(root) / name
                found.append((str(full.relative_to(path)), full.stat()))
    return tuple(FileStamp(name, s.st_size, s.st_ino, s.st_mtime_ns, s.st_ctime_ns) for name, s in sorted(found))


def _same_dataset(a: WarmKey, b: WarmKey) -> bool:
    return (a.master, a.path, a.dimensions) == (b.master, b.path, b.dimensions)


def _recent(files: tuple[FileStamp, ...]) -> bool:
    return any(time.time_ns() - max(f.mtime_ns, f.ctime_ns) < RACY_NS for f in files)


def _fingerprint(path: Path, files: tuple[FileStamp, ...]) -> bytes:
    """A digest of the files' names and contents; empty (matching no digest) when one is gone or unreadable."""
    digest = hashlib.blake2b(digest_size=20)
    for stamp in files:
        digest.update(stamp.name.encode() + b"\0")
        try:
            with (path / stamp.name if stamp.name else path).open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
        except OSError:
            return b""
    return digest.digest()


@dataclass
class WarmDataset:
    """A dataset's session, its checked table, and the tables derived from it, most recently used last."""

    key: WarmKey
    session: SparkSession
    checked: CheckedTable
    checked_frame: Any
    fingerprint: bytes | None
    """The files' digest while they are recent enough for a change to keep their stamps; else None."""
    derived: OrderedDict[Hashable, tuple[str, Any]] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    evicted: bool = False
    named: int = 0

    def release_all(self) -> None:
        for name, frame in self.derived.values():
            self.session.release(name, frame)
        self.derived.clear()
        self.session.release(self.checked.table, self.checked_frame)


Checker = Callable[[SparkSession], CheckedTable]
"""Checks the session's source rows into its temporary table `checked` and reports what it found."""


@dataclass(frozen=True)
class WarmCall:
    """One call's hold on a warm dataset: its session (the call's alone until it ends) and its tables."""

    session: SparkSession
    checked: CheckedTable
    derive: Callable[[Hashable, Builder], str]


class WarmDatasets:
    """The process's warm Spark datasets (Spark sessions are the process's too)."""

    def __init__(self, capacity: int = WARM_DATASETS, derived: int = WARM_DERIVED) -> None:
        self._capacity, self._derived_capacity = capacity, derived
        self._lock = threading.Lock()
        self._entries: OrderedDict[WarmKey, WarmDataset] = OrderedDict()
        self._loading: dict[WarmKey, threading.Lock] = {}
        self._loads = self._hits = self._derivations = self._derived_hits = self._evictions = 0

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                self._loads, self._hits, self._derivations, self._derived_hits, self._evictions, len(self._entries)
            )

    def clear(self) -> None:
        """Every dataset dropped: the idle ones now, those in use when their call ends."""
        with self._lock:
            out = list(self._entries.values())
            self._entries.clear()
            for entry in out:
                entry.evicted = True
            self._evictions += len(out)
            idle = [entry for entry in out if entry.users == 0]
        self._retire(idle)

    @contextmanager
    def call(
        self, table: WarehouseTable, data_dir: Path | None, dimensions: tuple[str, ...], check: Checker
    ) -> Iterator[WarmCall]:
        """The dataset warm (read and checked now if its files are new), locked for this call."""
        path = Path(spark_path(table, data_dir))
        key = WarmKey(table.location, str(path), dimensions, file_set(path))
        entry = self._acquire(key)
        if entry is not None and entry.fingerprint is not None:
            entry = self._confirm(entry, path)
        if entry is None:
            entry = self._load(table, data_dir, key, path, check)
        try:
            with entry.lock:
                try:
                    yield WarmCall(entry.session, entry.checked, lambda k, build: self._derive(entry, k, build))
                finally:
                    entry.session.end_call()
                    self._trim(entry)
        finally:
            self._release(entry)

    def _acquire(self, key: WarmKey) -> WarmDataset | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            entry.users += 1
            self._hits += 1
            return entry

    def _confirm(self, entry: WarmDataset, path: Path) -> WarmDataset | None:
        """A warm dataset of recent files, if their content is still the one read; None (and it leaves) if not."""
        if _fingerprint(path, entry.key.files) == entry.fingerprint:
            if not _recent(entry.key.files):
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

    def _load(
        self, table: WarehouseTable, data_dir: Path | None, key: WarmKey, path: Path, check: Checker
    ) -> WarmDataset:
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        # One thread reads a given file set; others asking for it meanwhile wait, then share its tables.
        with loading:
            try:
                entry = self._acquire(key)
                if entry is not None:
                    return entry
                entry, settled = self._read(table, data_dir, key, path, check)
            finally:
                with self._lock:
                    self._loading.pop(key, None)
        with self._lock:
            self._loads += 1
            if settled:
                # An older file set of the same dataset is out at once; then the least recently used.
                out = [e for k, e in self._entries.items() if _same_dataset(k, key)]
                for old in out:
                    del self._entries[old.key]
                self._entries[key] = entry
                while len(self._entries) > self._capacity:
                    out.append(self._entries.popitem(last=False)[1])
            else:
                # Written while it was read: serve this call, keep nothing.
                out, entry.evicted = [], True
            for old in out:
                old.evicted = True
            self._evictions += len(out)
            idle = [old for old in out if old.users == 0]
        self._retire(idle)
        return entry

    def _read(
        self, table: WarehouseTable, data_dir: Path | None, key: WarmKey, path: Path, check: Checker
    ) -> tuple[WarmDataset, bool]:
        """The dataset read and checked in a new session, and whether its files stayed as stamped meanwhile."""
        fingerprint = _fingerprint(path, key.files) if _recent(key.files) else None
        session = SparkSession(table, data_dir)
        try:
            checked = check(session)
            frame = session.keep(checked.table)
        finally:
            session.end_call()
        settled = file_set(path) == key.files and (fingerprint is None or _fingerprint(path, key.files) == fingerprint)
        return WarmDataset(key, session, checked, frame, fingerprint, users=1), settled

    def _derive(self, entry: WarmDataset, key: Hashable, build: Builder) -> str:
        # Called only by the call holding entry.lock: the session and its tables are this call's alone.
        held = entry.derived.get(key)
        if held is not None:
            entry.derived.move_to_end(key)
            with self._lock:
                self._derived_hits += 1
            return held[0]
        entry.named += 1
        name = f"derived_{entry.named}"
        # The builders ask of a connection only execute(statement), which the session provides in Spark's dialect.
        build(cast(duckdb.DuckDBPyConnection, entry.session), f"TEMP TABLE {name}")
        entry.derived[key] = (name, entry.session.keep(name))
        with self._lock:
            self._derivations += 1
        return name

    def _trim(self, entry: WarmDataset) -> None:
        # At the end of a call, never during one: its views name the tables it derived.
        while len(entry.derived) > self._derived_capacity:
            _, (name, frame) = entry.derived.popitem(last=False)
            entry.session.release(name, frame)
            with self._lock:
                self._evictions += 1

    def _release(self, entry: WarmDataset) -> None:
        with self._lock:
            entry.users -= 1
            idle = entry.evicted and entry.users == 0
        if idle:
            self._retire([entry])

    def _retire(self, entries: list[WarmDataset]) -> None:
        for entry in entries:
            with entry.lock:
                entry.release_all()


DATASETS = WarmDatasets()
"""The process's warm Spark datasets."""
