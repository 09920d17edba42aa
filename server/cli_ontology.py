"""`kpi-context ontology validate|show|schema` (search, import and export live in cli_catalog_io)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kpi_context.ontology.loader import check_catalog
from kpi_context.ontology.public_format import PUBLIC_KPI_SCHEMA, public_kpi_schema_stale, write_public_kpi_schema
from kpi_context.ontology.schema import SCHEMA_DIR, stale_schemas, write_schemas
from kpi_context.ontology.search import AMBIGUOUS_NAME_SCORE, SearchIndex
from kpi_context.server import cli_catalog_io
from kpi_context.server.cli_render import render_card
from kpi_context.server.cli_support import (
    EXIT_FINDINGS,
    EXIT_OK,
    CliError,
    add_root_option,
    catalog_root,
    guarded,
    json_text,
    open_catalog,
)


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("ontology", help="Work on the KPI catalog.")
    sub = parser.add_subparsers(dest="ontology_command", required=True)

    validate = sub.add_parser("validate", help="Load the catalog in all three stages and print every issue.")
    add_root_option(validate)
    validate.set_defaults(handler=guarded(_validate))

    show = sub.add_parser("show", help="Show one KPI, named by id, slug, label or alias.")
    show.add_argument("kpi", metavar="ID", help="id, slug, label or alias (case and punctuation ignored)")
    show.add_argument("--json", action="store_true", help="print the definition as JSON")
    add_root_option(show)
    show.set_defaults(handler=guarded(_show))

    schema = sub.add_parser("schema", help="Write the JSON Schema files generated from the models, or check them.")
    mode = schema.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when a committed schema file has drifted")
    mode.add_argument("--write", action="store_true", help="regenerate the schema files (the default)")
    schema.add_argument("--dir", type=Path, default=SCHEMA_DIR, metavar="DIR", help="schema directory")
    schema.set_defaults(handler=guarded(_schema))

    cli_catalog_io.register(sub)


def _validate(args: argparse.Namespace) -> int:
    report = check_catalog(catalog_root(args))
    for issue in report.issues:
        print(issue.render())
    errors, warnings = len(report.errors), len(report.warnings)
    milliseconds = report.seconds * 1000
    if report.catalog is None:
        state = "catalog not loaded"
    else:
        catalog = report.catalog
        state = f"catalog {catalog.version} ({catalog.content_hash[:19]}…): {len(catalog)} KPIs"
    print(
        f"{state}; {report.files_read} files read; {errors} error(s), {warnings} warning(s); "
        f"loaded in {milliseconds:.0f} ms"
    )
    return EXIT_FINDINGS if errors else EXIT_OK


def _show(args: argparse.Namespace) -> int:
    catalog = open_catalog(args)
    index = SearchIndex(catalog)
    found = index.resolve(args.kpi)
    if found is None:
        result = index.search(args.kpi, limit=5)
        listed = ", ".join(hit.kpi_id for hit in result.hits)
        if result.family is not None or (result.hits and result.hits[0].score >= AMBIGUOUS_NAME_SCORE):
            raise CliError("ambiguous", f"{args.kpi!r} names several KPIs; choose one of: {listed}", field="kpi")
        raise CliError("not_found", f"no KPI is named {args.kpi!r}; nearest: {listed}", field="kpi")
    if args.json:
        document = {
            "catalog_version": catalog.version,
            "content_hash": catalog.content_hash,
            "kpi": json.loads(found.model_dump_json()),
        }
        print(json_text(document), end="")
    else:
        print(render_card(found), end="")
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    directory: Path = args.dir
    if args.check:
        stale = stale_schemas(directory)
        if public_kpi_schema_stale(directory):
            stale.append(directory / PUBLIC_KPI_SCHEMA.filename)
        for path in stale:
            print(f"drifted: {path} differs from what the models generate; run `make schema`")
        if stale:
            return EXIT_FINDINGS
        print(f"schema files in {directory} match the models")
        return EXIT_OK
    changed = write_schemas(directory)
    if public_kpi_schema_stale(directory):
        changed.append(write_public_kpi_schema(directory))
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print(f"schema files in {directory} were already current")
    return EXIT_OK
