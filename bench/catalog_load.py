"""How long loading the catalog takes, and what the three validation stages cost over plain reading.

Run: `.venv/bin/python -m bench.catalog_load [--runs N] [--root DIR]`. Each run loads the catalog
from disk from scratch (schema, pydantic, semantic rules); the baseline reads and JSON-parses the
same files in the same process, so the ratio is what validation adds on this machine. The first
load is reported separately because it also builds the schema validators, which are then reused.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kpi_context.ontology.catalog import CATALOG_ROOT
from kpi_context.ontology.loader import KPI_GLOB, MANIFEST_FILE, check_catalog


def _read_and_parse(root: Path) -> int:
    paths = [root / MANIFEST_FILE, *sorted(root.glob(KPI_GLOB))]
    for path in paths:
        json.loads(path.read_text(encoding="utf-8"))
    return len(paths)


def _median_ms(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--root", type=Path, default=CATALOG_ROOT)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    first = check_catalog(args.root)
    first_ms = (time.perf_counter() - started) * 1000
    load_ms = _median_ms(lambda: check_catalog(args.root), args.runs)
    read_ms = _median_ms(lambda: _read_and_parse(args.root), args.runs)

    kpis = 0 if first.catalog is None else len(first.catalog)
    state = "loaded" if first.catalog is not None else f"NOT loaded ({len(first.errors)} errors; timing still valid)"
    print(f"catalog at {args.root}: {first.files_read} files, {kpis} KPIs, {state}")
    print(f"first load (builds the schema validators): {first_ms:.1f} ms")
    print(f"median load over {args.runs} runs: {load_ms:.1f} ms")
    print(f"median read + json.loads of the same files: {read_ms:.1f} ms")
    print(f"validation cost: {load_ms / read_ms:.1f}× plain parsing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
