"""check_narrative: each finding code on drafts whose figures are worked out by hand from the corpus values.

The values are those of tests/fixtures/narrative/values.json: ARR Q3 2026 14,119,878.81 and Q2 12,164,323.35;
NRR 81.35% (Q3) and 88.73% (Q2); GRR 77.83% (Q3); new-logo ACV 74,078.14; blended ACV 60,861.55.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kpi_context.tools.board_pack import BoardPack
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.narrative.checks import check_narrative
from kpi_context.tools.narrative.model import MAX_TEXT, FindingCode, NarrativeCheck, Severity
from kpi_context.tools.values import BoundValue

Values = dict[str, BoundValue]


def check(ctx: ToolContext, values: Values, text: str, keys: Sequence[str]) -> NarrativeCheck:
    return check_narrative(ctx, text, [values[key] for key in keys])


def codes(result: NarrativeCheck) -> list[tuple[FindingCode, str]]:
    return [(f.code, f.text) for f in result.findings]


def test_figures_rounded_to_the_precision_shown_are_backed(ctx: ToolContext, values: Values) -> None:
    # 14,119,878.81 -> $14.1M; 12,164,323.35 -> $12.2M
    result = check(ctx, values, "ARR rose to $14.1M from $12.2M in Q2.", ["arr_q3", "arr_q2"])
    assert result.passed and result.findings == []
    assert (result.figures, result.backed) == (2, 2)
    assert result.kpis == ["sales.arr"]


def test_a_figure_no_value_states_is_an_unbacked_number_with_the_right_figure_as_fix(
    ctx: ToolContext, values: Values
) -> None:
    text = "ARR closed the quarter at $14.3M."
    result = check(ctx, values, text, ["arr_q3"])
    [finding] = result.findings
    assert finding.code is FindingCode.UNBACKED_NUMBER and finding.severity is Severity.ERROR
    assert finding.text == "$14.3M" and text[finding.span[0] : finding.span[1]] == "$14.3M"
    # the value at the draft's own precision: 14,119,878.81 -> $14.1M
    assert finding.fix.startswith("write $14.1M")
    assert not result.passed


def test_a_truncated_figure_is_unbacked(ctx: ToolContext, values: Values) -> None:
    # runway 8,800,000 / 980,000 = 8.98 months, which is 9.0, not 8.9
    result = check(ctx, values, "Runway is 8.9 months.", ["runway_q3"])
    assert codes(result) == [(FindingCode.UNBACKED_NUMBER, "8.9 months")]
    assert result.findings[0].fix.startswith("write 9.0 months")


def test_a_relative_change_of_a_rate_is_not_its_change_in_points(ctx: ToolContext, values: Values) -> None:
    # NRR moved 81.35 - 88.73 = -7.38 points: "7.4 points" is backed, "7.4%" is not
    assert check(ctx, values, "NRR fell 7.4 points from Q2 to Q3.", ["nrr_q3", "nrr_q2"]).findings == []
    result = check(ctx, values, "NRR fell 7.4% from Q2 to Q3.", ["nrr_q3", "nrr_q2"])
    assert codes(result) == [(FindingCode.UNBACKED_NUMBER, "7.4%")]


def test_a_figure_of_another_period_is_a_mismatched_value(ctx: ToolContext, values: Values) -> None:
    result = check(ctx, values, "Q2 ARR of $14.1M set a record.", ["arr_q3", "arr_q2"])
    [finding] = result.findings
    assert finding.code is FindingCode.MISMATCHED_VALUE and finding.text == "$14.1M"
    assert "Q3 2026" in finding.message
    # Q2 ARR 12,164,323.35 at the draft's precision
    assert finding.fix.startswith("write $12.2M")


def test_a_figure_of_another_kpi_is_a_mismatched_value(ctx: ToolContext, values: Values) -> None:
    result = check(ctx, values, "GRR came in at 81.4% and NRR at 77.8%.", ["nrr_q3", "grr_q3"])
    assert codes(result) == [(FindingCode.MISMATCHED_VALUE, "81.4%"), (FindingCode.MISMATCHED_VALUE, "77.8%")]
    assert result.findings[0].fix.startswith("write 77.8%")


def test_a_figure_of_another_variant_is_a_mismatched_value(ctx: ToolContext, values: Values) -> None:
    # 94.43% is NRR for the reporting period only; trailing-twelve-month NRR is 81.35%
    text = "NRR over the trailing 12 months was 94.4% in Q3."
    result = check(ctx, values, text, ["nrr_q3", "nrr_period_q3"])
    assert codes(result) == [(FindingCode.MISMATCHED_VALUE, "94.4%")]


def test_two_kpis_set_against_each_other_are_an_unsafe_comparison_with_axes_and_remedies(
    ctx: ToolContext, values: Values
) -> None:
    text = "New-logo ACV of $74.1k vs ARR per customer of $60.9k — we're landing bigger than our base."
    result = check(ctx, values, text, ["acv_new_q3", "acv_blended_q3"])
    [finding] = result.findings
    assert finding.code is FindingCode.UNSAFE_COMPARISON
    assert finding.text == "New-logo ACV of $74.1k vs ARR per customer of $60.9k"
    axes = {m.axis for m in finding.mismatches}
    assert {"kpi", "grain.population"} <= axes
    assert finding.remedies and finding.kpis == ["sales.avg_contract_value", "customers.avg_contract_value"]


def test_periods_of_different_lengths_are_an_unsafe_comparison(ctx: ToolContext, values: Values) -> None:
    text = "Q3 new business of $2.58M is down from $5.46M for 2025."
    result = check(ctx, values, text, ["new_business_q3", "new_business_2025"])
    [finding] = result.findings
    assert finding.code is FindingCode.UNSAFE_COMPARISON
    assert [m.axis for m in finding.mismatches] == ["period"]


def test_a_trend_of_one_kpi_and_kpis_side_by_side_are_not_unsafe(ctx: ToolContext, values: Values) -> None:
    trend = check(ctx, values, "NRR of 81.4% is down from 88.7% last quarter.", ["nrr_q3", "nrr_q2"])
    side_by_side = check(
        ctx,
        values,
        "In Q3, ARR reached $14.1M while NRR was 81.4% and we added 24 new logos.",
        ["arr_q3", "nrr_q3", "new_logos_q3"],
    )
    assert trend.findings == [] and side_by_side.findings == []


def test_a_name_two_kpis_in_play_answer_to_is_an_unlabelled_basis(ctx: ToolContext, values: Values) -> None:
    result = check(ctx, values, "ACV reached $74.1k in Q3.", ["acv_new_q3", "acv_blended_q3"])
    [finding] = result.findings
    assert finding.code is FindingCode.UNLABELLED_BASIS and finding.severity is Severity.WARNING
    assert '"new logo ACV"' in finding.fix and '"blended ACV"' in finding.fix
    assert result.passed  # a warning: the figure itself is backed


def test_a_kpi_in_play_under_two_variants_needs_its_rules_named(ctx: ToolContext, values: Values) -> None:
    result = check(ctx, values, "Q3 NRR was 94.4%.", ["nrr_q3", "nrr_period_q3"])
    [finding] = result.findings
    assert finding.code is FindingCode.UNLABELLED_BASIS
    assert "reporting period only" in finding.fix and "trailing 12 months" in finding.fix


def test_a_kpi_quoted_without_its_given_must_pair_kpi_is_a_missing_pair_warning(
    ctx: ToolContext, values: Values
) -> None:
    result = check(ctx, values, "NRR was 81.4% for the twelve months to September.", ["nrr_q3", "grr_q3"])
    [finding] = result.findings
    assert finding.code is FindingCode.MISSING_PAIR and finding.severity is Severity.WARNING
    assert finding.kpis == ["customers.net_revenue_retention", "customers.gross_revenue_retention"]
    assert "77.83%" in finding.fix
    assert result.passed


def test_a_must_pair_kpi_that_was_not_given_is_not_asked_for(ctx: ToolContext, values: Values) -> None:
    assert check(ctx, values, "NRR was 81.4%.", ["nrr_q3"]).findings == []


def test_a_draft_is_checked_against_a_board_pack(ctx: ToolContext, pack: BoardPack) -> None:
    # the pack states ARR's change against Q2: +$1,955,555.46 (+16.08%); NNARR 1,955,555.46 and the bridge's
    # new business line 2,580,825.20
    text = (
        "ARR closed Q3 at $14.1M, up 16.1% on Q2: net new ARR of $1.96M, with $2.58M of new business. "
        "NRR was 81.4% and GRR 77.8%."
    )
    result = check_narrative(ctx, text, pack=pack)
    assert result.findings == [] and result.notes == []
    wrong = check_narrative(ctx, "GRR was 81.4% in Q3.", pack=pack)
    assert (FindingCode.MISMATCHED_VALUE, "81.4%") in codes(wrong)


def test_an_altered_pack_is_read_as_the_callers_and_says_so(ctx: ToolContext, pack: BoardPack) -> None:
    altered = pack.model_copy(update={"period": pack.period})
    items = [item.model_copy(update={"label": item.label + " "}) for item in altered.items]
    result = check_narrative(ctx, "ARR was $14.1M.", pack=altered.model_copy(update={"items": items}))
    assert result.notes == [
        "the pack's signature does not check out: its figures were read as the caller's, not this server's"
    ]


@pytest.mark.parametrize(
    ("text", "keys", "field"),
    [
        ("x" * (MAX_TEXT + 1), ["arr_q3"], "text"),
        ("ARR was $14.1M.", [], "values"),
        ("ARR was $14.1M.", ["arr_q3"] * 61, "values"),
    ],
)
def test_an_oversized_draft_too_many_values_or_none_is_refused_naming_the_field(
    ctx: ToolContext, values: Values, text: str, keys: list[str], field: str
) -> None:
    with pytest.raises(KpiError) as refused:
        check(ctx, values, text, keys)
    assert refused.value.code is ErrorCode.INVALID_ARGUMENT and refused.value.detail.field == field
