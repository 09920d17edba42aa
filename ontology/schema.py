# jsonschema ships no type information; its few entry points are wrapped below in typed functions.
# mypy: disable-error-code="import-untyped"
"""JSON Schema (draft 2020-12) for the catalog's files, generated from the pydantic models.

The models are the single source of truth; the committed files under `ontology/schema/`
are their export for editors and other tools, and a test fails when the two drift apart
(`make schema` regenerates them). The loader validates every file against the same
generated schema before pydantic parses it, so a file's structural faults are reported
with a JSON pointer rather than as a parse traceback.

What the schema cannot say, pydantic still checks: the cross-field validators (id equals
domain.slug, currency_required follows the unit, a trailing window has a length, an
expression input is either a KPI or a raw figure). The schema is at least as strict as
pydantic on everything else; it is stricter where pydantic would coerce (a number given
as a string).
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from pydantic import BaseModel

from kpi_context.ontology.model import CatalogManifest, KpiDefinition
from kpi_context.ontology.profile import Profile

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = Path(__file__).resolve().parent / "schema"


@dataclass(frozen=True)
class SchemaSpec:
    """One generated schema document: which model, where it is committed, how it is named."""

    filename: str
    model: type[BaseModel]
    schema_id: str
    title: str
    description: str


KPI_SCHEMA = SchemaSpec(
    filename="kpi.schema.json",
    model=KpiDefinition,
    schema_id="urn:kpi-context:schema:kpi",
    title="KPI definition",
    description="One governed KPI definition, stored as ontology/kpis/<domain>/<slug>.json.",
)
CATALOG_SCHEMA = SchemaSpec(
    filename="catalog.schema.json",
    model=CatalogManifest,
    schema_id="urn:kpi-context:schema:catalog",
    title="KPI catalog manifest",
    description="The catalog's manifest, stored as ontology/catalog.json.",
)
PROFILE_SCHEMA = SchemaSpec(
    filename="profile.schema.json",
    model=Profile,
    schema_id="urn:kpi-context:schema:profile",
    title="Governance profile",
    description="One organisation's locked decisions, fiscal calendar, currency and own definitions "
    "(kpi-context serve --profile PATH).",
)
SCHEMAS = (KPI_SCHEMA, CATALOG_SCHEMA)
"""The catalog's own schemas (`kpi-context ontology schema`); the profile's is written by `kpi-context profile schema`."""


@functools.cache
def _generated(spec: SchemaSpec) -> dict[str, Any]:
    body = spec.model.model_json_schema(mode="validation")
    return {
        **body,
        "$schema": DIALECT,
        "$id": spec.schema_id,
        "title": spec.title,
        "description": spec.description,
    }


def generate(spec: SchemaSpec) -> dict[str, Any]:
    """The schema document for `spec` (a fresh copy the caller may change)."""
    return copy.deepcopy(_generated(spec))


def render(document: Mapping[str, Any]) -> str:
    """The committed form: sorted keys, 2-space indent, UTF-8 text, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale_schemas(directory: Path = SCHEMA_DIR, specs: tuple[SchemaSpec, ...] = SCHEMAS) -> list[Path]:
    """Committed schema files that are missing or differ from what the models generate."""
    stale = []
    for spec in specs:
        path = directory / spec.filename
        if not path.is_file() or path.read_text(encoding="utf-8") != render(_generated(spec)):
            stale.append(path)
    return stale


def write_schemas(directory: Path = SCHEMA_DIR, specs: tuple[SchemaSpec, ...] = SCHEMAS) -> list[Path]:
    """Regenerate the committed schema files; returns the ones whose content changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = stale_schemas(directory, specs)
    for spec in specs:
        path = directory / spec.filename
        if path in changed:
            path.write_text(render(_generated(spec)), encoding="utf-8")
    return changed


# --- validation -------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One schema violation: where in the document (keys and indexes) and what is wrong."""

    path: tuple[str | int, ...]
    message: str


_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment"})
_SUBSCHEMA_MAPS = frozenset({"properties", "$defs", "patternProperties"})
_SUBSCHEMA = frozenset({"items", "additionalProperties", "propertyNames", "not", "contains"})
_SUBSCHEMA_LISTS = frozenset({"anyOf", "allOf", "oneOf", "prefixItems"})
_NULL = {"type": "null"}


class _RecursiveSchema(Exception):
    """The schema refers to itself; it cannot be inlined and is used as generated."""


def _compile(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An equivalent schema that validates faster and reports faults where they are.

    jsonschema spends most of its time resolving `$ref`s and descending into the two
    branches of every nullable `anyOf`; inlining the local definitions and folding
    `X | None` into `type: [x, "null"]` roughly halves the cost, and the errors then
    name the offending field instead of "not valid under any of the given schemas".
    """
    definitions: Mapping[str, Any] = schema.get("$defs", {})

    def walk(node: Mapping[str, Any], expanding: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _ANNOTATIONS or key == "$defs":
                continue
            if key in _SUBSCHEMA_MAPS:
                out[key] = {name: walk(sub, expanding) for name, sub in value.items()}
            elif key in _SUBSCHEMA and isinstance(value, Mapping):
                out[key] = walk(value, expanding)
            elif key in _SUBSCHEMA_LISTS:
                out[key] = [walk(sub, expanding) for sub in value]
            else:
                out[key] = value
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name in expanding:
                raise _RecursiveSchema(name)
            del out["$ref"]
            target = walk(definitions[name], (*expanding, name))
            out = target if not out else {"allOf": [target], **out}
        return _fold(out)

    return walk(schema, ())


def _fold(node: dict[str, Any]) -> dict[str, Any]:
    enum = node.get("enum")
    if isinstance(enum, list) and node.get("type") == "string" and all(isinstance(v, str) for v in enum):
        # The enum alone decides; keeping "type" would report a wrong value twice.
        node = {k: v for k, v in node.items() if k != "type"}
    branches = node.get("anyOf")
    if list(node) == ["anyOf"] and isinstance(branches, list) and len(branches) == 2 and _NULL in branches:
        other = dict(branches[0] if branches[1] == _NULL else branches[1])
        # Every keyword except type/enum/const ignores instances of other types, so null
        # passes the merged schema exactly when it passed the anyOf.
        if isinstance(other.get("enum"), list) and "const" not in other:
            other["enum"] = [*other["enum"], None]
            return other
        if isinstance(other.get("type"), str) and not {"enum", "const", "anyOf", "allOf", "oneOf"} & set(other):
            other["type"] = [other["type"], "null"]
            return other
    return node


class DocumentValidator:
    """A Draft 2020-12 validator built once per schema and reused for every file."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        Draft202012Validator.check_schema(schema)
        try:
            compiled = _compile(schema)
        except _RecursiveSchema:
            compiled = dict(schema)
        self._validator = Draft202012Validator(compiled, format_checker=Draft202012Validator.FORMAT_CHECKER)

    def violations(self, instance: object) -> list[Violation]:
        found: list[Violation] = []
        explained: set[tuple[str | int, ...]] = set()
        for error in self._validator.iter_errors(instance):
            found.extend(_explain(error, explained))
        return found


def _explain(error: Any, explained: set[tuple[str | int, ...]]) -> Iterator[Violation]:
    if error.context:
        error = best_match([error])
    path: tuple[str | int, ...] = tuple(error.absolute_path)
    instance = error.instance
    match error.validator:
        case "required" if isinstance(instance, dict):
            # jsonschema raises one error per missing key; report each key once, at its own path.
            if path in explained:
                return
            explained.add(path)
            for name in error.validator_value:
                if name not in instance:
                    yield Violation((*path, name), f"required property {name!r} is missing")
        case "additionalProperties" if error.validator_value is False and isinstance(instance, dict):
            allowed = set(error.schema.get("properties", {}))
            for name in instance:
                if name not in allowed:
                    yield Violation((*path, name), f"unknown property {name!r}")
        case _ if "propertyNames" in error.relative_schema_path and isinstance(instance, str):
            yield Violation((*path, instance), f"key not allowed: {error.message}")
        case _:
            yield Violation(path, error.message)


@functools.cache
def validator_for(spec: SchemaSpec) -> DocumentValidator:
    """The shared validator for a schema; built on first use, then reused."""
    return DocumentValidator(_generated(spec))
