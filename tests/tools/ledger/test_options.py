"""Each governed option, on a small ledger whose expected values are worked out by hand in the comments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

MID_2026 = date(2026, 6, 30)


def _mixed_charges(make_line):
    return [
        make_line(amount="12000"),
        make_line(charge_type="usage_committed", amount="1200"),
        make_line(charge_type="one_time", amount="600", amount_period="once", end_date="2026-01-01"),
        make_line(charge_type="services", amount="100", amount_period="month"),
        make_line(
            charge_type="usage_overage",
            amount="300",
            amount_period="once",
            start_date="2026-03-01",
            end_date="2026-03-01",
        ),
    ]


@pytest.mark.parametrize(
    ("inclusion", "expected"),
    [
        # recurring only: 12,000
        ("recurring_only", Decimal(12000)),
        # + committed usage 1,200 = 13,200
        ("recurring_plus_committed_usage", Decimal(13200)),
        # + one-time 600 (dated in this contract year) + services 100 × 12 = 1,200 → 13,800
        ("recurring_plus_one_time", Decimal(13800)),
        # everything: 12,000 + 1,200 + 600 + 1,200 + overage 300 = 15,300
        ("all_charges", Decimal(15300)),
    ],
)
def test_recurring_inclusion_decides_which_charge_types_count(compute, make_line, inclusion, expected):
    arr = compute("sales.arr", _mixed_charges(make_line), as_of=MID_2026, basis={"recurring_inclusion": inclusion})
    assert arr.value == expected
    assert arr.binding.recurring_inclusion.value == inclusion
    assert arr.basis["recurring_inclusion"] == inclusion


def test_widening_inclusion_turns_the_value_basis_into_contract_value(compute, make_line):
    arr = compute("sales.arr", _mixed_charges(make_line), as_of=MID_2026, basis={"recurring_inclusion": "all_charges"})
    assert arr.binding.value_basis.value == "total_contract_value"
    assert any("no governed variant" in w for w in arr.warnings)


def _ramp(make_line):
    return [
        make_line(amount="8000", end_date="2026-12-31"),
        make_line(amount="12000", start_date="2027-01-01", end_date="2027-12-31"),
        make_line(amount="16000", start_date="2028-01-01", end_date="2028-12-31"),
        make_line(charge_type="one_time", amount="3000", amount_period="once", end_date="2026-01-01"),
    ]


@pytest.mark.parametrize(
    ("annualization", "expected"),
    [
        # Mid-2027 the 12,000 step is in force: run rate 12,000.
        ("mrr_times_12", Decimal(12000)),
        # Line-dated, the contract year in force is year two: 12,000.
        ("current_contract_year", Decimal(12000)),
        # (8,000 + 12,000 + 16,000) ÷ 3 = 12,000 — the same here, so the ramp decides below.
        ("tcv_over_term_years", Decimal(12000)),
        # First contract year: 8,000.
        ("first_contract_year", Decimal(8000)),
    ],
)
def test_annualization_reads_a_ramp_in_its_second_year(compute, make_line, annualization, expected):
    arr = compute("sales.arr", _ramp(make_line), as_of=date(2027, 6, 30), basis={"annualization": annualization})
    assert arr.value == expected


def test_annualization_with_one_time_lines_differs_between_run_rate_and_header_average(compute, make_line):
    # In year one with the one-time fee included: run rate 8,000 (a fee has no run rate);
    # current year 8,000 + 3,000 = 11,000; header-averaged (36,000 + 3,000) ÷ 3 = 13,000.
    basis = {"recurring_inclusion": "recurring_plus_one_time"}
    run_rate = compute("sales.arr", _ramp(make_line), as_of=MID_2026, basis={**basis, "annualization": "mrr_times_12"})
    current = compute("sales.arr", _ramp(make_line), as_of=MID_2026, basis=basis)
    averaged = compute(
        "sales.arr", _ramp(make_line), as_of=MID_2026, basis={**basis, "annualization": "tcv_over_term_years"}
    )
    assert (run_rate.value, current.value, averaged.value) == (Decimal(8000), Decimal(11000), Decimal(13000))


@pytest.mark.parametrize(
    ("short_terms", "expected"),
    [
        # Six months at 1,000 a month = 6,000: counted at face value (one-year minimum) …
        ("face_value", Decimal(6000)),
        # … or annualized up: 6,000 ÷ 0.5 year = 12,000.
        ("annualize", Decimal(12000)),
    ],
)
def test_short_terms_are_annualized_or_counted_at_face_value(compute, make_line, short_terms, expected):
    rows = [make_line(amount="1000", amount_period="month", end_date="2026-06-30")]
    acv = compute("sales.booked_acv", rows, period="2026", basis={"short_terms": short_terms})
    assert acv.value == expected


@pytest.mark.parametrize(
    ("day_count", "expected"),
    [
        # 10,000 for 1 May – 31 Dec 2028 (a leap year). By month: 8 months → 10,000 × 12 ÷ 8 = 15,000.
        ("by_month", Decimal(15000)),
        # Actual/365: 245 days → 10,000 × 365 ÷ 245 = 14,897.959… → 14,897.96.
        ("actual_365", Decimal("14897.96")),
        # Actual/actual: 245 days of a 366-day year → 10,000 × 366 ÷ 245 = 14,938.775… → 14,938.78.
        ("actual_actual", Decimal("14938.78")),
    ],
)
def test_day_count_sets_the_yearly_rate_of_a_partial_year_term(compute, make_line, day_count, expected):
    rows = [
        make_line(
            amount="10000",
            amount_period="term",
            start_date="2028-05-01",
            end_date="2028-12-31",
            signed_date="2028-04-01",
        )
    ]
    arr = compute("sales.arr", rows, as_of=date(2028, 6, 30), basis={"day_count": day_count})
    assert arr.value == expected


def test_discounts_count_net_or_list_amounts(compute, make_line):
    # Net 9,000 + 5,000 = 14,000. List: 10,000 + 5,000 (no list amount: counted at net) = 15,000.
    rows = [make_line(amount="9000", list_amount="10000"), make_line(amount="5000", contract_id="C2", account_id="A2")]
    net = compute("sales.arr", rows, as_of=MID_2026)
    listed = compute("sales.arr", rows, as_of=MID_2026, basis={"discounts": "list"})
    assert (net.value, listed.value) == (Decimal(14000), Decimal(15000))


def test_live_basis_puts_signed_not_live_value_in_carr_only(compute, make_line):
    # Signed 1 March, live 1 June, 12,000 a year. On 30 April: ARR 0, CARR 12,000.
    rows = [make_line(signed_date="2026-03-01", start_date="2026-06-01", end_date="2027-05-31")]
    arr = compute("sales.arr", rows, as_of=date(2026, 4, 30))
    carr = compute("sales.carr", rows, as_of=date(2026, 4, 30))
    assert (arr.value, carr.value) == (Decimal(0), Decimal(12000))
    assert carr.binding.date_basis.value == "signed"
    assert carr.binding.value_basis.value == "contracted_committed"


def test_go_live_date_later_than_start_delays_arr(compute, make_line):
    # Service dates start 1 January but the customer goes live on 1 March: ARR on 31 January is 0.
    rows = [make_line(go_live_date="2026-03-01")]
    assert compute("sales.arr", rows, as_of=date(2026, 1, 31)).value == Decimal(0)
    assert compute("sales.arr", rows, as_of=date(2026, 3, 31)).value == Decimal(12000)


def test_signed_renewal_is_not_counted_twice_in_carr(compute, make_line):
    # The 2027 renewal is signed in November 2026: CARR on 30 Nov 2026 stays 12,000, not 24,000.
    rows = [
        make_line(),
        make_line(
            contract_id="C2",
            change_type="renewal",
            start_date="2027-01-01",
            end_date="2027-12-31",
            signed_date="2026-11-15",
        ),
    ]
    assert compute("sales.carr", rows, as_of=date(2026, 11, 30)).value == Decimal(12000)


def _seats(make_line):
    return [
        make_line(amount="1000", amount_period="month"),
        make_line(
            amount="1000",
            amount_period="month",
            start_date="2026-05-01",
            change_type="expansion",
            signed_date="2026-04-20",
        ),
    ]


@pytest.mark.parametrize(
    ("co_term", "expected"),
    [
        # 12,000 + 1,000 × 8 remaining months = 20,000.
        ("change_revenue", Decimal(20000)),
        # 12,000 + 1,000 × 12 = 24,000.
        ("run_rate", Decimal(24000)),
    ],
)
def test_co_term_counts_a_change_for_its_revenue_or_its_run_rate(compute, make_line, co_term, expected):
    assert compute("sales.arr", _seats(make_line), as_of=MID_2026, basis={"co_term": co_term}).value == expected
    assert compute("sales.booked_acv", _seats(make_line), period="2026", basis={"co_term": co_term}).value == expected


def test_a_signed_expansion_counts_in_carr_before_it_goes_live_but_not_in_arr(compute, make_line):
    # On 30 April the 1 May expansion is signed but not live: ARR 12,000; CARR 12,000 + 12,000 = 24,000.
    assert compute("sales.arr", _seats(make_line), as_of=date(2026, 4, 30)).value == Decimal(12000)
    assert compute("sales.carr", _seats(make_line), as_of=date(2026, 4, 30)).value == Decimal(24000)


def test_known_future_churn_is_not_deducted_before_it_takes_effect(compute, make_line):
    # The cancellation is signed 1 August and effective 1 September: on 15 August CARR is still 12,000.
    carr = compute(
        "sales.carr", _cancelled(make_line), as_of=date(2026, 8, 15), basis={"churn_timing": "cancellation_date"}
    )
    assert carr.value == Decimal(12000)


def _cancelled(make_line):
    # 12,000 a year; cancelled effective 1 September, paid until 31 December.
    return [
        make_line(),
        make_line(amount="-12000", start_date="2026-09-01", change_type="cancellation", signed_date="2026-08-01"),
    ]


def test_churn_timing_at_cancellation_date_removes_value_from_that_date(compute, make_line):
    basis = {"churn_timing": "cancellation_date"}
    assert compute("sales.arr", _cancelled(make_line), as_of=date(2026, 8, 31), basis=basis).value == Decimal(12000)
    assert compute("sales.arr", _cancelled(make_line), as_of=date(2026, 9, 30), basis=basis).value == Decimal(0)
    churn = compute("sales.churn_arr", _cancelled(make_line), period="2026-Q3", basis=basis)
    assert churn.value == Decimal(12000)


def test_churn_timing_at_end_of_paid_period_keeps_value_until_the_paid_lines_end(compute, make_line):
    assert compute("sales.arr", _cancelled(make_line), as_of=date(2026, 9, 30)).value == Decimal(12000)
    assert compute("sales.churn_arr", _cancelled(make_line), period="2026-Q3").value == Decimal(0)
    # It leaves on 1 January 2027: churned in Q1 2027.
    assert compute("sales.churn_arr", _cancelled(make_line), period="2027-Q1").value == Decimal(12000)


def _retention(make_line):
    # Two customers at 10,000 each on 31 Dec 2025; a year later A pays 15,000 and B 6,000.
    return [
        make_line(
            account_id="A",
            contract_id="A1",
            amount="10000",
            start_date="2025-01-01",
            end_date="2025-12-31",
            signed_date="2025-01-01",
        ),
        make_line(account_id="A", contract_id="A2", amount="15000", change_type="renewal"),
        make_line(
            account_id="B",
            contract_id="B1",
            amount="10000",
            start_date="2025-01-01",
            end_date="2025-12-31",
            signed_date="2025-01-01",
        ),
        make_line(account_id="B", contract_id="B2", amount="6000", change_type="renewal"),
    ]


def test_grr_capped_per_customer_does_not_let_expansion_hide_a_downgrade(compute, make_line):
    # (min(15,000, 10,000) + min(6,000, 10,000)) ÷ 20,000 = 16,000 ÷ 20,000 = 80%.
    grr = compute("customers.gross_revenue_retention", _retention(make_line), period="2026")
    assert grr.value == Decimal(80)


def test_grr_capped_on_the_aggregate_lets_expansion_offset_it(compute, make_line):
    # min(21,000, 20,000) ÷ 20,000 = 100%.
    grr = compute(
        "customers.gross_revenue_retention", _retention(make_line), period="2026", basis={"grr_cap": "aggregate"}
    )
    assert grr.value == Decimal(100)


def test_nrr_counts_expansion_and_downgrade_of_the_opening_cohort(compute, make_line):
    # (15,000 + 6,000) ÷ 20,000 = 105%.
    nrr = compute("customers.net_revenue_retention", _retention(make_line), period="2026")
    assert nrr.value == Decimal(105)
    parts = {c.name: c.value for c in nrr.components}
    assert (parts["expansion"], parts["contraction"], parts["churn"]) == (Decimal(5000), Decimal(4000), Decimal(0))
