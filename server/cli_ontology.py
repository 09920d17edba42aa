"""`kpi-context ontology …`: validate, show, schema (search/import/export live in cli_catalog_io)."""

from __future__ import annotations

import argparse
from typing import Any

from kpi_context.server import cli_catalog_io


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("ontology", help="Work on the KPI catalog.")
    sub = parser.add_subparsers(dest="ontology_command", required=True)
    cli_catalog_io.register(sub)
