"""The ARR bridge: every movement by hand on a small ledger, and exact reconciliation on generated ones."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from kpi_context.tools.ledger.source import DatasetRegistry

REPO = Path(__file__).resolve().parents[3]
GENERATOR = REPO / "scripts" / "generate_ledger.py"


def _movers(make_line):
    # Opening 2026-Q2 (ARR on 31 March 2026) and closing (30 June 2026):
    #   N: new, live 1 May at 5,000                      → new 5,000
    #   E: 10,000 since 2025, +2,000 co-termed from 1 May → expansion 2,000
    #   D: 8,000 since 2025, −3,000 from 1 June          → contraction 3,000
    #   X: 4,000, ended 30 April 2026                    → churn 4,000
    #   R: 6,000 in 2025 only, back on 1 June at 7,000   → reactivation 7,000
    # Start = 10,000 + 8,000 + 4,000 = 22,000; end = 5,000 + 12,000 + 5,000 + 7,000 = 29,000;
    # 22,000 + 5,000 + 2,000 + 7,000 − 3,000 − 4,000 = 29,000.
    y = {"start_date": "2025-05-01", "end_date": "2026-12-31", "signed_date": "2025-05-01"}
    return [
        make_line(
            account_id="N",
            contract_id="N1",
            amount="5000",
            start_date="2026-05-01",
            end_date="2027-04-30",
            signed_date="2026-04-20",
        ),
        make_line(account_id="E", contract_id="E1", amount="10000", **y),
        make_line(
            account_id="E",
            contract_id="E1",
            amount="2000",
            change_type="expansion",
            start_date="2026-05-01",
            end_date="2026-12-31",
            signed_date="2026-04-25",
        ),
        make_line(account_id="D", contract_id="D1", amount="8000", **y),
        make_line(
            account_id="D",
            contract_id="D1",
            amount="-3000",
            change_type="contraction",
            start_date="2026-06-01",
            end_date="2026-12-31",
            signed_date="2026-05-20",
        ),
        make_line(
            account_id="X",
            contract_id="X1",
            amount="4000",
            start_date="2025-05-01",
            end_date="2026-04-30",
            signed_date="2025-05-01",
        ),
        make_line(
            account_id="R",
            contract_id="R1",
            amount="6000",
            start_date="2025-01-01",
            end_date="2025-12-31",
            signed_date="2025-01-01",
        ),
        make_line(
            account_id="R",
            contract_id="R2",
            amount="7000",
            start_date="2026-06-01",
            end_date="2027-05-31",
            signed_date="2026-05-25",
        ),
    ]


def test_each_movement_of_the_bridge_is_computed_by_hand(compute, make_line):
    bridge = compute("sales.net_new_arr", _movers(make_line), period="2026-Q2")
    parts = {c.name: c.value for c in bridge.components}
    assert parts == {
        "start": Decimal(22000),
        "new": Decimal(5000),
        "expansion": Decimal(2000),
        "reactivation": Decimal(7000),
        "contraction": Decimal(3000),
        "churn": Decimal(4000),
        "end": Decimal(29000),
    }
    assert bridge.value == Decimal(7000)
    assert bridge.ledger is not None
    # One account in each movement; none flat. Counts only: no account ids by default.
    assert bridge.ledger.contributing == {
        "accounts": {"new": 1, "expansion": 1, "reactivation": 1, "contraction": 1, "churn": 1, "flat": 0}
    }


@pytest.mark.parametrize(
    ("kpi", "expected"),
    [
        ("sales.new_business", Decimal(5000)),
        ("sales.expansion", Decimal(2000)),
        ("sales.reactivation", Decimal(7000)),
        ("sales.downgrades", Decimal(3000)),
        ("sales.churn_arr", Decimal(4000)),
        ("sales.starting_arr", Decimal(22000)),
        ("customers.new_customers_added", Decimal(1)),
        ("customers.customers_churned", Decimal(1)),
    ],
)
def test_each_movement_kpi_reads_its_part_of_the_bridge(compute, make_line, kpi, expected):
    assert compute(kpi, _movers(make_line), period="2026-Q2").value == expected


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "ledger.parquet"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--contracts", "400", "--seed", "11", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.mark.parametrize("period", ["2024-Q3", "2025", "2025-Q4", "2026-03"])
@pytest.mark.parametrize("basis", [{}, {"churn_timing": "cancellation_date", "annualization": "tcv_over_term_years"}])
def test_the_bridge_reconciles_exactly_on_a_generated_ledger(ctx, generated, period, basis):
    from kpi_context.tools.ledger.engine import compute_from_ledger
    from kpi_context.tools.periods import parse_period

    registry = DatasetRegistry.from_cli(generated.parent, [f"gen={generated}"])
    bridge = compute_from_ledger(ctx, "sales.net_new_arr", "gen", datasets=registry, period=period, basis=basis)
    parts = {c.name: c.value for c in bridge.components}
    flows = parts["new"] + parts["expansion"] + parts["reactivation"] - parts["contraction"] - parts["churn"]
    assert parts["start"] + flows == parts["end"]
    assert bridge.value == (parts["end"] - parts["start"]).quantize(Decimal("0.01"))
    bounds = parse_period(period)
    closing = compute_from_ledger(ctx, "sales.arr", "gen", datasets=registry, as_of=bounds.end, basis=basis)
    opening = compute_from_ledger(
        ctx, "sales.arr", "gen", datasets=registry, as_of=bounds.start - timedelta(days=1), basis=basis
    )
    assert closing.value == parts["end"].quantize(Decimal("0.01"))
    assert opening.value == parts["start"].quantize(Decimal("0.01"))


def test_the_committed_sample_ledger_is_what_the_generator_makes(tmp_path):
    # The README serves data/sample_ledger.csv; it must stay reproducible from the script.
    out = tmp_path / "sample.csv"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--contracts", "500", "--seed", "7", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == (REPO / "data" / "sample_ledger.csv").read_bytes()


def test_the_generator_writes_exactly_the_lines_asked_for(tmp_path):
    out = tmp_path / "l.jsonl"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--lines", "1234", "--out", str(out)], check=True, capture_output=True
    )
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1234


def test_sample_ledger_period_covers_new_logos_and_churn(ctx):
    from kpi_context.tools.ledger.engine import compute_from_ledger

    registry = DatasetRegistry.from_cli(REPO / "data", [f"sample={REPO / 'data' / 'sample_ledger.csv'}"])
    new_logos = compute_from_ledger(ctx, "customers.new_customers_added", "sample", datasets=registry, period="2025")
    churned = compute_from_ledger(ctx, "customers.customers_churned", "sample", datasets=registry, period="2025")
    assert new_logos.value is not None and new_logos.value > 0
    assert churned.value is not None and churned.value > 0
    assert new_logos.period is not None and new_logos.period.end == date(2025, 12, 31)


@pytest.mark.parametrize("allowed", [2, 5])
def test_a_bridge_trace_lists_at_most_the_allowed_account_ids_across_movements(ctx, registry, make_line, allowed):
    from kpi_context.tools.context import ToolContext
    from kpi_context.tools.ledger.engine import compute_from_ledger

    # Five accounts move (N, E, R, D, X): the trace lists min(allowed, 5) of them, and still counts all.
    traced = ToolContext.create(ctx.catalog, secret=b"ledger-tests", trace_ids=allowed)
    bridge = compute_from_ledger(
        traced, "sales.net_new_arr", {"rows": _movers(make_line)}, datasets=registry, period="2026-Q2"
    )
    assert bridge.ledger is not None
    ids = bridge.ledger.contributing["account_ids"]
    assert isinstance(ids, list) and len(ids) == allowed
    assert set(ids) <= {"N", "E", "R", "D", "X"}
    assert bridge.ledger.contributing["accounts"] == {
        "new": 1,
        "expansion": 1,
        "reactivation": 1,
        "contraction": 1,
        "churn": 1,
        "flat": 0,
    }


def test_bridge_components_are_rounded_to_the_cent(compute, make_line):
    # 10,000 for 1 May – 31 Dec 2028 at actual/365: 245 days → 10,000 × 365 ÷ 245 = 14,897.959183… a year.
    # Over 2028-Q2 it is all new ARR: start 0, new 14,897.96, end 14,897.96 — no sub-cent residue.
    rows = [
        make_line(
            amount="10000",
            amount_period="term",
            start_date="2028-05-01",
            end_date="2028-12-31",
            signed_date="2028-04-01",
        )
    ]
    bridge = compute("sales.net_new_arr", rows, period="2028-Q2", basis={"day_count": "actual_365"})
    parts = {c.name: c.value for c in bridge.components}
    assert (parts["start"], parts["new"], parts["end"]) == (Decimal(0), Decimal("14897.96"), Decimal("14897.96"))
    assert bridge.value == Decimal("14897.96")
    assert all(c.value.as_tuple().exponent >= -2 for c in bridge.components)


@pytest.mark.parametrize("basis", [{}, {"day_count": "actual_actual", "churn_timing": "cancellation_date"}])
def test_components_on_a_generated_ledger_carry_no_sub_cent_residue(ctx, generated, basis):
    from kpi_context.tools.ledger.engine import compute_from_ledger

    registry = DatasetRegistry.from_cli(generated.parent, [f"gen={generated}"])
    for kpi in ("sales.net_new_arr", "customers.net_revenue_retention", "customers.gross_revenue_retention"):
        value = compute_from_ledger(ctx, kpi, "gen", datasets=registry, period="2025", basis=basis)
        assert value.components
        for component in value.components:
            assert component.value == component.value.quantize(Decimal("0.01")), (kpi, component)
            assert component.value.as_tuple().exponent >= -2, (kpi, component)
