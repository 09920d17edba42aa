"""kpi_series through the official client: in memory, and over stdio and HTTP for the compact 12-month series."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

from mcp.types import ImageContent, TextContent

from kpi_context.ontology.catalog import Catalog
from tests.support.results import call
from tests.support.servers import ClientFactory, memory_client

ARR_YEAR = {"kpi": "sales.arr", "ledger": "sample", "start": "2025-10", "end": "2026-09"}


async def test_a_twelve_month_arr_series_fits_in_6000_characters(any_transport: ClientFactory) -> None:
    is_error, series, size = await call(any_transport, "kpi_series", ARR_YEAR)
    assert not is_error, series
    assert len(series["points"]) == 12 and size <= 6_000, size
    # Shared rules are stated once, not per point.
    assert all(set(point) <= {"period", "value", "label", "change", "groups", "value_id"} for point in series["points"])
    assert series["points"][0]["period"] == "Oct 2025" and series["points"][-1]["period"] == "Sep 2026"


async def test_each_point_equals_compute_kpi_for_its_period(catalog: Catalog) -> None:
    connect = memory_client(catalog)
    _, series, _ = await call(
        connect, "kpi_series", {**ARR_YEAR, "start": "2026-Q1", "end": "2026-Q3", "every": "quarter"}
    )
    # A balance for a period is read at its close: compute_kpi with the same period gives the same value.
    for point, quarter in zip(series["points"], ("2026-Q1", "2026-Q2", "2026-Q3"), strict=True):
        _, single, _ = await call(connect, "compute_kpi", {"kpi": "sales.arr", "ledger": "sample", "period": quarter})
        assert (point["value"], point["value_id"]) == (single["value"], single["provenance"]["value_id"])


async def test_each_change_is_the_difference_from_the_previous_point(catalog: Catalog) -> None:
    _, series, _ = await call(memory_client(catalog), "kpi_series", ARR_YEAR)
    for before, after in zip(series["points"], series["points"][1:], strict=False):
        difference = Decimal(after["value"]) - Decimal(before["value"])
        # "+$90,735 (+0.90%)" states the difference in dollars: the same number, written with its unit.
        shown = after["change"]["text"].split(" ")[0].replace("$", "").replace(",", "")
        assert Decimal(shown) == difference
        assert after["change"]["direction"] == (
            "better" if difference > 0 else "worse" if difference < 0 else "unchanged"
        )


async def test_a_percent_kpi_series_moves_in_percentage_points(catalog: Catalog) -> None:
    _, series, _ = await call(
        memory_client(catalog),
        "kpi_series",
        {
            "kpi": "customers.net_revenue_retention",
            "ledger": "sample",
            "start": "2026-Q2",
            "end": "2026-Q3",
            "every": "quarter",
        },
    )
    q2, q3 = (Decimal(point["value"]) for point in series["points"])
    assert series["points"][1]["change"]["text"] == f"{q3 - q2:+} percentage points".replace("+-", "-")


async def test_segment_groups_add_up_to_every_point(catalog: Catalog) -> None:
    _, series, _ = await call(memory_client(catalog), "kpi_series", {**ARR_YEAR, "group_by": "segment"})
    for point in series["points"]:
        assert sum(Decimal(value) for value in point["groups"].values()) == Decimal(point["value"])
    assert set(series["points"][-1]["groups"]) == {"enterprise", "mid_market", "smb"}


async def test_more_than_sixty_points_are_refused_with_the_limit(catalog: Catalog) -> None:
    is_error, payload, _ = await call(memory_client(catalog), "kpi_series", {**ARR_YEAR, "start": "2020-01"})
    assert is_error and payload["error"]["code"] == "out_of_range" and payload["error"]["field"] == "end"


async def test_options_are_checked_as_strictly_as_compute_kpis(catalog: Catalog) -> None:
    is_error, payload, _ = await call(
        memory_client(catalog), "kpi_series", {**ARR_YEAR, "basis": {"day_count": "lunar"}}
    )
    assert is_error and payload["error"]["code"] == "invalid_argument"
    assert payload["error"]["field"] == "basis.day_count"


async def test_a_series_chart_comes_as_a_png_beside_the_same_structured_series(catalog: Catalog) -> None:
    async with memory_client(catalog)() as client:
        result = await client.call_tool("kpi_series", {**ARR_YEAR, "chart": True})
    assert not result.is_error
    text, image = result.content
    assert isinstance(text, TextContent) and isinstance(image, ImageContent) and image.mime_type == "image/png"
    assert json.loads(text.text) == result.structured_content
    png = base64.b64decode(image.data)
    # PNG signature, then the IHDR chunk's width and height (big-endian) at bytes 16–24.
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (1200, 675)
