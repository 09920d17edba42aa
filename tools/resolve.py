"""Finding the KPI a caller means, or refusing with suggestions instead of guessing."""

from __future__ import annotations

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.model import KpiDefinition, normalize_term
from kpi_context.ontology.search import SearchIndex
from kpi_context.tools.errors import ErrorCode, KpiError


def resolve_kpi(catalog: Catalog, index: SearchIndex, reference: str, *, field: str) -> KpiDefinition:
    """By id first; else a unique match on slug, label or alias; else NOT_FOUND with ranked suggestions."""
    found = catalog.get(reference) or index.resolve(reference)
    if found is not None:
        return found
    hits = index.search(reference, limit=5).hits if normalize_term(reference) else ()
    suggestions = [hit.kpi_id for hit in hits]
    raise KpiError(
        ErrorCode.NOT_FOUND,
        f"no single KPI is called {reference!r}; did you mean one of {suggestions}? Use the exact id.",
        field=field,
        details={"suggestions": suggestions},
    )
