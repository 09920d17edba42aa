"""The chart specification every chart tool returns: the exact data, the governed titles, the Vega-Lite spec."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kpi_context.ontology.binding import Unit
from kpi_context.tools.formatting import format_value

WIDTH, HEIGHT = 1200, 675
"""The default size: 16:9, the shape of a board slide."""


class Mark(StrEnum):
    """What a datum is on the chart; decides its fill."""

    TOTAL = "total"
    INCREASE = "increase"
    DECREASE = "decrease"
    POINT = "point"
    SEGMENT = "segment"


class ChartKind(StrEnum):
    ARR_BRIDGE = "arr_bridge"
    """Opening ARR, each movement, closing ARR: a waterfall whose bars chain from start to end."""
    TREND = "trend"
    """One or more KPIs over periods, as lines."""
    SEGMENTS = "segments"
    """An additive KPI cut by a dimension, as stacked bars per period."""


class ChartDatum(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    x: str = Field(description="The bar or point: a bridge line, or a period.")
    series: str | None = Field(default=None, description="The line (trend) or the member (segments).")
    value: Decimal = Field(description="The bound number, exactly; signed for bridge movements.")
    base: Decimal | None = Field(default=None, description="Waterfall: where the bar starts.")
    top: Decimal | None = Field(default=None, description="Waterfall: where the bar ends (base + movement).")
    text: str = Field(description="The label printed on the chart.")
    role: Mark = Mark.POINT


class ChartSpec(BaseModel):
    """What the chart shows, exactly, and the Vega-Lite spec the PNG was rendered from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ChartKind
    heading: str = Field(description="The chart's title: the governed label of what is charted.")
    subtitle: str | None = None
    x_title: str
    y_title: str
    unit: Unit
    currency: str | None = None
    width: int = WIDTH
    height: int = HEIGHT
    data: list[ChartDatum]
    reconciles: bool | None = Field(default=None, description="ARR bridge: opening + movements = closing, exactly.")
    verified: bool = Field(default=True, description="False when the figures are not this server's signed values.")
    notes: list[str] = Field(default_factory=list)
    vega_lite: dict[str, Any] = Field(description="The same chart as a Vega-Lite v5 spec with its data inline.")


_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def compact(value: Decimal, unit: Unit, currency: str | None, *, signed: bool = False) -> str:
    """A short label for a chart: '$14.12M', '+$2.58M', '−$620.0k', '81.35%', '232'."""
    sign = ("+" if value > 0 else "−" if value < 0 else "") if signed else ("−" if value < 0 else "")
    size = abs(value)
    if unit in (Unit.CURRENCY, Unit.CURRENCY_PER_MONTH):
        symbol = _SYMBOLS.get(currency or "", f"{currency} " if currency else "")
        if size >= 1_000_000:
            return f"{sign}{symbol}{size / 1_000_000:.2f}M"
        if size >= 1_000:
            return f"{sign}{symbol}{size / 1_000:.1f}k"
        return f"{sign}{symbol}{size:,.2f}"
    return sign + format_value(size, unit, currency)
