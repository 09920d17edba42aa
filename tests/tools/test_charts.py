"""Charts a board reads: the spec's numbers are the bound values, the bridge reconciles, the PNG is 1200×675 and drawn.

Values are those of tests/fixtures/narrative/values.json (the sample ledger's Q3 2026 ARR bridge:
opening 12,164,323.35, new 2,580,825.20, expansion 65,563.64, reactivation 51,987.54, contraction
620,020.84, churn 122,800.08, closing 14,119,878.81).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bench.narrative import SAMPLE, context, corpus_values
from kpi_context.ontology.binding import Unit
from kpi_context.tools.board_pack import BoardPack, board_pack
from kpi_context.tools.charts import chart, chart_for_pack, chart_for_series, chart_for_values
from kpi_context.tools.charts_model import ChartKind, ChartSpec, Mark
from kpi_context.tools.charts_render import render_png
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.periods import Every
from kpi_context.tools.series import Series, SeriesPoint, SeriesProvenance
from kpi_context.tools.trend import claim_of
from kpi_context.tools.values import BoundValue
from tests.support.png import decode_png

Values = dict[str, BoundValue]


@pytest.fixture(scope="module")
def ctx() -> ToolContext:
    return context()


@pytest.fixture(scope="module")
def values(ctx: ToolContext) -> Values:
    return corpus_values(ctx)


@pytest.fixture(scope="module")
def pack(ctx: ToolContext) -> BoardPack:
    datasets = DatasetRegistry.from_cli(SAMPLE.parent, [f"sample={SAMPLE}"])
    return board_pack(ctx, "2026-Q3", datasets=datasets, ledger="sample", kpis=["sales.arr", "sales.net_new_arr"])


def assert_drawn(spec: ChartSpec, width: int = 1200, height: int = 675) -> None:
    w, h, rows = decode_png(render_png(spec))
    assert (w, h) == (width, height)
    colours = {row[i : i + 4] for row in rows[::3] for i in range(0, len(row), 12)}
    # a blank or one-colour image has one or two; bars, text and grid lines give dozens
    assert len(colours) >= 20


def test_the_arr_bridge_shows_each_movement_and_reconciles_from_opening_to_closing(values: Values) -> None:
    spec = chart_for_values(ChartKind.ARR_BRIDGE, [values["nnarr_q3"]])
    amounts = [(d.x, d.value) for d in spec.data]
    assert amounts == [
        ("Opening ARR", Decimal("12164323.35")),
        ("New business", Decimal("2580825.20")),
        ("Expansion", Decimal("65563.64")),
        ("Reactivation", Decimal("51987.54")),
        ("Contraction", Decimal("-620020.84")),
        ("Churn", Decimal("-122800.08")),
        ("Closing ARR", Decimal("14119878.81")),
    ]
    # 12,164,323.35 + 2,580,825.20 + 65,563.64 + 51,987.54 - 620,020.84 - 122,800.08 = 14,119,878.81
    assert sum((value for _, value in amounts[:-1]), Decimal(0)) == amounts[-1][1]
    assert spec.reconciles is True
    # each movement starts where the one before it ended, and the last ends at the closing bar's top
    for before, after in zip(spec.data[:-2], spec.data[1:-1], strict=True):
        assert after.base == before.top
    assert spec.data[-2].top == spec.data[-1].top == Decimal("14119878.81")
    assert [d.role for d in spec.data] == [Mark.TOTAL, *[Mark.INCREASE] * 3, *[Mark.DECREASE] * 2, Mark.TOTAL]


def test_the_bridge_is_titled_and_labelled_with_the_governed_labels(values: Values) -> None:
    spec = chart_for_values(ChartKind.ARR_BRIDGE, [values["nnarr_q3"]])
    assert spec.heading == values["nnarr_q3"].label
    assert spec.y_title.startswith("ARR — live recurring run-rate")
    assert [d.text for d in spec.data][1] == "+$2.58M"


def test_the_vega_lite_spec_carries_the_same_numbers(values: Values) -> None:
    spec = chart_for_values(ChartKind.ARR_BRIDGE, [values["nnarr_q3"]])
    rows = spec.vega_lite["data"]["values"]
    assert [row["value"] for row in rows] == [float(d.value) for d in spec.data]
    assert (spec.vega_lite["width"], spec.vega_lite["height"]) == (1200, 675)


def test_the_bridge_png_is_1200_by_675_and_not_blank(values: Values) -> None:
    assert_drawn(chart_for_values(ChartKind.ARR_BRIDGE, [values["nnarr_q3"]]))


def test_a_board_pack_draws_the_same_bridge(ctx: ToolContext, values: Values, pack: BoardPack) -> None:
    from_pack = chart(ctx, ChartKind.ARR_BRIDGE, pack=pack)
    from_value = chart_for_values(ChartKind.ARR_BRIDGE, [values["nnarr_q3"]])
    assert [(d.x, d.value) for d in from_pack.data] == [(d.x, d.value) for d in from_value.data]
    assert from_pack.verified and from_pack.reconciles


def test_an_altered_pack_is_drawn_as_the_callers_figures(ctx: ToolContext, pack: BoardPack) -> None:
    altered = pack.model_copy(update={"period": "Q4 2026"})
    spec = chart(ctx, ChartKind.ARR_BRIDGE, pack=altered)
    assert not spec.verified and "not signed by this server" in spec.notes[0]


def test_a_trend_of_nrr_and_grr_has_one_line_each_with_the_bound_values(values: Values) -> None:
    spec = chart_for_values(ChartKind.TREND, [values[k] for k in ("nrr_q3", "nrr_q2", "grr_q3", "grr_q2")])
    lines = {(d.series, d.x): d.value for d in spec.data}
    assert lines == {
        ("NRR", "12 months to Jun 2026"): Decimal("88.73"),
        ("NRR", "12 months to Sep 2026"): Decimal("81.35"),
        ("GRR", "12 months to Jun 2026"): Decimal("79.90"),
        ("GRR", "12 months to Sep 2026"): Decimal("77.83"),
    }
    assert spec.heading.startswith("NRR and GRR") and spec.unit is Unit.PERCENT
    assert_drawn(spec)


def test_a_trend_of_values_in_different_units_is_refused(values: Values) -> None:
    with pytest.raises(KpiError) as refused:
        chart_for_values(ChartKind.TREND, [values["arr_q3"], values["nrr_q3"]])
    assert refused.value.code is ErrorCode.INVALID_ARGUMENT and refused.value.detail.field == "values"


def series_of(values: Values, groups: dict[str, dict[str, Decimal]] | None = None) -> Series:
    """A two-quarter ARR series built by hand from the corpus values, optionally cut by segment."""
    q2, q3 = values["arr_q2"], values["arr_q3"]
    points = [
        SeriesPoint(period=p, value=v.value, label=v.label, groups=(groups or {}).get(p, {}), value_id="")
        for p, v in (("Q2 2026", q2), ("Q3 2026", q3))
    ]
    return Series(
        kpi="sales.arr",
        variant="default",
        label="ARR — live recurring run-rate, by quarter, Q2 2026 to Q3 2026",
        every=Every.QUARTER,
        unit=Unit.CURRENCY,
        currency="USD",
        binding=q3.binding,
        group_by="segment" if groups else None,
        points=points,
        provenance=SeriesProvenance(catalog_version="t", catalog_hash="t", series_id="", signature=""),
    )


def test_a_series_draws_as_a_trend_with_its_governed_label(values: Values) -> None:
    spec = chart_for_series(series_of(values))
    assert spec.kind is ChartKind.TREND
    assert [d.value for d in spec.data] == [Decimal("12164323.35"), Decimal("14119878.81")]
    assert spec.heading == "ARR — live recurring run-rate, by quarter, Q2 2026 to Q3 2026"
    assert spec.y_title == "ARR — live recurring run-rate (USD)"


def test_a_series_cut_by_segment_draws_as_stacked_bars_that_add_up(values: Values) -> None:
    # Q2: 8,000,000.00 + 3,000,000.00 + 1,164,323.35 = 12,164,323.35
    # Q3: 9,000,000.00 + 3,500,000.00 + 1,619,878.81 = 14,119,878.81
    groups = {
        "Q2 2026": {
            "enterprise": Decimal("8000000.00"),
            "mid_market": Decimal("3000000.00"),
            "smb": Decimal("1164323.35"),
        },
        "Q3 2026": {
            "enterprise": Decimal("9000000.00"),
            "mid_market": Decimal("3500000.00"),
            "smb": Decimal("1619878.81"),
        },
    }
    spec = chart_for_series(series_of(values, groups))
    assert spec.kind is ChartKind.SEGMENTS
    totals = {x: sum((d.value for d in spec.data if d.x == x), Decimal(0)) for x in ("Q2 2026", "Q3 2026")}
    assert totals == {"Q2 2026": Decimal("12164323.35"), "Q3 2026": Decimal("14119878.81")}
    stacked = spec.vega_lite["layer"][0]["data"]["values"]
    assert stacked[2]["top"] == float(Decimal("12164323.35"))
    assert_drawn(spec)


def test_segments_of_a_rate_are_refused(values: Values) -> None:
    series = series_of(values, {"Q3 2026": {"enterprise": Decimal("80")}}).model_copy(update={"unit": Unit.PERCENT})
    with pytest.raises(KpiError) as refused:
        chart_for_series(series, ChartKind.SEGMENTS)
    assert refused.value.code is ErrorCode.INVALID_ARGUMENT


def test_a_board_pack_draws_only_the_bridge(ctx: ToolContext, pack: BoardPack) -> None:
    with pytest.raises(KpiError) as refused:
        chart(ctx, ChartKind.TREND, pack=pack)
    assert refused.value.detail.field == "kind"
    assert chart_for_pack(pack).kind is ChartKind.ARR_BRIDGE


def test_exactly_one_source_is_charted(ctx: ToolContext, values: Values, pack: BoardPack) -> None:
    with pytest.raises(KpiError) as none:
        chart(ctx, ChartKind.TREND)
    with pytest.raises(KpiError) as two:
        chart(ctx, ChartKind.ARR_BRIDGE, values=[claim_of(values["nnarr_q3"])], pack=pack)
    assert none.value.detail.field == "values" and two.value.detail.field == "pack"


def test_a_size_outside_300_to_2400_pixels_is_refused_and_another_size_is_drawn(values: Values) -> None:
    with pytest.raises(KpiError) as refused:
        chart_for_values(ChartKind.ARR_BRIDGE, [values["nnarr_q3"]], size=(100, 675))
    assert refused.value.code is ErrorCode.OUT_OF_RANGE and refused.value.detail.field == "width"
    assert_drawn(chart_for_values(ChartKind.ARR_BRIDGE, [values["nnarr_q3"]], size=(800, 450)), 800, 450)
