"""Charts a board reads: the ARR bridge as a waterfall, KPIs over time as trends, segment mixes as stacked bars.

A chart is built from bound values, a kpi_series result or a board pack, never from loose numbers:
each bar or point carries the exact bound number, and titles and axes use the governed labels. The
specification (`ChartSpec`) holds the data and, in `vega_lite`, the same chart as a Vega-Lite spec
that `charts_render` turns into a PNG on the server (and that a client may draw itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from kpi_context.ontology.binding import Unit
from kpi_context.tools.board_pack import BoardPack, arr_bridge
from kpi_context.tools.charts_model import HEIGHT, WIDTH, ChartDatum, ChartKind, ChartSpec, Mark, compact
from kpi_context.tools.charts_vega import vega_lite
from kpi_context.tools.claims import read_claim
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.series import Series
from kpi_context.tools.signing import canonical
from kpi_context.tools.values import BoundValue, ValueClaim, ValueStatus

MIN_SIDE, MAX_SIDE = 300, 2400
MAX_CHART_VALUES = 60

_ADDITIVE = (Unit.CURRENCY, Unit.CURRENCY_PER_MONTH, Unit.COUNT)
_UNIT_WORDS = {
    Unit.PERCENT: "%",
    Unit.RATIO: "x",
    Unit.MONTHS: "months",
    Unit.DAYS: "days",
    Unit.COUNT: "count",
    Unit.SCORE: "score",
}


def _sized(width: int, height: int) -> tuple[int, int]:
    for name, side in (("width", width), ("height", height)):
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise KpiError(
                ErrorCode.OUT_OF_RANGE,
                f"{name} must be between {MIN_SIDE} and {MAX_SIDE} pixels; {side} was given",
                field=name,
            )
    return width, height


def _unit_title(unit: Unit, currency: str | None) -> str:
    if unit in (Unit.CURRENCY, Unit.CURRENCY_PER_MONTH):
        return currency or "amount"
    return _UNIT_WORDS.get(unit, unit.value)


def _finish(spec: dict[str, Any]) -> ChartSpec:
    """The spec with its Vega-Lite rendition filled in from its own data."""
    model = ChartSpec.model_validate({**spec, "vega_lite": {}})
    return model.model_copy(update={"vega_lite": vega_lite(model)})


def _unverified_note(verified: bool) -> list[str]:
    return [] if verified else ["figures as given by the caller: not signed by this server, so not verified"]


# --- ARR bridge -------------------------------------------------------------------------------------


def _waterfall(
    lines: Sequence[tuple[str, Decimal]], closing: Decimal, unit: Unit, currency: str | None
) -> tuple[list[ChartDatum], bool, Decimal]:
    data: list[ChartDatum] = []
    running = Decimal(0)
    for index, (name, amount) in enumerate(lines):
        if index == 0:
            data.append(
                ChartDatum(
                    x=name,
                    value=amount,
                    base=Decimal(0),
                    top=amount,
                    text=compact(amount, unit, currency),
                    role=Mark.TOTAL,
                )
            )
            running = amount
            continue
        after = running + amount
        role = Mark.INCREASE if amount >= 0 else Mark.DECREASE
        data.append(
            ChartDatum(
                x=name,
                value=amount,
                base=running,
                top=after,
                text=compact(amount, unit, currency, signed=True),
                role=role,
            )
        )
        running = after
    residual = closing - running
    if residual:
        data.append(
            ChartDatum(
                x="Rounding",
                value=residual,
                base=running,
                top=closing,
                text=compact(residual, unit, currency, signed=True),
                role=Mark.INCREASE if residual > 0 else Mark.DECREASE,
            )
        )
    data.append(
        ChartDatum(
            x="Closing ARR",
            value=closing,
            base=Decimal(0),
            top=closing,
            text=compact(closing, unit, currency),
            role=Mark.TOTAL,
        )
    )
    return data, residual == 0, residual


def _bridge_spec(
    title: str,
    period: str,
    lines: Sequence[tuple[str, Decimal]],
    closing: Decimal,
    currency: str | None,
    size: tuple[int, int],
    verified: bool,
) -> ChartSpec:
    data, reconciles, residual = _waterfall(lines, closing, Unit.CURRENCY, currency)
    check = "opening + new + expansion + reactivation − contraction − churn = closing"
    notes = _unverified_note(verified)
    if not reconciles:
        notes.append(f"the lines differ from the closing figure by {residual} after rounding each to the cent")
    return _finish(
        {
            "kind": ChartKind.ARR_BRIDGE,
            "heading": title,
            "subtitle": f"{period}: {check}",
            "x_title": "ARR bridge line",
            "y_title": f"ARR — live recurring run-rate ({_unit_title(Unit.CURRENCY, currency)})",
            "unit": Unit.CURRENCY,
            "currency": currency,
            "width": size[0],
            "height": size[1],
            "data": data,
            "reconciles": reconciles,
            "verified": verified,
            "notes": notes,
        }
    )


def bridge_from_value(value: BoundValue, *, size: tuple[int, int] = (WIDTH, HEIGHT)) -> ChartSpec:
    """The waterfall of a net new ARR value: its components are the bridge's lines."""
    bridge = arr_bridge(value)
    if bridge is None:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            "an ARR bridge is drawn from a net new ARR value computed from a ledger (compute_kpi "
            "sales.net_new_arr with a ledger), or from a board pack",
            field="values",
        )
    lines = [(line.line, line.amount) for line in bridge.lines]
    return _bridge_spec(
        value.label, bridge.period, lines, bridge.closing, value.currency, _sized(*size), _signed(value)
    )


def chart_for_pack(pack: BoardPack, *, size: tuple[int, int] = (WIDTH, HEIGHT), verified: bool = True) -> ChartSpec:
    """The board pack's ARR bridge as a waterfall."""
    bridge = pack.bridge
    if bridge is None:
        raise KpiError(
            ErrorCode.NOT_COMPUTABLE,
            "this pack has no ARR bridge (it needs a ledger and sales.net_new_arr among its KPIs)",
            field="pack",
        )
    net_new = next((item for item in pack.items if item.kpi == "sales.net_new_arr"), None)
    title = net_new.label if net_new is not None else f"ARR bridge, {bridge.period}"
    lines = [(line.line, line.amount) for line in bridge.lines]
    return _bridge_spec(title, bridge.period, lines, bridge.closing, pack.currency, _sized(*size), verified)


# --- trends and segments ----------------------------------------------------------------------------


def _short(label: str) -> str:
    return label.split(" — ")[0]


def _signed(value: BoundValue) -> bool:
    return value.status is ValueStatus.COMPUTED and value.provenance is not None


def chart_for_series(
    series: Series, kind: ChartKind | None = None, *, size: tuple[int, int] = (WIDTH, HEIGHT), verified: bool = True
) -> ChartSpec:
    """A series as a trend line, or, cut by a dimension (group_by) and additive, as stacked segments."""
    chosen = kind or (ChartKind.SEGMENTS if series.group_by and series.unit in _ADDITIVE else ChartKind.TREND)
    size = _sized(*size)
    name = _short(series.label)
    rules = series.label.split(" — ", 1)[1].split(", by ")[0] if " — " in series.label else series.label
    notes = _unverified_note(verified) + list(series.notes)
    common = {
        "heading": series.label,
        "unit": series.unit,
        "currency": series.currency,
        "width": size[0],
        "height": size[1],
        "verified": verified,
        "x_title": "Period",
        "y_title": f"{name} — {rules} ({_unit_title(series.unit, series.currency)})",
    }
    match chosen:
        case ChartKind.TREND:
            data = [
                ChartDatum(
                    x=point.period,
                    series=name,
                    value=point.value,
                    text=compact(point.value, series.unit, series.currency),
                )
                for point in series.points
                if point.value is not None
            ]
            gaps = [point.period for point in series.points if point.value is None]
            if gaps:
                notes.append(f"no value for {', '.join(gaps)}: left out of the line")
            return _finish({**common, "kind": chosen, "data": data, "notes": notes})
        case ChartKind.SEGMENTS:
            if not series.group_by:
                raise KpiError(
                    ErrorCode.INVALID_ARGUMENT, "segments need a series cut with group_by", field="series.group_by"
                )
            _additive(series.unit, series.kpi, "series")
            data = []
            for point in series.points:
                data += [
                    ChartDatum(
                        x=point.period,
                        series=member,
                        value=amount,
                        text=compact(amount, series.unit, series.currency),
                        role=Mark.SEGMENT,
                    )
                    for member, amount in point.groups.items()
                    if amount is not None and member != "total"
                ]
            return _finish(
                {**common, "kind": chosen, "data": data, "notes": notes, "x_title": f"Period, by {series.group_by}"}
            )
        case ChartKind.ARR_BRIDGE:
            raise KpiError(
                ErrorCode.INVALID_ARGUMENT,
                "an ARR bridge is drawn from a board pack or a net new ARR value, not from a series",
                field="kind",
            )


def _additive(unit: Unit, kpi: str, field: str) -> None:
    if unit not in _ADDITIVE:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"stacked segments add up, so they need an additive KPI (money or a count); {kpi} is in {unit.value}: "
            "chart it as a trend instead",
            field=field,
        )


def _when(value: BoundValue) -> str:
    return value.period.label() if value.period is not None else (value.as_of.isoformat() if value.as_of else "undated")


def _ordered(values: Sequence[BoundValue]) -> list[BoundValue]:
    return sorted(values, key=lambda v: v.period.end if v.period else (v.as_of or date.min))


def _rules_of(value: BoundValue) -> tuple[str, str]:
    """(short name, rules) of a governed label 'NRR — trailing 12 months, …, Q3 2026: 81.35%'."""
    head, _, rest = value.label.partition(" — ")
    rest = rest.rsplit(": ", 1)[0]
    suffix = f", {_when(value)}"
    return head, rest[: -len(suffix)] if rest.endswith(suffix) else rest


def chart_for_values(
    kind: ChartKind, values: Sequence[BoundValue], *, size: tuple[int, int] = (WIDTH, HEIGHT)
) -> ChartSpec:
    """A chart of bound values: a bridge (one net new ARR value), trends (one line per KPI and variant),
    or segments (values cut with group_by, one stacked bar per period)."""
    if not values:
        raise KpiError(ErrorCode.INVALID_ARGUMENT, "give at least one bound value", field="values")
    if len(values) > MAX_CHART_VALUES:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"a chart takes at most {MAX_CHART_VALUES} values; {len(values)} were given",
            field="values",
        )
    size = _sized(*size)
    match kind:
        case ChartKind.ARR_BRIDGE:
            if len(values) != 1:
                raise KpiError(
                    ErrorCode.INVALID_ARGUMENT, "an ARR bridge is drawn from one net new ARR value", field="values"
                )
            return bridge_from_value(values[0], size=size)
        case ChartKind.TREND:
            return _trend(values, size)
        case ChartKind.SEGMENTS:
            return _segments(values, size)


def _one_unit(values: Sequence[BoundValue]) -> tuple[Unit, str | None]:
    kinds = {(v.unit, v.currency) for v in values}
    if len(kinds) > 1:
        shown = ", ".join(sorted(f"{unit.value}{' ' + c if c else ''}" for unit, c in kinds))
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"one chart has one axis: the values are in {shown}; chart each unit on its own",
            field="values",
        )
    return next(iter(kinds))


def _trend(values: Sequence[BoundValue], size: tuple[int, int]) -> ChartSpec:
    unit, currency = _one_unit(values)
    ordered = _ordered(values)
    lines: dict[tuple[str, str], list[BoundValue]] = {}
    for value in ordered:
        lines.setdefault((value.kpi, value.variant), []).append(value)
    by_variant = len({kpi for kpi, _ in lines}) < len(lines)
    names = {key: _line_name(members[0], by_variant) for key, members in lines.items()}
    data = [
        ChartDatum(x=_when(value), series=names[key], value=value.value, text=compact(value.value, unit, currency))
        for key, members in lines.items()
        for value in members
        if value.value is not None
    ]
    span = f"{_when(ordered[0])} to {_when(ordered[-1])}"
    rules = dict.fromkeys(" — ".join(_rules_of(members[0])) for members in lines.values())
    if len(lines) == 1:
        title, y_title = f"{next(iter(rules))}, {span}", f"{next(iter(names.values()))} ({_unit_title(unit, currency)})"
    else:
        title, y_title = f"{' and '.join(names.values())}, {span}", _unit_title(unit, currency)
    verified = all(_signed(v) for v in values)
    return _finish(
        {
            "kind": ChartKind.TREND,
            "heading": title,
            "subtitle": None if len(lines) == 1 else "; ".join(rules),
            "x_title": "Period",
            "y_title": y_title,
            "unit": unit,
            "currency": currency,
            "width": size[0],
            "height": size[1],
            "data": data,
            "verified": verified,
            "notes": _unverified_note(verified),
        }
    )


def _line_name(value: BoundValue, by_variant: bool) -> str:
    """The governed short name, with the rules when two lines are variants of one KPI."""
    head, rules = _rules_of(value)
    return f"{head} ({rules.split(', ')[0]})" if by_variant and rules else head


def _segments(values: Sequence[BoundValue], size: tuple[int, int]) -> ChartSpec:
    unit, currency = _one_unit(values)
    kpis = {v.kpi for v in values}
    if len(kpis) != 1:
        raise KpiError(ErrorCode.INVALID_ARGUMENT, "segments chart one KPI cut by a dimension", field="values")
    _additive(unit, next(iter(kpis)), "values")
    data: list[ChartDatum] = []
    notes: list[str] = []
    for index, value in enumerate(_ordered(values)):
        if not value.groups:
            raise KpiError(
                ErrorCode.INVALID_ARGUMENT,
                "each value needs its groups (compute it with a cut, e.g. kpi_series group_by)",
                field=f"values.{index}.groups",
            )
        members = [(g.binding.grain.segment.member if g.binding.grain.segment else g.label, g) for g in value.groups]
        total = sum((g.value for _, g in members if g.value is not None), Decimal(0))
        if value.value is not None and total != value.value:
            notes.append(f"{_when(value)}: the groups add up to {total}, not the total {value.value}")
        data += [
            ChartDatum(
                x=_when(value), series=member, value=g.value, text=compact(g.value, unit, currency), role=Mark.SEGMENT
            )
            for member, g in members
            if g.value is not None
        ]
    head = _ordered(values)[-1]
    verified = all(_signed(v) for v in values)
    return _finish(
        {
            "kind": ChartKind.SEGMENTS,
            "heading": " — ".join(_rules_of(head)) + f", by segment, {_when(_ordered(values)[0])} to {_when(head)}",
            "x_title": "Period",
            "y_title": f"{_short(head.label)} ({_unit_title(unit, currency)})",
            "unit": unit,
            "currency": currency,
            "width": size[0],
            "height": size[1],
            "data": data,
            "verified": verified,
            "notes": _unverified_note(verified) + notes,
        }
    )


# --- what render_chart takes -----------------------------------------------------------------------


def _series_signed(ctx: ToolContext, series: Series) -> bool:
    return ctx.binder.signer.verify(canonical(series.model_dump(mode="json")), series.provenance.signature)


def _pack_signed(ctx: ToolContext, pack: BoardPack) -> bool:
    return ctx.binder.signer.verify(canonical(pack.model_dump(mode="json")), pack.provenance.signature)


def chart(
    ctx: ToolContext,
    kind: ChartKind,
    *,
    values: Sequence[ValueClaim] | None = None,
    series: Series | None = None,
    pack: BoardPack | None = None,
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> ChartSpec:
    """The chart of exactly one source: bound values (each read as compare_metrics reads it), a series or a pack.

    A series or pack whose signature does not check out is still drawn, titled as the caller's figures.
    """
    given = [name for name, source in (("values", values), ("series", series), ("pack", pack)) if source]
    if len(given) != 1:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            "give exactly one of `values`, `series` or `pack`" + (f" (got {', '.join(given)})" if given else ""),
            field=given[1] if len(given) > 1 else "values",
        )
    if series is not None:
        return chart_for_series(series, kind, size=size, verified=_series_signed(ctx, series))
    if pack is not None:
        if kind is not ChartKind.ARR_BRIDGE:
            raise KpiError(
                ErrorCode.INVALID_ARGUMENT,
                "a board pack holds one period: it draws the arr_bridge; for trend or segments give a kpi_series result",
                field="kind",
            )
        return chart_for_pack(pack, size=size, verified=_pack_signed(ctx, pack))
    claims = list(values or ())
    if len(claims) > MAX_CHART_VALUES:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"a chart takes at most {MAX_CHART_VALUES} values; {len(claims)} were given",
            field="values",
        )
    bound = [read_claim(ctx.binder, claim, f"values.{index}") for index, claim in enumerate(claims)]
    return chart_for_values(kind, bound, size=size)
