"""The catalog resources and the board-metric review prompt, read through the official in-memory client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import TextContent, TextResourceContents

from kpi_context.ontology.catalog import CATALOG_ROOT, Catalog
from kpi_context.ontology.ledger_options import LEDGER_KPI_OPTIONS, OptionKey
from kpi_context.server.app import build_server
from kpi_context.tools.context import ToolContext


@pytest.fixture
def client(catalog: Catalog) -> Client:
    return Client(build_server(ToolContext.create(catalog, secret=b"resources-tests")))


async def read_json(client: Client, uri: str) -> Any:
    async with client:
        result = await client.read_resource(uri)
    assert len(result.contents) == 1
    content = result.contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == "application/json"
    return json.loads(content.text)


async def test_the_catalog_index_has_version_hash_and_every_kpi(client: Client, catalog: Catalog) -> None:
    index = await read_json(client, "kpi://catalog")
    assert index["version"] == catalog.version == catalog.manifest.version
    assert index["content_hash"] == catalog.content_hash
    assert index["content_hash"].startswith("sha256:")
    # Every KPI is one definition file, kpis/<domain>/<slug>.json, under the catalog root; the index must list
    # each file's id exactly once. Read from the files themselves, not from the loaded catalog, so a definition
    # the loader dropped would show. (At catalog 1.2.0 that is 195: the 175 of 1.1.0, minus the 3 merged into
    # another KPI, plus the 23 the changelog lists.)
    defined = [json.loads(path.read_text(encoding="utf-8"))["id"] for path in CATALOG_ROOT.glob("kpis/*/*.json")]
    listed = [k["id"] for k in index["kpis"]]
    assert len(listed) == len(set(listed)) == len(defined)
    assert set(listed) == set(defined)
    assert {"finance.burn_multiple", "finance.ebitda_margin", "finance.free_cash_flow"} <= set(listed)


async def test_each_catalog_entry_points_at_its_definition_uri(client: Client) -> None:
    index = await read_json(client, "kpi://catalog")
    arr = next(k for k in index["kpis"] if k["id"] == "sales.arr")
    assert arr == {
        "id": "sales.arr",
        "label": "ARR",
        "domain": "sales",
        "family": "arr",
        "field_type": "currency",
        "production": "primary",
        "uri": "kpi://sales/arr",
    }
    assert all(k["uri"] == "kpi://" + k["id"].replace(".", "/", 1) for k in index["kpis"])


async def test_one_definition_is_read_by_its_uri_with_the_catalog_it_came_from(
    client: Client, catalog: Catalog
) -> None:
    definition = await read_json(client, "kpi://sales/arr")
    assert definition["id"] == "sales.arr"
    assert definition["binding"]["grain"] == {"level": "company", "aggregation": "total", "population": "all_active"}
    assert definition["binding"]["time_basis"] == {"kind": "point_in_time"}
    assert definition["catalog"] == {"version": catalog.version, "content_hash": catalog.content_hash}


async def test_an_unknown_definition_is_an_error_naming_it(client: Client) -> None:
    async with client:
        with pytest.raises(MCPError, match=r"sales\.nope"):
            await client.read_resource("kpi://sales/nope")


async def test_the_definition_template_is_listed(client: Client) -> None:
    async with client:
        templates = await client.list_resource_templates()
        resources = await client.list_resources()
    assert [t.uri_template for t in templates.resource_templates] == ["kpi://{domain}/{slug}"]
    assert sorted(str(r.uri) for r in resources.resources) == ["kpi://catalog", "kpi://ledger-format"]


REQUIRED_LEDGER_COLUMNS = [
    "contract_id",
    "account_id",
    "charge_type",
    "amount",
    "amount_period",
    "start_date",
    "end_date",
    "signed_date",
    "currency",
    "change_type",
]


async def test_the_ledger_format_lists_the_required_columns_and_describes_every_column(client: Client) -> None:
    layout = await read_json(client, "kpi://ledger-format")
    assert layout["required"] == REQUIRED_LEDGER_COLUMNS
    # Every required column is described, and so are the optional ones the validator reads.
    assert set(REQUIRED_LEDGER_COLUMNS) <= set(layout["columns"])
    assert {"line_id", "product", "list_amount", "go_live_date"} <= set(layout["columns"])
    assert layout["columns"]["change_type"] == "new · renewal · expansion · contraction · cancellation"


async def test_the_ledger_format_lists_each_ledger_kpis_basis_option_keys(client: Client) -> None:
    layout = await read_json(client, "kpi://ledger-format")
    assert set(layout["kpis"]) == set(LEDGER_KPI_OPTIONS)
    for kpi, spec in LEDGER_KPI_OPTIONS.items():
        assert layout["kpis"][kpi] == [key.value for key in OptionKey if key in spec.keys], kpi
    money = ["recurring_inclusion", "annualization", "short_terms", "day_count", "discounts", "live_basis", "co_term"]
    # ARR-like values also take churn timing; GRR adds its cap; counts of customers take no money options;
    # new-logo ACV is a signed flow, so it has no cancellation timing.
    assert layout["kpis"]["sales.arr"] == [*money, "churn_timing"]
    assert layout["kpis"]["customers.gross_revenue_retention"] == [*money, "churn_timing", "grr_cap"]
    assert layout["kpis"]["customers.total_customers"] == ["recurring_inclusion", "live_basis", "churn_timing"]
    assert layout["kpis"]["sales.avg_contract_value"] == money


async def prompt_text(client: Client, arguments: dict[str, str]) -> str:
    async with client:
        prompt = await client.get_prompt("board_metric_review", arguments)
    assert len(prompt.messages) == 1
    content = prompt.messages[0].content
    assert isinstance(content, TextContent)
    return content.text


async def test_the_review_prompt_requires_compare_metrics_and_quoting_labels(client: Client, catalog: Catalog) -> None:
    text = await prompt_text(client, {})
    assert "compare_metrics" in text
    assert "unsafe_comparison" in text
    assert "`label` verbatim" in text
    assert "must_pair_with" in text
    assert catalog.version in text and catalog.content_hash in text


async def test_the_review_prompt_carries_the_requested_focus(client: Client) -> None:
    text = await prompt_text(client, {"focus": "retention for the Q3 board"})
    assert "Focus: retention for the Q3 board" in text


async def test_the_profile_resource_is_listed_only_with_a_profile_and_gives_it_compactly(catalog: Catalog) -> None:
    from kpi_context.ontology.profile_loader import load_profile
    from tests.support.profiles import EXAMPLE

    loaded = load_profile(EXAMPLE, catalog)
    server = build_server(ToolContext.create(catalog, secret=b"resources-tests", profile=loaded))
    async with Client(server) as governed:
        listed = sorted(str(r.uri) for r in (await governed.list_resources()).resources)
    assert listed == ["kpi://catalog", "kpi://ledger-format", "kpi://profile"]
    profile = await read_json(Client(server), "kpi://profile")
    assert profile["organisation"] == {"id": "acme", "name": "Acme"}
    assert profile["content_hash"] == loaded.content_hash
    assert profile["fiscal_year"]["start_month"] == 2
    assert [lock["kpi"] for lock in profile["locks"]] == [
        "sales.avg_contract_value",
        "customers.net_revenue_retention",
        "customers.gross_revenue_retention",
    ]
    assert len(json.dumps(profile)) < 3_000  # compact: a model reads it whole
