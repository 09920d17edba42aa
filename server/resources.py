"""Read-only resources (the catalog index, one definition) and the board-metric review prompt."""

from __future__ import annotations

import json
import logging
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.profile_loader import LoadedProfile, profile_summary
from kpi_context.tools.ledger.format import ledger_format

CATALOG_URI = "kpi://catalog"
LEDGER_FORMAT_URI = "kpi://ledger-format"
PROFILE_URI = "kpi://profile"

DEFINITION_URI = "kpi://{domain}/{slug}"

logger = logging.getLogger("kpi_context.prompts")


def catalog_index(catalog: Catalog) -> dict[str, Any]:
    """What a client needs to browse: version, hash, and one line per KPI."""
    return {
        "name": catalog.manifest.name,
        "version": catalog.version,
        "released_at": catalog.manifest.released_at.isoformat(),
        "content_hash": catalog.content_hash,
        "kpis": [
            {
                "id": kpi.id,
                "label": kpi.label,
                "domain": kpi.domain.value,
                "family": kpi.family,
                "field_type": kpi.field_type.value,
                "production": kpi.production.value,
                "uri": f"kpi://{kpi.domain.value}/{kpi.slug}",
            }
            for kpi in catalog
        ],
    }


REVIEW_PROMPT = """You are preparing board metrics from the governed KPI catalog (version {version}, {content_hash}).
Focus: {focus}

Work this way:
1. Before using any metric, call lookup_kpi and read its binding, variants, pitfalls and must_pair_with.
2. Get every number from compute_kpi (or from values the user gives, passed through compute_kpi so they
   are bound). Quote each value's `label` verbatim; do not restate a number without its label.
3. Present each KPI next to the KPIs its definition says it must be paired with.
4. Compare numbers only with compare_metrics. If it answers unsafe_comparison, do not compare them in
   prose either: explain the mismatch it names and use one of its remedies.
5. Where a value is marked asserted or carries warnings, say so.
"""


def register_resources(server: MCPServer[Any], catalog: Catalog, profile: LoadedProfile | None = None) -> None:
    if profile is not None:
        _register_profile(server, profile)

    @server.resource(
        CATALOG_URI,
        name="catalog",
        title="KPI catalog index",
        description="Every governed KPI with its id, label, domain and definition URI, plus the catalog version and hash.",
        mime_type="application/json",
    )
    def catalog_resource() -> str:
        return json.dumps(catalog_index(catalog), ensure_ascii=False)

    @server.resource(
        LEDGER_FORMAT_URI,
        name="ledger_format",
        title="Contract ledger format",
        description="Columns and row rules of a contract ledger for compute_kpi(ledger=…), and each ledger KPI's "
        "basis option keys.",
        mime_type="application/json",
    )
    def ledger_format_resource() -> str:
        return json.dumps(ledger_format(), ensure_ascii=False)

    @server.resource(
        DEFINITION_URI,
        name="kpi_definition",
        title="KPI definition",
        description="One governed KPI definition: binding, variants, formula, benchmark, governance.",
        mime_type="application/json",
    )
    def definition_resource(domain: str, slug: str) -> str:
        kpi = catalog.get(f"{domain}.{slug}")
        if kpi is None:
            raise ResourceError(f"no KPI {domain}.{slug} in catalog {catalog.version}")
        document = kpi.model_dump(mode="json", exclude_none=True)
        document["catalog"] = {"version": catalog.version, "content_hash": catalog.content_hash}
        return json.dumps(document, ensure_ascii=False)

    @server.prompt(
        name="board_metric_review",
        title="Board metric review",
        description="Instructions for drafting board metrics with governed labels, required pairings and safe comparisons.",
    )
    def board_metric_review(focus: str = "the quarter's core SaaS metrics") -> str:
        return REVIEW_PROMPT.format(version=catalog.version, content_hash=catalog.content_hash, focus=focus)

    _answer_prompt_errors_in_one_line(server)


def _register_profile(server: MCPServer[Any], profile: LoadedProfile) -> None:
    """`kpi://profile`, listed only when the server runs with a profile (without one, calls choose freely)."""

    @server.resource(
        PROFILE_URI,
        name="profile",
        title="Governance profile",
        description="The organisation's locked decisions (applied by default), fiscal calendar, reporting currency, "
        "benchmarks and own definitions.",
        mime_type="application/json",
    )
    def profile_resource() -> str:
        return json.dumps(profile_summary(profile), ensure_ascii=False)


def _answer_prompt_errors_in_one_line(server: MCPServer[Any]) -> None:
    """An unknown prompt name, or arguments a prompt cannot take, is the caller's mistake: answer it with an
    INVALID_PARAMS error and log one line with its code, instead of the SDK's traceback for every such call."""
    render = server.get_prompt
    known = {prompt.name for prompt in server._prompt_manager.list_prompts()}

    async def get_prompt(name: str, arguments: dict[str, Any] | None = None, context: Any = None) -> Any:
        if name not in known:
            shown = name[:80]
            logger.warning("prompts/get refused: code=not_found name=%r (known: %s)", shown, ", ".join(sorted(known)))
            raise MCPError(INVALID_PARAMS, f"not_found: no prompt named {shown!r}; prompts: {sorted(known)}")
        try:
            return await render(name, arguments, context)
        except ValueError as exc:
            message = " ".join(str(exc).split())[:200]
            logger.warning("prompts/get refused: code=invalid_argument name=%r: %s", name, message)
            raise MCPError(INVALID_PARAMS, f"invalid_argument: {message}") from None

    server.get_prompt = get_prompt  # type: ignore[method-assign]
