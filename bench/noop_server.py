"""The real server plus one no-op tool, the baseline the latency benchmark divides by.

It lives here, not in the product, so the shipped tool surface stays exactly three tools.
Run: python -m bench.noop_server stdio | http PORT
"""

from __future__ import annotations

import sys
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel

from kpi_context.ontology.loader import load_catalog
from kpi_context.server.app import build_server
from kpi_context.server.http import HttpSettings, build_http_app
from kpi_context.tools.context import ToolContext


class Pong(BaseModel):
    ok: bool


def server_with_noop() -> MCPServer[Any]:
    server = build_server(ToolContext.create(load_catalog(), secret=b"bench"))

    async def noop() -> Pong:
        return Pong(ok=True)

    server.add_tool(noop, name="noop", description="Does nothing; the benchmark's baseline.")
    return server


def main(argv: list[str]) -> None:
    server = server_with_noop()
    if argv[0] == "stdio":
        anyio.run(server.run_stdio_async)
        return
    settings = HttpSettings(port=int(argv[1]))
    uvicorn.Server(uvicorn.Config(build_http_app(server, settings), port=settings.port, log_level="warning")).run()


if __name__ == "__main__":
    main(sys.argv[1:])
