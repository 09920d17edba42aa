"""The table of contract values through time holds, on every day, the valuation of that very day.

`valued` evaluates each contract once per stretch between the days its value can change on, and
every measure reads it. If a change day were missed, a value read mid-stretch would be stale: so
the table is compared, contract by contract, with the valuation taken directly on many days —
each change day, the days either side of it, and days at random — under every annualization.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kpi_context.ontology.ledger_options import LedgerOptions
from kpi_context.tools.ledger.source import DatasetRegistry, InlineRows, LedgerSource, ledger_source
from kpi_context.tools.ledger.sql import contract_values_sql, literal, priced_sql
from kpi_context.tools.ledger.store import LedgerStore
from kpi_context.tools.ledger.validate import open_ledger
from kpi_context.tools.ledger.valued import _general_sql, _run_rate_applies, valued_sql
from tests.support.ledgers import line

REPO = Path(__file__).resolve().parents[3]
GENERATOR = REPO / "scripts" / "generate_ledger.py"

OPTIONS = [
    LedgerOptions(),
    LedgerOptions(co_term="change_revenue", day_count="actual_actual", short_terms="face_value"),
    LedgerOptions(annualization="mrr_times_12", churn_timing="cancellation_date"),
    LedgerOptions(annualization="tcv_over_term_years", live_basis="signed", recurring_inclusion="all_charges"),
    LedgerOptions(annualization="first_contract_year", day_count="actual_365", discounts="list"),
]


def _tables(con: duckdb.DuckDBPyConnection, lines: str, options: LedgerOptions) -> None:
    con.execute("DROP TABLE IF EXISTS valued; DROP TABLE IF EXISTS priced")
    con.execute(f"CREATE TEMP TABLE priced AS {priced_sql(options, lines)}")
    con.execute(f"CREATE TEMP TABLE valued AS {valued_sql(options, 'priced')}")


def _stale(con: duckdb.DuckDBPyConnection, options: LedgerOptions, days: list[date]) -> list[str]:
    """Days on which the table's contract values differ from the valuation taken on that day.

    The valuation is taken on every day at once: the same expression, with the day a column.
    """
    rows = ", ".join(f"({literal(day)})" for day in days)
    con.execute(f"CREATE OR REPLACE TEMP TABLE days AS SELECT * FROM (VALUES {rows}) v(d)")
    found = []
    for live_only in (True, False):
        direct = contract_values_sql(options, "d", live_only=live_only, source="at_days", keys=("d",))
        live = "AND v.live" if live_only else ""
        kept = f"SELECT days.d, v.contract_id, v.account_id, v.value FROM valued v JOIN days ON v.vf <= days.d AND days.d < v.vt {live}"
        differ = con.execute(
            f"""WITH at_days AS (SELECT p.*, days.d FROM priced p, days),
                     direct AS ({direct}), kept AS ({kept})
                SELECT d, count(*) FROM ((SELECT * FROM direct EXCEPT ALL SELECT * FROM kept)
                                         UNION ALL (SELECT * FROM kept EXCEPT ALL SELECT * FROM direct))
                GROUP BY d ORDER BY d"""
        ).fetchall()
        found += [f"{day} live_only={live_only}: {n} rows differ" for day, n in differ]
    return found


def _change_days(con: duckdb.DuckDBPyConnection, sample: int, seed: int) -> list[date]:
    """Days the value can change on (stretch starts), each with the day before and after, and random others."""
    starts = [d for (d,) in con.execute("SELECT DISTINCT vf FROM valued WHERE isfinite(vf) ORDER BY vf").fetchall()]
    rng = random.Random(seed)
    picked = rng.sample(starts, min(sample, len(starts)))
    around = {d + timedelta(days=shift) for d in picked for shift in (-1, 0, 1)}
    anywhere = {date(2022, 1, 1) + timedelta(days=rng.randrange(6 * 365)) for _ in range(sample)}
    return sorted(around | anywhere | {date(1, 1, 1), date(9999, 12, 31)})


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    out = tmp_path_factory.mktemp("valued") / "ledger.csv"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--lines", "2500", "--seed", "31", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    registry = DatasetRegistry.from_cli(out.parent, [f"gen={out}"])
    with open_ledger(registry.store, ledger_source("gen", registry), None) as opened:
        yield opened.con, opened.lines


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: f"{o.annualization.value}-{o.day_count.value}")
def test_the_table_holds_each_days_own_valuation_on_a_generated_ledger(generated, options):
    con, lines = generated
    _tables(con, lines, options)
    assert _stale(con, options, _change_days(con, 25, seed=3)) == []


def _leap_book() -> tuple[dict[str, Any], ...]:
    """Contracts started on 29 February and at month ends, with ramps, co-termed changes and one-time fees."""
    return (
        line(
            contract_id="L1",
            account_id="A",
            start_date="2024-02-29",
            end_date="2027-02-28",
            amount="36000",
            amount_period="term",
        ),
        line(
            contract_id="L1",
            account_id="A",
            start_date="2025-06-15",
            end_date="2027-02-28",
            amount="5000",
            change_type="expansion",
            signed_date="2025-06-01",
        ),
        line(
            contract_id="L1",
            account_id="A",
            start_date="2024-02-29",
            end_date="2024-02-29",
            amount="900",
            charge_type="one_time",
            amount_period="once",
        ),
        line(
            contract_id="L2",
            account_id="B",
            start_date="2023-01-31",
            end_date="2024-01-30",
            amount="1000",
            amount_period="month",
            signed_date="2023-01-10",
        ),
        line(
            contract_id="L2",
            account_id="B",
            start_date="2024-01-31",
            end_date="2026-01-30",
            amount="15000",
            signed_date="2023-01-10",
        ),
        line(
            contract_id="L2",
            account_id="B",
            start_date="2025-03-01",
            end_date="2026-01-30",
            amount="-4000",
            change_type="cancellation",
            signed_date="2025-02-20",
        ),
        line(
            contract_id="L3",
            account_id="C",
            start_date="2028-02-29",
            end_date="2029-02-27",
            amount="12000",
            go_live_date="2028-03-15",
            signed_date="2028-01-05",
        ),
    )


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: f"{o.annualization.value}-{o.day_count.value}")
def test_the_table_holds_each_days_own_valuation_around_leap_day_anniversaries(options):
    store = LedgerStore()
    source = LedgerSource("inline", InlineRows(_leap_book()))
    with open_ledger(store, source, None) as opened:
        assert (opened.validation.rows_used, opened.validation.rows_rejected) == (7, 0)
        _tables(opened.con, opened.lines, options)
        # Every day from 2022 to 2030, each anniversary of 29 February (1 March in common years) among them.
        days = [date(2022, 1, 1) + timedelta(days=n) for n in range(9 * 365)]
        assert _stale(opened.con, options, days) == []


# --- the run-rate path: default ARR rules, where a line's contract-year value is its yearly rate ----------


def _values_on_change_days(con: duckdb.DuckDBPyConnection, table: str, days: str) -> set[tuple[object, ...]]:
    return set(
        con.execute(
            f"SELECT d.d, v.contract_id, v.account_id, v.value, v.live FROM {table} v "
            f"JOIN {days} d ON v.vf <= d.d AND d.d < v.vt"
        ).fetchall()
    )


def test_the_run_rate_path_gives_the_general_paths_value_on_every_change_day_of_a_generated_ledger(generated):
    con, lines = generated
    options = LedgerOptions()
    assert _run_rate_applies(options)
    con.execute(f"CREATE OR REPLACE TEMP TABLE priced AS {priced_sql(options, lines)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE fast AS {valued_sql(options, 'priced')}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE general AS {_general_sql(options, 'priced')}")
    # Every day either table's value can change on, and the day before each: all the values either holds.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE change_days AS SELECT DISTINCT d FROM ("
        "SELECT vf AS d FROM fast UNION SELECT vf FROM general UNION SELECT vf - 1 FROM general) x WHERE isfinite(d)"
    )
    fast = _values_on_change_days(con, "fast", "change_days")
    assert fast == _values_on_change_days(con, "general", "change_days")
    assert len(fast) > 1000
    # The path was taken: without anniversaries, regular contracts have fewer stretches.
    (fewer,) = con.execute("SELECT (SELECT count(*) FROM fast) < (SELECT count(*) FROM general)").fetchone() or (None,)
    assert fewer is True


def test_a_contract_whose_last_day_is_alone_in_its_contract_year_is_worth_nothing_that_day_under_30_360():
    # Started 2024-03-30, ending 2025-03-30 (a year and a day), 12,000 a year, 30/360, current contract year.
    # On 2025-03-29 the contract year is [2024-03-30, 2025-03-30): 360 units, value 12,000 × 360 ÷ 360 = 12,000.
    # On 2025-03-30 the year turns: [2025-03-30, 2025-03-31) is 0 units under 30/360 (the 31st counts as the
    # 30th after a 30th), so the line's part is 12,000 × 0 and the value 0, though the line is still in force.
    # The run-rate path would say 12,000: this contract is not regular and takes the general path.
    store = LedgerStore()
    rows = (line(start_date="2024-03-30", end_date="2025-03-30", signed_date="2024-03-01"),)
    with open_ledger(store, LedgerSource("inline", InlineRows(rows)), None) as opened:
        _tables(opened.con, opened.lines, LedgerOptions())
        found = dict(
            opened.con.execute(
                "SELECT d, v.value FROM valued v JOIN (VALUES (DATE '2025-03-29'), (DATE '2025-03-30')) t(d) "
                "ON v.vf <= t.d AND t.d < v.vt WHERE v.live ORDER BY d"
            ).fetchall()
        )
    assert found == {date(2025, 3, 29): Decimal("12000"), date(2025, 3, 30): Decimal("0")}
