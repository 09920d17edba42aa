"""board_pack through the official client: the default Q3 2026 pack on the sample ledger with typical finance figures."""

from __future__ import annotations

import base64
from decimal import Decimal

from mcp.types import ImageContent

from kpi_context.ontology.catalog import Catalog
from tests.support.results import call, outcome
from tests.support.servers import ClientFactory, memory_client

FINANCE = {
    # S&M for the quarter and the quarter before (the magic number reads the prior quarter's).
    "finance.total_sm": [1_450_000, {"value": 1_300_000, "period": "2026-Q2"}],
    "sales.gross_margin": 76,
    "finance.net_burn_rate": 350_000,
    "finance.operationally_available_cash": 18_000_000,
    "finance.fcf_margin": 12,
}
PACK = {"period": "2026-Q3", "ledger": "sample", "currency": "USD", "inputs": FINANCE}


async def test_the_default_pack_fits_in_15000_characters_and_computes_every_kpi(any_transport: ClientFactory) -> None:
    is_error, pack, size = await call(any_transport, "board_pack", PACK)
    assert not is_error, pack
    assert size <= 15_000, size
    assert "not_computable" not in pack and "refused" not in pack, pack
    kpis = [item["kpi"] for item in pack["items"]]
    assert kpis[:3] == ["sales.arr", "sales.arr_growth_qoq", "sales.growth_rate_yoy"]
    assert {"sales.cac_payback_period", "sales.magic_number", "finance.burn_multiple"} <= set(kpis)
    assert {"operations.rule_of_40", "finance.runway_months"} <= set(kpis)


async def test_pack_values_equal_compute_kpi_and_the_bridge_adds_up(catalog: Catalog) -> None:
    connect = memory_client(catalog)
    _, pack, _ = await call(connect, "board_pack", PACK)
    items = {item["kpi"]: item for item in pack["items"]}
    async with connect() as client:
        for kpi in ("sales.arr", "customers.net_revenue_retention", "sales.avg_contract_value"):
            _, single = outcome(
                await client.call_tool("compute_kpi", {"kpi": kpi, "ledger": "sample", "period": "2026-Q3"})
            )
            assert (items[kpi]["value"], items[kpi]["value_id"]) == (single["value"], single["provenance"]["value_id"])
    lines = [Decimal(line["amount"]) for line in pack["bridge"]["lines"]]
    assert sum(lines) == Decimal(pack["bridge"]["closing"]) == Decimal(items["sales.arr"]["value"])
    # Runway is cash over monthly net burn: 18,000,000 ÷ 350,000 = 51.43 months.
    assert Decimal(items["finance.runway_months"]["value"]) == Decimal("51.43")


async def test_missing_finance_figures_are_listed_not_guessed(catalog: Catalog) -> None:
    _, pack, _ = await call(
        memory_client(catalog), "board_pack", {**PACK, "inputs": {"finance.net_burn_rate": 350_000}}
    )
    missing = {entry["kpi"]: entry["missing"] for entry in pack["not_computable"]}
    assert "finance.runway_months" in missing and "finance.burn_multiple" not in missing
    assert any("finance.operationally_available_cash" in text for text in missing["finance.runway_months"])
    assert not any(item["kpi"] in missing for item in pack["items"])


async def test_a_fraction_typed_for_a_percent_is_refused_in_the_pack(catalog: Catalog) -> None:
    _, pack, _ = await call(
        memory_client(catalog), "board_pack", {**PACK, "inputs": {**FINANCE, "sales.gross_margin": 0.76}}
    )
    assert {"kpi": "sales.cac_payback_period", "code": "implausible_value"}.items() <= pack["refused"][0].items()


async def test_a_misspelt_finance_key_is_refused_naming_it(catalog: Catalog) -> None:
    is_error, payload, _ = await call(memory_client(catalog), "board_pack", {**PACK, "inputs": {"finance.total_sn": 1}})
    assert is_error and payload["error"]["code"] == "unknown_input"
    assert payload["error"]["field"] == "inputs.finance.total_sn"


async def test_the_pack_chart_is_the_bridge_as_a_png(catalog: Catalog) -> None:
    async with memory_client(catalog)() as client:
        result = await client.call_tool("board_pack", {**PACK, "chart": True})
    assert not result.is_error
    image = result.content[-1]
    assert isinstance(image, ImageContent) and base64.b64decode(image.data)[:8] == b"\x89PNG\r\n\x1a\n"
