"""`kpi-context profile validate|show PATH`: judge a governance profile against the catalog, or print it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kpi_context.ontology.profile_loader import check_profile, profile_summary
from kpi_context.ontology.schema import PROFILE_SCHEMA, SCHEMA_DIR, stale_schemas, write_schemas
from kpi_context.server.cli_support import (
    EXIT_FINDINGS,
    EXIT_OK,
    CliError,
    add_root_option,
    guarded,
    json_text,
    open_catalog,
)


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("profile", help="Work on a governance profile.")
    sub = parser.add_subparsers(dest="profile_command", required=True)
    validate = sub.add_parser("validate", help="Load a profile in all three stages and print every issue.")
    validate.add_argument("path", type=Path, metavar="PATH")
    add_root_option(validate)
    validate.set_defaults(handler=guarded(_validate))
    show = sub.add_parser("show", help="Print a profile's locks, calendar, currency and definitions as JSON.")
    show.add_argument("path", type=Path, metavar="PATH")
    add_root_option(show)
    show.set_defaults(handler=guarded(_show))
    schema = sub.add_parser("schema", help="Write the profile's JSON Schema generated from its model, or check it.")
    schema.add_argument("--check", action="store_true", help="exit 1 when the committed schema file has drifted")
    schema.add_argument("--dir", type=Path, default=SCHEMA_DIR, metavar="DIR", help="schema directory")
    schema.set_defaults(handler=guarded(_schema))


def _report(args: argparse.Namespace) -> Any:
    path: Path = args.path
    if not path.is_file():
        raise CliError("not_found", f"no profile file at {path}", field="path")
    return check_profile(path, open_catalog(args))


def _validate(args: argparse.Namespace) -> int:
    report = _report(args)
    for issue in report.issues:
        print(issue.render())
    loaded = report.profile
    state = "profile not loaded" if loaded is None else f"profile {loaded.id} ({loaded.content_hash[:19]}…)"
    print(f"{state}; {len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    return EXIT_FINDINGS if report.errors else EXIT_OK


def _show(args: argparse.Namespace) -> int:
    report = _report(args)
    issues = [issue.model_dump(mode="json") for issue in report.issues]
    if report.profile is None:
        print(json_text({"valid": False, "issues": issues}), end="")
        return EXIT_FINDINGS
    print(json_text({"valid": True, **profile_summary(report.profile), "issues": issues}), end="")
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    directory: Path = args.dir
    if args.check:
        stale = stale_schemas(directory, (PROFILE_SCHEMA,))
        for path in stale:
            print(f"drifted: {path} differs from what the profile model generates; run `make schema`")
        return EXIT_FINDINGS if stale else EXIT_OK
    for path in write_schemas(directory, (PROFILE_SCHEMA,)):
        print(f"wrote {path}")
    return EXIT_OK
