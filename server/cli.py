"""The `kpi-context` command: `serve` runs the MCP server, `ontology …` works on the catalog."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kpi_context.server import cli_ontology, cli_profile, cli_serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kpi-context", description="Governed SaaS KPIs for LLM assistants.")
    commands = parser.add_subparsers(dest="command", required=True)
    cli_serve.register(commands)
    cli_ontology.register(commands)
    cli_profile.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
