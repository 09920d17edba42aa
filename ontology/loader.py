"""Loads the catalog in three stages: JSON Schema, pydantic parse, semantic rules.

Each stage reports every finding it can instead of stopping at the first, so one run of
`kpi-context ontology validate` shows an author all that is wrong. A file that fails an
earlier stage is not judged by later ones; its id is still known, so references to it are
not reported twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kpi_context.ontology.catalog import CATALOG_ROOT, Catalog, content_hash
from kpi_context.ontology.issues import CatalogError, LoadIssue, Severity, errors_in, json_pointer, warnings_in
from kpi_context.ontology.model import CatalogManifest, KpiDefinition
from kpi_context.ontology.rules import RULES
from kpi_context.ontology.rules.base import Entry, RuleContext
from kpi_context.ontology.schema import CATALOG_SCHEMA, KPI_SCHEMA, SchemaSpec, validator_for

M = TypeVar("M", bound=BaseModel)

MANIFEST_FILE = "catalog.json"
KPI_GLOB = "kpis/*/*.json"


@dataclass(frozen=True)
class LoadReport:
    """What a load found: the catalog when no error was found, and every issue either way."""

    catalog: Catalog | None
    issues: tuple[LoadIssue, ...]
    files_read: int
    seconds: float

    @property
    def errors(self) -> list[LoadIssue]:
        return errors_in(self.issues)

    @property
    def warnings(self) -> list[LoadIssue]:
        return warnings_in(self.issues)


@dataclass(frozen=True)
class _Document:
    path: str
    data: Any


def _issue(rule: str, file: str, where: tuple[str | int, ...], message: str) -> LoadIssue:
    return LoadIssue(rule=rule, severity=Severity.ERROR, file=file, pointer=json_pointer(where), message=message)


def _read(root: Path, path: Path, issues: list[LoadIssue]) -> _Document | None:
    relative = path.relative_to(root).as_posix()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        issues.append(_issue("read", relative, (), f"cannot read the file: {exc}"))
        return None
    try:
        return _Document(relative, json.loads(text))
    except json.JSONDecodeError as exc:
        issues.append(
            _issue("json", relative, (), f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")
        )
        return None


def _parse(document: _Document, spec: SchemaSpec, model: type[M], issues: list[LoadIssue]) -> M | None:
    """Stages one and two for one document."""
    violations = validator_for(spec).violations(document.data)
    if violations:
        issues.extend(_issue("schema", document.path, v.path, v.message) for v in violations)
        return None
    try:
        return model.model_validate(document.data)
    except ValidationError as exc:
        for error in exc.errors():
            where = tuple(part for part in error["loc"] if isinstance(part, (str, int)))
            issues.append(_issue("model", document.path, where, error["msg"]))
        return None


def check_catalog(root: Path = CATALOG_ROOT) -> LoadReport:
    """Load and judge the catalog under `root` without raising; see `load_catalog`."""
    started = time.perf_counter()
    issues: list[LoadIssue] = []
    manifest_doc = None
    if (root / MANIFEST_FILE).is_file():
        manifest_doc = _read(root, root / MANIFEST_FILE, issues)
    else:
        issues.append(_issue("read", MANIFEST_FILE, (), "the catalog manifest is missing"))
    manifest = None if manifest_doc is None else _parse(manifest_doc, CATALOG_SCHEMA, CatalogManifest, issues)

    paths = sorted(root.glob(KPI_GLOB))
    entries: list[Entry] = []
    documents: dict[str, Any] = {}
    unparsed: set[str] = set()
    for path in paths:
        document = _read(root, path, issues)
        if document is None:
            continue
        definition = _parse(document, KPI_SCHEMA, KpiDefinition, issues)
        if definition is None:
            raw_id = document.data.get("id") if isinstance(document.data, dict) else None
            if isinstance(raw_id, str):
                unparsed.add(raw_id)
            continue
        entries.append(Entry(document.path, definition))
        documents.setdefault(definition.id, document.data)
    if not paths:
        issues.append(_issue("read", "kpis", (), "the catalog holds no KPI definitions"))

    context = RuleContext(tuple(entries), frozenset(unparsed))
    for rule in RULES:
        issues.extend(rule.check(context))
    issues.sort(key=lambda issue: issue.sort_key)

    catalog = None
    if manifest is not None and manifest_doc is not None and not errors_in(issues):
        kpis: Mapping[str, KpiDefinition] = {e.definition.id: e.definition for e in sorted(entries, key=_by_id)}
        catalog = Catalog(
            manifest=manifest,
            kpis=kpis,
            content_hash=content_hash(manifest_doc.data, documents),
            warnings=tuple(warnings_in(issues)),
        )
    files = len(paths) + (1 if manifest_doc is not None else 0)
    return LoadReport(catalog, tuple(issues), files, time.perf_counter() - started)


def _by_id(entry: Entry) -> str:
    return entry.definition.id


def load_catalog(root: Path = CATALOG_ROOT) -> Catalog:
    """The validated catalog under `root`; raises CatalogError listing every issue when any is an error."""
    report = check_catalog(root)
    if report.catalog is None:
        raise CatalogError(report.issues)
    return report.catalog
