"""`kpi-context ontology …`: validate, show, search, import, export, schema."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("ontology", help="Work on the KPI catalog.")
    parser.add_subparsers(dest="ontology_command", required=True)
