"""compute_kpi with a `ledger`, through the official client in memory, over stdio and over HTTP.

The inline ledger is seed 003's co-termed seat expansion: 10 seats × $100 a month for 2026, and
10 more seats from 1 May, ending with the contract. Figures are worked by hand in the comments.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any

from mcp import Client
from mcp.types import CallToolResult, TextContent

from tests.support.results import outcome

ClientFactory = Callable[[], AbstractAsyncContextManager[Client]]


def line(**overrides: str) -> dict[str, str]:
    row = {
        "contract_id": "C1",
        "account_id": "A1",
        "charge_type": "recurring",
        "amount": "1000",
        "amount_period": "month",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "signed_date": "2026-01-01",
        "currency": "USD",
        "change_type": "new",
    }
    return {**row, **overrides}


SEATS = [
    line(line_id="L1"),
    line(line_id="L2", start_date="2026-05-01", signed_date="2026-04-25", change_type="expansion"),
]


async def compute(client: Client, arguments: dict[str, Any], **kwargs: Any) -> tuple[bool, dict[str, Any]]:
    return outcome(await client.call_tool("compute_kpi", arguments, **kwargs))


async def test_arr_from_inline_rows_counts_the_co_termed_change_at_run_rate(connect: ClientFactory) -> None:
    # On 30 June both lines are live: (1,000 + 1,000) a month × 12 = 24,000.
    async with connect() as client:
        is_error, value = await compute(
            client, {"kpi": "sales.arr", "ledger": {"rows": SEATS}, "as_of": "2026-06-30", "currency": "USD"}
        )
    assert not is_error, value
    assert Decimal(value["value"]) == Decimal("24000")
    assert value["ledger"]["rows_read"] == 2
    assert value["ledger"]["rows_used"] + value["ledger"]["rows_rejected"] == 2
    assert value["provenance"]["signature"]


async def test_booked_acv_counts_the_change_over_its_remaining_term(connect: ClientFactory) -> None:
    # 10 seats × $100 × 12 = 12,000, plus 10 seats × $100 × 8 remaining months = 8,000 → 20,000.
    async with connect() as client:
        is_error, value = await compute(
            client, {"kpi": "sales.booked_acv", "ledger": {"rows": SEATS}, "period": "2026", "currency": "USD"}
        )
    assert not is_error, value
    assert Decimal(value["value"]) == Decimal("20000")


async def test_the_arr_bridge_on_the_sample_dataset_reconciles(connect: ClientFactory) -> None:
    async with connect() as client:
        is_error, value = await compute(
            client, {"kpi": "sales.net_new_arr", "ledger": "sample", "period": "2025-Q4", "currency": "USD"}
        )
    assert not is_error, value
    parts = {c["name"]: Decimal(c["value"]) for c in value["components"]}
    # start + new + expansion + reactivation − contraction − churn = end, exactly.
    assert (
        parts["start"]
        + parts["new"]
        + parts["expansion"]
        + parts["reactivation"]
        - parts["contraction"]
        - parts["churn"]
        == parts["end"]
    )
    assert Decimal(value["value"]) == parts["end"] - parts["start"]
    trace = value["ledger"]
    assert trace["dataset"] == "sample"
    assert trace["rows_read"] == trace["rows_used"] + trace["rows_rejected"]


async def test_progress_is_reported_when_the_client_asks(connect: ClientFactory) -> None:
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    async with connect() as client:
        is_error, _ = await compute(
            client,
            {"kpi": "sales.arr", "ledger": "sample", "as_of": "2025-12-31", "currency": "USD"},
            progress_callback=on_progress,
        )
    assert not is_error
    assert seen, "no progress notification arrived"
    assert seen[-1][0] == seen[-1][1]  # the last one says the work is complete


async def test_a_path_outside_the_data_directory_is_refused(connect: ClientFactory) -> None:
    async with connect() as client:
        is_error, payload = await compute(
            client, {"kpi": "sales.arr", "ledger": "../pyproject.toml", "as_of": "2025-12-31", "currency": "USD"}
        )
    assert is_error
    assert payload["error"]["code"] == "path_not_allowed"
    assert payload["error"]["field"] == "ledger"


async def test_bad_rows_are_reported_with_their_numbers(connect: ClientFactory) -> None:
    rows = [*SEATS, line(line_id="L3", end_date="2025-01-01"), line(line_id="L4", charge_type="gift")]
    async with connect() as client:
        is_error, value = await compute(
            client, {"kpi": "sales.arr", "ledger": {"rows": rows}, "as_of": "2026-06-30", "currency": "USD"}
        )
    assert not is_error, value
    trace = value["ledger"]
    # 4 rows read: the two seat lines used, rows 3 (ends before it starts) and 4 (unknown charge) rejected.
    assert (trace["rows_read"], trace["rows_used"], trace["rows_rejected"]) == (4, 2, 2)
    assert sorted(r["row"] for r in trace["rejections"]) == [3, 4]
    assert Decimal(value["value"]) == Decimal("24000")


async def test_inputs_and_a_ledger_together_are_refused(connect: ClientFactory) -> None:
    async with connect() as client:
        is_error, payload = await compute(
            client,
            {"kpi": "sales.arr", "inputs": {"sales.arr": 1}, "ledger": "sample", "as_of": "2025-12-31"},
        )
    assert is_error
    assert (payload["error"]["code"], payload["error"]["field"]) == ("invalid_argument", "ledger")


# --- what a model reads: bounded answers over every transport ------------------------------------

SAMPLE_ROWS = 1_066
"""data/sample_ledger.csv: 1,067 lines, one of them the header."""
ARR_RESULT_BUDGET = 1_500
REFUSAL_BUDGET = 2_000


def text_of(result: CallToolResult) -> str:
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text


async def test_a_ledger_arr_result_stays_within_its_budget(connect: ClientFactory) -> None:
    async with connect() as client:
        result = await client.call_tool("compute_kpi", {"kpi": "sales.arr", "ledger": "sample", "as_of": "2026-09-30"})
    is_error, value = outcome(result)
    assert not is_error, value
    assert len(text_of(result)) <= ARR_RESULT_BUDGET
    assert (value["ledger"]["rows_read"], value["ledger"]["rows_used"]) == (SAMPLE_ROWS, SAMPLE_ROWS)
    # Rows used + rejected = rows read, so no rejection is listed, and no account id without --trace-ids.
    assert "rejections" not in value["ledger"]
    assert set(value["ledger"]["contributing"]) <= {"accounts", "contracts"}
    # The value states every governed option ARR takes (the catalog's defaults here).
    assert list(value["basis"]) == [
        "recurring_inclusion",
        "annualization",
        "short_terms",
        "day_count",
        "discounts",
        "live_basis",
        "co_term",
        "churn_timing",
    ]
    assert value["basis"]["churn_timing"] == "end_of_paid_period"
    assert value["rounding"] == "exact, then half-even to 0.01 USD"


async def test_new_logo_acv_against_blended_acv_is_refused_in_a_short_text_without_structured_content(
    connect: ClientFactory,
) -> None:
    async with connect() as client:
        is_error, new_logo = await compute(
            client, {"kpi": "sales.avg_contract_value", "ledger": "sample", "period": "2026-Q3"}
        )
        assert not is_error, new_logo
        is_error, blended = await compute(
            client, {"kpi": "customers.avg_contract_value", "ledger": "sample", "as_of": "2026-09-30"}
        )
        assert not is_error, blended
        result = await client.call_tool("compare_metrics", {"left": new_logo, "right": blended})
    assert result.is_error
    assert result.structured_content is None
    assert len(text_of(result)) <= REFUSAL_BUDGET
    _, payload = outcome(result)
    error = payload["error"]
    assert (error["code"], error["comparable"]) == ("unsafe_comparison", False)
    assert error["message"].startswith("Refused, not comparable: kpi differs")
    axes = [m["axis"] for m in error["mismatches"]]
    # New-logo ACV: per new customer, new logos of the period, TCV ÷ term, a flow dated by signature.
    # Blended ACV: per account, all active, contract year in force, a balance dated by go-live.
    assert axes == ["kpi", "grain.level", "grain.population", "annualization", "time_basis", "date_basis"]
    assert 1 <= len(error["remedies"]) <= 3
    assert not {"difference", "ratio", "percent_change"} & set(error)
