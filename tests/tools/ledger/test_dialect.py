"""Each hand-written translation of `dialect.py` answers as DuckDB does, on PostgreSQL and on Spark.

Every expected value is worked out by hand in the comment beside it; the same DuckDB statement is
run on all three engines.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from kpi_context.tools.ledger.dialect import DialectError, transpile
from kpi_context.tools.ledger.remote import spark_session
from kpi_context.tools.ledger.sql import exact_div
from kpi_context.tools.values import Engine


@pytest.fixture(scope="module")
def run(postgres, spark):
    """A function running one DuckDB-dialect SELECT on an engine and returning its first row."""

    def on(engine: Engine, sql: str) -> tuple[object, ...]:
        match engine:
            case Engine.DUCKDB:
                return duckdb.sql(sql).fetchall()[0]
            case Engine.POSTGRESQL:
                with postgres.connect() as con:
                    return con.execute(transpile(sql, engine).encode()).fetchall()[0]
            case Engine.SPARK:
                return tuple(spark_session(spark).sql(transpile(sql, engine)).collect()[0])

    return on


ENGINES = list(Engine)


def _amount(text: str) -> str:
    return f"CAST('{text}' AS DECIMAL(38,6))"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("amount", "factor", "denominator", "expected"),
    [
        # 10 × 1 ÷ 3 = 3.333…, kept to twelve places and truncated: 3.333333333333.
        ("10", 1, "3", "3.333333333333"),
        # −0.000001 ÷ 3 = −0.000000333…: truncated toward zero, not down: −0.000000333333.
        ("-0.000001", 1, "3", "-0.000000333333"),
        # 1,000,000,000.5 × 131,760 ÷ 131,760 = 1,000,000,000.5 exactly (an actual/actual year over itself).
        ("1000000000.5", 131760, "131760", "1000000000.500000000000"),
        # 123,456.789 × 360 ÷ 7 = 44,444,444.04 ÷ 7 = 6,349,206.291428571428|57…: twelve places, truncated.
        ("123456.789", 360, "7", "6349206.291428571428"),
    ],
)
def test_exact_division_truncates_at_twelve_places_toward_zero(run, engine, amount, factor, denominator, expected):
    (value,) = run(engine, f"SELECT {exact_div(_amount(amount), factor, denominator)}")
    assert Decimal(value) == Decimal(expected)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_year_after_29_february_is_28_february(run, engine):
    # 2024-02-29 + 1 year: 2025 has no 29 February, so 28 February; + 2 years from 2023-03-31: 2025-03-31.
    leap, plain = run(
        engine,
        "SELECT CAST(date_add(DATE '2024-02-29', INTERVAL 1 YEAR) AS DATE), "
        "CAST(date_add(DATE '2023-03-31', INTERVAL (1 + 1) YEAR) AS DATE)",
    )
    assert (leap, plain) == (date(2025, 2, 28), date(2025, 3, 31))


@pytest.mark.parametrize("engine", ENGINES)
def test_days_added_to_a_made_date(run, engine):
    # 1 March 2025 + 30 days = 31 March 2025 (DuckDB adds a day interval: a timestamp, cast back to a date).
    (day,) = run(engine, "SELECT CAST(make_date(2025, 3, 1) + to_days(CAST(30 AS INTEGER)) AS DATE)")
    assert day == date(2025, 3, 31)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_range_of_years_excludes_its_end(run, engine):
    # range(2024, 2027): 2024, 2025, 2026 — three rows, summing to 6075.
    rows, total = run(
        engine, "SELECT count(*), sum(y) FROM (SELECT unnest(range(2024, 2027)) AS y FROM (SELECT 1) o) t"
    )
    assert (int(rows), int(total)) == (3, 6075)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_n_smallest_sort_byte_wise(run, engine):
    # Byte order puts 'C' (0x43) and '_' (0x5F) before 'a' (0x61) and 'b': the two smallest are C and _.
    (smallest,) = run(engine, "SELECT min(x, 2) FROM (VALUES ('b'), ('a'), ('C'), ('_')) v(x)")
    assert list(smallest) == ["C", "_"]


@pytest.mark.parametrize("engine", ENGINES)
def test_arg_max_takes_the_value_of_the_largest_key_tuple(run, engine):
    # Keys (2, 'a'), (2, 'b'), (1, 'z'): the largest is (2, 'b'), whose value is 'second'.
    (value,) = run(
        engine,
        "SELECT arg_max(v, (k1, k2)) FROM (VALUES ('first', 2, 'a'), ('second', 2, 'b'), ('third', 1, 'z')) t(v, k1, k2)",
    )
    assert value == "second"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_full_match_is_anchored_at_both_ends(run, engine):
    # 'USD' is three capitals; 'USDX' and 'xUSD' are not, though each contains three.
    matched = run(
        engine,
        "SELECT regexp_full_match('USD', '[A-Z]{3}'), regexp_full_match('USDX', '[A-Z]{3}'), "
        "regexp_full_match('xUSD', '[A-Z]{3}')",
    )
    assert list(matched) == [True, False, False]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_asof_join_takes_the_latest_row_on_or_before(run, engine):
    # Running values on days 1, 5 and 9; probes on days 0, 5 and 7 read none, 50 and 50.
    (read,) = run(
        engine,
        "WITH running AS (SELECT * FROM (VALUES (1, 10), (5, 50), (9, 90)) r(day, v)), "
        "pts AS (SELECT * FROM (VALUES (0), (5), (7)) p(d2)) "
        "SELECT list(running.v ORDER BY pts.d2) FROM pts ASOF LEFT JOIN running ON pts.d2 >= running.day",
    )
    # DuckDB's list() skips no NULLs; PostgreSQL's array_agg keeps them too; Spark's collect_list drops NULLs.
    assert [v for v in read if v is not None] == [50, 50]


def test_a_construct_without_a_faithful_translation_is_refused():
    with pytest.raises(DialectError):
        transpile("SELECT * FROM a ASOF JOIN b ON a.x < b.y", Engine.POSTGRESQL)


def test_duckdb_runs_the_statement_as_written():
    sql = "SELECT min(x, 2) FROM t"
    assert transpile(sql, Engine.DUCKDB) is sql
