"""Seed 003's ACV examples, reproduced exactly from ledger rows, plus the ramp of the issue."""

from __future__ import annotations

from datetime import date
from decimal import Decimal


def test_three_year_contract_at_150k_a_year_has_acv_and_arr_of_150k(compute, make_line):
    # 150,000 a year for 2026–2028: TCV 450,000 ÷ 3 years = 150,000, and the year in force is 150,000.
    rows = [make_line(amount="150000", end_date="2028-12-31")]
    acv = compute("sales.booked_acv", rows, period="2026")
    arr = compute("sales.arr", rows, as_of=date(2026, 6, 30))
    assert acv.value == Decimal(150000)
    assert arr.value == Decimal(150000)


def test_one_year_contract_at_150k_has_acv_of_150k(compute, make_line):
    # A one-year term: TCV 150,000 ÷ 1 year.
    acv = compute("sales.booked_acv", [make_line(amount="150000")], period="2026")
    assert acv.value == Decimal(150000)


def _products(make_line):
    return [
        make_line(product="core", amount="18000"),
        make_line(product="add_on", amount="6000"),
        make_line(product="starter_implementation", charge_type="one_time", amount="1000", amount_period="once"),
    ]


def test_acv_with_the_one_time_implementation_included_is_25k(compute, make_line):
    # 18,000 + 6,000 recurring + 1,000 one-time, over a one-year term = 25,000.
    acv = compute("sales.booked_acv", _products(make_line), period="2026", variant="contract_value")
    assert acv.value == Decimal(25000)
    assert acv.binding.recurring_inclusion.value == "recurring_plus_one_time"


def test_acv_recurring_only_leaves_the_one_time_fee_out(compute, make_line):
    # The toggle off: 18,000 + 6,000 = 24,000.
    acv = compute("sales.booked_acv", _products(make_line), period="2026")
    assert acv.value == Decimal(24000)


def test_asking_for_one_time_lines_selects_the_contract_value_variant(compute, make_line):
    acv = compute(
        "sales.avg_contract_value",
        _products(make_line),
        period="2026",
        basis={"recurring_inclusion": "recurring_plus_one_time"},
    )
    assert acv.variant == "contract_value"
    assert acv.value == Decimal(25000)
    assert not [w for w in acv.warnings if "no governed variant" in w]


def _seats(make_line):
    # 10 seats × $100 a month for 2026; 10 more seats from 1 May (after four months), co-termed.
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


def test_co_termed_expansion_adds_its_remaining_revenue_to_acv(compute, make_line):
    # 10 × 100 × 12 = 12,000, plus 10 × 100 × 8 remaining months = 8,000: ACV 20,000.
    acv = compute("sales.booked_acv", _seats(make_line), period="2026")
    assert acv.value == Decimal(20000)


def test_co_termed_expansion_counts_at_run_rate_in_arr(compute, make_line):
    # After May, 20 seats × 100 × 12 = 24,000.
    arr = compute("sales.arr", _seats(make_line), as_of=date(2026, 6, 30))
    assert arr.value == Decimal(24000)


def test_ramp_reads_its_first_step_line_dated_and_its_average_header_averaged(compute, make_line):
    # A three-year ramp of 8,000 / 12,000 / 16,000: year one in force reads 8,000;
    # header-averaged, (8,000 + 12,000 + 16,000) ÷ 3 = 12,000.
    rows = [
        make_line(amount="8000"),
        make_line(amount="12000", start_date="2027-01-01", end_date="2027-12-31"),
        make_line(amount="16000", start_date="2028-01-01", end_date="2028-12-31"),
    ]
    line_dated = compute("sales.arr", rows, as_of=date(2026, 6, 30))
    averaged = compute("sales.arr", rows, as_of=date(2026, 6, 30), basis={"annualization": "tcv_over_term_years"})
    assert line_dated.value == Decimal(8000)
    assert averaged.value == Decimal(12000)
    assert averaged.variant == "header_averaged"
