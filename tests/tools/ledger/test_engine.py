"""The engine's contract: which KPIs, which options, refusals, progress, and the trace on the result."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from kpi_context.ontology.ledger_options import LEDGER_KPI_OPTIONS
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.engine import KPI_MEASURES, _database_errors, compute_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.periods import Period, months_before
from kpi_context.tools.values import LedgerTrace

REPO = Path(__file__).resolve().parents[3]

MID_2026 = date(2026, 6, 30)


def _book(make_line):
    # Three customers live on 30 June 2026: A 30,000 (two contracts of 20,000 and 10,000), B 12,000, C 6,000.
    # B signed in 2025; A and C are new in 2026. Total ARR 48,000.
    return [
        make_line(account_id="A", contract_id="A1", amount="20000", signed_date="2026-01-01"),
        make_line(
            account_id="A",
            contract_id="A2",
            amount="10000",
            start_date="2026-03-01",
            end_date="2027-02-28",
            signed_date="2026-02-20",
        ),
        make_line(
            account_id="B",
            contract_id="B1",
            amount="12000",
            start_date="2025-07-01",
            end_date="2026-12-31",
            signed_date="2025-06-20",
        ),
        make_line(
            account_id="C",
            contract_id="C1",
            amount="500",
            amount_period="month",
            start_date="2026-04-01",
            end_date="2027-03-31",
            signed_date="2026-03-25",
        ),
    ]


def test_every_ledger_kpi_has_options_and_a_measure_and_exists_in_the_catalog(ctx):
    assert set(KPI_MEASURES) == set(LEDGER_KPI_OPTIONS)
    assert [kpi for kpi in KPI_MEASURES if ctx.catalog.get(kpi) is None] == []


def test_mrr_is_arr_over_twelve(compute, make_line):
    # 48,000 ÷ 12 = 4,000 a month.
    mrr = compute("sales.mrr", _book(make_line), as_of=MID_2026)
    assert mrr.value == Decimal(4000)
    assert mrr.unit.value == "currency_per_month"


def test_total_customers_counts_live_accounts_once(compute, make_line):
    assert compute("customers.total_customers", _book(make_line), as_of=MID_2026).value == Decimal(3)


def test_blended_acv_is_arr_per_live_account(compute, make_line):
    # 48,000 ÷ 3 = 16,000.
    assert compute("customers.avg_contract_value", _book(make_line), as_of=MID_2026).value == Decimal(16000)


def test_blended_acv_median_variant_takes_the_middle_account(compute, make_line):
    # Accounts at 6,000 / 12,000 / 30,000: median 12,000.
    acv = compute("customers.avg_contract_value", _book(make_line), as_of=MID_2026, variant="median_per_account")
    assert acv.value == Decimal(12000)


def test_new_logo_acv_averages_new_customers_first_contracts(compute, make_line):
    # New logos signed in H1 2026: A (20,000 + 10,000) and C (500 × 12 = 6,000): 36,000 ÷ 2 = 18,000.
    acv = compute("sales.avg_contract_value", _book(make_line), period="2026")
    assert acv.value == Decimal(18000)


def test_booked_acv_averages_every_contract_signed_in_the_period(compute, make_line):
    # Signed in 2026: A1 20,000, A2 10,000, C1 6,000 → 36,000 ÷ 3 = 12,000.
    assert compute("sales.booked_acv", _book(make_line), period="2026").value == Decimal(12000)


def test_top_customer_concentration_and_largest_customer_share(compute, make_line):
    # All three accounts are in the top ten: 100%. The largest, A, holds 30,000 ÷ 48,000 = 62.5%.
    top = compute("customers.top_customer_concentration", _book(make_line), as_of=MID_2026)
    largest = compute(
        "customers.top_customer_concentration", _book(make_line), as_of=MID_2026, variant="largest_customer"
    )
    assert (top.value, largest.value) == (Decimal(100), Decimal("62.50"))


def test_acv_trend_compares_blended_acv_at_two_closes(compute, make_line):
    # 31 March 2026: A 30,000 and B 12,000 → 21,000. 30 June: 16,000. (16,000 − 21,000) ÷ 21,000 = −23.809…%.
    trend = compute("customers.acv_trend_pct", _book(make_line), period="2026-Q2")
    assert trend.value == Decimal("-23.81")


def test_logo_churn_rate_over_the_trailing_year(compute, make_line):
    # Live on 31 Dec 2025: B only (and D below). D ends 30 June 2026 without renewal: 1 of 2 churned = 50%.
    rows = [
        *_book(make_line),
        make_line(
            account_id="D", contract_id="D1", start_date="2025-07-01", end_date="2026-06-30", signed_date="2025-07-01"
        ),
    ]
    assert compute("customers.logo_churn_rate", rows, period="2026").value == Decimal(50)


def test_a_kpi_the_ledger_does_not_compute_is_refused(compute, make_line):
    with pytest.raises(KpiError) as caught:
        compute("finance.ebitda", [make_line()], period="2026")
    assert caught.value.code is ErrorCode.NOT_COMPUTABLE


def test_an_option_that_does_not_apply_to_the_kpi_is_refused(compute, make_line):
    with pytest.raises(KpiError) as caught:
        compute("sales.arr", [make_line()], as_of=MID_2026, basis={"grr_cap": "aggregate"})
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert caught.value.detail.field == "basis.grr_cap"


def test_an_unknown_option_value_is_refused_with_the_allowed_ones(compute, make_line):
    with pytest.raises(KpiError) as caught:
        compute("sales.booked_acv", [make_line()], period="2026", basis={"annualization": "mrr_times_12"})
    assert caught.value.detail.details["allowed"] == ["tcv_over_term_years", "first_contract_year"]


def test_a_flow_kpi_without_a_period_is_refused(compute, make_line):
    with pytest.raises(KpiError) as caught:
        compute("sales.new_business", [make_line()], as_of=MID_2026)
    assert caught.value.detail.field == "period"


def test_the_result_is_signed_and_traces_rows_and_options(compute, make_line):
    arr = compute("sales.arr", _book(make_line), as_of=MID_2026)
    assert arr.provenance is not None and arr.provenance.signature
    assert arr.ledger is not None
    assert arr.ledger.rows_read == arr.ledger.rows_used + arr.ledger.rows_rejected == 4
    # Accounts A, B and C; contracts A1, A2, B1 and C1. Counts only: no account ids by default.
    assert arr.ledger.contributing == {"accounts": 3, "contracts": 4}
    assert arr.basis["annualization"] == "current_contract_year"
    assert arr.currency == "USD"


def test_first_year_variant_sets_the_default_annualization(compute, make_line):
    # A ramp of 8,000 then 12,000: first contract year 8,000; the default, TCV ÷ term, 10,000.
    rows = [make_line(amount="8000"), make_line(amount="12000", start_date="2027-01-01", end_date="2027-12-31")]
    first = compute("sales.booked_acv", rows, period="2026", variant="first_year")
    default = compute("sales.booked_acv", rows, period="2026")
    assert (first.value, default.value) == (Decimal(8000), Decimal(10000))
    assert first.basis["annualization"] == "first_contract_year"
    assert default.basis["annualization"] == "tcv_over_term_years"


def test_progress_is_reported_up_to_the_total(ctx, registry, make_line):
    seen: list[tuple[float, float | None, str]] = []
    compute_from_ledger(
        ctx,
        "sales.arr",
        {"rows": [make_line()]},
        datasets=registry,
        as_of=MID_2026,
        progress=lambda done, total, message: seen.append((done, total, message)),
    )
    assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1]
    assert [done for done, _, _ in seen] == sorted(done for done, _, _ in seen)


def test_months_before_keeps_month_ends():
    assert months_before(date(2026, 2, 28), 12) == date(2025, 2, 28)
    assert months_before(date(2026, 9, 30), 12) == date(2025, 9, 30)
    assert months_before(date(2025, 2, 28), 12) == date(2024, 2, 29)


# --- what a ledger value carries: options in `basis`, counts, ids only when allowed, a small payload ----


def _size(value) -> int:
    """Characters a model reads: the value as the server sends it (defaults omitted, compact JSON)."""
    return len(
        json.dumps(value.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False, separators=(",", ":"))
    )


def test_basis_holds_every_option_of_the_kpi_and_the_trace_has_none(compute, make_line):
    arr = compute("sales.arr", _book(make_line), as_of=MID_2026, basis={"discounts": "list"})
    assert set(arr.basis) == {key.value for key in LEDGER_KPI_OPTIONS["sales.arr"].keys}
    # The option asked for, and the catalog's default for the rest.
    assert arr.basis["discounts"] == "list"
    assert arr.basis["recurring_inclusion"] == "recurring_only"
    assert "options" not in LedgerTrace.model_fields
    assert arr.ledger is not None and "options" not in arr.ledger.model_dump()


def test_values_under_different_options_differ_in_their_signed_basis(compute, make_line):
    # The book has no list amounts, so both read 48,000; only the options differ, and so does the value id.
    net = compute("sales.arr", _book(make_line), as_of=MID_2026)
    listed = compute("sales.arr", _book(make_line), as_of=MID_2026, basis={"discounts": "list"})
    assert net.value == listed.value == Decimal(48000)
    assert net.provenance is not None and listed.provenance is not None
    assert net.provenance.value_id != listed.provenance.value_id


def test_a_trace_lists_no_account_ids_by_default(compute, make_line):
    arr = compute("sales.arr", _book(make_line), as_of=MID_2026)
    assert arr.ledger is not None
    assert not any(key.endswith("_ids") for key in arr.ledger.contributing)
    traced = json.dumps(arr.ledger.model_dump(mode="json"))
    assert all(f'"{account}"' not in traced for account in ("A", "B", "C"))
    assert arr.ledger.contributing == {"accounts": 3, "contracts": 4}


@pytest.mark.parametrize(("allowed", "listed"), [(1, 1), (2, 2), (5, 3)])
def test_a_trace_lists_at_most_the_account_ids_the_operator_allows(ctx, registry, make_line, allowed, listed):
    # Three accounts contribute (A, B, C): the trace lists min(allowed, 3) of them.
    traced = ToolContext.create(ctx.catalog, secret=b"ledger-tests", trace_ids=allowed)
    arr = compute_from_ledger(traced, "sales.arr", {"rows": _book(make_line)}, datasets=registry, as_of=MID_2026)
    assert arr.ledger is not None
    ids = arr.ledger.contributing["account_ids"]
    assert isinstance(ids, list) and len(ids) == listed
    assert set(ids) <= {"A", "B", "C"}
    assert (arr.ledger.contributing["accounts"], arr.ledger.contributing["contracts"]) == (3, 4)


def test_a_ledger_arr_value_fits_in_fifteen_hundred_characters(ctx):
    registry = DatasetRegistry.from_cli(REPO / "data", [f"sample={REPO / 'data' / 'sample_ledger.csv'}"])
    arr = compute_from_ledger(ctx, "sales.arr", "sample", datasets=registry, as_of=date(2025, 12, 31))
    assert arr.ledger is not None and arr.ledger.rows_used > 1000
    assert _size(arr) <= 1_500


def test_nrr_from_a_ledger_is_for_the_twelve_months_to_the_periods_close(compute, make_line):
    # P pays 10,000 a year from 1 Jan 2025 and adds 2,000 a year from 1 Jan 2026. "2026-Q2" for a
    # trailing-twelve-month KPI is 1 July 2025 – 30 June 2026: the cohort live on 30 June 2025 is P at 10,000;
    # on 30 June 2026 P pays 12,000 → 12,000 ÷ 10,000 = 120%.
    rows = [
        make_line(account_id="P", contract_id="P1", amount="10000", start_date="2025-01-01", signed_date="2025-01-01"),
        make_line(
            account_id="P",
            contract_id="P1",
            amount="2000",
            change_type="expansion",
            start_date="2026-01-01",
            signed_date="2025-12-15",
        ),
    ]
    nrr = compute("customers.net_revenue_retention", rows, period="2026-Q2")
    assert nrr.value == Decimal(120)
    assert nrr.period == Period(start=date(2025, 7, 1), end=date(2026, 6, 30))
    assert nrr.label.endswith(", 12 months to Jun 2026: 120%")


def test_a_period_given_as_start_and_end_is_read_like_its_shorthand(compute, make_line):
    # New logos signed in H1 2026: A (20,000 + 10,000) and C (6,000): 36,000 ÷ 2 = 18,000, by name or by dates.
    by_dates = compute(
        "sales.avg_contract_value", _book(make_line), period=Period(start=date(2026, 1, 1), end=date(2026, 12, 31))
    )
    by_name = compute("sales.avg_contract_value", _book(make_line), period="2026")
    assert by_dates.value == by_name.value == Decimal(18000)
    assert by_dates.period == by_name.period


# --- amounts and dates beyond the engine's range --------------------------------------------------

BIG = "9" * 24  # the most integer digits an amount may have


def test_a_sum_that_overflows_the_engines_decimals_is_out_of_range_not_a_database_error(compute, make_line):
    # Ten monthly lines of 10^24 − 1: each annualizes to 12 × (10^24 − 1) ≈ 1.2 × 10^25, which the engine
    # values exactly; their sum, 1.2 × 10^26 − 120, has 27 integer digits, beyond the 26 that DECIMAL(38,12)
    # (the twelve decimals every value is summed in) holds: a database overflow.
    rows = [make_line(account_id=f"A{i}", contract_id=f"C{i}", amount=BIG, amount_period="month") for i in range(10)]
    with pytest.raises(KpiError) as info:
        compute("sales.arr", rows, as_of=MID_2026, currency="USD")
    detail = info.value.detail
    assert (detail.code, detail.field) == (ErrorCode.OUT_OF_RANGE, "ledger")
    assert "Error" not in detail.message  # the database's own text ("Out of Range Error: …") is not passed on
    assert detail.details["database_error"] == "OutOfRangeException"


def test_an_fx_rate_that_overflows_the_converted_amount_is_out_of_range(ctx, registry, make_line):
    rows = [make_line(amount=BIG, currency="EUR")]
    with pytest.raises(KpiError) as info:
        compute_from_ledger(
            ctx,
            "sales.arr",
            {"rows": rows, "fx_rates": {"EUR": 10**20}},
            datasets=registry,
            as_of=MID_2026,
            currency="USD",
        )
    assert (info.value.code, info.value.detail.field) == (ErrorCode.OUT_OF_RANGE, "ledger")


def test_the_bridge_for_the_first_quarter_of_year_one_is_out_of_range(compute, make_line):
    # New business over 0001-Q1 is measured from the close of 0000-12-31, which no calendar has.
    with pytest.raises(KpiError) as info:
        compute("sales.new_business", [make_line()], period="0001-Q1", currency="USD")
    assert (info.value.code, info.value.detail.field) == (ErrorCode.OUT_OF_RANGE, "period")


def test_a_year_over_year_trend_reaching_before_year_one_is_out_of_range(compute, make_line):
    with pytest.raises(KpiError) as info:
        compute("customers.acv_trend_pct", [make_line()], period="0001-Q3", variant="year_over_year", currency="USD")
    assert (info.value.code, info.value.detail.field) == (ErrorCode.OUT_OF_RANGE, "period")


def test_arr_on_the_last_day_of_the_calendar_is_computed(compute, make_line):
    # The line runs through 2026 only: nothing is live on 9999-12-31, so ARR is 0.
    value = compute("sales.arr", [make_line()], as_of=date(9999, 12, 31), currency="USD")
    assert value.value == Decimal(0)


def test_months_before_year_one_are_out_of_range():
    with pytest.raises(KpiError) as info:
        months_before(date(1, 6, 30), 12)
    assert info.value.code is ErrorCode.OUT_OF_RANGE


def test_any_other_database_error_is_translated_and_its_text_withheld():
    with pytest.raises(KpiError) as info, _database_errors():
        raise duckdb.BinderException('Binder Error: Referenced column "secret_path" not found')
    detail = info.value.detail
    assert (detail.code, detail.field) == (ErrorCode.LEDGER_INVALID, "ledger")
    assert "Binder" not in detail.message and "secret_path" not in detail.message
    assert detail.details == {"database_error": "BinderException"}


def test_running_out_of_the_engines_memory_is_ledger_too_large_not_an_invalid_ledger():
    with pytest.raises(KpiError) as info, _database_errors():
        raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 512.0 MiB")
    detail = info.value.detail
    assert (detail.code, detail.field) == (ErrorCode.LEDGER_TOO_LARGE, "ledger")
    assert "512" not in detail.message
    assert detail.details == {"database_error": "OutOfMemoryException"}
