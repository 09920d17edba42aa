"""The shape of tool results on the wire: a refusal's JSON travels as text only, never as structured content."""

from __future__ import annotations

import json
from typing import Any

from kpi_context.ontology.catalog import Catalog
from kpi_context.server.results import error_result, refusal, success
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, ErrorDetail, KpiError
from kpi_context.tools.lookup import lookup_kpi
from tests.server.conftest import memory_client
from tests.support.results import outcome


def on_the_wire(result: Any) -> dict[str, Any]:
    """The result as the server serialises it for a client."""
    sent: dict[str, Any] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return sent


def test_an_error_result_has_no_structured_content_and_its_text_is_the_error_json() -> None:
    detail = ErrorDetail(code=ErrorCode.NOT_FOUND, message="No KPI matches 'zzqx'.", field="query")
    sent = on_the_wire(error_result(detail))
    assert sent["isError"] is True
    assert "structuredContent" not in sent
    [block] = sent["content"]
    assert block["type"] == "text"
    payload = json.loads(block["text"])
    assert set(payload) == {"error"}
    assert payload["error"]["code"] == "not_found"
    assert payload["error"]["message"] == "No KPI matches 'zzqx'."
    assert payload["error"]["field"] == "query"
    # Compact JSON on one line: exactly what structured content carried before.
    assert block["text"] == json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def test_a_refusal_carries_the_errors_detail_as_text() -> None:
    error = KpiError(
        ErrorCode.MISSING_INPUT, "Needs new customers.", details={"missing": ["sales.new_customers_added"]}
    )
    result = refusal(error)
    assert result.is_error
    assert result.structured_content is None
    is_error, payload = outcome(result)
    assert is_error
    assert payload["error"]["code"] == "missing_input"
    assert payload["error"]["message"] == "Needs new customers."
    assert payload["error"]["details"] == {"missing": ["sales.new_customers_added"]}


def test_a_success_keeps_structured_content_and_the_same_json_as_text(catalog: Catalog) -> None:
    found = lookup_kpi(ToolContext.create(catalog, secret=b"k"), "sales.arr")
    sent = on_the_wire(success(found))
    assert sent.get("isError", False) is False
    assert sent["structuredContent"]["matches"][0]["id"] == "sales.arr"
    [block] = sent["content"]
    assert json.loads(block["text"]) == sent["structuredContent"]


async def test_the_official_client_receives_a_refusal_without_structured_content(catalog: Catalog) -> None:
    async with memory_client(catalog)() as client:
        result = await client.call_tool("compute_kpi", {"kpi": "sales.zzqx_not_a_kpi"})
    assert result.is_error
    assert result.structured_content is None
    is_error, payload = outcome(result)
    assert is_error
    assert (payload["error"]["code"], payload["error"]["field"]) == ("not_found", "kpi")
