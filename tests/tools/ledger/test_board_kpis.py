"""The board KPIs the ledger computes from its own movements and levels, by hand on six accounts.

Quick ratio, the gross and net dollar churn rates, the expansion and contraction rates and ARPA: each is
its catalog formula over the ledger's own values of the formula's inputs, bound as the catalog binds it.
RPO and current RPO are not computed from a ledger (see the last tests).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.inputs import trailing_window
from kpi_context.tools.ledger.engine import compute_cuts_from_ledger, compute_series_from_ledger
from kpi_context.tools.periods import parse_period
from kpi_context.tools.values import BoundValue, ValueClaim
from tests.support.ledgers import yearly_line

# Six accounts (amounts a year), A and B enterprise, the others smb:
#   A: 12,000 from 2025-01-01 to 2027-12-31, plus 6,000 co-termed from 2026-08-01 (an expansion): 18,000 from August.
#   B: 24,000 through 2025, renewed for 2026 at 18,000 (a contraction of 6,000 on 1 Jan 2026).
#   C: 9,000 from 2025-08-01 to 2026-07-31, not renewed: churned on 1 Aug 2026.
#   D: 15,000 from 2025-07-01 to 2026-06-30, renewed at 10,000 to 2027-06-30 (a contraction of 5,000 on 1 Jul 2026).
#   E: new, 20,000 from 2026-08-01 to 2027-07-31.
#   F: 3,000 through 2024, back with 3,600 from 2026-09-01 to 2027-08-31 (a reactivation).
# ARR on 30 Sep 2025: A 12,000 + B 24,000 + C 9,000 + D 15,000 = 60,000 (the cohort A, B, C, D).
# ARR on 30 Jun 2026: A 12,000 + B 18,000 + C 9,000 + D 15,000 = 54,000.
# ARR on 30 Sep 2026: A 18,000 + B 18,000 + D 10,000 + E 20,000 + F 3,600 = 69,600.
BOOK = [
    yearly_line("A", "A1", "12000", "2025-01-01", "2027-12-31", "enterprise"),
    yearly_line("A", "A1", "6000", "2026-08-01", "2027-12-31", "enterprise", change_type="expansion"),
    yearly_line("B", "B1", "24000", "2025-01-01", "2025-12-31", "enterprise"),
    yearly_line(
        "B", "B2", "18000", "2026-01-01", "2026-12-31", "enterprise", signed_date="2025-12-01", change_type="renewal"
    ),
    yearly_line("C", "C1", "9000", "2025-08-01", "2026-07-31", "smb"),
    yearly_line("D", "D1", "15000", "2025-07-01", "2026-06-30", "smb"),
    yearly_line("D", "D2", "10000", "2026-07-01", "2027-06-30", "smb", signed_date="2026-06-01", change_type="renewal"),
    yearly_line("E", "E1", "20000", "2026-08-01", "2027-07-31", "smb"),
    yearly_line("F", "F1", "3000", "2024-01-01", "2024-12-31", "smb"),
    yearly_line("F", "F2", "3600", "2026-09-01", "2027-08-31", "smb"),
]
Q3_2026 = parse_period("2026-Q3")
WINDOW = trailing_window(Q3_2026.end, 12)
"""The twelve months to 30 Sep 2026 (1 Oct 2025 – 30 Sep 2026), opened on 30 Sep 2025."""

BOARD_KPIS = (
    "sales.quick_ratio",
    "customers.gross_dollar_churn_rate",
    "customers.net_dollar_churn_rate",
    "customers.expansion_rate",
    "customers.contraction_rate",
    "customers.arpa",
)


def _claim(value: BoundValue) -> ValueClaim:
    return ValueClaim.model_validate(value.model_dump(mode="json"))


def _parts(value: BoundValue) -> dict[str, Decimal]:
    return {c.name: c.value for c in value.components}


# --- the quick ratio ----------------------------------------------------------------------------


def test_the_quick_ratio_divides_the_arr_gained_in_the_period_by_the_arr_lost(compute):
    # Q3 2026, 30 Jun → 30 Sep: gained E new 20,000 + A expansion 6,000 + F reactivation 3,600 = 29,600;
    # lost D contraction 5,000 + C churn 9,000 = 14,000. 29,600 ÷ 14,000 = 2.1142857… → 2.11.
    ratio = compute("sales.quick_ratio", BOOK, period="2026-Q3")
    assert ratio.value == Decimal("2.11")
    assert ratio.period == Q3_2026
    assert _parts(ratio) == {
        "start": Decimal(54000),
        "new": Decimal(20000),
        "expansion": Decimal(6000),
        "reactivation": Decimal(3600),
        "contraction": Decimal(5000),
        "churn": Decimal(9000),
        "end": Decimal(69600),
    }


def test_the_quick_ratio_of_a_period_that_lost_nothing_is_undefined(compute):
    # Q3 2025, 30 Jun → 30 Sep: A and B flat, C and D new, nothing lost: gains over zero have no ratio.
    ratio = compute("sales.quick_ratio", BOOK, period="2025-Q3")
    assert ratio.value is None
    assert ratio.undefined_reason == "no ARR was lost in the period (no downgrade and no churn): read the gains instead"


def test_the_quick_ratio_is_the_catalog_formula_over_the_five_ledger_movements(ctx, compute):
    # The same 2.11 from compute_kpi over the five movements of Q3 2026, each a ledger value passed back verbatim.
    kpis = ("sales.new_business", "sales.expansion", "sales.reactivation", "sales.downgrades", "sales.churn_arr")
    inputs = {kpi: _claim(compute(kpi, BOOK, period="2026-Q3")) for kpi in kpis}
    formula = compute_from_inputs(ctx, "sales.quick_ratio", inputs, period="2026-Q3")
    assert formula.value == compute("sales.quick_ratio", BOOK, period="2026-Q3").value == Decimal("2.11")


# --- the dollar rates of the opening cohort -------------------------------------------------------


def test_the_dollar_rates_are_shares_of_the_cohorts_starting_arr_over_twelve_months(compute):
    # Window 1 Oct 2025 – 30 Sep 2026; starting ARR 60,000 (A, B, C, D). Over the window: expansion A 6,000;
    # downgrades B 6,000 + D 5,000 = 11,000; churn C 9,000. E (new) and F (returning) are not in the cohort.
    #   gross dollar churn = (11,000 + 9,000) ÷ 60,000 × 100 = 33.333… → 33.33
    #   net dollar churn   = (11,000 + 9,000 − 6,000) ÷ 60,000 × 100 = 23.333… → 23.33
    #   expansion rate     = 6,000 ÷ 60,000 × 100 = 10
    #   contraction rate   = 11,000 ÷ 60,000 × 100 = 18.333… → 18.33
    rates = {
        kpi: compute(kpi, BOOK, period="2026-Q3")
        for kpi in (
            "customers.gross_dollar_churn_rate",
            "customers.net_dollar_churn_rate",
            "customers.expansion_rate",
            "customers.contraction_rate",
        )
    }
    assert {kpi: v.value for kpi, v in rates.items()} == {
        "customers.gross_dollar_churn_rate": Decimal("33.33"),
        "customers.net_dollar_churn_rate": Decimal("23.33"),
        "customers.expansion_rate": Decimal(10),
        "customers.contraction_rate": Decimal("18.33"),
    }
    assert all(v.period == WINDOW for v in rates.values())
    assert _parts(rates["customers.net_dollar_churn_rate"]) == {
        "starting_arr": Decimal(60000),
        "contraction": Decimal(11000),
        "churn": Decimal(9000),
        "expansion": Decimal(6000),
    }
    assert _parts(rates["customers.expansion_rate"]) == {"starting_arr": Decimal(60000), "expansion": Decimal(6000)}


def test_the_churn_rates_are_one_hundred_minus_grr_and_nrr_for_the_same_window(compute):
    # GRR = (60,000 − 11,000 − 9,000) ÷ 60,000 = 66.67; 66.67 + 33.33 = 100.
    # NRR = (60,000 + 6,000 − 11,000 − 9,000) ÷ 60,000 = 76.67; 76.67 + 23.33 = 100.
    def at(kpi: str) -> Decimal | None:
        return compute(kpi, BOOK, period="2026-Q3").value

    assert at("customers.gross_revenue_retention") == Decimal("66.67")
    assert at("customers.net_revenue_retention") == Decimal("76.67")
    assert Decimal("66.67") + Decimal("33.33") == Decimal("76.67") + Decimal("23.33") == 100


def test_the_net_dollar_churn_rate_is_the_catalog_formula_over_the_window_values(ctx, compute):
    # Starting ARR at the window's open (30 Sep 2025) and the three movements over the window, as ledger values:
    # (11,000 + 9,000 − 6,000) ÷ 60,000 × 100 = 23.33, as the ledger gives it.
    inputs = {"sales.starting_arr": _claim(compute("sales.starting_arr", BOOK, period=WINDOW))}
    for kpi in ("sales.downgrades", "sales.churn_arr", "sales.expansion"):
        inputs[kpi] = _claim(compute(kpi, BOOK, period=WINDOW))
    assert inputs["sales.starting_arr"].as_of == date(2025, 9, 30)
    formula = compute_from_inputs(ctx, "customers.net_dollar_churn_rate", inputs, period="2026-Q3")
    assert formula.value == compute("customers.net_dollar_churn_rate", BOOK, period="2026-Q3").value
    assert formula.value == Decimal("23.33")


def test_a_window_with_no_arr_at_its_open_has_no_dollar_rate(compute):
    # The twelve months to 31 Dec 2024 open on 31 Dec 2023, before any contract.
    rate = compute("customers.gross_dollar_churn_rate", BOOK, period="2024-Q4")
    assert rate.value is None
    assert rate.undefined_reason == "no ARR at the window's open"


def test_dollar_churn_by_segment_is_computed_within_the_segment_each_account_started_in(ctx, registry):
    # enterprise: start A 12,000 + B 24,000 = 36,000; lost B 6,000 → 16.666… → 16.67.
    # smb: start C 9,000 + D 15,000 = 24,000; lost C 9,000 + D 5,000 = 14,000 → 58.333… → 58.33.
    # The total (33.33) is not the average of the two, and the groups state no reconciliation.
    cut = compute_cuts_from_ledger(
        ctx, "customers.gross_dollar_churn_rate", {"rows": BOOK}, datasets=registry, group_by="segment", period=Q3_2026
    )
    assert cut.total.value == Decimal("33.33")
    assert [(g.binding.grain.segment.member, g.value) for g in cut.groups] == [
        ("enterprise", Decimal("16.67")),
        ("smb", Decimal("58.33")),
    ]
    assert cut.reconciles is None


def test_the_quick_ratio_by_segment_divides_each_segments_own_gains_by_its_own_losses(ctx, registry):
    # Q3 2026: enterprise gained A's 6,000 and lost nothing → undefined; smb gained E 20,000 + F 3,600 = 23,600
    # and lost C 9,000 + D 5,000 = 14,000 → 1.6857… → 1.69. The total is 2.11.
    cut = compute_cuts_from_ledger(
        ctx, "sales.quick_ratio", {"rows": BOOK}, datasets=registry, group_by="segment", period=Q3_2026
    )
    assert cut.total.value == Decimal("2.11")
    assert [(g.binding.grain.segment.member, g.value) for g in cut.groups] == [
        ("enterprise", None),
        ("smb", Decimal("1.69")),
    ]


def test_a_series_of_the_expansion_rate_is_the_single_value_at_each_close(ctx, registry, compute):
    # Window to 30 Jun 2026 (open 30 Jun 2025: A 12,000 + B 24,000 = 36,000): no expansion yet → 0.
    # Window to 30 Sep 2026: 6,000 ÷ 60,000 → 10.
    periods = [parse_period("2026-Q2"), Q3_2026]
    series = compute_series_from_ledger(
        ctx, "customers.expansion_rate", {"rows": BOOK}, datasets=registry, periods=periods
    )
    assert [point.total.value for point in series] == [Decimal(0), Decimal(10)]
    assert [point.total for point in series] == [compute("customers.expansion_rate", BOOK, period=p) for p in periods]


# --- ARPA --------------------------------------------------------------------------------------


def test_arpa_is_mrr_over_the_accounts_live_at_the_close(compute):
    # 30 Sep 2026: ARR 69,600 → MRR 69,600 ÷ 12 = 5,800 a month over five live accounts (A, B, D, E, F) = 1,160.
    arpa = compute("customers.arpa", BOOK, as_of=Q3_2026.end)
    assert arpa.value == Decimal(1160)
    assert _parts(arpa) == {"mrr": Decimal(5800), "active_accounts": Decimal(5)}
    assert arpa.currency == "USD"


def test_arpa_divides_mrr_rounded_to_the_cent_as_the_catalog_formula_does(ctx, compute):
    # Two accounts at 1,000 a year: ARR 2,000, MRR 2,000 ÷ 12 = 166.666… → 166.67 (MRR's own value, to the cent);
    # 166.67 ÷ 2 = 83.335 → 83.34 (half-even). Dividing the unrounded MRR would give 83.333… → 83.33: a cent
    # the formula over the ledger's MRR and customer count would not reproduce.
    rows = [
        yearly_line("G", "G1", "1000", "2026-01-01", "2026-12-31", "smb"),
        yearly_line("H", "H1", "1000", "2026-01-01", "2026-12-31", "smb"),
    ]
    day = date(2026, 6, 30)
    arpa = compute("customers.arpa", rows, as_of=day)
    assert _parts(arpa) == {"mrr": Decimal("166.67"), "active_accounts": Decimal(2)}
    assert arpa.value == Decimal("83.34")
    inputs = {
        "sales.mrr": _claim(compute("sales.mrr", rows, as_of=day)),
        "customers.total_customers": _claim(compute("customers.total_customers", rows, as_of=day)),
    }
    assert compute_from_inputs(ctx, "customers.arpa", inputs, as_of=day).value == Decimal("83.34")


def test_arpa_with_no_live_account_is_undefined(compute):
    arpa = compute("customers.arpa", BOOK, as_of=date(2023, 6, 30))
    assert arpa.value is None
    assert arpa.undefined_reason == "no account is live on that date"


# --- bindings, and what the ledger does not compute ---------------------------------------------------


@pytest.mark.parametrize("kpi", BOARD_KPIS)
def test_each_board_kpi_is_bound_exactly_as_the_catalog_binds_it(ctx, compute, kpi):
    value = compute(kpi, BOOK, period="2026-Q3")
    assert value.binding == ctx.catalog.get(kpi).binding
    assert value.warnings == []


@pytest.mark.parametrize("kpi", ["finance.rpo", "finance.crpo"])
def test_rpo_is_not_computed_from_a_ledger_that_has_no_billing_or_cancellation_terms(compute, kpi):
    with pytest.raises(KpiError) as refused:
        compute(kpi, BOOK, as_of=Q3_2026.end)
    assert refused.value.code is ErrorCode.NOT_COMPUTABLE
