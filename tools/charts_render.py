"""PNG rendering of a chart specification, on the server, offline.

vl-convert renders Vega-Lite with its own bundled JavaScript engine, Vega libraries and fonts:
one wheel, no system libraries, no browser and no network (remote data is refused: the charts'
data is inline). The Vega-Lite version is pinned, so the same spec gives the same image.
"""

from __future__ import annotations

import threading

import vl_convert

from kpi_context.tools.charts_model import ChartSpec

VEGA_LITE_VERSION = "5.21"
_LOCK = threading.Lock()
"""One conversion at a time: the converter is a single engine shared by the process."""


def render_png(spec: ChartSpec) -> bytes:
    """The chart as a PNG of exactly `spec.width` × `spec.height` pixels."""
    with _LOCK:
        return vl_convert.vegalite_to_png(spec.vega_lite, vl_version=VEGA_LITE_VERSION, scale=1, allowed_base_urls=[])
