"""The loaded catalog: definitions by id, manifest, and the content hash every response cites."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from kpi_context.ontology.issues import LoadIssue
from kpi_context.ontology.model import CatalogManifest, KpiDefinition

CATALOG_ROOT = Path(__file__).resolve().parent
"""The bundled catalog: `catalog.json` and `kpis/<domain>/<slug>.json` beside this module."""


@dataclass(frozen=True)
class Catalog:
    """A catalog that passed every error-level rule; advisory findings stay in `warnings`.

    Build it with `kpi_context.ontology.loader.load_catalog`, which validates before it constructs.
    """

    manifest: CatalogManifest
    kpis: Mapping[str, KpiDefinition]
    content_hash: str
    warnings: tuple[LoadIssue, ...] = ()

    @property
    def version(self) -> str:
        return self.manifest.version

    def get(self, kpi_id: str) -> KpiDefinition | None:
        return self.kpis.get(kpi_id)

    def __iter__(self) -> Iterator[KpiDefinition]:
        return iter(self.kpis.values())

    def __len__(self) -> int:
        return len(self.kpis)


def canonical_json(data: object) -> bytes:
    """Key-sorted, whitespace-free UTF-8 JSON: the form the content hash is taken over."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_hash(manifest: Mapping[str, object], documents: Mapping[str, object]) -> str:
    """sha256 over the manifest and every definition, in id order."""
    digest = hashlib.sha256()
    digest.update(canonical_json(manifest))
    for kpi_id in sorted(documents):
        digest.update(canonical_json(documents[kpi_id]))
    return "sha256:" + digest.hexdigest()
