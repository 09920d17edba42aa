"""Which columns are dimensions: the built-in ones, and those an operator or an inline ledger declares."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.engine import compute_cuts_from_ledger, compute_from_ledger
from kpi_context.tools.ledger.source import BUILTIN_DIMENSIONS, MAX_DIMENSIONS, DatasetRegistry, check_dimensions
from tests.support.ledgers import line

MID_2026 = date(2026, 6, 30)
HEADER = "contract_id,account_id,charge_type,amount,amount_period,start_date,end_date,signed_date,currency,change_type"


def _csv(path: Path, rows: list[tuple[str, str, str]], extra: str | None) -> None:
    """Yearly lines of 12,000 for 2026, one per (contract, account, extra column value)."""
    header = HEADER + (f",{extra}" if extra else "")
    body = "".join(
        f"{c},{a},recurring,12000,year,2026-01-01,2026-12-31,2026-01-01,USD,new" + (f",{v}" if extra else "") + "\n"
        for c, a, v in rows
    )
    path.write_text(header + "\n" + body, encoding="utf-8")


def test_an_operator_declared_dimension_of_a_dataset_can_be_cut_by(ctx, tmp_path):
    # Team north: A 12,000; team south: B and C, 24,000.
    _csv(tmp_path / "teams.csv", [("C1", "A", "north"), ("C2", "B", "south"), ("C3", "C", "south")], "team")
    registry = DatasetRegistry.from_cli(tmp_path, [f"teams={tmp_path / 'teams.csv'}"], dimensions=("team",))
    assert registry.dimensions == (*BUILTIN_DIMENSIONS, "team")
    cut = compute_cuts_from_ledger(ctx, "sales.arr", "teams", datasets=registry, group_by="team", as_of=MID_2026)
    assert {g.binding.grain.segment.member: g.value for g in cut.groups} == {
        "north": Decimal(12000),
        "south": Decimal(24000),
    }


def test_a_built_in_dimension_the_file_lacks_puts_every_account_in_unassigned(ctx, tmp_path):
    _csv(tmp_path / "plain.csv", [("C1", "A", ""), ("C2", "B", "")], None)
    registry = DatasetRegistry.from_cli(tmp_path, [f"plain={tmp_path / 'plain.csv'}"])
    cut = compute_cuts_from_ledger(ctx, "sales.arr", "plain", datasets=registry, group_by="region", as_of=MID_2026)
    # 12,000 + 12,000, all of it in the one member.
    assert [(g.binding.grain.segment.member, g.value) for g in cut.groups] == [("unassigned", Decimal(24000))]


@pytest.mark.parametrize("name", ["Team", "1team", "team-a", "", "t" * 65, "amount", "account_id", "go_live_date"])
def test_a_declared_dimension_must_be_a_lower_case_name_of_no_other_ledger_column(name):
    with pytest.raises(KpiError) as info:
        check_dimensions([name], "ledger.dimensions")
    assert (info.value.code, info.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "ledger.dimensions.0")


def test_declaring_a_built_in_dimension_again_changes_nothing_and_too_many_are_refused():
    assert check_dimensions(["segment", "team", "team"], "dimension") == (*BUILTIN_DIMENSIONS, "team")
    with pytest.raises(KpiError) as info:
        check_dimensions([f"d{i}" for i in range(MAX_DIMENSIONS + 1)], "dimension")
    assert info.value.detail.field == "dimension"


def test_declared_dimensions_are_a_list_of_names():
    with pytest.raises(KpiError) as info:
        check_dimensions("team", "ledger.dimensions")
    assert (info.value.code, info.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "ledger.dimensions")


def test_a_dataset_takes_the_operators_dimensions_not_the_callers(ctx, tmp_path):
    _csv(tmp_path / "teams.csv", [("C1", "A", "north")], "team")
    registry = DatasetRegistry.from_cli(tmp_path, [f"teams={tmp_path / 'teams.csv'}"])
    with pytest.raises(KpiError) as info:
        compute_from_ledger(
            ctx, "sales.arr", {"dataset": "teams", "dimensions": ["team"]}, datasets=registry, as_of=MID_2026
        )
    assert (info.value.code, info.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "ledger.dimensions")


def test_a_row_with_a_bad_dimension_value_is_left_out_and_counted(compute, make_line):
    # The second row's segment is 65 characters: rejected with its row number; ARR is the first row's 12,000.
    arr = compute("sales.arr", [make_line(), line(account_id="B", contract_id="B1", segment="s" * 65)], as_of=MID_2026)
    assert arr.value == Decimal(12000)
    assert arr.ledger is not None
    assert (arr.ledger.rows_read, arr.ledger.rows_used, arr.ledger.rows_rejected) == (2, 1, 1)
    assert arr.ledger.rejections[0]["row"] == 2
    assert "segment" in str(arr.ledger.rejections[0]["reason"])
