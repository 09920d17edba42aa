"""A chart specification as Vega-Lite v5: what the server renders to PNG, and what a client may draw itself.

Readable in greyscale: waterfall totals, increases and decreases are dark, mid and light grey levels
(decreases also dashed and outlined), trend lines differ by dash and point shape as well as colour,
and segments run from dark to light. Every bar and point carries its value as a direct label, so no
reading depends on colour alone. Positions (waterfall and stack) are computed here from the exact
values, not by the renderer, so the drawn bars are the numbers in the spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from kpi_context.ontology.binding import Unit
from kpi_context.tools.charts_model import ChartDatum, ChartKind, ChartSpec, Mark, compact

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


_WATERFALL_FILL = {Mark.TOTAL: "#26374a", Mark.INCREASE: "#5e9070", Mark.DECREASE: "#f3c6b4"}
"""Relative luminance about 0.02, 0.23 and 0.62: three grey levels apart."""
_LINE_COLOURS = ["#1f3552", "#d08a2e", "#7d9cc0", "#555555", "#b3463c", "#9ab87a"]
_LINE_DASHES = [[1, 0], [10, 5], [3, 3], [14, 4, 3, 4], [6, 2], [2, 6]]
_LINE_SHAPES = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down"]
_SEGMENT_FILLS = ["#0e2a47", "#2f6190", "#6b9cc8", "#a8c8e4", "#dce9f5", "#7a7a7a", "#bdbdbd", "#3c3c3c"]
_SEGMENT_TEXT = ["white", "white", "black", "black", "black", "white", "black", "white"]


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _axis_format(unit: Unit, currency: str | None) -> dict[str, Any]:
    match unit:
        case Unit.CURRENCY | Unit.CURRENCY_PER_MONTH:
            return {"format": "$,.3~s"} if currency == "USD" else {"format": ",.3~s"}
        case Unit.PERCENT:
            return {"labelExpr": "format(datum.value, ',.0f') + '%'"}
        case Unit.RATIO:
            return {"labelExpr": "format(datum.value, ',.2~f') + 'x'"}
        case Unit.MONTHS | Unit.DAYS | Unit.COUNT | Unit.SCORE | Unit.DATE | Unit.TEXT:
            return {"format": ",.4~g"}


def _frame(spec: ChartSpec) -> dict[str, Any]:
    title: dict[str, Any] = {"text": spec.heading, "anchor": "start", "fontSize": 18}
    subtitle = [line for line in (spec.subtitle, *spec.notes) if line]
    if subtitle:
        title["subtitle"] = subtitle
    return {
        "$schema": SCHEMA,
        "width": spec.width,
        "height": spec.height,
        "autosize": {"type": "fit", "contains": "padding"},
        "background": "white",
        "padding": 16,
        "title": title,
        "config": {
            "view": {"stroke": None},
            "axis": {"labelFontSize": 13, "titleFontSize": 14, "grid": True, "gridColor": "#e6e6e6"},
            "legend": {"labelFontSize": 13, "titleFontSize": 13, "orient": "top"},
            "title": {"subtitleFontSize": 13, "subtitleColor": "#444444"},
        },
    }


def _x(spec: ChartSpec, order: Sequence[str]) -> dict[str, Any]:
    return {
        "field": "x",
        "type": "ordinal",
        "title": spec.x_title,
        "sort": list(order),
        "axis": {"labelAngle": 0, "labelFontSize": 13},
    }


def _y(spec: ChartSpec, field: str = "value") -> dict[str, Any]:
    return {
        "field": field,
        "type": "quantitative",
        "title": spec.y_title,
        "scale": {"zero": spec.unit in (Unit.CURRENCY, Unit.CURRENCY_PER_MONTH, Unit.COUNT)},
        "axis": _axis_format(spec.unit, spec.currency),
    }


def _order(data: Sequence[ChartDatum]) -> list[str]:
    return list(dict.fromkeys(d.x for d in data))


def _waterfall(spec: ChartSpec) -> dict[str, Any]:
    rows = [
        {
            "x": d.x,
            "value": _number(d.value),
            "base": _number(d.base),
            "top": _number(d.top),
            "label_at": max(_number(d.base) or 0.0, _number(d.top) or 0.0),
            "text": d.text,
            "role": d.role.value,
        }
        for d in spec.data
    ]
    closing = rows[-1]["top"]
    fills = {"domain": [m.value for m in _WATERFALL_FILL], "range": list(_WATERFALL_FILL.values())}
    return {
        **_frame(spec),
        "data": {"values": rows},
        "layer": [
            {
                "mark": {"type": "bar", "stroke": "#26374a", "strokeWidth": 1.5},
                "encoding": {
                    "x": _x(spec, _order(spec.data)),
                    "y": {**_y(spec, "base"), "scale": {"zero": True}},
                    "y2": {"field": "top"},
                    "fill": {"field": "role", "type": "nominal", "scale": fills, "title": None},
                    "strokeDash": {
                        "field": "role",
                        "type": "nominal",
                        "scale": {"domain": fills["domain"], "range": [[1, 0], [1, 0], [6, 3]]},
                        "legend": None,
                    },
                },
            },
            {
                "mark": {"type": "rule", "strokeDash": [4, 4], "color": "#26374a", "opacity": 0.6},
                "encoding": {"y": {"datum": closing, "type": "quantitative"}},
            },
            {
                "mark": {"type": "text", "dy": -10, "fontSize": 14, "fontWeight": "bold", "color": "black"},
                "encoding": {
                    "x": {"field": "x", "type": "ordinal", "sort": _order(spec.data)},
                    "y": {"field": "label_at", "type": "quantitative"},
                    "text": {"field": "text"},
                },
            },
        ],
    }


def _lines(spec: ChartSpec) -> dict[str, Any]:
    rows = [{"x": d.x, "series": d.series, "value": _number(d.value), "text": d.text} for d in spec.data]
    names = list(dict.fromkeys(d.series or "" for d in spec.data))
    count = len(names)

    def scale(values: Sequence[Any]) -> dict[str, Any]:
        return {"domain": names, "range": [values[i % len(values)] for i in range(count)]}

    legend = None if count == 1 else {"title": None}
    series = {"field": "series", "type": "nominal"}
    return {
        **_frame(spec),
        "data": {"values": rows},
        "encoding": {"x": _x(spec, _order(spec.data)), "y": _y(spec)},
        "layer": [
            {
                "mark": {"type": "line", "strokeWidth": 3},
                "encoding": {
                    "color": {**series, "scale": scale(_LINE_COLOURS), "legend": legend},
                    "strokeDash": {**series, "scale": scale(_LINE_DASHES), "legend": legend},
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 120},
                "encoding": {
                    "color": {**series, "scale": scale(_LINE_COLOURS), "legend": None},
                    "shape": {**series, "scale": scale(_LINE_SHAPES), "legend": legend},
                },
            },
            {
                "mark": {"type": "text", "dy": -16, "fontSize": 13, "color": "black"},
                "encoding": {"text": {"field": "text"}},
            },
        ],
    }


def _stacks(spec: ChartSpec) -> dict[str, Any]:
    members = list(dict.fromkeys(d.series or "" for d in spec.data))
    rows: list[dict[str, Any]] = []
    tops: dict[str, Decimal] = {}
    for d in spec.data:
        base = tops.get(d.x, Decimal(0))
        top = base + d.value
        tops[d.x] = top
        rows.append(
            {
                "x": d.x,
                "series": d.series,
                "value": _number(d.value),
                "base": float(base),
                "top": float(top),
                "mid": float((base + top) / 2),
                "text": d.text,
            }
        )
    totals = [{"x": x, "top": float(top), "text": _total_text(spec, x)} for x, top in tops.items()]
    fills = {"domain": members, "range": [_SEGMENT_FILLS[i % len(_SEGMENT_FILLS)] for i in range(len(members))]}
    inks = {"domain": members, "range": [_SEGMENT_TEXT[i % len(_SEGMENT_TEXT)] for i in range(len(members))]}
    x = _x(spec, _order(spec.data))
    return {
        **_frame(spec),
        "resolve": {"scale": {"color": "independent"}},
        "layer": [
            {
                "data": {"values": rows},
                "mark": {"type": "bar", "stroke": "white", "strokeWidth": 1},
                "encoding": {
                    "x": x,
                    "y": {**_y(spec, "base"), "scale": {"zero": True}},
                    "y2": {"field": "top"},
                    "color": {"field": "series", "type": "nominal", "scale": fills, "title": None},
                },
            },
            {
                "data": {"values": rows},
                "mark": {"type": "text", "fontSize": 12},
                "encoding": {
                    "x": x,
                    "y": {"field": "mid", "type": "quantitative"},
                    "text": {"field": "text"},
                    "color": {"field": "series", "type": "nominal", "scale": inks, "legend": None},
                },
            },
            {
                "data": {"values": totals},
                "mark": {"type": "text", "dy": -10, "fontSize": 14, "fontWeight": "bold", "color": "black"},
                "encoding": {"x": x, "y": {"field": "top", "type": "quantitative"}, "text": {"field": "text"}},
            },
        ],
    }


def _total_text(spec: ChartSpec, x: str) -> str:
    total = sum((d.value for d in spec.data if d.x == x), Decimal(0))
    return compact(total, spec.unit, spec.currency)


def vega_lite(spec: ChartSpec) -> dict[str, Any]:
    match spec.kind:
        case ChartKind.ARR_BRIDGE:
            return _waterfall(spec)
        case ChartKind.TREND:
            return _lines(spec)
        case ChartKind.SEGMENTS:
            return _stacks(spec)
