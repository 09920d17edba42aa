"""Facts: what the given values and a board pack back, each with its KPI, period and role."""

from __future__ import annotations

from decimal import Decimal

from kpi_context.tools.board_pack import BoardPack
from kpi_context.tools.context import ToolContext
from kpi_context.tools.narrative.facts import Role, change_facts, pack_facts, pack_is_signed, value_facts
from kpi_context.tools.narrative.figures import FigureKind
from kpi_context.tools.values import BoundValue

Values = dict[str, BoundValue]


def test_a_net_new_arr_value_backs_each_bridge_line_as_a_value_of_its_own_kpi(ctx: ToolContext, values: Values) -> None:
    facts = value_facts(values["nnarr_q3"], ctx.catalog)
    lines = {f.kpi: f.number for f in facts if f.role is Role.COMPONENT}
    assert lines["sales.new_business"] == Decimal("2580825.20")
    assert lines["sales.downgrades"] == Decimal("620020.84")
    assert lines["sales.arr"] == Decimal("14119878.81")
    [own] = [f for f in facts if f.role is Role.VALUE]
    assert own.number == Decimal("1955555.46") and own.value is values["nnarr_q3"]


def test_a_computed_value_backs_the_inputs_it_was_computed_from(ctx: ToolContext, values: Values) -> None:
    facts = value_facts(values["runway_q3"], ctx.catalog)
    inputs = {f.kpi: f.number for f in facts if f.role is Role.COMPONENT}
    assert inputs["finance.net_burn_rate"] == Decimal("980000")


def test_two_values_of_one_kpi_back_their_governed_change(ctx: ToolContext, values: Values) -> None:
    arr = change_facts(ctx, [values["arr_q2"], values["arr_q3"]])
    # 14,119,878.81 - 12,164,323.35 = 1,955,555.46; / 12,164,323.35 = +16.08%
    assert {(f.kind, f.number) for f in arr} == {
        (FigureKind.MONEY, Decimal("1955555.46")),
        (FigureKind.PERCENT, Decimal("16.08")),
    }
    nrr = change_facts(ctx, [values["nrr_q3"], values["nrr_q2"]])
    # a rate moves in points only: 81.35 - 88.73 = -7.38
    assert [(f.kind, f.number) for f in nrr] == [(FigureKind.POINTS, Decimal("-7.38"))]


def test_values_of_different_kpis_back_no_change(ctx: ToolContext, values: Values) -> None:
    assert change_facts(ctx, [values["nrr_q3"], values["grr_q3"]]) == []


def test_a_pack_backs_its_items_changes_and_bridge_lines(ctx: ToolContext, pack: BoardPack) -> None:
    facts = pack_facts(ctx, pack)
    arr = [f for f in facts if f.kpi == "sales.arr" and f.role is Role.VALUE]
    assert [f.number for f in arr] == [Decimal("14119878.81")]
    changes = {f.number for f in facts if f.kpi == "sales.arr" and f.role is Role.CHANGE}
    assert {Decimal("1955555.46"), Decimal("16.08")} <= changes
    contraction = [f.number for f in facts if f.kpi == "sales.downgrades"]
    assert contraction == [Decimal("-620020.84")]
    assert pack_is_signed(ctx, pack)
