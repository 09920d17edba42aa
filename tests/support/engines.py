"""Real PostgreSQL and Spark for tests: a throwaway PostgreSQL server, a local Spark session, ledgers loaded into them.

PostgreSQL refuses to run as root, so as root the server runs as a system user made for it
(`kpi_pg_test`). Off CI a machine without PostgreSQL or Java skips these tests; on CI (`CI` set) they fail.
"""

from __future__ import annotations

import csv
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kpi_context.tools.values import BoundValue

PG_USER = "kpi_pg_test"
"""The system user the test server runs as when the tests run as root."""


def unavailable(why: str) -> None:
    """Skip off CI; fail on CI, where every engine test must run."""
    if os.environ.get("CI"):
        pytest.fail(f"{why}: CI must run the engine tests", pytrace=False)
    pytest.skip(why)


def postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Postgres:
    port: int
    superuser: str = "postgres"
    database: str = "postgres"

    def url(self, table: str, user: str | None = None) -> str:
        return f"postgresql://{user or self.superuser}@127.0.0.1:{self.port}/{self.database}?table={table}"

    def connect(self, user: str | None = None, password: str | None = None):
        import psycopg

        extra = {"password": password} if password else {}
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=user or self.superuser,
            dbname=self.database,
            autocommit=True,
            **extra,
        )

    def load_csv(self, table: str, path: Path, types: dict[str, str] | None = None) -> None:
        """A table with the CSV's columns (text unless `types` says otherwise), filled from the file."""
        with path.open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle))
        columns = ", ".join(f'"{c}" {(types or {}).get(c, "text")}' for c in header)
        with self.connect() as con:
            con.execute(f'DROP TABLE IF EXISTS "{table}"'.encode())
            con.execute(f'CREATE TABLE "{table}" ({columns})'.encode())
            with (
                con.cursor() as cursor,
                cursor.copy(f'COPY "{table}" FROM STDIN WITH (FORMAT csv, HEADER true)'.encode()) as copy,
            ):
                copy.write(path.read_bytes())


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            check=True,
            capture_output=True,
        )
    return ["runuser", "-u", PG_USER, "--", *command]


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    """initdb in a new temporary directory, a server on a free loopback port (trust authentication, loopback
    only), stopped and removed after. The directory is not under pytest's (private to root) so the server's
    own user can write it."""
    bindir = postgres_bin()
    if bindir is None:
        unavailable("PostgreSQL (initdb, pg_ctl) is not installed")
        raise AssertionError("unreachable")
    root = Path(tempfile.mkdtemp(prefix="kpi-postgres-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        _as_server_user(["true"])
        shutil.chown(root, PG_USER)
    subprocess.run(
        _as_server_user([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--locale=C.UTF-8"]),
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(
        _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        server = Postgres(port)
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                server.connect().close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield server
    finally:
        subprocess.run(
            _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


def spark_available() -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        unavailable("Java is not installed: Spark cannot start")
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        unavailable("pyspark is not installed (the 'spark' extra)")


def essentials(value: BoundValue) -> dict[str, Any]:
    """What must agree across engines: everything but the engine, the dataset's name and the signature."""
    assert value.ledger is not None
    trace = value.ledger.model_dump(exclude={"engine", "dataset"})
    return {
        "value": value.value,
        "undefined": value.undefined_reason,
        "components": [(c.name, c.value) for c in value.components],
        "ledger": trace,
        "warnings": list(value.warnings),
    }
