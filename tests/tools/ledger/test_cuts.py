"""Cuts by a dimension: each member's value by hand, additive groups adding up, and mix shift called out."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kpi_context.ontology.binding import GrainLevel, Segment, SegmentAssignment
from kpi_context.tools.claims import read_claim
from kpi_context.tools.compare import UnsafeComparison, compare_metrics
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.cuts import reconcile
from kpi_context.tools.ledger.engine import (
    KPI_MEASURES,
    compute_cuts_from_ledger,
    compute_from_ledger,
    compute_series_from_ledger,
)
from kpi_context.tools.ledger.measures import Measured
from kpi_context.tools.ledger.run import ADDITIVE, Measure
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.periods import Every, parse_period, periods_between
from kpi_context.tools.values import BindingClaim, GrainClaim, ValueClaim, ValueStatus
from tests.support.ledgers import line, yearly_line

REPO = Path(__file__).resolve().parents[3]
GENERATOR = REPO / "scripts" / "generate_ledger.py"
END_2026 = date(2026, 12, 31)
END_2025 = date(2025, 12, 31)


# Six accounts in two segments (amounts are yearly):
#   P enterprise: 100,000 from 2025-01-01 to 2027-12-31, plus 20,000 co-termed from 2026-07-01.
#   Q enterprise: 50,000 through 2025 only: churned at the 2025 close.
#   R smb: 10,000 from 2025-06-01 to 2026-05-31, renewed at 8,000 to 2027-05-31 (a contraction).
#   S smb: 6,000 from 2025-01-01 to 2027-12-31, flat.
#   T moves segment: smb at 4,000 through 2025, renewed for 2026 at 30,000 as enterprise (an upgrade).
#   U enterprise: new, 40,000 from 2026-03-01 to 2027-02-28.
BOOK = [
    yearly_line("P", "P1", "100000", "2025-01-01", "2027-12-31", "enterprise"),
    yearly_line("P", "P1", "20000", "2026-07-01", "2027-12-31", "enterprise", change_type="expansion"),
    yearly_line("Q", "Q1", "50000", "2025-01-01", "2025-12-31", "enterprise"),
    yearly_line("R", "R1", "10000", "2025-06-01", "2026-05-31", "smb"),
    yearly_line("R", "R2", "8000", "2026-06-01", "2027-05-31", "smb", change_type="renewal"),
    yearly_line("S", "S1", "6000", "2025-01-01", "2027-12-31", "smb"),
    yearly_line("T", "T1", "4000", "2025-01-01", "2025-12-31", "smb"),
    yearly_line("T", "T2", "30000", "2026-01-01", "2026-12-31", "enterprise", change_type="renewal"),
    yearly_line("U", "U1", "40000", "2026-03-01", "2027-02-28", "enterprise"),
]


def _cut(ctx, registry, kpi: str, rows: list[dict[str, Any]], group_by: str = "segment", **when: Any):
    return compute_cuts_from_ledger(ctx, kpi, {"rows": rows}, datasets=registry, group_by=group_by, **when)


def _by_member(cut) -> dict[str, Decimal | None]:
    return {g.binding.grain.segment.member: g.value for g in cut.groups}


def test_arr_by_segment_places_each_account_where_it_stands_at_the_close(ctx, registry):
    # On 31 Dec 2026: P 120,000, T 30,000 (T2 in force, enterprise), U 40,000 → enterprise 190,000;
    # R 8,000 + S 6,000 → smb 14,000; Q is no longer live. Total 204,000 = 190,000 + 14,000.
    cut = _cut(ctx, registry, "sales.arr", BOOK, as_of=END_2026)
    assert cut.total.value == Decimal(204000)
    assert _by_member(cut) == {"enterprise": Decimal(190000), "smb": Decimal(14000)}
    assert cut.reconciles is True
    assert [g.label.split(" —")[0] for g in cut.groups] == ["ARR (enterprise segment)", "ARR (smb segment)"]


def test_blended_acv_by_segment_divides_each_segments_arr_by_its_own_accounts(ctx, registry):
    # On 31 Dec 2026: enterprise 190,000 ÷ 3 accounts (P, T, U) = 63,333.333… → 63,333.33;
    # smb 14,000 ÷ 2 (R, S) = 7,000; total 204,000 ÷ 5 = 40,800 — not the average of the two groups.
    cut = _cut(ctx, registry, "customers.avg_contract_value", BOOK, as_of=END_2026)
    assert cut.total.value == Decimal(40800)
    assert _by_member(cut) == {"enterprise": Decimal("63333.33"), "smb": Decimal(7000)}
    assert cut.reconciles is None
    enterprise = cut.groups[0]
    assert {c.name: c.value for c in enterprise.components} == {"arr": Decimal(190000), "active_accounts": Decimal(3)}


def test_nrr_by_segment_keeps_each_account_in_its_segment_at_the_windows_open(ctx, registry):
    # 2026 for NRR is the twelve months to 31 Dec 2026, opened on 31 Dec 2025. At the open T is smb (T1 in force).
    # enterprise: P 100,000 + Q 50,000 = 150,000 at the open; at the close P 120,000 + Q 0 → 120,000 ÷ 150,000 = 80%.
    # smb: R 10,000 + S 6,000 + T 4,000 = 20,000; at the close R 8,000 + S 6,000 + T 30,000 = 44,000 → 220%.
    # total: 170,000 → 164,000: 164,000 ÷ 170,000 × 100 = 96.470588…% → 96.47%.
    cut = _cut(ctx, registry, "customers.net_revenue_retention", BOOK, period="2026")
    assert cut.total.value == Decimal("96.47")
    assert _by_member(cut) == {"enterprise": Decimal(80), "smb": Decimal(220)}
    assert all(g.binding.grain.segment.assignment is SegmentAssignment.AT_WINDOW_OPEN for g in cut.groups)
    assert cut.reconciles is None


def test_an_account_that_moved_segment_counts_where_it_stood_on_each_date(ctx, registry):
    # T is smb while T1 is in force (through 31 Dec 2025) and enterprise once T2 is (from 1 Jan 2026).
    # Enterprise ARR on 31 Dec 2025: P 100,000 + Q 50,000 = 150,000 (T's 4,000 is smb's);
    # on 31 Dec 2026: 190,000, T's 30,000 included.
    def enterprise(day: date) -> Decimal | None:
        where = {"segment": "enterprise"}
        return compute_from_ledger(ctx, "sales.arr", {"rows": BOOK}, datasets=registry, as_of=day, where=where).value

    assert (enterprise(END_2025), enterprise(END_2026)) == (Decimal(150000), Decimal(190000))


def test_an_account_with_no_line_in_force_takes_its_latest_line_and_a_tie_goes_to_the_highest_line_id(ctx, registry):
    # Churned customers of 2026, placed at the close: Q's only line ended on 31 Dec 2025, so it takes that line
    # (the latest starting on or before the close): enterprise. V has two lines in force all year with the same
    # start date: line L2 (mid_market) beats line L1 (smb), though L1 is the later row.
    rows = [
        *BOOK,
        yearly_line("V", "V1", "1000", "2026-01-01", "2026-06-30", "mid_market", line_id="L2"),
        yearly_line("V", "V1", "5000", "2026-01-01", "2026-06-30", "smb", line_id="L1"),
    ]
    # Churned in 2026 (opened 31 Dec 2025, closed 31 Dec 2026): Q only; V was not live at the open, so it is
    # new and churned within the year, in no movement at either date.
    churned = _cut(ctx, registry, "customers.customers_churned", rows, period="2026")
    assert _by_member(churned) == {"enterprise": Decimal(1), "mid_market": Decimal(0), "smb": Decimal(0)}
    # Placed on 30 June 2026, V counts as mid_market: 5,000 + 1,000 = 6,000 of ARR.
    mid = compute_from_ledger(
        ctx, "sales.arr", {"rows": rows}, datasets=registry, as_of=date(2026, 6, 30), where={"segment": "mid_market"}
    )
    assert mid.value == Decimal(6000)


def test_an_account_whose_lines_all_start_later_takes_its_earliest_line(ctx, registry):
    # Booked ACV for 2026-Q4 counts W's contract signed on 1 Nov 2026 that starts on 1 Feb 2027: on the close
    # of the quarter W has no line started yet, so its earliest line (enterprise) places it.
    rows = [
        yearly_line("W", "W1", "60000", "2027-02-01", "2028-01-31", "enterprise", signed_date="2026-11-01"),
        yearly_line("W", "W2", "1000", "2027-03-01", "2028-01-31", "smb", signed_date="2026-11-01"),
    ]
    cut = _cut(ctx, registry, "sales.booked_acv", rows, period="2026-Q4")
    # W1 at 60,000 and W2 at 1,000 × 11 months … both booked; both in W's one member, enterprise:
    # (60,000 + W2's value) ÷ 2 contracts, and smb has no contract: undefined.
    enterprise, smb = cut.groups
    assert enterprise.value == cut.total.value is not None
    assert smb.value is None and smb.undefined_reason == "no contract was signed in the period"


def test_where_gives_the_groups_value_and_a_binding_that_refuses_comparison_with_the_total(ctx, registry):
    cut = _cut(ctx, registry, "sales.arr", BOOK, as_of=END_2026)
    where = compute_from_ledger(
        ctx, "sales.arr", {"rows": BOOK}, datasets=registry, as_of=END_2026, where={"segment": "enterprise"}
    )
    assert where == cut.groups[0]
    assert where.binding.grain.level is GrainLevel.SEGMENT
    assert where.binding.grain.segment == Segment(
        dimension="segment", member="enterprise", assignment=SegmentAssignment.AT_PERIOD_CLOSE
    )
    with pytest.raises(UnsafeComparison) as refused:
        compare_metrics(ctx, _claim(cut.total), _claim(where))
    axes = {m.axis: (m.left, m.right) for m in refused.value.refusal.mismatches}
    assert axes["grain.segment"] == ("all", "segment=enterprise at period close")
    # Two segments are two populations as well.
    with pytest.raises(UnsafeComparison) as between:
        compare_metrics(ctx, _claim(cut.groups[0]), _claim(cut.groups[1]))
    assert [m.axis for m in between.value.refusal.mismatches] == ["grain.segment"]


def test_one_segment_at_two_dates_is_a_trend_compare_metrics_accepts(ctx, registry):
    # Enterprise ARR 150,000 on 31 Dec 2025 and 190,000 on 31 Dec 2026: +40,000.
    values = [
        compute_from_ledger(
            ctx, "sales.arr", {"rows": BOOK}, datasets=registry, as_of=day, where={"segment": "enterprise"}
        )
        for day in (END_2025, END_2026)
    ]
    comparison = compare_metrics(ctx, _claim(values[0]), _claim(values[1]))
    assert comparison.difference == Decimal(40000)


def _claim(value) -> ValueClaim:
    return ValueClaim.model_validate(value.model_dump(mode="json"))


def test_a_cut_value_passed_back_verbatim_still_verifies(ctx, registry):
    where = compute_from_ledger(
        ctx, "sales.arr", {"rows": BOOK}, datasets=registry, as_of=END_2026, where={"segment": "smb"}
    )
    back = read_claim(ctx.binder, _claim(where), "left")
    assert back.status is ValueStatus.COMPUTED and back == where


def test_a_caller_typed_segment_value_is_checked_and_bound_to_its_member(ctx):
    segment = Segment(dimension="segment", member="smb", assignment=SegmentAssignment.AT_PERIOD_CLOSE)
    typed = ValueClaim(
        kpi="sales.arr",
        value="14000",
        currency="USD",
        as_of=END_2026,
        binding=BindingClaim(grain=GrainClaim(level=GrainLevel.SEGMENT, segment=segment)),
    )
    value = read_claim(ctx.binder, typed, "left")
    assert value.status is ValueStatus.ASSERTED
    assert value.binding.grain.segment == segment
    assert value.label.startswith("ARR (smb segment) — ")


def test_a_caller_typed_segment_must_place_accounts_as_the_engine_does(ctx):
    # ARR places accounts at the period close; a cut of it "at window open" is not a governed form.
    segment = Segment(dimension="segment", member="smb", assignment=SegmentAssignment.AT_WINDOW_OPEN)
    typed = ValueClaim(
        kpi="sales.arr",
        value="14000",
        currency="USD",
        as_of=END_2026,
        binding=BindingClaim(grain=GrainClaim(level=GrainLevel.SEGMENT, segment=segment)),
    )
    with pytest.raises(KpiError) as info:
        read_claim(ctx.binder, typed, "left")
    assert info.value.code is ErrorCode.INVALID_BINDING_CLAIM
    assert info.value.detail.field == "left.binding.grain.segment.assignment"


def test_a_caller_typed_segment_on_a_company_grain_is_inconsistent(ctx):
    segment = Segment(dimension="segment", member="smb", assignment=SegmentAssignment.AT_PERIOD_CLOSE)
    typed = ValueClaim(
        kpi="sales.arr",
        value="14000",
        currency="USD",
        as_of=END_2026,
        binding=BindingClaim(grain=GrainClaim(segment=segment)),
    )
    with pytest.raises(KpiError) as info:
        read_claim(ctx.binder, typed, "left")
    assert (info.value.code, info.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "left.binding")


# --- mix shift: Simpson's paradox --------------------------------------------------------------------

# One enterprise and one smb account at the end of Q1 2026; four smb accounts at the end of Q2:
#   E1 enterprise 100,000 from 1 Jan 2026, +10,000 co-termed from 1 Apr → 110,000 in Q2.
#   S1 smb 10,000 in Q1, renewed at 11,000 from 1 Apr; S2, S3, S4 smb, new at 11,000 from 1 Apr.
# Blended ACV, 31 Mar: enterprise 100,000; smb 10,000; total 110,000 ÷ 2 = 55,000.
#             30 Jun: enterprise 110,000; smb 44,000 ÷ 4 = 11,000; total 154,000 ÷ 5 = 30,800.
# Each segment's ACV rose by 10%; the total fell by 44% (30,800 − 55,000 = −24,200; ÷ 55,000 = −44%).
SIMPSON = [
    yearly_line("E1", "E1", "100000", "2026-01-01", "2026-12-31", "enterprise"),
    yearly_line("E1", "E1", "10000", "2026-04-01", "2026-12-31", "enterprise", change_type="expansion"),
    yearly_line("S1", "S1a", "10000", "2026-01-01", "2026-03-31", "smb"),
    yearly_line("S1", "S1b", "11000", "2026-04-01", "2027-03-31", "smb", change_type="renewal"),
    *(yearly_line(a, a, "11000", "2026-04-01", "2027-03-31", "smb") for a in ("S2", "S3", "S4")),
]


def test_a_series_notes_a_mix_shift_when_the_total_falls_while_every_segment_rises(ctx, registry):
    quarters = periods_between(parse_period("2026-Q1"), parse_period("2026-Q2"), Every.QUARTER)
    first, second = compute_series_from_ledger(
        ctx,
        "customers.avg_contract_value",
        {"rows": SIMPSON},
        datasets=registry,
        periods=quarters,
        group_by="segment",
    )
    assert (first.total.value, second.total.value) == (Decimal(55000), Decimal(30800))
    assert _by_member(first) == {"enterprise": Decimal(100000), "smb": Decimal(10000)}
    assert _by_member(second) == {"enterprise": Decimal(110000), "smb": Decimal(11000)}
    assert first.mix_shift is None
    assert second.mix_shift is not None
    assert second.mix_shift.startswith("Mix shift: ")
    assert "fell from Q1 2026 to Q2 2026 ($55,000 → $30,800) while it rose in every segment" in second.mix_shift


def test_a_trend_cut_notes_a_mix_shift_when_the_total_change_is_against_every_segments(ctx, registry):
    # ACV trend for Q2 2026 (vs 31 Mar): total −44%, enterprise +10%, smb +10%.
    cut = _cut(ctx, registry, "customers.acv_trend_pct", SIMPSON, period="2026-Q2")
    assert cut.total.value == Decimal(-44)
    assert _by_member(cut) == {"enterprise": Decimal(10), "smb": Decimal(10)}
    assert cut.mix_shift is not None and "positive in every segment" in cut.mix_shift


def test_no_mix_shift_is_noted_when_a_segment_moves_with_the_total(ctx, registry):
    # Without S2–S4 the smb ACV rises and so does the total (110,000 → (110,000 + 11,000) ÷ 2 = 60,500).
    quarters = periods_between(parse_period("2026-Q1"), parse_period("2026-Q2"), Every.QUARTER)
    series = compute_series_from_ledger(
        ctx,
        "customers.avg_contract_value",
        {"rows": SIMPSON[:4]},
        datasets=registry,
        periods=quarters,
        group_by="segment",
    )
    assert series[1].total.value == Decimal(60500)
    assert [point.mix_shift for point in series] == [None, None]


# --- additive KPIs add up, on a generated ledger ------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> DatasetRegistry:
    out = tmp_path_factory.mktemp("cuts") / "ledger.csv"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--lines", "4000", "--seed", "5", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return DatasetRegistry.from_cli(out.parent, [f"gen={out}"])


@pytest.mark.parametrize("group_by", ["segment", "region", "product"])
@pytest.mark.parametrize("kpi", sorted(k for k, m in KPI_MEASURES.items() if m in ADDITIVE))
def test_the_groups_of_an_additive_kpi_add_up_to_its_total(ctx, generated, kpi, group_by):
    cut = compute_cuts_from_ledger(ctx, kpi, "gen", datasets=generated, period="2025-Q3", group_by=group_by)
    assert cut.reconciles is True
    assert len(cut.groups) >= 2
    values = [g.value for g in cut.groups]
    assert cut.total.value is not None and None not in values
    summed = sum(v for v in values if v is not None)
    # The exact values add up (reconciles); rounded one by one to the cent they may differ by rounding only,
    # at most half a cent per group, and the total then says so.
    if summed != cut.total.value:
        assert abs(summed - cut.total.value) <= Decimal("0.005") * len(values)
        assert any("each rounded on its own" in w for w in cut.total.warnings)


def test_a_total_says_when_its_groups_rounded_one_by_one_add_up_to_a_cent_more_or_less(ctx, registry):
    # MRR of two accounts at 100 a year: 100 ÷ 12 = 8.333… → 8.33 each, 16.66 together; the total is
    # 200 ÷ 12 = 16.666… → 16.67. The exact values add up; the rounded ones are a cent apart, and the total says so.
    rows = [
        line(account_id="A", contract_id="A1", amount="100", segment="smb"),
        line(account_id="B", contract_id="B1", amount="100", segment="enterprise"),
    ]
    cut = _cut(ctx, registry, "sales.mrr", rows, as_of=date(2026, 6, 30))
    assert cut.reconciles is True
    assert (cut.total.value, [g.value for g in cut.groups]) == (Decimal("16.67"), [Decimal("8.33"), Decimal("8.33")])
    assert any("add up to $16.66" in w for w in cut.total.warnings)


@pytest.mark.parametrize("kpi", sorted(k for k, m in KPI_MEASURES.items() if m not in ADDITIVE))
def test_an_average_or_a_rate_states_no_reconciliation(ctx, generated, kpi):
    cut = compute_cuts_from_ledger(ctx, kpi, "gen", datasets=generated, period="2025-Q3", group_by="segment")
    assert cut.reconciles is None
    assert [g.binding.grain.segment.member for g in cut.groups] == ["enterprise", "mid_market", "smb"]


def test_groups_that_do_not_add_up_are_refused_as_a_defect():
    # ARR of 10 in total, but groups of 4 and 5: a defect of the engine, refused rather than returned.
    def arr(value: int) -> Measured:
        return Measured(Decimal(value), "ARR")

    with pytest.raises(KpiError) as info:
        reconcile(Measure.ARR, arr(10), [arr(4), arr(5)], "Q3 2025")
    assert info.value.code is ErrorCode.DOES_NOT_RECONCILE
    assert reconcile(Measure.ARR, arr(9), [arr(4), arr(5)], "Q3 2025") is True
    assert reconcile(Measure.BLENDED_ACV, arr(9), [arr(4), arr(5)], "Q3 2025") is None


def test_unassigned_is_the_last_group_and_blank_values_are_in_it(ctx, registry):
    # A has no segment, B a blank one (only spaces), C is smb: ARR 12,000 + 12,000 unassigned, 12,000 smb.
    rows = [
        line(account_id="A", contract_id="A1"),
        line(account_id="B", contract_id="B1", segment="   "),
        line(account_id="C", contract_id="C1", segment="smb"),
    ]
    cut = _cut(ctx, registry, "sales.arr", rows, as_of=date(2026, 6, 30))
    assert _by_member(cut) == {"smb": Decimal(12000), "unassigned": Decimal(24000)}
    assert list(_by_member(cut)) == ["smb", "unassigned"]


# --- refusals -----------------------------------------------------------------------------------------


def test_an_unknown_dimension_is_refused_naming_the_argument_and_the_dimensions(ctx, registry):
    with pytest.raises(KpiError) as info:
        compute_from_ledger(ctx, "sales.arr", {"rows": BOOK}, datasets=registry, as_of=END_2026, where={"tier": "x"})
    detail = info.value.detail
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "where")
    assert detail.details["dimensions"] == ["segment", "region", "product", "plan", "industry"]
    with pytest.raises(KpiError) as grouped:
        _cut(ctx, registry, "sales.arr", BOOK, group_by="tier", as_of=END_2026)
    assert (grouped.value.code, grouped.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "group_by")


def test_where_takes_one_dimension(ctx, registry):
    with pytest.raises(KpiError) as info:
        compute_from_ledger(
            ctx,
            "sales.arr",
            {"rows": BOOK},
            datasets=registry,
            as_of=END_2026,
            where={"segment": "smb", "region": "emea"},
        )
    assert (info.value.code, info.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "where")


def test_a_member_no_row_has_is_refused_with_the_members(ctx, registry):
    with pytest.raises(KpiError) as info:
        compute_from_ledger(
            ctx, "sales.arr", {"rows": BOOK}, datasets=registry, as_of=END_2026, where={"segment": "enterprize"}
        )
    detail = info.value.detail
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "where.segment")
    assert detail.details["members"] == ["enterprise", "smb"]


def test_a_series_takes_group_by_or_where_not_both(ctx, registry):
    with pytest.raises(KpiError) as info:
        compute_series_from_ledger(
            ctx,
            "sales.arr",
            {"rows": BOOK},
            datasets=registry,
            periods=[parse_period("2026")],
            group_by="segment",
            where={"region": "emea"},
        )
    assert (info.value.code, info.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "where")


def test_a_declared_dimension_of_inline_rows_can_be_cut_by(ctx, registry):
    # Team north: A 12,000 + B 12,000; team south: C 12,000.
    rows = [line(account_id=a, contract_id=a, team=t) for a, t in (("A", "north"), ("B", "north"), ("C", "south"))]
    cut = compute_cuts_from_ledger(
        ctx,
        "sales.arr",
        {"rows": rows, "dimensions": ["team"]},
        datasets=registry,
        group_by="team",
        as_of=date(2026, 6, 30),
    )
    assert _by_member(cut) == {"north": Decimal(24000), "south": Decimal(12000)}
    # Without the declaration the column is not a dimension.
    with pytest.raises(KpiError) as info:
        _cut(ctx, registry, "sales.arr", rows, group_by="team", as_of=date(2026, 6, 30))
    assert info.value.detail.field == "group_by"
