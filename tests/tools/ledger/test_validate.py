"""Row validation: every bad row reported with its number and reasons; nothing dropped unseen."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.source import DatasetRegistry

HEADER = (
    "contract_id,account_id,charge_type,amount,amount_period,start_date,end_date,signed_date,currency,change_type\n"
)


def test_bad_rows_are_reported_by_row_number_and_reason_and_the_rest_computed(compute, registry: DatasetRegistry):
    (registry.data_dir / "bad.csv").write_text(
        HEADER
        + "C1,A1,recurring,12000,year,2026-01-01,2026-12-31,2026-01-01,USD,new\n"  # row 1: good
        + "C2,A2,recurring,12000,year,2026-13-01,2026-12-31,2026-01-01,USD,new\n"  # row 2: bad date
        + "C3,A3,recurring,12000,year,2026-06-01,2026-01-31,2026-01-01,USD,new\n"  # row 3: end before start
        + "C4,A4,subscription,12000,year,2026-01-01,2026-12-31,2026-01-01,USD,new\n"  # row 4: unknown charge type
        + "C5,A5,recurring,-500,year,2026-01-01,2026-12-31,2026-01-01,USD,new\n"  # row 5: negative on a new row
        + "C6,,recurring,12k,year,2026-01-01,2026-12-31,2026-01-01,USD,new\n"  # row 6: no account, bad amount
        + "C7,A7,recurring,3000,year,2026-01-01,2026-12-31,2026-01-01,USD,new\n"  # row 7: good
        + "C8,A8,recurring,3000,year,2026-01-01\n",  # row 8: missing columns
        encoding="utf-8",
    )
    arr = compute("sales.arr", "bad.csv", as_of=date(2026, 6, 30))
    assert arr.value == Decimal(15000)  # rows 1 and 7: 12,000 + 3,000
    trace = arr.ledger
    assert trace is not None
    assert (trace.rows_read, trace.rows_used, trace.rows_rejected) == (8, 2, 6)
    # The first five rejected rows are listed, in row order; the sixth (row 8) is counted, not listed.
    reasons = {r["row"]: r["reason"] for r in trace.rejections}
    assert sorted(reasons) == [2, 3, 4, 5, 6]
    assert "start_date '2026-13-01' is not a date" in str(reasons[2])
    assert reasons[3] == "end_date is before start_date"
    assert "unknown charge_type 'subscription'" in str(reasons[4])
    assert "negative amount on a new row" in str(reasons[5])
    assert "missing account_id" in str(reasons[6]) and "amount '12k' is not a decimal number" in str(reasons[6])
    assert any("6 of 8 ledger rows were rejected" in w for w in arr.warnings)


def test_a_row_with_missing_columns_is_rejected_naming_each_missing_field(compute, registry: DatasetRegistry):
    (registry.data_dir / "short.csv").write_text(
        HEADER
        + "C1,A1,recurring,12000,year,2026-01-01,2026-12-31,2026-01-01,USD,new\n"  # row 1: good
        + "C8,A8,recurring,3000,year,2026-01-01\n",  # row 2: no end_date, signed_date, currency or change_type
        encoding="utf-8",
    )
    arr = compute("sales.arr", "short.csv", as_of=date(2026, 6, 30))
    assert arr.value == Decimal(12000)  # row 1 only
    assert arr.ledger is not None
    assert [r["row"] for r in arr.ledger.rejections] == [2]
    reason = str(arr.ledger.rejections[0]["reason"])
    assert "missing end_date" in reason and "missing change_type" in reason


def _many_bad(make_line, bad: int) -> list[dict]:
    # Twenty good lines of 12,000 a year (A0…A19), then `bad` lines whose amount is not a number.
    good = [make_line(account_id=f"A{i}", contract_id=f"C{i}") for i in range(20)]
    return good + [make_line(account_id=f"B{i}", contract_id=f"D{i}", amount="abc") for i in range(bad)]


def test_at_most_five_rejections_are_listed_while_the_count_is_complete(compute, make_line):
    arr = compute("sales.arr", _many_bad(make_line, 12), as_of=date(2026, 6, 30))
    assert arr.value == Decimal(240000)  # 20 × 12,000
    trace = arr.ledger
    assert trace is not None
    assert (trace.rows_read, trace.rows_used, trace.rows_rejected) == (32, 20, 12)
    # Rows 21–32 are bad; the first five of them are listed.
    assert [r["row"] for r in trace.rejections] == [21, 22, 23, 24, 25]
    assert any(w.startswith("12 of 32 ledger rows were rejected") for w in arr.warnings)


def test_the_rejection_warning_says_how_many_rows_are_listed(compute, make_line):
    arr = compute("sales.arr", _many_bad(make_line, 12), as_of=date(2026, 6, 30))
    assert arr.ledger is not None and len(arr.ledger.rejections) == 5
    assert any("(5 listed with row number and reason in ledger.rejections)" in w for w in arr.warnings)


def test_removal_rows_must_carry_negative_amounts(compute, make_line):
    arr = compute(
        "sales.arr", [make_line(), make_line(change_type="contraction", amount="100")], as_of=date(2026, 6, 30)
    )
    assert arr.ledger is not None
    assert arr.ledger.rejections == [
        {"row": 2, "reason": "a contraction row removes value: its amount must be negative"}
    ]


def test_one_time_line_must_be_charged_once(compute, make_line):
    arr = compute(
        "sales.arr", [make_line(), make_line(charge_type="one_time", amount_period="month")], as_of=date(2026, 6, 30)
    )
    assert arr.ledger is not None and arr.ledger.rows_rejected == 1


def test_a_ledger_without_a_required_column_is_refused_naming_it(compute, registry):
    (registry.data_dir / "nocur.csv").write_text(
        "contract_id,account_id,charge_type,amount,amount_period,start_date,end_date,signed_date,change_type\n"
        "C1,A1,recurring,1,year,2026-01-01,2026-12-31,2026-01-01,new\n",
        encoding="utf-8",
    )
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", "nocur.csv", as_of=date(2026, 6, 30))
    assert caught.value.code is ErrorCode.LEDGER_INVALID
    assert caught.value.detail.details["missing_columns"] == ["currency"]


def test_a_ledger_with_no_valid_row_is_refused(compute, make_line):
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", [make_line(amount="abc")], as_of=date(2026, 6, 30))
    assert caught.value.code is ErrorCode.LEDGER_INVALID


def test_mixed_currencies_are_refused_without_rates(compute, make_line):
    rows = [make_line(), make_line(contract_id="C2", account_id="A2", currency="EUR")]
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", rows, as_of=date(2026, 6, 30))
    assert caught.value.code is ErrorCode.CURRENCY_MISMATCH
    assert caught.value.detail.details["currencies"] == {"EUR": 1, "USD": 1}


def test_mixed_currencies_are_converted_with_an_fx_table(ctx, registry, make_line):
    from kpi_context.tools.ledger.engine import compute_from_ledger

    # 12,000 USD + 1,000 EUR × 1.1 = 13,100 USD.
    rows = [make_line(), make_line(contract_id="C2", account_id="A2", currency="EUR", amount="1000")]
    arr = compute_from_ledger(
        ctx,
        "sales.arr",
        {"rows": rows, "fx_rates": {"EUR": "1.1"}},
        datasets=registry,
        as_of=date(2026, 6, 30),
        currency="USD",
    )
    assert arr.value == Decimal(13100)
    assert arr.currency == "USD"
    assert any("EUR converted to USD" in w for w in arr.warnings)


def test_fx_table_missing_a_currency_is_refused(ctx, registry, make_line):
    from kpi_context.tools.ledger.engine import compute_from_ledger

    rows = [make_line(), make_line(contract_id="C2", account_id="A2", currency="GBP")]
    with pytest.raises(KpiError) as caught:
        compute_from_ledger(
            ctx,
            "sales.arr",
            {"rows": rows, "fx_rates": {"EUR": 1.1}},
            datasets=registry,
            as_of=date(2026, 6, 30),
            currency="USD",
        )
    assert caught.value.code is ErrorCode.CURRENCY_MISMATCH
    assert caught.value.detail.details["missing_rates"] == ["GBP"]


def test_asking_for_another_currency_than_the_ledger_is_refused(compute, make_line):
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", [make_line()], as_of=date(2026, 6, 30), currency="EUR")
    assert caught.value.code is ErrorCode.CURRENCY_MISMATCH


def test_spaces_around_dates_and_amounts_are_read_past(compute, make_line):
    # The row reads as 12,000 a year from 1 Jan 2026, spaces or not.
    row = make_line(amount=" 12000 ", start_date=" 2026-01-01", end_date="2026-12-31 ", go_live_date=" 2026-01-01 ")
    arr = compute("sales.arr", [row], as_of=date(2026, 6, 30))
    assert arr.value == Decimal(12000)
    assert arr.ledger is not None and arr.ledger.rows_rejected == 0
