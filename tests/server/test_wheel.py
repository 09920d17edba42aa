"""Distribution: a built wheel, installed in a fresh virtualenv, serves the bundled catalog and sample ledger
from any working directory (nothing may depend on the checkout).

Needs pip to reach a package index for the wheel's dependencies: skipped only off CI when none is reachable.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client

from tests.support.servers import SECRET, free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]


def _index_reachable() -> bool:
    """A local (file://) index or find-links directory counts; otherwise try pypi.org (or PIP_INDEX_URL)."""
    links = os.environ.get("PIP_FIND_LINKS", "")
    if any(Path(link).is_dir() for link in links.split()):
        return True
    host = urllib.parse.urlparse(os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple")).hostname or "pypi.org"
    try:
        with socket.create_connection((host, 443), timeout=3):
            return True
    except OSError:
        return False


def _source_tree(target: Path) -> Path:
    """The project's files as a fresh clone has them: a build in the checkout could pick up stale output
    (setuptools never empties its build/ folder, so a deleted KPI file would still ship)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The `kpi-context` executable of a fresh virtualenv holding only the built wheel and its dependencies."""
    if not os.environ.get("CI") and not _index_reachable():
        pytest.skip("not on CI and no package index reachable for pip")
    work = tmp_path_factory.mktemp("wheel")
    source = _source_tree(work / "source")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = (work / "dist").glob("kpi_context_server-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True, timeout=60)
    subprocess.run(
        [str(work / "venv" / "bin" / "pip"), "install", "-q", str(wheel)], check=True, capture_output=True, timeout=300
    )
    yield work / "venv" / "bin" / "kpi-context"


def test_the_installed_wheel_serves_the_bundled_catalog_and_sample_from_any_directory(
    installed: Path, tmp_path: Path
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(installed), "serve", "--http", "--port", str(port), "--sample"],
        cwd=tmp_path,  # an empty directory: no checkout, no data/ beside it
        env={"PATH": "/usr/bin:/bin", "KPI_CONTEXT_SECRET": SECRET},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_serving(port, process, timeout=60)

        async def calls() -> tuple[str, str | None]:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                looked = await client.call_tool("lookup_kpi", {"query": "ARR"})
                computed = await client.call_tool(
                    "compute_kpi", {"kpi": "sales.arr", "ledger": "sample", "as_of": "2026-09-30"}
                )
            assert not looked.is_error and not computed.is_error, (looked.content, computed.content)
            assert looked.structured_content is not None and computed.structured_content is not None
            return looked.structured_content["matches"][0]["id"], computed.structured_content.get("value")

        found, value = anyio.run(calls)
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert found == "sales.arr"
    assert value is not None  # computed from the packaged sample ledger
    assert process.stderr is not None
    assert "dataset 'sample' (sample_ledger.csv): 1,066 rows read" in process.stderr.read().decode()
