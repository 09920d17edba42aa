"""One table of scenarios, each run through the official MCP client in memory, over stdio and over HTTP.

Expected figures are worked by hand in the comments; nothing is copied from the server's output.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from types import ModuleType
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import TextContent

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.loader import load_catalog
from kpi_context.server.app import build_server
from kpi_context.tools import compare as comparing
from kpi_context.tools import compute as arithmetic
from kpi_context.tools import lookup as catalog_search
from kpi_context.tools.context import ToolContext
from tests.server.conftest import memory_client
from tests.support.results import outcome

Scenario = Callable[[Client], Awaitable[None]]
ClientFactory = Callable[[], AbstractAsyncContextManager[Client]]
SCENARIOS: dict[str, Scenario] = {}
# Every transport serves the bundled catalog; its definitions are the expected values' source.
CATALOG = load_catalog()
ACV_FAMILY = {kpi.id for kpi in CATALOG if kpi.family == "acv"}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__] = fn
    return fn


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    return outcome(await client.call_tool(tool, arguments))


async def ok(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    is_error, payload = await call(client, tool, arguments)
    assert not is_error, payload
    return payload


async def refused(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    is_error, payload = await call(client, tool, arguments)
    assert is_error, payload
    error: dict[str, Any] = payload["error"]
    return error


async def acv(client: Client, contract_value: int, new_customers: int, period: str) -> dict[str, Any]:
    """New-logo ACV = new_logo_contract_value ÷ new_customers_signed (both raw inputs of the formula)."""
    return await ok(
        client,
        "compute_kpi",
        {
            "kpi": "sales.avg_contract_value",
            "inputs": {"new_logo_contract_value": contract_value, "new_customers_signed": new_customers},
            "period": period,
            "currency": "USD",
        },
    )


def keys_anywhere(payload: object) -> set[str]:
    if isinstance(payload, dict):
        return set(payload) | {k for v in payload.values() for k in keys_anywhere(v)}
    if isinstance(payload, list):
        return {k for v in payload for k in keys_anywhere(v)}
    return set()


@scenario
async def lookup_by_id_is_exact(client: Client) -> None:
    result = await ok(client, "lookup_kpi", {"query": "sales.arr"})
    assert result["exact"] is True
    assert result["matches"][0]["id"] == "sales.arr"
    assert result["catalog"]["content_hash"].startswith("sha256:")


@scenario
async def lookup_by_alias_finds_nrr(client: Client) -> None:
    result = await ok(client, "lookup_kpi", {"query": "net dollar retention"})
    assert result["matches"][0]["id"] == "customers.net_revenue_retention"
    ndr = await ok(client, "lookup_kpi", {"query": "NDR"})
    assert ndr["matches"][0]["id"] == "customers.net_revenue_retention"


@scenario
async def lookup_fuzzy_finds_magic_number(client: Client) -> None:
    result = await ok(client, "lookup_kpi", {"query": "magic numbr"})
    assert result["matches"][0]["id"] == "sales.magic_number"


@scenario
async def lookup_acv_returns_the_family(client: Client) -> None:
    result = await ok(client, "lookup_kpi", {"query": "ACV", "limit": 10})
    ids = {m["id"] for m in result["matches"]}
    assert {"sales.avg_contract_value", "customers.avg_contract_value", "sales.booked_acv"} <= ids
    assert result["family"] == "acv"
    assert result["exact"] is False
    # A card of a family member says what sets it apart (its variant label); a KPI of no family has no such line.
    for match in result["matches"]:
        member = CATALOG.kpis[match["id"]]
        if member.family is not None:
            assert match["distinguishing"] == member.variant_label
        else:
            assert "distinguishing" not in match
    assert ids >= ACV_FAMILY


@scenario
async def lookup_unknown_term_gives_suggestions(client: Client) -> None:
    error = await refused(client, "lookup_kpi", {"query": "zzqx flurb"})
    assert error["code"] == "not_found"
    assert error["field"] == "query"
    assert error["details"]["suggestions"]


@scenario
async def compute_new_logo_acv_from_new_business_and_new_customers(client: Client) -> None:
    # 1,240,000 of new-logo recurring contract value ÷ 20 new logos signed = 62,000 per new customer.
    value = await acv(client, 1_240_000, 20, "2026-Q3")
    assert Decimal(value["value"]) == Decimal("62000")
    assert value["binding"]["grain"] == {
        "level": "new_customer",
        "aggregation": "mean",
        "population": "new_logos_in_period",
    }
    assert value["period"] == {"start": "2026-07-01", "end": "2026-09-30"}
    assert "Q3 2026" in value["label"] and "$62,000" in value["label"]
    assert value["provenance"]["signature"]
    # Inputs are references: name, the raw input's own id, its value and label; not whole bound values.
    assert [(i["name"], i["kpi"], i["value"], i["status"]) for i in value["inputs"]] == [
        ("new_logo_contract_value", "sales.avg_contract_value#new_logo_contract_value", "1240000", "reported"),
        ("new_customers_signed", "sales.avg_contract_value#new_customers_signed", "20", "reported"),
    ]
    assert all(set(i) <= {"name", "kpi", "value", "label", "value_id", "status"} for i in value["inputs"])


@scenario
async def compute_cac_payback_with_period_totals(client: Client) -> None:
    # S&M 600,000 in the quarter; new ARR 1,200,000 → 100,000 per month; 75% gross margin
    # → 75,000 gross profit per month; 600,000 ÷ 75,000 = 8 months.
    value = await ok(
        client,
        "compute_kpi",
        {
            "kpi": "sales.cac_payback_period",
            "inputs": {"finance.total_sm": 600_000, "sales.new_business": 1_200_000, "sales.gross_margin": 75},
            "period": "2026-Q3",
            "currency": "USD",
        },
    )
    assert Decimal(value["value"]) == Decimal("8")
    assert value["unit"] == "months"


@scenario
async def compute_cac_payback_refuses_a_per_customer_cac(client: Client) -> None:
    # The older formula fed a per-new-customer CAC into a ratio that needs period totals.
    cac = {
        "kpi": "sales.cac",
        "value": 30_000,
        "currency": "USD",
        "period": {"start": "2026-07-01", "end": "2026-09-30"},
    }
    error = await refused(
        client,
        "compute_kpi",
        {
            "kpi": "sales.cac_payback_period",
            "inputs": {"finance.total_sm": cac, "sales.new_business": 1_200_000, "sales.gross_margin": 75},
            "period": "2026-Q3",
            "currency": "USD",
        },
    )
    assert error["code"] == "input_binding_mismatch"
    assert error["field"] == "inputs.finance.total_sm"
    assert "grain" in json.dumps(error["details"])


@scenario
async def compute_with_zero_new_customers_is_undefined_not_an_error(client: Client) -> None:
    value = await acv(client, 1_000_000, 0, "2026-Q3")
    assert value["value"] is None
    assert "zero" in value["undefined_reason"]


@scenario
async def compute_refuses_mixed_currencies(client: Client) -> None:
    eur = {"kpi": "finance.total_sm", "value": 600_000, "currency": "EUR"}
    error = await refused(
        client,
        "compute_kpi",
        {
            "kpi": "sales.cac_payback_period",
            "inputs": {"finance.total_sm": eur, "sales.new_business": 1_200_000, "sales.gross_margin": 75},
            "period": "2026-Q3",
            "currency": "USD",
        },
    )
    assert error["code"] == "currency_mismatch"


@scenario
async def compute_names_missing_inputs(client: Client) -> None:
    error = await refused(
        client,
        "compute_kpi",
        {"kpi": "sales.avg_contract_value", "inputs": {"new_logo_contract_value": 1}, "period": "2026-Q3"},
    )
    assert error["code"] == "missing_input"
    assert error["details"]["missing"] == ["new_customers_signed"]
    assert error["details"]["described"] == {
        "new_customers_signed": "Customers whose first contract was signed in the period."
    }


@scenario
async def acv_against_arr_is_refused_with_the_grain_named(client: Client) -> None:
    acv_q3 = await acv(client, 1_240_000, 20, "2026-Q3")
    arr = await ok(
        client,
        "compute_kpi",
        {"kpi": "sales.arr", "inputs": {"sales.arr": 10_000_000}, "as_of": "2026-09-30", "currency": "USD"},
    )
    assert arr["status"] == "reported"
    error = await refused(client, "compare_metrics", {"left": acv_q3, "right": arr})
    assert error["code"] == "unsafe_comparison"
    assert error["comparable"] is False
    axes = {m["axis"] for m in error["mismatches"]}
    assert {"grain.level", "grain.aggregation"} <= axes
    assert error["remedies"]
    assert not keys_anywhere(error) & {"difference", "ratio", "percent_change"}


@scenario
async def acv_q2_against_acv_q3_is_a_trend(client: Client) -> None:
    # Q2: 1,000,000 ÷ 20 = 50,000; Q3: 62,000. Change +12,000 = +24% of 50,000; higher is better.
    q2 = await acv(client, 1_000_000, 20, "2026-Q2")
    q3 = await acv(client, 1_240_000, 20, "2026-Q3")
    result = await ok(client, "compare_metrics", {"left": q3, "right": q2})
    assert result["comparable"] is True
    assert result["kind"] == "trend"
    assert Decimal(result["difference"]) == Decimal("12000")
    assert Decimal(result["percent_change"]) == Decimal("24")
    # 62,000 ÷ 50,000 = 1.24.
    assert Decimal(result["ratio"]) == Decimal("1.24")
    assert result["direction"] == "better"
    assert result["difference_text"] == "+$12,000"
    assert result["summary"] == f"{q3['label']} vs {q2['label']}: +$12,000, +24% relative; better"


@scenario
async def acv_against_its_benchmark_median(client: Client) -> None:
    # Since catalog 1.2.0 the KBCM ACV quartiles (25,000 / 62,000 / 100,000 USD) belong to the median_per_account
    # variant of blended ACV. A median account worth 50,000 of live ARR at the Q2 close is 12,000 below the median.
    median = await ok(
        client,
        "compute_kpi",
        {
            "kpi": "customers.avg_contract_value",
            "variant": "median_per_account",
            "inputs": {"median_account_arr": 50_000},
            "as_of": "2026-06-30",
            "currency": "USD",
        },
    )
    assert median["variant"] == "median_per_account"
    assert Decimal(median["value"]) == Decimal("50000")
    # 25,000 < 50,000 < 62,000: between p25 and the median.
    assert median["benchmark_position"]["band"] == "p25_to_median"
    result = await ok(client, "compare_metrics", {"left": median, "right": {"benchmark": "median"}})
    assert result["kind"] == "benchmark"
    assert Decimal(result["right"]["value"]) == Decimal("62000")
    assert Decimal(result["difference"]) == Decimal("-12000")
    assert result["difference_text"] == "-$12,000"
    # -12,000 ÷ 62,000 × 100 = -19.354…% → -19.35; 50,000 ÷ 62,000 = 0.806… → 0.81.
    assert Decimal(result["percent_change"]) == Decimal("-19.35")
    assert Decimal(result["ratio"]) == Decimal("0.81")
    assert result["direction"] == "worse"


@scenario
async def a_tampered_value_is_marked_asserted(client: Client) -> None:
    q2 = await acv(client, 1_000_000, 20, "2026-Q2")
    q3 = await acv(client, 1_240_000, 20, "2026-Q3")
    tampered = {**q3, "value": "99000"}
    result = await ok(client, "compare_metrics", {"left": tampered, "right": q2})
    assert result["left"]["status"] == "asserted"
    # "computed" is a side's default status, so it is left out of the JSON.
    assert "status" not in result["right"]
    assert result["notes"] == ["left value is asserted by the caller"]
    # Asserted 99,000 against 50,000: +49,000.
    assert Decimal(result["difference"]) == Decimal("49000")
    assert result["difference_text"] == "+$49,000"


@scenario
async def a_caller_cannot_declare_arr_per_account(client: Client) -> None:
    claim = {
        "kpi": "sales.arr",
        "value": 120_000,
        "currency": "USD",
        "as_of": "2026-09-30",
        "binding": {"grain": {"level": "account", "aggregation": "mean"}},
    }
    error = await refused(client, "compare_metrics", {"left": claim, "right": {"benchmark": "median"}})
    assert error["code"] == "invalid_binding_claim"


@scenario
async def bad_arguments_are_rejected_not_coerced(client: Client) -> None:
    as_string = await refused(client, "lookup_kpi", {"query": "ARR", "limit": "12"})
    assert (as_string["code"], as_string["field"]) == ("invalid_argument", "limit")
    extra = await refused(client, "lookup_kpi", {"query": "ARR", "colour": "red"})
    assert (extra["code"], extra["field"]) == ("invalid_argument", "colour")
    text_number = await refused(
        client,
        "compute_kpi",
        {"kpi": "sales.arr", "inputs": {"sales.arr": "abc"}, "as_of": "2026-09-30", "currency": "USD"},
    )
    assert text_number["code"] == "invalid_argument"
    assert text_number["field"].startswith("inputs")
    # The server is still healthy after the refusals.
    assert (await ok(client, "lookup_kpi", {"query": "ARR"}))["matches"]


@scenario
async def compare_accepts_an_alias_for_the_kpi(client: Client) -> None:
    # NDR is an alias of customers.net_revenue_retention, a trailing-12-month rate: each value's period is
    # its window. 110% for the 12 months to Sep 2026 against 105% a year earlier: +5 points, 5 ÷ 105 = +4.76%.
    left = {"kpi": "NDR", "value": 110, "period": {"start": "2025-10-01", "end": "2026-09-30"}}
    right = {
        "kpi": "customers.net_revenue_retention",
        "value": 105,
        "period": {"start": "2024-10-01", "end": "2025-09-30"},
    }
    result = await ok(client, "compare_metrics", {"left": left, "right": right})
    assert result["left"]["kpi"] == result["right"]["kpi"] == "customers.net_revenue_retention"
    assert result["kind"] == "trend"
    assert Decimal(result["difference"]) == Decimal("5")
    assert result["difference_text"] == "+5 percentage points"
    assert Decimal(result["percent_change"]) == Decimal("4.76")
    assert result["direction"] == "better"


@scenario
async def compare_refuses_an_ambiguous_alias_with_suggestions(client: Client) -> None:
    left = {"kpi": "ACV", "value": 62_000, "currency": "USD", "period": {"start": "2026-07-01", "end": "2026-09-30"}}
    error = await refused(client, "compare_metrics", {"left": left, "right": {"benchmark": "median"}})
    assert (error["code"], error["field"]) == ("not_found", "left.kpi")
    assert set(error["details"]["suggestions"]) == ACV_FAMILY


ACV_LOOKUP_BUDGET = 6_000
"""Characters of the answer to lookup_kpi("ACV"): every member of the family as a compact card."""


@scenario
async def the_acv_family_lookup_fits_its_budget(client: Client) -> None:
    result = await client.call_tool("lookup_kpi", {"query": "ACV"})
    is_error, payload = outcome(result)
    assert not is_error, payload
    # The default limit (5) holds all five members of the family.
    assert {m["id"] for m in payload["matches"]} == ACV_FAMILY
    [block] = result.content
    assert isinstance(block, TextContent)
    assert len(block.text) <= ACV_LOOKUP_BUDGET


@scenario
async def an_implausible_gross_margin_is_refused_and_a_percent_string_accepted(client: Client) -> None:
    # Gross margin is a percent on the 0–100 scale with a plausible range of 5 to 100: a bare 0.76 is
    # 0.76 %, almost surely a ratio meant as 76 %.
    arguments = {"kpi": "sales.gross_margin", "inputs": {"sales.gross_margin": 0.76}, "period": "2026-Q3"}
    error = await refused(client, "compute_kpi", arguments)
    assert (error["code"], error["field"]) == ("implausible_value", "inputs.sales.gross_margin")
    assert error["details"]["did_you_mean"] == "76"
    assert error["details"]["plausible"] == "5% to 100%"
    assert "0.76 would be read as 0.76%" in error["message"] and "Did you mean 76%?" in error["message"]
    value = await ok(client, "compute_kpi", {**arguments, "inputs": {"sales.gross_margin": "76%"}})
    assert Decimal(value["value"]) == Decimal("76")
    assert value["status"] == "reported"
    assert value["label"] == "Gross Margin — Gross Margin, as reported, Q3 2026: 76%"


@scenario
async def a_ratio_stated_as_such_is_converted_and_the_conversion_recorded(client: Client) -> None:
    # 0.76 stated as a ratio is read as 76 %. CAC payback: 1,200,000 ÷ 12 = 100,000 new ARR a month;
    # × 0.76 = 76,000 of gross profit a month; 600,000 ÷ 76,000 = 7.894… → 7.89 months.
    value = await ok(
        client,
        "compute_kpi",
        {
            "kpi": "sales.cac_payback_period",
            "inputs": {
                "finance.total_sm": 600_000,
                "sales.new_business": 1_200_000,
                "sales.gross_margin": {"value": 0.76, "unit": "ratio"},
            },
            "period": "2026-Q3",
            "currency": "USD",
        },
    )
    assert Decimal(value["value"]) == Decimal("7.89")
    assert value["warnings"] == ["input sales.gross_margin: given as 0.76 (ratio), read as 76%"]


@scenario
async def a_bad_nested_field_is_refused_naming_its_path(client: Client) -> None:
    unknown_key = await refused(client, "compute_kpi", {"kpi": "sales.arr", "basis": {"colour": "red"}})
    assert (unknown_key["code"], unknown_key["field"]) == ("invalid_argument", "basis.colour")
    bad_input = {"value": 120_000, "binding": {"grain": {"level": "planet"}}}
    in_inputs = await refused(
        client,
        "compute_kpi",
        {"kpi": "sales.arr", "inputs": {"sales.arr": bad_input}, "as_of": "2026-09-30", "currency": "USD"},
    )
    assert (in_inputs["code"], in_inputs["field"]) == ("invalid_argument", "inputs.sales.arr.binding.grain.level")
    left = {"kpi": "sales.arr", "value": 1, "currency": "USD", "as_of": "2026-09-30", "binding": {"grain": "company"}}
    in_left = await refused(client, "compare_metrics", {"left": left, "right": {"benchmark": "median"}})
    assert (in_left["code"], in_left["field"]) == ("invalid_argument", "left.binding.grain")


@scenario
async def over_long_text_arguments_are_refused_naming_the_field(client: Client) -> None:
    # Bounds: query 200 characters, kpi 100, variant 64, a string inside a bound value 1,000.
    query = await refused(client, "lookup_kpi", {"query": "magic number " * 4_700})  # 13 × 4,700 = 61,100
    assert (query["code"], query["field"]) == ("invalid_argument", "query")
    kpi = await refused(client, "compute_kpi", {"kpi": "k" * 101, "inputs": {}})
    assert (kpi["code"], kpi["field"]) == ("invalid_argument", "kpi")
    variant = await refused(client, "compute_kpi", {"kpi": "sales.arr", "variant": "v" * 65})
    assert (variant["code"], variant["field"]) == ("invalid_argument", "variant")
    left = {"kpi": "x" * 60_000, "value": 1, "currency": "USD", "as_of": "2026-09-30"}
    in_left = await refused(client, "compare_metrics", {"left": left, "right": {"benchmark": "median"}})
    assert (in_left["code"], in_left["field"]) == ("invalid_argument", "left.kpi")
    # At the bound itself a query is accepted: 200 characters that match nothing give suggestions, not a fault.
    at_bound = await refused(client, "lookup_kpi", {"query": "q" * 200})
    assert at_bound["code"] == "not_found"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_scenario_over_each_transport(name: str, connect: ClientFactory) -> None:
    async with connect() as client:
        await SCENARIOS[name](client)


async def test_a_60_kb_query_is_refused_within_a_second(catalog: Catalog) -> None:
    # Before the bound, ranking a 60 KB query took 10.9 s on the event loop.
    async with memory_client(catalog)() as client:
        started = time.perf_counter()
        error = await refused(client, "lookup_kpi", {"query": "magic number " * 4_700})
        elapsed = time.perf_counter() - started
    assert (error["code"], error["field"]) == ("invalid_argument", "query")
    assert "at most 200" in error["message"]
    assert elapsed < 1.0, elapsed


SLOW_SECONDS = 0.5
ACV_CLAIM = {
    "kpi": "sales.avg_contract_value",
    "value": 5_000,
    "currency": "USD",
    "period": {"start": "2026-07-01", "end": "2026-09-30"},
}


@pytest.mark.parametrize(
    ("domain_module", "domain_function", "tool", "arguments"),
    [
        (catalog_search, "lookup_kpi", "lookup_kpi", {"query": "magic number"}),
        (
            arithmetic,
            "compute_from_inputs",
            "compute_kpi",
            {
                "kpi": "sales.avg_contract_value",
                "inputs": {"new_logo_contract_value": 9_000, "new_customers_signed": 3},
                "period": "2026-Q3",
                "currency": "USD",
            },
        ),
        (comparing, "compare_metrics", "compare_metrics", {"left": ACV_CLAIM, "right": {"benchmark": "median"}}),
    ],
)
async def test_a_slow_domain_call_does_not_hold_up_another_clients_call(
    catalog: Catalog,
    monkeypatch: pytest.MonkeyPatch,
    domain_module: ModuleType,
    domain_function: str,
    tool: str,
    arguments: dict[str, Any],
) -> None:
    real = getattr(domain_module, domain_function)
    started = threading.Event()

    def slow_once(*args: Any, **kwargs: Any) -> Any:
        # Blocks its thread the way heavy ranking or arithmetic would; only the first call is slow.
        if not started.is_set():
            started.set()
            time.sleep(SLOW_SECONDS)
        return real(*args, **kwargs)

    monkeypatch.setattr(domain_module, domain_function, slow_once)
    server = build_server(ToolContext.create(catalog, secret=b"off-loop-tests"))
    finished: list[str] = []

    async def slow_client() -> None:
        async with Client(server) as client:
            await client.call_tool(tool, arguments)
        finished.append("slow")

    async def other_client() -> None:
        async with Client(server) as client:
            with anyio.fail_after(5):
                while not started.is_set():  # runs only while the event loop is free
                    await anyio.sleep(0.01)
            assert not (await client.call_tool("lookup_kpi", {"query": "ARR"})).is_error
        finished.append("other")

    async with anyio.create_task_group() as group:
        group.start_soon(slow_client)
        group.start_soon(other_client)
    # Had the slow call run on the event loop, the other client could not even have seen it start.
    assert finished == ["other", "slow"]
