"""`kpi-context ontology search|import|export`: catalog search and exchange with the public format."""

from __future__ import annotations

from typing import Any


def register(ontology_commands: Any) -> None:
    """Add the search, import and export subcommands to the `ontology` command group."""
