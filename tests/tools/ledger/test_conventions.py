"""The conventions subscription-analytics vendors disagree on, each a governed option, on hand-worked ledgers.

Every expected number is worked out in the comment above it from the rows of the example. The
defaults are today's rules: each test also shows the default value, so the option is seen to move it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from kpi_context.tools.errors import ErrorCode, KpiError

END_Q1_2027 = date(2027, 3, 31)


# --- discounts by duration ------------------------------------------------------------------------


def _discounted(make_line):
    # A1: list 12,000, pays 9,000 for a limited time (an introductory discount).
    # A2: list 10,000, pays 8,000 for as long as the line runs.
    # A3: list 5,000, pays 4,000, duration not stated: read as permanent.
    return [
        make_line(amount="9000", list_amount="12000", discount_duration="finite"),
        make_line(contract_id="C2", account_id="A2", amount="8000", list_amount="10000", discount_duration="permanent"),
        make_line(contract_id="C3", account_id="A3", amount="4000", list_amount="5000"),
    ]


@pytest.mark.parametrize(
    ("discounts", "expected"),
    [
        # Net: 9,000 + 8,000 + 4,000 = 21,000.
        ("net", Decimal(21000)),
        # List: 12,000 + 10,000 + 5,000 = 27,000.
        ("list", Decimal(27000)),
        # Permanent discounts only: A1's limited discount is ignored (12,000), the others kept: 12,000 + 8,000
        # + 4,000 = 24,000.
        ("permanent_only", Decimal(24000)),
    ],
)
def test_a_limited_time_discount_leaves_arr_at_list_while_a_permanent_one_reduces_it(
    compute, make_line, discounts, expected
):
    arr = compute("sales.arr", _discounted(make_line), as_of=date(2026, 6, 30), basis={"discounts": discounts})
    assert arr.value == expected
    assert arr.basis["discounts"] == discounts


def test_mrr_follows_the_discount_duration_too(compute, make_line):
    # 24,000 a year under permanent_only (above) is 2,000 a month.
    mrr = compute("sales.mrr", _discounted(make_line), as_of=date(2026, 6, 30), basis={"discounts": "permanent_only"})
    assert mrr.value == Decimal(2000)


def test_an_unknown_discount_duration_is_rejected_with_its_row(compute, make_line):
    rows = [make_line(), make_line(contract_id="C2", amount="900", list_amount="1000", discount_duration="3 months")]
    arr = compute("sales.arr", rows, as_of=date(2026, 6, 30))
    assert arr.value == Decimal(12000)
    [rejected] = arr.ledger.rejections
    assert rejected["row"] == 2 and "unknown discount_duration '3 months'" in rejected["reason"]


def test_a_discount_duration_without_a_list_amount_is_rejected(compute, make_line):
    rows = [make_line(), make_line(contract_id="C2", amount="900", discount_duration="finite")]
    arr = compute("sales.arr", rows, as_of=date(2026, 6, 30))
    [rejected] = arr.ledger.rejections
    assert rejected["row"] == 2 and "discount_duration needs list_amount" in rejected["reason"]


def test_a_blank_discount_duration_counts_as_absent(compute, make_line):
    # Blank: the row is usable and its discount permanent, so 900 counts under permanent_only.
    rows = [make_line(amount="900", list_amount="1000", discount_duration="  ")]
    arr = compute("sales.arr", rows, as_of=date(2026, 6, 30), basis={"discounts": "permanent_only"})
    assert (arr.value, arr.ledger.rows_rejected) == (Decimal(900), 0)


# --- a 100 % discount: churn or contraction ---------------------------------------------------------


def _free_year(make_line):
    # A1 pays 12,000 for 2026, then renews for 2027 at list 12,000 with a 100 % discount (amount 0).
    return [
        make_line(),
        make_line(
            contract_id="C2",
            amount="0",
            list_amount="12000",
            change_type="renewal",
            start_date="2027-01-01",
            end_date="2027-12-31",
            signed_date="2026-12-01",
        ),
    ]


@pytest.mark.parametrize(
    ("full_discount", "churned", "downgraded", "customers_lost"),
    [
        # Churn (today): from 31 Dec 2026 (12,000) to 31 Mar 2027 nothing is paid, so A1 is not live: churn
        # 12,000, no downgrade, one customer lost.
        ("churn", Decimal(12000), Decimal(0), Decimal(1)),
        # Contraction: the free renewal keeps A1 a customer worth 0: a downgrade of 12,000, no customer lost.
        ("contraction", Decimal(0), Decimal(12000), Decimal(0)),
    ],
)
def test_a_full_discount_is_churn_or_a_contraction(
    compute, make_line, full_discount, churned, downgraded, customers_lost
):
    basis = {"full_discount": full_discount}
    assert compute("sales.churn_arr", _free_year(make_line), period="2027-Q1", basis=basis).value == churned
    assert compute("sales.downgrades", _free_year(make_line), period="2027-Q1", basis=basis).value == downgraded
    lost = compute("customers.customers_churned", _free_year(make_line), period="2027-Q1", basis=basis)
    assert lost.value == customers_lost


def test_a_full_discount_does_not_move_arr_so_arr_refuses_the_option(compute, make_line):
    with pytest.raises(KpiError) as refused:
        compute("sales.arr", _free_year(make_line), as_of=END_Q1_2027, basis={"full_discount": "contraction"})
    assert refused.value.code is ErrorCode.INVALID_ARGUMENT
    assert refused.value.detail.field == "basis.full_discount"


# --- reactivation: its own movement or expansion -------------------------------------------------------


def _returning(make_line):
    # A1 was a customer in 2025 and returns on 1 April 2026 at 6,000 a year.
    # A2 pays 10,000 for 2026 and adds 2,000 a year from 1 May, co-termed: 12,000 at the close of Q2.
    return [
        make_line(amount="6000", start_date="2025-01-01", end_date="2025-12-31", signed_date="2025-01-01"),
        make_line(contract_id="C1b", amount="6000", start_date="2026-04-01", end_date="2027-03-31"),
        make_line(contract_id="C2", account_id="A2", amount="10000"),
        make_line(
            contract_id="C2",
            account_id="A2",
            amount="2000",
            start_date="2026-05-01",
            change_type="expansion",
            signed_date="2026-04-20",
        ),
    ]


@pytest.mark.parametrize(
    ("reactivation", "expansion", "reactivated"),
    [
        # Own movement (today): expansion 12,000 − 10,000 = 2,000; reactivation 6,000.
        ("own_movement", Decimal(2000), Decimal(6000)),
        # In expansion: 2,000 + 6,000 = 8,000 expansion, reactivation 0.
        ("expansion", Decimal(8000), Decimal(0)),
    ],
)
def test_reactivation_is_its_own_movement_or_part_of_expansion(
    compute, make_line, reactivation, expansion, reactivated
):
    basis = {"reactivation": reactivation}
    assert compute("sales.expansion", _returning(make_line), period="2026-Q2", basis=basis).value == expansion
    assert compute("sales.reactivation", _returning(make_line), period="2026-Q2", basis=basis).value == reactivated
    # Net new ARR is 8,000 either way: 0 at the open of A1 and 10,000 of A2 → 6,000 + 12,000 at the close.
    net_new = compute("sales.net_new_arr", _returning(make_line), period="2026-Q2", basis=basis)
    parts = {c.name: c.value for c in net_new.components}
    assert (net_new.value, parts["expansion"], parts["reactivation"]) == (Decimal(8000), expansion, reactivated)


# --- starting and leaving in the same period ---------------------------------------------------------


def _in_and_out(make_line):
    # Q2 2026 (open 31 March, close 30 June):
    # A1 12,000 all year: flat. A2 10,000 from July 2025 to 30 April 2026: churns 10,000.
    # A3 1,000 a month from 15 April to 31 May 2026: live only inside the quarter, run rate 12,000.
    # A4 6,000 a year from 1 May 2026: new 6,000.
    return [
        make_line(),
        make_line(
            contract_id="C2",
            account_id="A2",
            amount="10000",
            start_date="2025-07-01",
            end_date="2026-04-30",
            signed_date="2025-07-01",
        ),
        make_line(
            contract_id="C3",
            account_id="A3",
            amount="1000",
            amount_period="month",
            start_date="2026-04-15",
            end_date="2026-05-31",
            signed_date="2026-04-15",
        ),
        make_line(contract_id="C4", account_id="A4", amount="6000", start_date="2026-05-01", end_date="2027-04-30"),
    ]


@pytest.mark.parametrize(
    ("same_period_churn", "new", "churned", "new_logos", "lost_logos"),
    [
        # Ignored (today): A3 is live at neither end, so in no movement: new 6,000 (A4), churn 10,000 (A2).
        ("ignored", Decimal(6000), Decimal(10000), Decimal(1), Decimal(1)),
        # Counted: A3 is new and churned at its 12,000 run rate: new 6,000 + 12,000 = 18,000, churn
        # 10,000 + 12,000 = 22,000; two new and two lost customers.
        ("counted", Decimal(18000), Decimal(22000), Decimal(2), Decimal(2)),
    ],
)
def test_a_customer_who_starts_and_leaves_in_the_period_is_ignored_or_counted_in_both(
    compute, make_line, same_period_churn, new, churned, new_logos, lost_logos
):
    basis = {"same_period_churn": same_period_churn}
    rows = _in_and_out(make_line)
    assert compute("sales.new_business", rows, period="2026-Q2", basis=basis).value == new
    assert compute("sales.churn_arr", rows, period="2026-Q2", basis=basis).value == churned
    assert compute("customers.new_customers_added", rows, period="2026-Q2", basis=basis).value == new_logos
    assert compute("customers.customers_churned", rows, period="2026-Q2", basis=basis).value == lost_logos
    # Net new ARR: 12,000 + 6,000 at the close − 22,000 at the open = −4,000 either way.
    assert compute("sales.net_new_arr", rows, period="2026-Q2", basis=basis).value == Decimal(-4000)


def test_counting_a_customer_in_and_out_moves_the_quick_ratio(compute, make_line):
    # Ignored: 6,000 ÷ 10,000 = 0.6. Counted: 18,000 ÷ 22,000 = 9 ÷ 11 = 0.8181…
    rows = _in_and_out(make_line)
    ignored = compute("sales.quick_ratio", rows, period="2026-Q2")
    counted = compute("sales.quick_ratio", rows, period="2026-Q2", basis={"same_period_churn": "counted"})
    assert ignored.value == Decimal("0.6")
    assert abs(counted.value - Decimal(9) / Decimal(11)) < Decimal("0.005")
    assert counted.value != ignored.value


# --- a new customer's growth within its first period ---------------------------------------------------


def _first_quarter_changes(make_line):
    # Q2 2026: A5 starts on 1 April at 12,000 a year and adds 6,000 a year from 1 June (co-termed): 18,000 at
    # the close. A6 starts on 1 April at 10,000 and gives up 4,000 a year from 1 June: 6,000 at the close.
    return [
        make_line(contract_id="C5", account_id="A5", start_date="2026-04-01", end_date="2027-03-31"),
        make_line(
            contract_id="C5",
            account_id="A5",
            amount="6000",
            start_date="2026-06-01",
            end_date="2027-03-31",
            change_type="expansion",
        ),
        make_line(contract_id="C6", account_id="A6", amount="10000", start_date="2026-04-01", end_date="2027-03-31"),
        make_line(
            contract_id="C6",
            account_id="A6",
            amount="-4000",
            start_date="2026-06-01",
            end_date="2027-03-31",
            change_type="contraction",
        ),
    ]


@pytest.mark.parametrize(
    ("new_customer_expansion", "new", "expansion", "downgrades"),
    [
        # In new business (today): each new customer counts at its close: 18,000 + 6,000 = 24,000 new.
        ("new_business", Decimal(24000), Decimal(0), Decimal(0)),
        # In expansion: new at the first day's value, 12,000 + 10,000 = 22,000; A5's 6,000 more is expansion
        # and A6's 4,000 less a downgrade.
        ("expansion", Decimal(22000), Decimal(6000), Decimal(4000)),
    ],
)
def test_a_new_customers_change_within_its_first_period_is_new_business_or_a_change_of_its_own(
    compute, make_line, new_customer_expansion, new, expansion, downgrades
):
    basis = {"new_customer_expansion": new_customer_expansion}
    rows = _first_quarter_changes(make_line)
    assert compute("sales.new_business", rows, period="2026-Q2", basis=basis).value == new
    assert compute("sales.expansion", rows, period="2026-Q2", basis=basis).value == expansion
    assert compute("sales.downgrades", rows, period="2026-Q2", basis=basis).value == downgrades
    # Net new ARR stays 18,000 + 6,000 = 24,000; its components carry the split.
    net_new = compute("sales.net_new_arr", rows, period="2026-Q2", basis=basis)
    parts = {c.name: c.value for c in net_new.components}
    assert (net_new.value, parts["new"], parts["contraction"]) == (Decimal(24000), new, downgrades)


def test_a_new_customers_first_period_fall_moves_the_quick_ratio(compute, make_line):
    # Only A6 (10,000 on 1 April, 6,000 at the close) and A1 flat at 12,000 all year.
    # New business: the quick ratio has no loss, so it is undefined; as a change, 10,000 new and a 4,000
    # downgrade give (10,000 + 0) ÷ 4,000 = 2.5.
    rows = [make_line(), *_first_quarter_changes(make_line)[2:]]
    assert compute("sales.quick_ratio", rows, period="2026-Q2").value is None
    split = compute("sales.quick_ratio", rows, period="2026-Q2", basis={"new_customer_expansion": "expansion"})
    assert split.value == Decimal("2.5")


# --- day counts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day_count", "expected"),
    [
        # 10,000 for 1 Jan – 30 Jun 2028, a leap year: 31 + 29 + 31 + 30 + 31 + 30 = 182 actual days.
        # By month: six months → 10,000 × 12 ÷ 6 = 20,000.
        ("by_month", Decimal(20000)),
        # Actual/365: 10,000 × 365 ÷ 182 = 20,054.945… → 20,054.95.
        ("actual_365", Decimal("20054.95")),
        # Actual/actual: 182 days of a 366-day year → 10,000 × 366 ÷ 182 = 20,109.890… → 20,109.89.
        ("actual_actual", Decimal("20109.89")),
        # Actual/365 without 29 February: 181 days → 10,000 × 365 ÷ 181 = 20,165.745… → 20,165.75.
        ("nl_365", Decimal("20165.75")),
    ],
)
def test_day_count_without_29_february_counts_a_leap_half_year_as_181_days(compute, make_line, day_count, expected):
    rows = [make_line(amount="10000", amount_period="term", start_date="2028-01-01", end_date="2028-06-30")]
    arr = compute("sales.arr", rows, as_of=date(2028, 3, 31), basis={"day_count": day_count})
    assert arr.value == expected


def test_a_term_starting_on_29_february_loses_that_day_without_leap_days(compute, make_line):
    # 1,000 for 29 Feb – 31 Mar 2028: 32 actual days, 31 without 29 February → 1,000 × 365 ÷ 31 = 11,774.193… →
    # 11,774.19 (actual/365 would give 1,000 × 365 ÷ 32 = 11,406.25).
    rows = [make_line(amount="1000", amount_period="term", start_date="2028-02-29", end_date="2028-03-31")]
    basis = {"day_count": "nl_365"}
    assert compute("sales.arr", rows, as_of=date(2028, 3, 15), basis=basis).value == Decimal("11774.19")
    assert compute("sales.arr", rows, as_of=date(2028, 3, 15), basis={"day_count": "actual_365"}).value == Decimal(
        "11406.25"
    )


def test_as_of_year_divides_a_term_by_the_length_of_the_valuation_days_year(compute, make_line):
    # 18,300 for 1 Jan – 1 Jul 2024: 31 + 29 + 31 + 30 + 31 + 30 + 1 = 183 days. Valued on a 2024 day, a year
    # is 366 days: 18,300 × 366 ÷ 183 = 36,600. Actual/365 gives 18,300 × 365 ÷ 183 = 36,500.
    rows = [make_line(amount="18300", amount_period="term", start_date="2024-01-01", end_date="2024-07-01")]
    day = date(2024, 3, 31)
    assert compute("sales.arr", rows, as_of=day, basis={"day_count": "as_of_year"}).value == Decimal(36600)
    assert compute("sales.arr", rows, as_of=day, basis={"day_count": "actual_365"}).value == Decimal(36500)


def test_as_of_year_changes_a_contracts_value_on_1_january(compute, make_line):
    # 36,500 for 1 Jul 2024 – 30 Jun 2025: 184 days in 2024 + 181 in 2025 = 365 days, one contract year.
    # On 31 Dec 2024 a year is 366 days: 36,500 × 366 ÷ 365 = 36,600; on 1 Jan 2025 it is 365: 36,500.
    rows = [make_line(amount="36500", amount_period="term", start_date="2024-07-01", end_date="2025-06-30")]
    basis = {"day_count": "as_of_year"}
    assert compute("sales.arr", rows, as_of=date(2024, 12, 31), basis=basis).value == Decimal(36600)
    assert compute("sales.arr", rows, as_of=date(2025, 1, 1), basis=basis).value == Decimal(36500)
    # Actual/365 counts 36,500 on both days.
    assert compute("sales.arr", rows, as_of=date(2024, 12, 31), basis={"day_count": "actual_365"}).value == Decimal(
        36500
    )


@pytest.mark.parametrize(
    ("start", "end", "as_of", "expected"),
    [
        # A yearly 36,600 for 1 Jan – 1 Jul 2024 (183 days) counted at face value (one-year minimum): 183 of
        # 2024's 366 days → 36,600 × 183 ÷ 366 = 18,300.
        ("2024-01-01", "2024-07-01", date(2024, 3, 31), Decimal(18300)),
        # The same 183 days in 2025 (1 Jan – 2 Jul: 31 + 28 + 31 + 30 + 31 + 30 + 2) are 183 of 365 days:
        # 36,600 × 183 ÷ 365 = 18,350.136… → 18,350.14.
        ("2025-01-01", "2025-07-02", date(2025, 3, 31), Decimal("18350.14")),
    ],
)
def test_as_of_year_weighs_a_short_term_at_face_value_against_the_valuation_year(
    compute, make_line, start, end, as_of, expected
):
    rows = [make_line(amount="36600", start_date=start, end_date=end, signed_date=start)]
    basis = {"day_count": "as_of_year", "short_terms": "face_value"}
    assert compute("sales.arr", rows, as_of=as_of, basis=basis).value == expected


def test_as_of_year_moves_a_renewal_uplift_signed_ahead_on_1_january(compute, make_line):
    # A1 pays a yearly 12,000 for 1 Mar 2024 – 28 Feb 2025 and on 15 Oct 2024 signs a renewal of 15,000 for the
    # term 1 Mar 2025 – 28 Feb 2026 (365 days). Its increase counts from signature, at the renewal's yearly
    # rate on the day: on 30 Nov 2024 15,000 × 366 ÷ 365 = 15,041.0958…, so CARR = 12,000 + 3,041.0958… =
    # 15,041.10; on 15 Jan 2025 15,000 × 365 ÷ 365 = 15,000, so CARR = 12,000 + 3,000 = 15,000.
    rows = [
        make_line(start_date="2024-03-01", end_date="2025-02-28", signed_date="2024-03-01"),
        make_line(
            contract_id="C1r",
            amount="15000",
            amount_period="term",
            change_type="renewal",
            start_date="2025-03-01",
            end_date="2026-02-28",
            signed_date="2024-10-15",
        ),
    ]
    basis = {"renewal_uplift": "when_signed", "day_count": "as_of_year"}
    assert compute("sales.carr", rows, as_of=date(2024, 11, 30), basis=basis).value == Decimal("15041.10")
    assert compute("sales.carr", rows, as_of=date(2025, 1, 15), basis=basis).value == Decimal(15000)
    # From its start the renewal is its own value: 15,000 over a 2025 year of 365 days.
    assert compute("sales.carr", rows, as_of=date(2025, 3, 1), basis=basis).value == Decimal(15000)


# --- ramps at the exit rate ---------------------------------------------------------------------------


def _ramp(make_line):
    # A three-year ramp: 8,000 in 2026, 12,000 in 2027, 16,000 in 2028.
    return [
        make_line(amount="8000", end_date="2026-12-31"),
        make_line(amount="12000", start_date="2027-01-01", end_date="2027-12-31"),
        make_line(amount="16000", start_date="2028-01-01", end_date="2028-12-31"),
    ]


@pytest.mark.parametrize(
    ("annualization", "expected"),
    [
        # Line-dated, mid-2026: the step in force, 8,000.
        ("current_contract_year", Decimal(8000)),
        # Header-averaged: (8,000 + 12,000 + 16,000) ÷ 3 = 12,000.
        ("tcv_over_term_years", Decimal(12000)),
        # Exit rate: the final step, 16,000, from the first day.
        ("exit_rate", Decimal(16000)),
    ],
)
def test_a_ramp_at_its_exit_rate_counts_its_final_step_from_the_start(compute, make_line, annualization, expected):
    arr = compute("sales.arr", _ramp(make_line), as_of=date(2026, 6, 30), basis={"annualization": annualization})
    assert arr.value == expected
    assert arr.binding.annualization.value == annualization


def test_the_exit_rate_takes_a_co_termed_change_once_it_is_effective(compute, make_line):
    # +2,000 a year from 1 July 2027 to the end: on 30 June 2027 not yet effective (16,000); on 30 September
    # 16,000 + 2,000 = 18,000.
    rows = [
        *_ramp(make_line),
        make_line(
            amount="2000",
            start_date="2027-07-01",
            end_date="2028-12-31",
            change_type="expansion",
            signed_date="2027-06-01",
        ),
    ]
    basis = {"annualization": "exit_rate"}
    assert compute("sales.arr", rows, as_of=date(2027, 6, 30), basis=basis).value == Decimal(16000)
    assert compute("sales.arr", rows, as_of=date(2027, 9, 30), basis=basis).value == Decimal(18000)


def test_a_contract_at_its_exit_rate_is_only_counted_while_live(compute, make_line):
    # Before go-live (31 Dec 2025) nothing is in force, so there is no ARR; after the end (2029) neither.
    basis = {"annualization": "exit_rate"}
    assert compute("sales.arr", _ramp(make_line), as_of=date(2025, 12, 31), basis=basis).value == Decimal(0)
    assert compute("sales.arr", _ramp(make_line), as_of=date(2029, 1, 31), basis=basis).value == Decimal(0)


def test_a_booking_has_no_exit_rate(compute, make_line):
    with pytest.raises(KpiError) as refused:
        compute("sales.booked_acv", _ramp(make_line), period="2026", basis={"annualization": "exit_rate"})
    assert refused.value.detail.field == "basis.annualization"


# --- CARR and renewal uplifts signed in advance ------------------------------------------------------------


def _early_renewals(make_line):
    # A1 pays 12,000 for 2026 and on 15 October 2026 signs its 2027 renewal at 15,000 (an uplift of 3,000).
    # B1 pays 10,000 for 2026 and on 1 November signs its 2027 renewal at 8,000 (a decrease of 2,000).
    return [
        make_line(),
        make_line(
            contract_id="C1r",
            amount="15000",
            change_type="renewal",
            start_date="2027-01-01",
            end_date="2027-12-31",
            signed_date="2026-10-15",
        ),
        make_line(contract_id="C2", account_id="B1", amount="10000"),
        make_line(
            contract_id="C2r",
            account_id="B1",
            amount="8000",
            change_type="renewal",
            start_date="2027-01-01",
            end_date="2027-12-31",
            signed_date="2026-11-01",
        ),
    ]


@pytest.mark.parametrize(
    ("renewal_uplift", "before_signing", "signed", "renewed"),
    [
        # At renewal (today): 12,000 + 10,000 = 22,000 until the renewals start; then 15,000 + 8,000 = 23,000.
        ("at_renewal", Decimal(22000), Decimal(22000), Decimal(23000)),
        # When signed: from 15 October A1's 3,000 increase counts: 12,000 + 3,000 + 10,000 = 25,000. B1's
        # decrease is not deducted ahead of its start (it stays 10,000); from 2027 the renewals: 23,000.
        ("when_signed", Decimal(22000), Decimal(25000), Decimal(23000)),
    ],
)
def test_carr_counts_a_renewal_uplift_from_its_start_or_from_its_signature(
    compute, make_line, renewal_uplift, before_signing, signed, renewed
):
    basis = {"renewal_uplift": renewal_uplift}
    rows = _early_renewals(make_line)
    assert compute("sales.carr", rows, as_of=date(2026, 10, 14), basis=basis).value == before_signing
    assert compute("sales.carr", rows, as_of=date(2026, 11, 30), basis=basis).value == signed
    assert compute("sales.carr", rows, as_of=date(2027, 1, 31), basis=basis).value == renewed


def test_renewal_uplifts_when_signed_need_the_signed_basis(compute, make_line):
    with pytest.raises(KpiError) as refused:
        compute(
            "sales.carr",
            _early_renewals(make_line),
            as_of=date(2026, 11, 30),
            basis={"renewal_uplift": "when_signed", "live_basis": "go_live"},
        )
    assert refused.value.detail.field == "basis.renewal_uplift"


def test_arr_takes_no_renewal_uplift(compute, make_line):
    with pytest.raises(KpiError) as refused:
        compute(
            "sales.arr", _early_renewals(make_line), as_of=date(2026, 11, 30), basis={"renewal_uplift": "when_signed"}
        )
    assert refused.value.detail.field == "basis.renewal_uplift"


# --- movements from the period's ends, or day by day --------------------------------------------------------


def _busy_quarter(make_line):
    # Q2 2026 (open 31 March, close 30 June):
    # A1 12,000 all year, plus a one-month add-on of 6,000 a year in May only: 12,000 at both ends.
    # A2 10,000 until 30 April: churns 10,000.
    # A3 1,000 a month from 15 April to 31 May: in and out inside the quarter at a 12,000 run rate.
    # A5 new on 1 April at 12,000, 6,000 more from 1 June (co-termed): 18,000 at the close.
    return [
        make_line(),
        make_line(amount="6000", start_date="2026-05-01", end_date="2026-05-31", change_type="expansion"),
        make_line(
            contract_id="C2",
            account_id="A2",
            amount="10000",
            start_date="2025-07-01",
            end_date="2026-04-30",
            signed_date="2025-07-01",
        ),
        make_line(
            contract_id="C3",
            account_id="A3",
            amount="1000",
            amount_period="month",
            start_date="2026-04-15",
            end_date="2026-05-31",
            signed_date="2026-04-15",
        ),
        *_first_quarter_changes(make_line)[:2],
    ]


@pytest.mark.parametrize(
    ("movement_timing", "movements", "logos"),
    [
        # Period ends (today): new 18,000 (A5 at the close), no expansion or contraction (A1 is 12,000 at both
        # ends), churn 10,000 (A2; A3 is in no movement). One new and one lost customer.
        ("period_ends", (18000, 0, 0, 10000), (1, 1)),
        # Daily: new 12,000 (A3 on 15 April) + 12,000 (A5 on 1 April) = 24,000; expansion 6,000 (A1 on 1 May)
        # + 6,000 (A5 on 1 June) = 12,000; contraction 6,000 (A1 on 1 June); churn 10,000 (A2 on 1 May) +
        # 12,000 (A3 on 1 June) = 22,000. Two new and two lost customers.
        ("daily", (24000, 12000, 6000, 22000), (2, 2)),
    ],
)
def test_movements_are_read_from_the_periods_ends_or_day_by_day(compute, make_line, movement_timing, movements, logos):
    basis = {"movement_timing": movement_timing}
    rows = _busy_quarter(make_line)
    kpis = ("sales.new_business", "sales.expansion", "sales.downgrades", "sales.churn_arr")
    got = tuple(compute(kpi, rows, period="2026-Q2", basis=basis).value for kpi in kpis)
    assert got == tuple(Decimal(v) for v in movements)
    counts = ("customers.new_customers_added", "customers.customers_churned")
    assert tuple(compute(kpi, rows, period="2026-Q2", basis=basis).value for kpi in counts) == tuple(
        Decimal(n) for n in logos
    )
    # Either way the bridge leads from 22,000 to 12,000 + 18,000 = 30,000: net new ARR 8,000 (for daily:
    # 24,000 + 12,000 − 6,000 − 22,000 = 8,000).
    assert compute("sales.net_new_arr", rows, period="2026-Q2", basis=basis).value == Decimal(8000)


def test_daily_movements_state_the_conventions_they_imply(compute, make_line):
    new = compute("sales.new_business", _busy_quarter(make_line), period="2026-Q2", basis={"movement_timing": "daily"})
    assert new.basis["same_period_churn"] == "counted"
    assert new.basis["new_customer_expansion"] == "expansion"


def test_daily_movements_refuse_a_convention_they_contradict(compute, make_line):
    with pytest.raises(KpiError) as refused:
        compute(
            "sales.new_business",
            _busy_quarter(make_line),
            period="2026-Q2",
            basis={"movement_timing": "daily", "same_period_churn": "ignored"},
        )
    assert refused.value.detail.field == "basis.same_period_churn"


def test_a_customer_kept_at_zero_counts_in_revenue_per_account(compute, make_line):
    # A1 pays 12,000 a year (MRR 1,000); A2 has a 12,000 list price discounted to 0. ARPA on 30 June 2026:
    # churn reading, A2 is no customer: 1,000 ÷ 1 = 1,000; contraction reading, 1,000 ÷ 2 = 500.
    rows = [make_line(), make_line(contract_id="C2", account_id="A2", amount="0", list_amount="12000")]
    as_of = date(2026, 6, 30)
    assert compute("customers.arpa", rows, as_of=as_of).value == Decimal(1000)
    assert compute("customers.arpa", rows, as_of=as_of, basis={"full_discount": "contraction"}).value == Decimal(500)
