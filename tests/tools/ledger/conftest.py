"""Shared helpers for the ledger tests: the bundled catalog, a data directory, and row builders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.context import ToolContext
from kpi_context.tools.ledger.engine import compute_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.values import BoundValue
from tests.support.engines import Postgres, running_postgres, spark_available
from tests.support.ledgers import line

SPARK_MASTER = "local[2]"


@pytest.fixture(scope="session")
def ctx() -> ToolContext:
    return ToolContext.create(load_catalog(), secret=b"ledger-tests")


@pytest.fixture
def registry(tmp_path: Path) -> DatasetRegistry:
    data = tmp_path / "data"
    data.mkdir()
    return DatasetRegistry.from_cli(data)


@pytest.fixture
def make_line() -> Callable[..., dict[str, Any]]:
    return line


Compute = Callable[..., BoundValue]


@pytest.fixture
def compute(ctx: ToolContext, registry: DatasetRegistry) -> Compute:
    """compute_from_ledger over inline rows (or a dataset name), with the test catalog and registry."""

    def run(kpi: str, rows: list[dict[str, Any]] | str, **options: Any) -> BoundValue:
        ledger = rows if isinstance(rows, str) else {"rows": rows}
        return compute_from_ledger(ctx, kpi, ledger, datasets=registry, **options)

    return run


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server of the test session, on a free loopback port, stopped at the end."""
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def spark() -> Iterator[str]:
    """The master of the test session's local Spark (two cores, no UI, few shuffle partitions)."""
    spark_available()
    from kpi_context.tools.ledger.remote import spark_session

    # Compiling code for each statement costs more than running it on a test ledger: interpreted, the tests
    # take a third of the time (the results are the same either way).
    session = spark_session(
        SPARK_MASTER, {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}
    )
    yield SPARK_MASTER
    session.stop()
