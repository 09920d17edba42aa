"""Everything a tool call needs, built once per server: the catalog, its search index, the binder."""

from __future__ import annotations

from dataclasses import dataclass

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.search import SearchIndex
from kpi_context.tools.binder import Binder
from kpi_context.tools.signing import Signer


@dataclass(frozen=True)
class ToolContext:
    catalog: Catalog
    index: SearchIndex
    binder: Binder

    @classmethod
    def create(cls, catalog: Catalog, *, secret: bytes | None = None) -> ToolContext:
        return cls(catalog=catalog, index=SearchIndex(catalog), binder=Binder(catalog, Signer(secret)))
