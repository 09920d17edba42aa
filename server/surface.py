"""The tool surface an LLM sees — names, descriptions, annotations, input and output schemas — as a snapshot.

The surface is a public API: a changed description or schema changes what every connected
model does. `tool_surface.json` is committed; a test fails when the live surface differs, so
a change lands only with `make snapshot` and a reviewed diff.

Run: python -m kpi_context.server.surface [--write | --check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import anyio

from kpi_context.ontology.loader import load_catalog
from kpi_context.server.app import build_server
from kpi_context.tools.context import ToolContext

SNAPSHOT_PATH = Path(__file__).resolve().parent / "tool_surface.json"


async def live_surface() -> dict[str, Any]:
    server = build_server(ToolContext.create(load_catalog()))
    tools = await server.list_tools()
    return {
        "tools": [
            tool.model_dump(mode="json", by_alias=True, exclude_none=True)
            for tool in sorted(tools, key=lambda t: t.name)
        ]
    }


def render(surface: dict[str, Any]) -> str:
    return json.dumps(surface, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="Rewrite the committed snapshot.")
    args = parser.parse_args(argv)
    text = render(anyio.run(live_surface))
    if args.write:
        SNAPSHOT_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {SNAPSHOT_PATH.name}")
        return 0
    current = SNAPSHOT_PATH.read_text(encoding="utf-8") if SNAPSHOT_PATH.is_file() else ""
    if current != text:
        print("the tool surface differs from tool_surface.json; run `make snapshot` if the change is intended")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
