"""`kpi-context serve`: stdio by default (what desktop clients launch), `--http` for streamable HTTP."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import anyio
import uvicorn
from uvicorn.supervisors import Multiprocess

from kpi_context import __version__
from kpi_context.ontology.catalog import CATALOG_ROOT, Catalog
from kpi_context.ontology.issues import CatalogError, errors_in
from kpi_context.ontology.loader import load_catalog
from kpi_context.ontology.profile_loader import LoadedProfile, ProfileError, load_profile
from kpi_context.server.allocator import limit_malloc_arenas
from kpi_context.server.app import build_server
from kpi_context.server.http import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_SESSIONS,
    DEFAULT_PORT,
    DEFAULT_REQUEST_READ_SECONDS,
    DEFAULT_SESSION_IDLE_SECONDS,
    HEALTH_PATH,
    HttpSettings,
    build_http_app,
    listening_socket,
    uvicorn_config,
)
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.remote import WarehouseTable
from kpi_context.tools.ledger.source import Dataset, DatasetRegistry, LedgerSource
from kpi_context.tools.ledger.validate import open_ledger

TOKEN_ENV = "KPI_CONTEXT_TOKEN"
SECRET_ENV = "KPI_CONTEXT_SECRET"
WORKER_ARGS_ENV = "KPI_CONTEXT_WORKER_ARGS"
"""How `--workers N` hands its command line to the worker processes (they rebuild the same server)."""
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data"
"""The bundled sample ledger's directory: `data/` in a checkout, `kpi_context/data/` in an installed wheel."""
SAMPLE_DATASET = "sample=sample_ledger.csv"


class ServeError(Exception):
    """A configuration problem the operator must fix; printed as one line, exit status 2."""


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("serve", help="Run the MCP server (stdio, or --http).")
    parser.add_argument("--catalog", type=Path, default=CATALOG_ROOT, help="Catalog directory (default: bundled).")
    parser.add_argument("--profile", type=Path, help="Governance profile (JSON): locks, fiscal calendar, definitions.")
    parser.add_argument("--http", action="store_true", help="Serve streamable HTTP instead of stdio.")
    parser.add_argument("--host", default=DEFAULT_HOST, help="Bind address (default 127.0.0.1, loopback only).")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--token-file", type=Path, help=f"File holding the bearer token (or set {TOKEN_ENV}).")
    parser.add_argument("--stateless", action="store_true", help="No server-side sessions (for several replicas).")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="HTTP worker processes sharing the port (implies --stateless; give them one signing secret).",
    )
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    parser.add_argument(
        "--max-sessions",
        type=int,
        default=DEFAULT_MAX_SESSIONS,
        metavar="N",
        help=f"Open HTTP sessions at most; a new one past it gets 503 (default {DEFAULT_MAX_SESSIONS:,}).",
    )
    parser.add_argument(
        "--session-idle-seconds",
        type=float,
        default=DEFAULT_SESSION_IDLE_SECONDS,
        metavar="S",
        help=f"Close a session with no request for S seconds (default {DEFAULT_SESSION_IDLE_SECONDS:g}).",
    )
    parser.add_argument(
        "--request-read-seconds",
        type=float,
        default=DEFAULT_REQUEST_READ_SECONDS,
        metavar="S",
        help=f"Close a connection that has not sent a whole request within S seconds (default "
        f"{DEFAULT_REQUEST_READ_SECONDS:g}).",
    )
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
        help="A named ledger (CSV, Parquet or JSON Lines); a relative PATH is relative to --data-dir; or a table: "
        "postgresql://USER@HOST:PORT/DB?table=T, spark://local[2]?table=T or spark://MASTER?path=P.parquet; "
        "repeatable.",
    )
    parser.add_argument(
        "--pg-password-file",
        type=Path,
        help="File holding the PostgreSQL password of the postgresql:// datasets (or set PGPASSWORD).",
    )
    parser.add_argument(
        "--dimension",
        action="append",
        default=[],
        metavar="NAME",
        help="An extra ledger column to cut KPIs by (group_by / where), beyond segment, region, product, plan and "
        "industry; repeatable.",
    )
    parser.add_argument(
        "--sample",
        action="store_true",
        help="Serve the bundled sample ledger as dataset 'sample' (its directory is the data directory).",
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


def _profile(path: Path | None, catalog: Catalog) -> LoadedProfile | None:
    if path is None:
        return None
    try:
        return load_profile(path, catalog)
    except ProfileError as exc:
        for issue in exc.issues:
            print(issue.render(), file=sys.stderr)
        errors = errors_in(exc.issues)
        raise ServeError(
            f"the profile {path} cannot be served ({errors[0].message if errors else 'invalid'}); run "
            f"`kpi-context profile validate {path}`"
        ) from exc


def _data_options(args: argparse.Namespace) -> tuple[Path | None, list[str]]:
    """`--data-dir` and `--dataset`, with `--sample` expanded to the bundled sample."""
    if not args.sample:
        return args.data_dir, list(args.dataset)
    if args.data_dir is not None:
        raise ServeError(
            "--sample serves the bundled sample from its own directory; it cannot be combined with --data-dir"
        )
    return SAMPLE_DIR, [SAMPLE_DATASET, *args.dataset]


def dataset_specs(data_dir: Path, specs: Sequence[str]) -> list[str]:
    """`NAME=PATH` with a relative PATH joined to `data_dir`, as `--help` documents.

    `DatasetRegistry.from_cli` reads a relative PATH against the working directory; joining it here first
    makes `--data-dir data --dataset sample=sample_ledger.csv` mean data/sample_ledger.csv wherever the
    server is started from. Absolute paths pass unchanged (they must still lie inside the directory).
    """
    joined = []
    for spec in specs:
        name, sep, raw = spec.partition("=")
        path = Path(raw.strip())
        if "://" in raw:
            pass  # a table in PostgreSQL or Spark, not a file
        elif sep and raw.strip() and not path.is_absolute():
            candidate = data_dir.absolute() / path
            if not candidate.is_file():
                raise ServeError(
                    f"dataset_not_found: dataset {name.strip()!r}: no file {raw.strip()!r} in the data directory "
                    f"{str(data_dir)!r} (a relative PATH is read from --data-dir)"
                )
            spec = f"{name}={candidate}"
        joined.append(spec)
    return joined


def _datasets(
    data_dir: Path | None, specs: list[str], dimensions: Sequence[str] = (), pg_password_file: Path | None = None
) -> DatasetRegistry | None:
    if data_dir is None:
        if specs:
            raise ServeError("--dataset needs --data-dir: datasets are only read from inside that directory")
        return None
    if not data_dir.is_dir():
        raise ServeError(f"dataset_not_found: data directory {str(data_dir)!r} does not exist")
    try:
        return DatasetRegistry.from_cli(
            data_dir, dataset_specs(data_dir, specs), dimensions=tuple(dimensions), pg_password_file=pg_password_file
        )
    except KpiError as exc:
        raise ServeError(f"{exc.detail.code.value}: {exc.detail.message}") from exc


def _validation(
    registry: DatasetRegistry, dataset: Dataset | WarehouseTable
) -> tuple[int, int, list[dict[str, object]]]:
    """(rows read, rows rejected, first rejections) of `dataset`, read and checked the way a tool call reads it.

    The checked table stays in the store, so the first call on the dataset does not pay for the read.
    """
    source = LedgerSource(dataset.name, dataset)
    try:
        with open_ledger(registry.store, source, None, registry.data_dir) as opened:
            checked = opened.validation
    except KpiError as exc:
        details = exc.detail.details or {}
        if exc.detail.code is ErrorCode.LEDGER_INVALID and "rows_read" in details:
            read = int(details["rows_read"])
            return read, read, list(details.get("rejections") or [])
        if exc.detail.code is not ErrorCode.CURRENCY_MISMATCH or "currencies" not in details:
            raise
        # Mixed currencies are fine at rest (calls convert with fx_rates); count them at a neutral rate.
        currencies = sorted(details["currencies"])
        neutral = LedgerSource(dataset.name, dataset, MappingProxyType({c: Decimal(1) for c in currencies}))
        with open_ledger(registry.store, neutral, currencies[0], registry.data_dir) as opened:
            checked = opened.validation
    return checked.rows_read, checked.rows_rejected, list(checked.rejections)


def check_datasets(registry: DatasetRegistry, *, report: bool = True) -> None:
    """Read and validate every named dataset now and log rows read/used/rejected per dataset to stderr; warn
    loudly when no row is usable. A dataset that cannot be read at all stops the server with one line."""
    for name, dataset in registry.datasets.items():
        try:
            read, rejected, rejections = _validation(registry, dataset)
        except KpiError as exc:
            raise ServeError(f"dataset {name!r}: {exc.detail.code.value}: {exc.detail.message}") from exc
        if not report:
            continue
        # A table elsewhere is shown by engine, place and name: never its credentials.
        where = dataset.described() if isinstance(dataset, WarehouseTable) else dataset.path.name
        print(
            f"kpi-context serve: dataset {name!r} ({where}): {read:,} rows read, {read - rejected:,} used, "
            f"{rejected:,} rejected",
            file=sys.stderr,
        )
        reasons = "; ".join(f"row {r.get('row')}: {r.get('reason')}" for r in rejections[:3])
        if read == rejected:
            print(
                f"kpi-context serve: WARNING: dataset {name!r} has no usable row ({read:,} read, all rejected); every "
                f"computation on it will be refused with ledger_invalid. {reasons}",
                file=sys.stderr,
            )
        elif rejected:
            print(f"kpi-context serve: dataset {name!r}: first rejected rows: {reasons}", file=sys.stderr)
    sys.stderr.flush()


def _launcher() -> str:
    # Desktop clients launch the command without this shell's PATH, so name the executable in full.
    launched = Path(sys.argv[0])
    command = str(launched.resolve()) if launched.name == "kpi-context" else shutil.which("kpi-context")
    return command or "kpi-context"


def client_config(
    settings: HttpSettings, serve_args: Sequence[str] = (), *, secret_file: Path | None = None
) -> dict[str, Any]:
    """Two pasteable client configurations: `http` (this server's URL) and `stdio` (the client launches it).

    The stdio server signs with the secret from `--secret-file` (an absolute path in its arguments) or else
    the KPI_CONTEXT_SECRET variable, passed by reference, so values stay verifiable across restarts; neither
    configuration ever holds the secret or the token themselves.
    """
    http: dict[str, Any] = {"type": "http", "url": settings.url}
    if settings.token:
        http["headers"] = {"Authorization": f"Bearer ${{{TOKEN_ENV}}}"}
    stdio: dict[str, Any] = {"command": _launcher(), "args": ["serve", *serve_args]}
    if secret_file is not None:
        stdio["args"] += ["--secret-file", str(secret_file.resolve())]
    else:
        stdio["env"] = {SECRET_ENV: f"${{{SECRET_ENV}}}"}
    return {"http": {"mcpServers": {"kpi-context": http}}, "stdio": {"mcpServers": {"kpi-context": stdio}}}


def _stdio_args(args: argparse.Namespace) -> list[str]:
    """The data options of this run for the stdio configuration: the directory absolute, datasets as given."""
    dimensions = [flag for name in args.dimension for flag in ("--dimension", name)]
    if args.profile is not None:  # carried with the dimension flags: both follow the data options
        dimensions += ["--profile", str(args.profile.resolve())]
    # The password file's path, never its content: the launched server reads the file itself.
    if args.pg_password_file is not None:
        dimensions += ["--pg-password-file", str(args.pg_password_file.resolve())]
    if args.sample and args.data_dir is None:
        return ["--sample", *(f for spec in args.dataset for f in ("--dataset", spec)), *dimensions]
    if args.data_dir is None:
        return []
    found = ["--data-dir", str(args.data_dir.resolve())]
    for spec in args.dataset:
        found += ["--dataset", spec]
    return found + dimensions


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except ServeError as exc:
        print(f"kpi-context serve: {exc}", file=sys.stderr)
        return 2


def _build(args: argparse.Namespace, *, report: bool) -> tuple[Catalog, Any]:
    """Catalog, datasets (validated, counts logged when `report`) and the MCP server."""
    limit_malloc_arenas()  # before the ledger engine starts its threads; see server/allocator.py
    catalog = _load(args.catalog)
    secret = _read_secret(args.secret_file, SECRET_ENV, "secret")
    context = ToolContext.create(
        catalog,
        secret=secret.encode() if secret else None,
        trace_ids=args.trace_ids,
        profile=_profile(args.profile, catalog),
    )
    if report and context.profile is not None:
        _report_profile(context.profile)
    datasets = _datasets(*_data_options(args), args.dimension, args.pg_password_file)
    if datasets is not None:
        check_datasets(datasets, report=report)
    return catalog, build_server(context, datasets)


def _report_profile(loaded: LoadedProfile) -> None:
    """One line on stderr (stdout may be the protocol stream) so an operator sees which decisions are locked."""
    profile = loaded.profile
    locked = ", ".join(lock.kpi for lock in profile.locks) or "none"
    print(
        f"kpi-context serve: profile {loaded.id!r} ({profile.organisation.name}, {loaded.content_hash}): "
        f"fiscal year opens in month {profile.fiscal_year_start_month}; locked: {locked}",
        file=sys.stderr,
    )


def _settings(args: argparse.Namespace) -> HttpSettings:
    try:
        return HttpSettings(
            host=args.host,
            port=args.port,
            token=_read_secret(args.token_file, TOKEN_ENV, "token"),
            stateless=args.stateless,
            max_body_bytes=args.max_body_bytes,
            extra_hosts=tuple(args.allowed_host),
            extra_origins=tuple(args.allowed_origin),
            max_sessions=args.max_sessions,
            session_idle_seconds=args.session_idle_seconds,
            request_read_seconds=args.request_read_seconds,
            workers=args.workers,
        )
    except ValueError as exc:
        raise ServeError(str(exc)) from exc


def _health(catalog: Catalog) -> dict[str, Any]:
    return {"version": __version__, "catalog_version": catalog.version, "catalog_hash": catalog.content_hash}


def _secret_line(args: argparse.Namespace, *, generated: bool) -> str:
    if generated:
        return (
            f"Signing secret: one random secret shared by the workers of this run — values signed now read as "
            f"asserted after a restart; set ${SECRET_ENV} or --secret-file"
        )
    if args.secret_file is not None:
        return (
            f"Signing secret: from --secret-file {args.secret_file.resolve()} (values stay verifiable across restarts)"
        )
    if os.environ.get(SECRET_ENV):
        return f"Signing secret: from ${SECRET_ENV} (values stay verifiable across restarts)"
    return (
        f"Signing secret: random for this run — values signed now read as asserted after a restart; set "
        f"${SECRET_ENV} or --secret-file"
    )


def _run(args: argparse.Namespace) -> int:
    if not args.http:
        server = _build(args, report=True)[1]
        # stdout is the protocol stream: nothing else may be printed there.
        # stdio reading layer (issue 8, item 9): every malformed line gets a JSON-RPC error; see server/stdio.py.
        from kpi_context.server.stdio import serve_stdio

        anyio.run(serve_stdio, server)
        return 0
    settings = _settings(args)
    generated = settings.workers > 1 and not (args.secret_file or os.environ.get(SECRET_ENV))
    if generated:
        # Workers must share one secret or a value signed by one reads as asserted on another.
        os.environ[SECRET_ENV] = secrets.token_urlsafe(32)
    catalog, server = _build(args, report=True)
    if settings.workers > 1:
        os.environ[WORKER_ARGS_ENV] = json.dumps(_argv_of(args))
    try:
        sock = listening_socket(settings)
    except OSError as exc:
        raise ServeError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
    # Listening: only now are the endpoint and the configuration true.
    print(f"KPI Context Server {__version__}: catalog {catalog.version} ({catalog.content_hash}), {len(catalog)} KPIs")
    print(f"MCP endpoint (streamable HTTP): {settings.url}")
    mode = f"{settings.workers} workers" if settings.workers > 1 else "1 process"
    mode += ", stateless" if settings.is_stateless else ", sessions"
    print(f"Health: {settings.url.removesuffix('/mcp')}{HEALTH_PATH} ({mode})")
    specs = _data_options(args)[1]
    if specs:
        print(f"Ledger datasets: {', '.join(spec.partition('=')[0] for spec in specs)}")
    print(_secret_line(args, generated=generated))
    config = client_config(settings, _stdio_args(args), secret_file=args.secret_file)
    print("HTTP client configuration (paste into your client's MCP servers):")
    print(json.dumps(config["http"], indent=2))
    print("stdio client configuration (the client launches the server itself):")
    print(json.dumps(config["stdio"], indent=2))
    sys.stdout.flush()
    if settings.workers > 1:
        worker_config = uvicorn_config(f"{__name__}:worker_app", settings, factory=True)
        Multiprocess(worker_config, sockets=[sock]).run()
        return 0
    app = build_http_app(server, settings, health=_health(catalog))
    uvicorn.Server(uvicorn_config(app, settings)).run(sockets=[sock])
    return 0


def _argv_of(args: argparse.Namespace) -> list[str]:
    """This run's `serve` options, for the workers to parse as the parent did."""
    if "serve" not in sys.argv:
        raise ServeError("--workers needs to be started from the command line (kpi-context serve --http --workers N)")
    return sys.argv[sys.argv.index("serve") + 1 :]


def worker_app() -> Any:
    """One `--workers` process's ASGI app, rebuilt from the parent's command line (uvicorn's app factory)."""
    parser = argparse.ArgumentParser(prog="kpi-context")
    register(parser.add_subparsers())
    args = parser.parse_args(["serve", *json.loads(os.environ[WORKER_ARGS_ENV])])
    catalog, server = _build(args, report=False)
    return build_http_app(server, _settings(args), health=_health(catalog))
