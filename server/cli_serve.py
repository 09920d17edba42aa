"""`kpi-context serve`: stdio by default (what desktop clients launch), `--http` for streamable HTTP."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import uvicorn

from kpi_context.ontology.catalog import CATALOG_ROOT, Catalog
from kpi_context.ontology.issues import CatalogError
from kpi_context.ontology.loader import load_catalog
from kpi_context.server.app import build_server
from kpi_context.server.http import DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, HttpSettings, build_http_app
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import KpiError
from kpi_context.tools.ledger.source import DatasetRegistry

TOKEN_ENV = "KPI_CONTEXT_TOKEN"
SECRET_ENV = "KPI_CONTEXT_SECRET"


class ServeError(Exception):
    """A configuration problem the operator must fix; printed as one line, exit status 2."""


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("serve", help="Run the MCP server (stdio, or --http).")
    parser.add_argument("--catalog", type=Path, default=CATALOG_ROOT, help="Catalog directory (default: bundled).")
    parser.add_argument("--http", action="store_true", help="Serve streamable HTTP instead of stdio.")
    parser.add_argument("--host", default=DEFAULT_HOST, help="Bind address (default 127.0.0.1, loopback only).")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--token-file", type=Path, help=f"File holding the bearer token (or set {TOKEN_ENV}).")
    parser.add_argument("--stateless", action="store_true", help="No server-side sessions (for several replicas).")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    parser.add_argument("--allowed-host", action="append", default=[], help="Extra Host header value to accept.")
    parser.add_argument("--allowed-origin", action="append", default=[], help="Extra Origin header value to accept.")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="Directory holding contract ledgers; nothing outside it is ever read. Without it, only inline rows.",
    )
    parser.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="A named ledger (CSV, Parquet or JSON Lines) inside --data-dir; repeatable.",
    )
    parser.add_argument(
        "--secret-file",
        type=Path,
        help=f"File holding the signing secret for bound values (or set {SECRET_ENV}); default: random per process.",
    )
    parser.add_argument(
        "--trace-ids",
        type=int,
        choices=range(0, 6),
        default=0,
        metavar="N",
        help="Account ids (0–5) a ledger value may list as samples; default 0: customer identifiers stay on the server.",
    )
    parser.set_defaults(handler=run)


def _read_secret(path: Path | None, env: str, what: str) -> str | None:
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ServeError(f"cannot read the {what} file {path}: {exc.strerror}") from exc
        if not text:
            raise ServeError(f"the {what} file {path} is empty")
        return text
    return os.environ.get(env) or None


def _load(root: Path) -> Catalog:
    try:
        return load_catalog(root)
    except CatalogError as exc:
        for issue in exc.errors:
            print(issue.render(), file=sys.stderr)
        raise ServeError(
            f"the catalog at {root} has {len(exc.errors)} error(s); run `kpi-context ontology validate`"
        ) from exc


def _datasets(data_dir: Path | None, specs: list[str]) -> DatasetRegistry | None:
    if data_dir is None:
        if specs:
            raise ServeError("--dataset needs --data-dir: datasets are only read from inside that directory")
        return None
    try:
        return DatasetRegistry.from_cli(data_dir, specs)
    except KpiError as exc:
        raise ServeError(f"{exc.detail.code.value}: {exc.detail.message}") from exc


def client_config(settings: HttpSettings, serve_args: Sequence[str] = ()) -> dict[str, Any]:
    """Pasteable client configuration for this server over HTTP, and for launching it over stdio."""
    http: dict[str, Any] = {"type": "http", "url": settings.url}
    if settings.token:
        http["headers"] = {"Authorization": "Bearer <your token>"}
    # Desktop clients launch the command without this shell's PATH, so name the executable in full.
    launched = Path(sys.argv[0])
    command = str(launched.resolve()) if launched.name == "kpi-context" else shutil.which("kpi-context")
    stdio = {"command": command or "kpi-context", "args": ["serve", *serve_args]}
    return {"http": {"mcpServers": {"kpi-context": http}}, "stdio": {"mcpServers": {"kpi-context": stdio}}}


def _stdio_args(args: argparse.Namespace) -> list[str]:
    """The data options of this run, with absolute paths, for the stdio configuration."""
    if args.data_dir is None:
        return []
    found = ["--data-dir", str(args.data_dir.resolve())]
    for spec in args.dataset:
        name, _, path = spec.partition("=")
        found += ["--dataset", f"{name}={Path(path).resolve()}"]
    return found


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except ServeError as exc:
        print(f"kpi-context serve: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    catalog = _load(args.catalog)
    secret = _read_secret(args.secret_file, SECRET_ENV, "secret")
    context = ToolContext.create(catalog, secret=secret.encode() if secret else None, trace_ids=args.trace_ids)
    server = build_server(context, _datasets(args.data_dir, args.dataset))
    if not args.http:
        # stdout is the protocol stream: nothing else may be printed there.
        anyio.run(server.run_stdio_async)
        return 0
    try:
        settings = HttpSettings(
            host=args.host,
            port=args.port,
            token=_read_secret(args.token_file, TOKEN_ENV, "token"),
            stateless=args.stateless,
            max_body_bytes=args.max_body_bytes,
            extra_hosts=tuple(args.allowed_host),
            extra_origins=tuple(args.allowed_origin),
        )
    except ValueError as exc:
        raise ServeError(str(exc)) from exc
    print(f"KPI Context Server: catalog {catalog.version} ({catalog.content_hash}), {len(catalog)} KPIs")
    print(f"MCP endpoint (streamable HTTP): {settings.url}")
    if args.dataset:
        print(f"Ledger datasets: {', '.join(spec.partition('=')[0] for spec in args.dataset)}")
    print("Client configuration:")
    print(json.dumps(client_config(settings, _stdio_args(args)), indent=2))
    sys.stdout.flush()
    app = build_http_app(server, settings)
    uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning")).run()
    return 0
