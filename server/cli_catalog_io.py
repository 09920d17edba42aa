"""`kpi-context ontology search|import|export`: catalog search and exchange with the public format."""

from __future__ import annotations

import argparse
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from kpi_context.ontology.catalog import CATALOG_ROOT
from kpi_context.ontology.interop import (
    ImportedSource,
    Overlap,
    compare_overlaps,
    export_catalog,
    export_source,
    import_public,
)
from kpi_context.ontology.loader import KPI_GLOB, check_catalog
from kpi_context.ontology.model import Domain, FieldType, Stage, Tier
from kpi_context.ontology.public_format import PublicFormat
from kpi_context.ontology.search import MAX_LIMIT, SearchIndex
from kpi_context.server.cli_render import render_hits
from kpi_context.server.cli_support import (
    EXIT_FINDINGS,
    EXIT_OK,
    CliError,
    add_root_option,
    catalog_root,
    guarded,
    json_text,
    open_catalog,
    write_output,
)

E = TypeVar("E", bound=StrEnum)


def _values(vocabulary: type[StrEnum]) -> list[str]:
    """Choices as plain strings, so argparse names the valid values when one is wrong."""
    return [member.value for member in vocabulary]


def _member(vocabulary: type[E], value: str | None) -> E | None:
    return None if value is None else vocabulary(value)


def register(ontology_commands: Any) -> None:
    """Add the search, import and export subcommands to the `ontology` command group."""
    search = ontology_commands.add_parser("search", help="Ranked search by name, alias, family or description.")
    search.add_argument("text", metavar="TEXT")
    search.add_argument("--domain", choices=_values(Domain))
    search.add_argument("--stage", choices=_values(Stage))
    search.add_argument("--tier", choices=_values(Tier))
    search.add_argument("--function", dest="owning_function", metavar="FUNCTION", help="owning function, e.g. Sales")
    search.add_argument("--field-type", dest="field_type", choices=_values(FieldType))
    search.add_argument("--limit", type=int, default=5, help=f"hits to show, 1–{MAX_LIMIT} (default 5)")
    search.add_argument("--json", action="store_true", help="print the result as JSON")
    add_root_option(search)
    search.set_defaults(handler=guarded(_search))

    imported = ontology_commands.add_parser(
        "import", help="Read a public-format document (file or https URL) as a separate, labelled source."
    )
    imported.add_argument("source", metavar="SOURCE", help="a file path or an https:// URL")
    imported.add_argument("--name", help="label for the imported source (default: derived from SOURCE)")
    imported.add_argument("--out", type=Path, metavar="FILE", help="write the validated document to FILE as JSON")
    add_root_option(imported)
    imported.set_defaults(handler=guarded(_import))

    export = ontology_commands.add_parser("export", help="Write the catalog in the public ontology's format.")
    export.add_argument("--format", choices=_values(PublicFormat), default=PublicFormat.INDEX.value)
    export.add_argument("--domain", choices=_values(Domain))
    export.add_argument("--kpi", metavar="ID", help="id, slug, label or alias of the KPI (format kpi)")
    export.add_argument("--out", type=Path, metavar="FILE", help="write to FILE instead of standard output")
    add_root_option(export)
    export.set_defaults(handler=guarded(_export))


def _search(args: argparse.Namespace) -> int:
    result = SearchIndex(open_catalog(args)).search(
        args.text,
        domain=_member(Domain, args.domain),
        stage=_member(Stage, args.stage),
        owning_function=args.owning_function,
        tier=_member(Tier, args.tier),
        field_type=_member(FieldType, args.field_type),
        limit=args.limit,
    )
    print(json_text(result.model_dump(mode="json")) if args.json else render_hits(result), end="")
    return EXIT_OK


# --- import ------------------------------------------------------------------------------


def _overlaps(source: ImportedSource, root: Path) -> tuple[list[Overlap], str | None]:
    """Shared ids with the fields that differ, and a note when our catalog did not load (ids then come
    from the file names, which the loader requires to match the ids)."""
    report = check_catalog(root)
    if report.catalog is not None:
        return compare_overlaps(source, report.catalog), None
    ours = {f"{path.parent.name}.{path.stem}" for path in root.glob(KPI_GLOB)}
    shared = sorted(set(source.kpis) & ours)
    note = f"our catalog has {len(report.errors)} error(s); overlaps are matched by file name, fields not compared"
    return [Overlap(kpi_id=kpi_id, differing_fields=()) for kpi_id in shared], note


def _summary(source: ImportedSource) -> list[str]:
    by_domain = Counter(kpi.domain.value for kpi in source.kpis.values())
    release = f"version {source.version}, released {source.released_at}" if source.version else "no release header"
    domains = ", ".join(f"{domain} {count}" for domain, count in sorted(by_domain.items())) or "none"
    return [
        f"imported source: {source.name}",
        f"  from {source.origin} ({source.format.value} document, {release})",
        f"  {len(source.kpis)} KPI(s) read: {domains}",
        f"  {len(source.errors)} error(s), {len(source.issues) - len(source.errors)} warning(s)",
    ]


def _import(args: argparse.Namespace) -> int:
    root = catalog_root(args)
    source = import_public(args.source, name=args.name)
    lines = _summary(source)
    lines.extend(issue.render() for issue in source.issues)
    found, note = _overlaps(source, root)
    if found:
        lines.append(f"{len(found)} id(s) also in our catalog (ours is kept; nothing was changed):")
        for overlap in found:
            differs = ", ".join(overlap.differing_fields) if overlap.differing_fields else "no public field differs"
            lines.append(f"  {overlap.kpi_id}: {differs}")
    else:
        lines.append("no id overlaps our catalog")
    if note:
        lines.append(f"note: {note}")
    if args.out is not None:
        if not source.ok:
            lines.append(f"not written to {args.out}: the source has {len(source.errors)} error(s)")
        else:
            write_output(json_text(export_source(source)), args.out, refuse_under=(CATALOG_ROOT, root))
            lines.append(f"wrote {args.out}")
    print("\n".join(lines))
    return EXIT_OK if source.ok else EXIT_FINDINGS


# --- export ------------------------------------------------------------------------------


def _export(args: argparse.Namespace) -> int:
    catalog = open_catalog(args)
    kpi_id: str | None = None
    if args.kpi is not None:
        found = SearchIndex(catalog).resolve(args.kpi)
        if found is None:
            raise CliError("not_found", f"no KPI is named {args.kpi!r}", field="kpi")
        kpi_id = found.id
    document = export_catalog(
        catalog,
        PublicFormat(args.format),
        version=catalog.version,
        released_at=catalog.manifest.released_at,
        domain=_member(Domain, args.domain),
        kpi_id=kpi_id,
    )
    write_output(json_text(document), args.out, refuse_under=(CATALOG_ROOT, catalog_root(args)))
    if args.out is not None:
        count = len(document["kpis"]) if isinstance(document, dict) and "kpis" in document else None
        print(f"wrote {args.out}" + (f" ({count} KPIs)" if count is not None else ""))
    return EXIT_OK
