"""Ledgers in PostgreSQL and Spark: dataset URLs, bad inputs refused with a code and the dataset's name, no credential echoed."""

from __future__ import annotations

import csv
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from kpi_context.server.cli_serve import check_datasets
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.engine import compute_from_ledger
from kpi_context.tools.ledger.remote import WarehouseTable, parse_warehouse
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.values import Engine
from tests.support.engines import free_port, spark_available
from tests.support.ledgers import line

SECRET = "s3cret-Passw0rd-never-shown"


def test_a_postgresql_url_names_user_host_port_database_and_table():
    table = parse_warehouse("crm", "postgresql://analyst@db.internal:6543/finance?table=billing.contract_lines")
    assert isinstance(table, WarehouseTable)
    assert table.engine is Engine.POSTGRESQL
    assert table.table == "billing.contract_lines"
    assert dict(table.connect) == {"host": "db.internal", "port": "6543", "dbname": "finance", "user": "analyst"}
    assert table.described() == "postgresql analyst@db.internal:6543/finance billing.contract_lines"


def test_a_spark_url_names_the_master_and_a_table_or_a_parquet_path():
    local = parse_warehouse("lake", "spark://local[2]?path=exports/ledger.parquet")
    cluster = parse_warehouse("lake", "spark://10.0.0.5:7077?table=finance.contract_lines")
    assert local is not None and cluster is not None
    assert (local.engine, local.location, local.path) == (Engine.SPARK, "local[2]", "exports/ledger.parquet")
    assert (cluster.location, cluster.table) == ("spark://10.0.0.5:7077", "finance.contract_lines")


def test_a_file_path_is_not_a_warehouse_table():
    assert parse_warehouse("sample", "data/sample_ledger.csv") is None


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("postgresql://analyst@db:5432/finance", "?table="),
        ("postgresql://analyst@db:5432/finance?table=a;drop", "not a plain"),
        ("postgresql://db:5432/finance?table=t", "USER@HOST"),
        ("postgresql://analyst@db:5432/finance?table=t&sslmode=disable", "unknown option"),
        ("spark://local[2]?table=t&path=p.parquet", "exactly one"),
    ],
)
def test_a_malformed_dataset_url_is_refused_with_what_to_write(spec, says):
    with pytest.raises(KpiError) as refused:
        parse_warehouse("crm", spec)
    assert refused.value.code is ErrorCode.INVALID_ARGUMENT
    assert says in refused.value.detail.message


def test_a_password_in_the_url_is_refused_without_being_repeated():
    with pytest.raises(KpiError) as refused:
        parse_warehouse("crm", f"postgresql://analyst:{SECRET}@db:5432/finance?table=t")
    assert SECRET not in refused.value.detail.model_dump_json()
    assert "PGPASSWORD" in refused.value.detail.message


def _registry(tmp_path: Path, spec: str, password_file: Path | None = None) -> DatasetRegistry:
    return DatasetRegistry.from_cli(tmp_path, [f"crm={spec}"], pg_password_file=password_file)


def _refusal(ctx, registry: DatasetRegistry) -> KpiError:
    with pytest.raises(KpiError) as refused:
        compute_from_ledger(ctx, "sales.arr", "crm", datasets=registry, as_of=date(2026, 6, 30))
    return refused.value


def test_an_unreachable_server_is_dataset_unavailable_without_the_password(ctx, tmp_path, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", SECRET)
    registry = _registry(tmp_path, f"postgresql://analyst@127.0.0.1:{free_port()}/finance?table=t")
    refused = _refusal(ctx, registry)
    assert refused.code is ErrorCode.DATASET_UNAVAILABLE
    assert "'crm'" in refused.detail.message and "cannot be reached" in refused.detail.message
    assert SECRET not in refused.detail.model_dump_json()


def test_an_unreadable_password_file_is_dataset_unavailable(ctx, tmp_path, postgres):
    registry = _registry(tmp_path, postgres.url("nothing"), password_file=tmp_path / "missing-password")
    refused = _refusal(ctx, registry)
    assert refused.code is ErrorCode.DATASET_UNAVAILABLE
    assert "password file" in refused.detail.message


def _load(postgres, tmp_path: Path, table: str, rows: list[dict[str, str]], types: dict[str, str] | None = None):
    path = tmp_path / f"{table}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    postgres.load_csv(table, path, types)
    return path


def test_a_missing_table_is_dataset_unavailable(ctx, tmp_path, postgres):
    refused = _refusal(ctx, _registry(tmp_path, postgres.url("no_such_table")))
    assert refused.code is ErrorCode.DATASET_UNAVAILABLE
    assert "no table 'no_such_table'" in refused.detail.message


def test_a_table_without_a_required_column_is_ledger_invalid(ctx, tmp_path, postgres):
    row = line()
    del row["currency"]
    _load(postgres, tmp_path, "no_currency", [row])
    refused = _refusal(ctx, _registry(tmp_path, postgres.url("no_currency")))
    assert refused.code is ErrorCode.LEDGER_INVALID
    assert refused.detail.details["missing_columns"] == ["currency"]


def test_money_as_floating_point_and_dates_as_timestamps_are_ledger_invalid(ctx, tmp_path, postgres):
    _load(postgres, tmp_path, "typed", [line()], {"amount": "double precision", "start_date": "timestamp"})
    refused = _refusal(ctx, _registry(tmp_path, postgres.url("typed")))
    assert refused.code is ErrorCode.LEDGER_INVALID
    assert refused.detail.details["wrong_types"] == {
        "amount": "double precision",
        "start_date": "timestamp without time zone",
    }


def test_exact_numbers_and_dates_are_read_as_their_text(ctx, tmp_path, postgres):
    # 12,000 a year on a numeric column, dates on date columns: ARR 12,000 as from text.
    _load(postgres, tmp_path, "native", [line()], {"amount": "numeric(18,2)", "start_date": "date", "end_date": "date"})
    value = compute_from_ledger(
        ctx, "sales.arr", "crm", datasets=_registry(tmp_path, postgres.url("native")), as_of=date(2026, 6, 30)
    )
    assert value.value == Decimal(12000)
    assert value.ledger is not None and value.ledger.engine is Engine.POSTGRESQL


def test_a_role_without_select_is_dataset_unavailable_without_the_password(ctx, tmp_path, postgres, monkeypatch):
    _load(postgres, tmp_path, "private_lines", [line()])
    with postgres.connect() as con:
        con.execute(b"DROP ROLE IF EXISTS outsider")
        con.execute(b"CREATE ROLE outsider LOGIN")
    monkeypatch.setenv("PGPASSWORD", SECRET)
    refused = _refusal(ctx, _registry(tmp_path, postgres.url("private_lines", user="outsider")))
    assert refused.code is ErrorCode.DATASET_UNAVAILABLE
    assert "permission denied" in refused.detail.message
    assert SECRET not in refused.detail.model_dump_json()


def test_rejected_rows_are_numbered_and_explained_as_from_a_file(ctx, tmp_path, postgres):
    # Row 2 has an amount that is no number, row 3 an impossible day: both rejected, row 1 alone counts.
    rows = [line(), line(contract_id="C2", amount="12,000"), line(contract_id="C3", start_date="2026-02-30")]
    path = _load(postgres, tmp_path, "with_rejects", rows)
    registry = DatasetRegistry.from_cli(tmp_path, [f"file={path}", f"crm={postgres.url('with_rejects')}"])
    on_file, on_table = (
        compute_from_ledger(ctx, "sales.arr", name, datasets=registry, as_of=date(2026, 6, 30))
        for name in ("file", "crm")
    )
    assert on_table.ledger is not None and on_file.ledger is not None
    assert (on_table.ledger.rows_read, on_table.ledger.rows_used, on_table.ledger.rows_rejected) == (3, 1, 2)
    assert [r["row"] for r in on_table.ledger.rejections] == [2, 3]
    assert on_table.ledger.rejections == on_file.ledger.rejections
    assert on_table.value == on_file.value == Decimal(12000)


def test_the_dataset_listing_names_the_table_and_never_the_password(tmp_path, postgres, capsys, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", SECRET)
    password_file = tmp_path / "pg-password"
    password_file.write_text(SECRET, encoding="utf-8")
    _load(postgres, tmp_path, "listed", [line()])
    check_datasets(_registry(tmp_path, postgres.url("listed"), password_file=password_file))
    logged = capsys.readouterr().err
    assert f"postgresql postgres@127.0.0.1:{postgres.port}/postgres listed" in logged
    assert "1 rows read, 1 used, 0 rejected" in logged
    assert SECRET not in logged


def test_a_spark_path_with_no_parquet_is_dataset_unavailable(ctx, tmp_path, spark):
    refused = _refusal(ctx, _registry(tmp_path, f"spark://{spark}?path=missing.parquet"))
    assert refused.code is ErrorCode.DATASET_UNAVAILABLE
    assert "'crm'" in refused.detail.message and "missing.parquet" in refused.detail.message


def test_a_spark_path_outside_the_data_directory_is_refused(ctx, tmp_path, spark):
    refused = _refusal(ctx, _registry(tmp_path, f"spark://{spark}?path=../elsewhere.parquet"))
    assert refused.code is ErrorCode.PATH_NOT_ALLOWED


def test_parquet_money_as_double_is_ledger_invalid_on_spark(ctx, tmp_path, spark):
    import duckdb

    path = tmp_path / "doubles.parquet"
    row = line()
    columns = ", ".join(
        f"CAST({value} AS DOUBLE) AS {name}" if name == "amount" else f"'{value}' AS {name}"
        for name, value in row.items()
    )
    duckdb.sql(f"COPY (SELECT {columns}) TO '{path}' (FORMAT parquet)")
    refused = _refusal(ctx, _registry(tmp_path, f"spark://{spark}?path=doubles.parquet"))
    assert refused.code is ErrorCode.LEDGER_INVALID
    assert refused.detail.details["wrong_types"] == {"amount": "double"}


def _text_parquet(path: Path, rows: list[dict[str, str]]) -> Path:
    """A Parquet file of `rows` at `path`, every column text (as a CSV is read)."""
    import duckdb

    columns = list(rows[0])
    values = ", ".join("(" + ", ".join(f"'{r[c]}'" for c in columns) + ")" for r in rows)
    duckdb.sql(f"COPY (SELECT * FROM (VALUES {values}) t({', '.join(columns)})) TO '{path}' (FORMAT parquet)")
    return path


def _spark_catalog_table(spark_master: str, tmp_path: Path, name: str, rows: list[dict[str, str]]) -> None:
    """An external table of the Spark catalog over a Parquet file of `rows`, every column text."""
    from kpi_context.tools.ledger.remote import spark_session

    path = _text_parquet(tmp_path / f"{name}.parquet", rows)
    # The catalog is the Spark context's, shared by every session the server opens on it.
    spark_session(spark_master).sql(f"CREATE TABLE IF NOT EXISTS {name} USING parquet LOCATION '{path}'")


def test_a_spark_catalog_table_is_computed_where_it_lives(ctx, tmp_path, spark):
    rows = [
        # 12,000 a year through 2026, and 1,000 a month from 2026-04-01 through 2026-12-31.
        line(),
        line(account_id="A2", contract_id="C2", amount="1000", amount_period="month", start_date="2026-04-01"),
        # Rejected (a contraction must be negative): read, counted, never used.
        line(account_id="A3", contract_id="C3", amount="500", change_type="contraction"),
    ]
    _spark_catalog_table(spark, tmp_path, "books_catalog", rows)
    registry = _registry(tmp_path, f"spark://{spark}?table=default.books_catalog")
    value = compute_from_ledger(ctx, "sales.arr", "crm", datasets=registry, as_of=date(2026, 6, 30))
    # ARR on 2026-06-30: 12,000 (A1) + 1,000 × 12 (A2) = 24,000.
    assert value.value == Decimal("24000")
    assert value.ledger is not None and value.ledger.engine is Engine.SPARK
    assert (value.ledger.rows_read, value.ledger.rows_used, value.ledger.rows_rejected) == (3, 2, 1)


def test_a_spark_catalog_table_that_does_not_exist_is_dataset_unavailable(ctx, tmp_path, spark):
    refused = _refusal(ctx, _registry(tmp_path, f"spark://{spark}?table=default.no_such_books"))
    assert refused.code is ErrorCode.DATASET_UNAVAILABLE
    assert "'crm'" in refused.detail.message and "no_such_books" in refused.detail.message


def test_spark_datasets_on_two_masters_are_refused_at_start(tmp_path):
    # One process holds one Spark context: the second master's dataset would silently run on the first.
    with pytest.raises(KpiError) as refused:
        DatasetRegistry.from_cli(
            tmp_path,
            ["lake=spark://local[2]?path=lake.parquet", "cluster=spark://10.0.0.5:7077?table=books"],
        )
    assert refused.value.code is ErrorCode.INVALID_ARGUMENT
    assert refused.value.detail.field == "dataset"
    assert "'lake' on local[2]" in refused.value.detail.message
    assert "'cluster' on spark://10.0.0.5:7077" in refused.value.detail.message


def test_spark_datasets_on_one_master_are_accepted(tmp_path):
    registry = DatasetRegistry.from_cli(
        tmp_path, ["lake=spark://local[2]?path=lake.parquet", "books=spark://local[2]?table=books"]
    )
    assert sorted(registry.datasets) == ["books", "lake"]


@contextmanager
def _standalone_spark(work: Path) -> Iterator[str]:
    """A Spark standalone master and one worker on 127.0.0.1 (the scripts pyspark ships), stopped after.

    Returns HOST:PORT of the master. The worker keeps its files under `work`, not in the installed package.
    """
    spark_available()
    import pyspark

    home = Path(pyspark.__file__).parent
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_WORKER_DIR": str(work)}
    port = free_port()
    daemons = []
    try:
        for role, extra in (
            ("master.Master", ["--port", str(port)]),
            ("worker.Worker", [f"spark://127.0.0.1:{port}", "--cores", "1", "--memory", "1g"]),
        ):
            log = (work / f"{role}.log").open("wb")
            command = [str(home / "bin" / "spark-class"), f"org.apache.spark.deploy.{role}", "--host", "127.0.0.1"]
            command += ["--webui-port", str(free_port()), *extra]
            daemons.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
            registered = "I have been elected leader" if role == "master.Master" else "Successfully registered"
            deadline = time.monotonic() + 90
            while registered not in (work / f"{role}.log").read_text(errors="replace"):
                if time.monotonic() > deadline or daemons[-1].poll() is not None:
                    pytest.fail(f"the Spark {role} did not start: {(work / f'{role}.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        for daemon in reversed(daemons):
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()


@pytest.mark.engine_matrix
async def test_a_server_computes_on_a_standalone_spark_cluster(tmp_path):
    """The server process drives a standalone master (its executors run in the worker, not in the server)."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    from tests.support.results import call
    from tests.support.servers import CLI, SECRET

    rows = [
        line(),
        line(account_id="A2", contract_id="C2", amount="1000", amount_period="month", start_date="2026-04-01"),
    ]
    _text_parquet(tmp_path / "books.parquet", rows)
    work = tmp_path / "spark"
    work.mkdir()
    with _standalone_spark(work) as master:
        dataset = f"books=spark://{master}?path=books.parquet"
        params = StdioServerParameters(
            command=CLI,
            args=["serve", "--data-dir", str(tmp_path), "--dataset", dataset],
            env={**os.environ, "KPI_CONTEXT_SECRET": SECRET, "SPARK_LOCAL_IP": "127.0.0.1"},
        )
        arguments = {"kpi": "sales.arr", "ledger": "books", "as_of": "2026-06-30"}
        is_error, payload, _ = await call(lambda: Client(params), "compute_kpi", arguments)
        applications = [p.name for p in work.iterdir() if p.name.startswith("app-")]
    assert not is_error, payload
    # ARR on 2026-06-30: 12,000 (A1) + 1,000 × 12 (A2) = 24,000, computed by the cluster's executor.
    assert Decimal(str(payload["value"])) == Decimal("24000")
    assert payload["ledger"]["engine"] == "spark"
    # The worker ran the server's application: the computation left the server's process.
    assert len(applications) == 1
