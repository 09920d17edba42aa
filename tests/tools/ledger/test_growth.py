"""ARR growth from a ledger: quarter over quarter and year over year, by hand, cut and refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.engine import compute_cuts_from_ledger, compute_from_ledger
from kpi_context.tools.periods import Period
from kpi_context.tools.values import ValueClaim
from tests.support.ledgers import line


def _yearly(account: str, amount: str, start: str, end: str, segment: str) -> dict[str, Any]:
    return line(
        account_id=account,
        contract_id=account,
        amount=amount,
        start_date=start,
        end_date=end,
        signed_date=start,
        segment=segment,
    )


# A enterprise 100,000 a year from 2025 to 2027; C enterprise 30,000 in 2025 only;
# B smb 20,000 from 1 Feb 2026; D smb 10,000 from 1 Jun 2025 to 31 May 2026. ARR:
#   31 Mar 2025: A 100,000 + C 30,000 = 130,000
#   31 Dec 2025: A 100,000 + C 30,000 + D 10,000 = 140,000
#   31 Mar 2026: A 100,000 + B 20,000 + D 10,000 = 130,000
BOOK = [
    _yearly("A", "100000", "2025-01-01", "2027-12-31", "enterprise"),
    _yearly("C", "30000", "2025-01-01", "2025-12-31", "enterprise"),
    _yearly("B", "20000", "2026-02-01", "2027-01-31", "smb"),
    _yearly("D", "10000", "2025-06-01", "2026-05-31", "smb"),
]


def test_quarter_over_quarter_growth_is_arr_at_the_close_against_the_prior_close(compute):
    # (130,000 − 140,000) ÷ 140,000 × 100 = −7.142857…% → −7.14%.
    growth = compute("sales.arr_growth_qoq", BOOK, period="2026-Q1")
    assert growth.value == Decimal("-7.14")
    assert growth.period == Period(start=date(2026, 1, 1), end=date(2026, 3, 31))
    assert [(c.name, c.value, c.description) for c in growth.components] == [
        ("arr_current", Decimal(130000), "ARR on 2026-03-31"),
        ("arr_prior", Decimal(140000), "ARR on 2025-12-31"),
    ]
    assert growth.label.startswith("ARR Growth (QoQ) — ARR growth over three months, Q1 2026: ")


def test_year_over_year_growth_compares_the_close_with_the_same_close_a_year_earlier(compute):
    # 31 Mar 2026 against 31 Mar 2025: (130,000 − 130,000) ÷ 130,000 = 0%; the period is the twelve months to March.
    growth = compute("sales.growth_rate_yoy", BOOK, period="2026-Q1")
    assert growth.value == Decimal(0)
    assert growth.period == Period(start=date(2025, 4, 1), end=date(2026, 3, 31))
    assert {c.name: c.value for c in growth.components} == {
        "arr_current": Decimal(130000),
        "arr_prior": Decimal(130000),
    }


def test_growth_from_no_arr_is_undefined_not_infinite(compute):
    # 2025-Q1 against 31 Dec 2024, when nothing was live: ARR 0.
    growth = compute("sales.arr_growth_qoq", BOOK, period="2025-Q1")
    assert growth.value is None
    assert growth.undefined_reason == "ARR on 2024-12-31 is zero: growth from nothing is undefined"


def test_the_ledger_growth_is_the_catalog_formula_over_the_two_arr_values(ctx, registry, compute):
    # The same −7.14% from compute_kpi over the two ledger ARR values, passed back verbatim.
    def arr(day: date) -> ValueClaim:
        value = compute("sales.arr", BOOK, as_of=day)
        return ValueClaim.model_validate(value.model_dump(mode="json"))

    inputs = {"arr_current": arr(date(2026, 3, 31)), "arr_prior_quarter": arr(date(2025, 12, 31))}
    formula = compute_from_inputs(ctx, "sales.arr_growth_qoq", inputs, period="2026-Q1")
    assert formula.value == compute("sales.arr_growth_qoq", BOOK, period="2026-Q1").value == Decimal("-7.14")


def test_growth_by_segment_is_each_segments_own_arr_at_both_closes(ctx, registry):
    # enterprise: A 100,000 on 31 Mar 2026 against A 100,000 + C 30,000 = 130,000 → −23.0769…% → −23.08%.
    # smb: B 20,000 + D 10,000 = 30,000 against D 10,000 → +200%. Total −7.14%: enterprise fell with the total,
    # so there is no mix shift.
    cut = compute_cuts_from_ledger(
        ctx, "sales.arr_growth_qoq", {"rows": BOOK}, datasets=registry, group_by="segment", period="2026-Q1"
    )
    assert cut.total.value == Decimal("-7.14")
    assert [(g.binding.grain.segment.member, g.value) for g in cut.groups] == [
        ("enterprise", Decimal("-23.08")),
        ("smb", Decimal(200)),
    ]
    assert (cut.reconciles, cut.mix_shift) == (None, None)


def test_the_revenue_based_variant_is_computed_from_inputs_not_from_a_ledger(ctx, registry):
    with pytest.raises(KpiError) as info:
        compute_from_ledger(
            ctx, "sales.growth_rate_yoy", {"rows": BOOK}, datasets=registry, period="2026", variant="revenue_based"
        )
    assert (info.value.code, info.value.detail.field) == (ErrorCode.NOT_COMPUTABLE, "variant")
    assert info.value.detail.details == {"ledger_variants": ["default"]}
