"""Governance profiles for tests: the bundled example, and small profiles written to a temporary directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.profile_loader import LoadedProfile, load_profile
from kpi_context.tools.context import ToolContext

EXAMPLE = Path(__file__).resolve().parents[2] / "profiles" / "example.json"
SECRET = b"profile-tests"


def example_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return document


def minimal_document(**fields: Any) -> dict[str, Any]:
    """A valid profile for organisation 'globex' on catalog 1.3.0, January fiscal year, no locks; override any field."""
    document: dict[str, Any] = {
        "organisation": {"id": "globex", "name": "Globex"},
        "catalog_version": "1.3.0",
        "reporting_currency": "USD",
    }
    document.update(fields)
    return document


def write(directory: Path, document: dict[str, Any], name: str = "profile.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def loaded(directory: Path, document: dict[str, Any], catalog: Catalog, name: str = "profile.json") -> LoadedProfile:
    return load_profile(write(directory, document, name), catalog)


def context(catalog: Catalog, profile: LoadedProfile | None) -> ToolContext:
    """A tool context under `profile` (or none), all signing with one secret so values cross between them."""
    return ToolContext.create(catalog, secret=SECRET, profile=profile)
