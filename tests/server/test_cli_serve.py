"""`kpi-context serve`: what the operator sees when starting it, and what it refuses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from kpi_context.server.cli_serve import client_config, dataset_specs
from kpi_context.server.http import HttpSettings
from tests.support.servers import CLI, DATA_DIR, SAMPLE_LEDGER, free_port, wait_until_serving


def test_the_http_server_prints_its_url_and_client_configuration() -> None:
    port = free_port()
    process = subprocess.Popen(
        [CLI, "serve", "--http", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_serving(port)
        assert process.stdout is not None
        printed = []
        while not (printed and printed[-1] == "}\n" and any(line.startswith("stdio client") for line in printed)):
            printed.append(process.stdout.readline())
            assert printed[-1], "the server stopped printing before both configurations"
    finally:
        process.terminate()
        process.wait(timeout=10)
    banner, out = printed[:5], "".join(printed[5:])
    assert banner[0].startswith("KPI Context Server ")
    assert f"http://127.0.0.1:{port}/mcp" in banner[1]
    assert f"http://127.0.0.1:{port}/healthz" in banner[2]
    assert banner[3].startswith("Signing secret: random for this run")
    assert banner[4].startswith("HTTP client configuration")
    http_snippet, _, stdio_part = out.partition("stdio client configuration")
    # Two separately pasteable JSON documents: each parses on its own.
    assert json.loads(http_snippet)["mcpServers"]["kpi-context"]["url"] == f"http://127.0.0.1:{port}/mcp"
    stdio = json.loads(stdio_part.partition("\n")[2])["mcpServers"]["kpi-context"]
    assert stdio["env"] == {"KPI_CONTEXT_SECRET": "${KPI_CONTEXT_SECRET}"}


def test_client_configuration_covers_http_and_stdio() -> None:
    config = client_config(HttpSettings(port=9999, token="t"))
    http = config["http"]["mcpServers"]["kpi-context"]
    assert http["url"] == "http://127.0.0.1:9999/mcp"
    # The token is referenced by its variable, never printed.
    assert http["headers"]["Authorization"] == "Bearer ${KPI_CONTEXT_TOKEN}"
    assert config["stdio"]["mcpServers"]["kpi-context"]["args"] == ["serve"]
    json.dumps(config)  # must be pasteable JSON


def test_the_stdio_configuration_carries_the_signing_secret_setting_not_the_secret(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("do-not-print-me")
    by_env = client_config(HttpSettings(), ["--data-dir", "/srv/data"])["stdio"]["mcpServers"]["kpi-context"]
    assert by_env["env"] == {"KPI_CONTEXT_SECRET": "${KPI_CONTEXT_SECRET}"}
    assert by_env["args"] == ["serve", "--data-dir", "/srv/data"]
    by_file = client_config(HttpSettings(), secret_file=secret_file)["stdio"]["mcpServers"]["kpi-context"]
    assert by_file["args"] == ["serve", "--secret-file", str(secret_file.resolve())]
    assert "env" not in by_file
    assert "do-not-print-me" not in json.dumps(by_file)


def test_a_port_in_use_fails_with_one_line_and_prints_no_configuration() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([CLI, "serve", "--http", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""  # no endpoint, no configuration for a server that never listened
    assert done.stderr.strip().splitlines() == [
        f"kpi-context serve: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def _stdio_serve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`kpi-context serve` over stdio with no client: it validates, logs to stderr and exits at end of input."""
    return subprocess.run(
        [CLI, "serve", *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, cwd=cwd
    )


def test_a_relative_dataset_path_is_read_from_the_data_directory_and_its_counts_are_logged(tmp_path: Path) -> None:
    # Started from an unrelated directory: sample_ledger.csv is found in --data-dir, not in the cwd.
    done = _stdio_serve("--data-dir", str(DATA_DIR), "--dataset", "s=sample_ledger.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # stdio: nothing but the protocol on stdout
    # The bundled sample has 1,066 lines, all valid.
    assert "dataset 's' (sample_ledger.csv): 1,066 rows read, 1,066 used, 0 rejected" in done.stderr


def test_a_relative_dataset_path_missing_from_the_data_directory_is_one_line(tmp_path: Path) -> None:
    done = _stdio_serve("--data-dir", str(tmp_path), "--dataset", "s=sample_ledger.csv", cwd=DATA_DIR)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "dataset_not_found" in done.stderr and "--data-dir" in done.stderr


def test_the_data_directory_joins_relative_paths_only() -> None:
    joined = dataset_specs(DATA_DIR, ["a=sample_ledger.csv", f"b={SAMPLE_LEDGER}"])
    assert joined == [f"a={DATA_DIR / 'sample_ledger.csv'}", f"b={SAMPLE_LEDGER}"]


def test_a_dataset_with_no_valid_row_is_served_with_a_loud_warning(tmp_path: Path) -> None:
    header = SAMPLE_LEDGER.read_text().splitlines()[0]
    columns = header.split(",")
    # Two rows whose charge_type is unknown: both are rejected, so 2 read, 0 used, 2 rejected.
    rows = [",".join("bogus" if c == "charge_type" else _valid(c) for c in columns) for _ in range(2)]
    (tmp_path / "bad.csv").write_text("\n".join([header, *rows]) + "\n")
    done = _stdio_serve("--data-dir", str(tmp_path), "--dataset", "bad=bad.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "dataset 'bad' (bad.csv): 2 rows read, 0 used, 2 rejected" in done.stderr
    assert "WARNING: dataset 'bad' has no usable row" in done.stderr
    assert "charge_type" in done.stderr  # the first reasons are shown


def _valid(column: str) -> str:
    return {
        "amount": "100",
        "amount_period": "month",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "signed_date": "2025-12-15",
        "go_live_date": "2026-01-01",
        "currency": "USD",
        "change_type": "new",
        "list_amount": "100",
    }.get(column, "x1")


def test_the_bundled_sample_is_served_with_sample(tmp_path: Path) -> None:
    done = _stdio_serve("--sample", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "dataset 'sample' (sample_ledger.csv): 1,066 rows read" in done.stderr


def test_a_broken_catalog_stops_the_server_with_its_issues(tmp_path: os.PathLike[str]) -> None:
    done = subprocess.run(
        [CLI, "serve", "--catalog", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "catalog" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_an_unreadable_token_file_is_a_clear_error(tmp_path: os.PathLike[str]) -> None:
    missing = os.path.join(tmp_path, "no-such-token")
    done = subprocess.run(
        [sys.executable, "-m", "kpi_context.server.cli", "serve", "--http", "--token-file", missing],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "token" in done.stderr and "Traceback" not in done.stderr


def test_a_profile_pinned_to_another_catalog_version_stops_the_server_with_a_clear_message(tmp_path: Path) -> None:
    from tests.support.profiles import minimal_document, write

    profile = write(tmp_path, minimal_document(catalog_version="1.1.0"))
    done = subprocess.run(
        [CLI, "serve", "--profile", str(profile)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "[catalog_pin]" in done.stderr
    assert "pinned to catalog 1.1.0" in done.stderr and "cannot be served" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_the_stdio_configuration_names_the_profile_it_was_served_with() -> None:
    import argparse

    from kpi_context.server.cli_serve import _stdio_args

    args = argparse.Namespace(
        sample=True,
        data_dir=None,
        dataset=[],
        dimension=[],
        profile=Path("profiles/example.json"),
        pg_password_file=None,
    )
    assert _stdio_args(args)[-2:] == ["--profile", str(Path("profiles/example.json").resolve())]


def test_the_stdio_configuration_names_the_password_file_but_never_holds_the_password(tmp_path) -> None:
    import argparse

    from kpi_context.server.cli_serve import _stdio_args

    secret = tmp_path / "pg-password"
    secret.write_text("s3cret-pg\n", encoding="utf-8")
    spec = "books=postgresql://kpi@127.0.0.1:5432/finance?table=contract_lines"
    args = argparse.Namespace(
        sample=False, data_dir=tmp_path, dataset=[spec], dimension=[], profile=None, pg_password_file=secret
    )
    found = _stdio_args(args)
    # The launched server needs the same file to reach the same database: its absolute path follows the datasets.
    assert found == ["--data-dir", str(tmp_path.resolve()), "--dataset", spec, "--pg-password-file", str(secret)]
    assert "s3cret-pg" not in " ".join(found)


def test_serving_a_profile_reports_its_organisation_hash_fiscal_start_and_locks_on_stderr(capsys) -> None:
    from kpi_context.ontology.loader import load_catalog
    from kpi_context.ontology.profile_loader import load_profile
    from kpi_context.server.cli_serve import _report_profile
    from tests.support.profiles import EXAMPLE

    loaded = load_profile(EXAMPLE, load_catalog())
    _report_profile(loaded)
    captured = capsys.readouterr()
    # stdout may be the stdio protocol stream: the line goes to stderr only.
    assert captured.out == ""
    # The example locks ACV, NRR and GRR for Acme, whose fiscal year opens in February (month 2).
    assert f"profile 'acme' (Acme, {loaded.content_hash})" in captured.err
    assert "fiscal year opens in month 2" in captured.err
    assert (
        "locked: sales.avg_contract_value, customers.net_revenue_retention, customers.gross_revenue_retention"
        in captured.err
    )
