"""A series is the single value at every point, to the cent, from one statement per measure.

Every KPI the ledger computes is computed on a generated ledger as a series by month and by
quarter, and each point is compared with compute_from_ledger for that period alone: the same
bound value (number, components, binding, trace, label, value id). The statements a series runs
are counted: the same number for one point as for twenty-four.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kpi_context.tools.context import ToolContext
from kpi_context.tools.ledger.engine import (
    KPI_MEASURES,
    compute_cuts_from_ledger,
    compute_from_ledger,
    compute_series_from_ledger,
)
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.periods import Every, Period, parse_period, periods_between

REPO = Path(__file__).resolve().parents[3]
GENERATOR = REPO / "scripts" / "generate_ledger.py"

STEPS = {
    # Twelve months of 2025, and eight quarters from mid-2024 to mid-2026: the generated contracts start
    # from 2023 to 2026, so every point has new business, renewals, churn and ramps around it.
    Every.MONTH: periods_between(parse_period("2025-01"), parse_period("2025-12"), Every.MONTH),
    Every.QUARTER: periods_between(parse_period("2024-Q3"), parse_period("2026-Q2"), Every.QUARTER),
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> DatasetRegistry:
    out = tmp_path_factory.mktemp("series") / "ledger.csv"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--lines", "3000", "--seed", "23", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return DatasetRegistry.from_cli(out.parent, [f"gen={out}"])


def _series_equals_singles(
    ctx: ToolContext, registry: DatasetRegistry, kpi: str, periods: list[Period], **options: Any
) -> None:
    series = compute_series_from_ledger(ctx, kpi, "gen", datasets=registry, periods=periods, **options)
    assert len(series) == len(periods)
    for period, point in zip(periods, series, strict=True):
        single = compute_from_ledger(ctx, kpi, "gen", datasets=registry, period=period, **options)
        assert (point.total.value, point.total.undefined_reason) == (single.value, single.undefined_reason), period
        assert [(c.name, c.value) for c in point.total.components] == [(c.name, c.value) for c in single.components]
        # Not only the number: the whole bound value, down to its trace, label and value id.
        assert point.total == single, period
        assert (point.groups, point.reconciles, point.mix_shift) == ([], None, None)


@pytest.mark.parametrize("every", list(STEPS))
@pytest.mark.parametrize("kpi", sorted(KPI_MEASURES))
def test_every_point_of_a_series_is_the_single_period_value(ctx, generated, kpi, every):
    _series_equals_singles(ctx, generated, kpi, STEPS[every])


@pytest.mark.parametrize(
    ("kpi", "options"),
    [
        ("customers.avg_contract_value", {"variant": "median_per_account"}),
        ("customers.acv_trend_pct", {"variant": "year_over_year"}),
        ("customers.top_customer_concentration", {"variant": "largest_customer"}),
        ("customers.net_revenue_retention", {"variant": "period_rate"}),
        ("customers.gross_revenue_retention", {"basis": {"grr_cap": "aggregate"}}),
        ("sales.booked_acv", {"variant": "first_year"}),
        ("sales.net_new_arr", {"basis": {"churn_timing": "cancellation_date", "annualization": "tcv_over_term_years"}}),
        ("sales.arr", {"basis": {"annualization": "mrr_times_12", "day_count": "actual_actual"}}),
        ("sales.carr", {"basis": {"co_term": "change_revenue"}}),
    ],
)
def test_a_series_under_a_variant_or_other_options_is_the_single_value_too(ctx, generated, kpi, options):
    _series_equals_singles(ctx, generated, kpi, STEPS[Every.QUARTER], **options)


def test_a_series_with_group_by_has_at_each_point_the_cut_of_that_period(ctx, generated):
    periods = STEPS[Every.QUARTER]
    series = compute_series_from_ledger(
        ctx, "customers.avg_contract_value", "gen", datasets=generated, periods=periods, group_by="segment"
    )
    for period, point in zip(periods, series, strict=True):
        cut = compute_cuts_from_ledger(
            ctx, "customers.avg_contract_value", "gen", datasets=generated, period=period, group_by="segment"
        )
        assert point.total == cut.total
        assert point.groups == cut.groups


def test_a_series_with_where_is_that_members_value_at_each_point(ctx, generated):
    periods = STEPS[Every.QUARTER]
    where = {"region": "emea"}
    series = compute_series_from_ledger(
        ctx, "sales.net_new_arr", "gen", datasets=generated, periods=periods, where=where
    )
    for period, point in zip(periods, series, strict=True):
        single = compute_from_ledger(ctx, "sales.net_new_arr", "gen", datasets=generated, period=period, where=where)
        assert point.total == single
        assert single.binding.grain.segment is not None and single.binding.grain.segment.member == "emea"


# --- one statement per measure ----------------------------------------------------------------


class _Counting:
    """A DuckDB cursor that records every statement it is given, and otherwise is the cursor."""

    def __init__(self, inner: duckdb.DuckDBPyConnection, log: list[str]) -> None:
        self._inner, self._log = inner, log

    def execute(self, query: str, *args: Any) -> duckdb.DuckDBPyConnection:
        self._log.append(query)
        return self._inner.execute(query, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _statements(registry: DatasetRegistry, monkeypatch: pytest.MonkeyPatch, run: Any) -> list[str]:
    log: list[str] = []
    plain = registry.store.cursor

    @contextmanager
    def counting() -> Iterator[Any]:
        with plain() as cursor:
            yield _Counting(cursor, log)

    with monkeypatch.context() as patched:
        patched.setattr(registry.store, "cursor", counting)
        run()
    return log


def _reading_values(log: list[str]) -> list[str]:
    """The statements that compute a measure: those reading the contract values (every measure does)."""
    return [q for q in log if "FROM valued" in q and not q.startswith("CREATE")]


@pytest.mark.parametrize(
    "kpi",
    [
        "sales.arr",
        "sales.net_new_arr",
        "customers.net_revenue_retention",
        "customers.acv_trend_pct",
        "sales.avg_contract_value",
        "sales.growth_rate_yoy",
    ],
)
def test_a_series_runs_as_many_statements_for_twenty_four_points_as_for_one(ctx, generated, monkeypatch, kpi):
    months = periods_between(parse_period("2024-07"), parse_period("2026-06"), Every.MONTH)
    assert len(months) == 24

    def series(periods: list[Period]) -> Any:
        return lambda: compute_series_from_ledger(ctx, kpi, "gen", datasets=generated, periods=periods)

    series(months)()  # the checked, priced and valued tables are built once and kept; count warm calls only
    one = _statements(generated, monkeypatch, series(months[:1]))
    many = _statements(generated, monkeypatch, series(months))
    assert len(many) == len(one)
    # Exactly one statement computes the measure, for one point as for twenty-four.
    assert len(_reading_values(one)) == len(_reading_values(many)) == 1


def test_a_cut_computes_every_member_in_one_statement(ctx, generated, monkeypatch):
    compute_cuts_from_ledger(ctx, "sales.arr", "gen", datasets=generated, period="2025-Q4", group_by="segment")
    log = _statements(
        generated,
        monkeypatch,
        lambda: compute_cuts_from_ledger(
            ctx, "sales.arr", "gen", datasets=generated, period="2025-Q4", group_by="segment"
        ),
    )
    # One statement for the three segments and the total; the others name the call's four views (lines, priced,
    # valued, live_accounts) and read the members' names.
    assert len(_reading_values(log)) == 1
    assert len(log) == 6


@pytest.mark.parametrize(
    "kpi",
    ["sales.arr", "sales.mrr", "customers.total_customers", "customers.avg_contract_value", "sales.arr_growth_qoq"],
)
def test_running_sums_over_the_dates_agree_with_the_contracts_live_on_each_date(ctx, generated, kpi):
    # Without ids to list, sums and counts come from running sums over the points' dates; with ids (the operator
    # lets some out), from every live contract at every point. Both must give the same values and counts.
    listing = ToolContext.create(ctx.catalog, secret=b"ledger-tests", trace_ids=3)
    periods = STEPS[Every.MONTH]
    running = compute_series_from_ledger(ctx, kpi, "gen", datasets=generated, periods=periods)
    listed = compute_series_from_ledger(listing, kpi, "gen", datasets=generated, periods=periods)
    for a, b in zip(running, listed, strict=True):
        assert (a.total.value, a.total.components) == (b.total.value, b.total.components)
        assert a.total.ledger.contributing == _counts(b.total.ledger.contributing)


def _counts(trace: dict[str, Any]) -> dict[str, Any]:
    """A trace without its ids, at every depth."""
    return {k: _counts(v) if isinstance(v, dict) else v for k, v in trace.items() if not k.endswith("_ids")}
