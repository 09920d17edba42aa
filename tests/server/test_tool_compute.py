"""compute_kpi's segment cuts through the official client: groups, filters, and what they may be compared with."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kpi_context.ontology.catalog import Catalog
from tests.support.results import outcome
from tests.support.servers import memory_client

ARR = {"kpi": "sales.arr", "ledger": "sample", "as_of": "2026-09-30"}


async def _calls(catalog: Catalog, *calls: tuple[str, dict[str, Any]]) -> list[tuple[bool, dict[str, Any]]]:
    async with memory_client(catalog)() as client:
        return [outcome(await client.call_tool(tool, arguments)) for tool, arguments in calls]


async def test_arr_by_segment_returns_each_member_as_a_bound_value_adding_up_to_the_total(catalog: Catalog) -> None:
    [(is_error, value)] = await _calls(catalog, ("compute_kpi", {**ARR, "group_by": "segment"}))
    assert not is_error, value
    groups = value["groups"]
    assert [g["binding"]["grain"]["segment"]["member"] for g in groups] == ["enterprise", "mid_market", "smb"]
    assert all(g["binding"]["grain"]["level"] == "segment" for g in groups)
    assert sum(Decimal(g["value"]) for g in groups) == Decimal(value["value"])


async def test_a_filtered_value_equals_its_group_and_is_refused_against_the_total(catalog: Catalog) -> None:
    [(_, cut), (_, enterprise), (_, total)] = await _calls(
        catalog,
        ("compute_kpi", {**ARR, "group_by": "segment"}),
        ("compute_kpi", {**ARR, "where": {"segment": "enterprise"}}),
        ("compute_kpi", ARR),
    )
    assert enterprise["value"] == cut["groups"][0]["value"]
    [(is_error, refusal)] = await _calls(catalog, ("compare_metrics", {"left": enterprise, "right": total}))
    assert is_error and "grain.segment" in {m["axis"] for m in refusal["error"]["mismatches"]}


async def test_one_group_passed_back_alone_keeps_its_signature(catalog: Catalog) -> None:
    [(_, cut)] = await _calls(catalog, ("compute_kpi", {**ARR, "group_by": "segment"}))
    [(is_error, same)] = await _calls(
        catalog, ("compare_metrics", {"left": cut["groups"][0], "right": cut["groups"][0]})
    )
    # Compared with itself: a governed zero difference between two computed (not asserted) values.
    assert not is_error and same["difference"] == "0" and "notes" not in same


async def test_group_by_without_a_ledger_is_refused_naming_it(catalog: Catalog) -> None:
    [(is_error, payload)] = await _calls(
        catalog, ("compute_kpi", {"kpi": "sales.arr", "inputs": {"sales.arr": 1}, "group_by": "segment"})
    )
    assert is_error and payload["error"]["field"] == "group_by"


async def test_an_unknown_dimension_is_refused_listing_the_known_ones(catalog: Catalog) -> None:
    [(is_error, payload)] = await _calls(catalog, ("compute_kpi", {**ARR, "group_by": "colour"}))
    assert is_error and payload["error"]["code"] == "invalid_argument" and "segment" in payload["error"]["message"]
