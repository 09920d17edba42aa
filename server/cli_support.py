"""What every `kpi-context ontology …` command shares: error reporting, catalog loading, output.

A command either succeeds (exit 0), reports findings that fail a check (exit 1), or cannot do
what was asked (exit 2, one line on stderr with a stable code). A traceback is never the answer
to bad input, so every anticipated failure is turned into a `CliError` here.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path

from kpi_context.ontology.catalog import CATALOG_ROOT, Catalog
from kpi_context.ontology.interop import ExportError
from kpi_context.ontology.issues import CatalogError
from kpi_context.ontology.loader import load_catalog
from kpi_context.ontology.public_fetch import ImportFailure
from kpi_context.ontology.search import SearchError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """A command that cannot proceed: stable `code`, the offending `field`, a human `message`."""

    def __init__(self, code: str, message: str, *, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def render(self) -> str:
        one_line = " ".join(self.message.split())
        return f"kpi-context: error [{self.code}] {self.field}: {one_line}"


def guarded(handler: Handler) -> Handler:
    """Run `handler`, turning every anticipated failure into one stderr line and exit status 2."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except CliError as error:
            failure = error
        except ImportFailure as error:
            failure = CliError(error.code.value, error.message, field=error.field)
        except (ExportError, SearchError) as error:
            failure = CliError(error.code, error.message, field=error.field)
        except CatalogError as error:
            failure = CliError(
                "catalog_invalid",
                f"{error}; run `kpi-context ontology validate` for every finding",
                field="root",
            )
        print(failure.render(), file=sys.stderr)
        return EXIT_USAGE

    return run


def add_root_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        type=Path,
        default=CATALOG_ROOT,
        metavar="DIR",
        help="catalog directory holding catalog.json and kpis/ (default: the bundled catalog)",
    )


def catalog_root(args: argparse.Namespace) -> Path:
    root: Path = args.root
    if not root.is_dir():
        raise CliError("not_found", f"no catalog directory at {root}", field="root")
    return root


def open_catalog(args: argparse.Namespace) -> Catalog:
    """The validated catalog under `--root`; an invalid catalog is a usage failure for every command but
    `validate`, whose job is to report on it."""
    return load_catalog(catalog_root(args))


def json_text(document: object) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_output(text: str, out: Path | None, *, refuse_under: tuple[Path, ...] = ()) -> None:
    """Print `text`, or write it to `out`; never into a directory listed in `refuse_under`."""
    if out is None:
        sys.stdout.write(text)
        return
    target = out.resolve()
    for guarded_dir in refuse_under:
        if target.is_relative_to(guarded_dir.resolve()):
            raise CliError(
                "refused_path",
                f"{out} is inside the catalog at {guarded_dir}; imports and exports never write there",
                field="out",
            )
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError("write_failed", f"cannot write {out}: {exc.strerror}", field="out") from exc
