"""Everything a tool call needs, built once per server: the catalog, its search index, the binder."""

from __future__ import annotations

from dataclasses import dataclass

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.ledger_options import LEDGER_KPI_OPTIONS
from kpi_context.ontology.search import SearchIndex
from kpi_context.tools.binder import Binder
from kpi_context.tools.signing import Signer


@dataclass(frozen=True)
class ToolContext:
    catalog: Catalog
    index: SearchIndex
    binder: Binder
    ledger_kpis: frozenset[str] = frozenset(LEDGER_KPI_OPTIONS)
    """KPIs a contract ledger computes (cards say so)."""
    trace_ids: int = 0
    """Account ids a ledger trace may list (0–5); customer identifiers leave the server only if the operator opts in."""

    @classmethod
    def create(cls, catalog: Catalog, *, secret: bytes | None = None, trace_ids: int = 0) -> ToolContext:
        return cls(
            catalog=catalog, index=SearchIndex(catalog), binder=Binder(catalog, Signer(secret)), trace_ids=trace_ids
        )
