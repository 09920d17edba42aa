"""Regenerate the README's example chart: the Q3 2026 ARR bridge of the bundled sample ledger.

The chart is the one render_chart returns for `{"kind": "arr_bridge", "values": [<NNARR Q3 2026>]}`,
rendered at its default 1200×675. For the repository it is stored as an indexed-colour PNG (the
image has well under 256 colours, so not a pixel changes) to keep the file small.

    python -m bench.render_example docs/arr_bridge.png
"""

from __future__ import annotations

import argparse
import struct
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.charts import chart_for_values
from kpi_context.tools.charts_model import ChartKind
from kpi_context.tools.charts_render import render_png
from kpi_context.tools.context import ToolContext
from kpi_context.tools.ledger.engine import compute_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from tests.support.png import decode_png

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample_ledger.csv"


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    position, found = 8, []
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        found.append((png[position + 4 : position + 8], png[position + 8 : position + 8 + length]))
        position += 12 + length
    return found


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def indexed(png: bytes) -> bytes:
    """The same image as an indexed-colour PNG when it has at most 256 opaque colours; else unchanged."""
    width, height, rows = decode_png(png)
    colours: dict[bytes, int] = {}
    lines = []
    for row in rows:
        line = bytearray([0])
        for i in range(0, len(row), 4):
            pixel = row[i : i + 4]
            if pixel[3] != 255:
                return png
            index = colours.setdefault(pixel[:3], len(colours))
            if index > 255:
                return png
            line.append(index)
        lines.append(bytes(line))
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    palette = b"".join(colours)
    body = zlib.compress(b"".join(lines), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"PLTE", palette)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


def example_png() -> bytes:
    ctx = ToolContext.create(load_catalog(), secret=b"readme-example")
    datasets = DatasetRegistry.from_cli(SAMPLE.parent, [f"sample={SAMPLE}"])
    value = compute_from_ledger(ctx, "sales.net_new_arr", "sample", datasets=datasets, period="2026-Q3")
    return render_png(chart_for_values(ChartKind.ARR_BRIDGE, [value]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, nargs="?", default=ROOT / "docs" / "arr_bridge.png")
    args = parser.parse_args(argv)
    png = indexed(example_png())
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.write_bytes(png)
    print(f"wrote {args.path} ({len(png):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
