"""The board KPIs whose catalog formulas combine other ledger KPIs: quick ratio, dollar churn rates, ARPA.

Each is the catalog formula applied to the ledger's own values of its inputs, each input taken as its
own bound value is (rounded half-even to the cent), so the ledger's figure is the figure `compute_kpi`
gives from those values. The movements come from the ARR bridge (`bridge.py`): over the period for
the quick ratio; over the trailing window, of the cohort live at its open, for the dollar rates (the
bridge's expansion, contraction and churn are movements of accounts live at the open by construction,
and its start is the starting ARR at the open). ARPA is MRR over active accounts at one date.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from kpi_context.tools.ledger.bridge import Bridge, Movement
from kpi_context.tools.ledger.measures import HUNDRED, Level, Measured, ratio
from kpi_context.tools.values import Component

_CENT = Decimal("0.01")
_MONTHS = Decimal(12)


def _cent(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_EVEN)


class DollarRate(StrEnum):
    """A share of the opening cohort's ARR moved over the window (0–100 scale)."""

    GROSS_CHURN = "gross_dollar_churn"
    """(downgrades + churned ARR) ÷ starting ARR."""
    NET_CHURN = "net_dollar_churn"
    """(downgrades + churned ARR − expansion) ÷ starting ARR."""
    EXPANSION = "expansion"
    """Expansion ÷ starting ARR."""
    CONTRACTION = "contraction"
    """Downgrades ÷ starting ARR."""


_PARTS: dict[DollarRate, tuple[Movement, ...]] = {
    DollarRate.GROSS_CHURN: (Movement.CONTRACTION, Movement.CHURN),
    DollarRate.NET_CHURN: (Movement.CONTRACTION, Movement.CHURN, Movement.EXPANSION),
    DollarRate.EXPANSION: (Movement.EXPANSION,),
    DollarRate.CONTRACTION: (Movement.CONTRACTION,),
}
"""The bridge movements each rate reads, in the order its components list them."""

_FORMULAS = {
    DollarRate.GROSS_CHURN: "(downgrades + churned ARR) over the window ÷ starting ARR at its open × 100",
    DollarRate.NET_CHURN: "(downgrades + churned ARR − expansion) over the window ÷ starting ARR at its open × 100",
    DollarRate.EXPANSION: "expansion over the window ÷ starting ARR at its open × 100",
    DollarRate.CONTRACTION: "downgrades over the window ÷ starting ARR at its open × 100",
}
_EACH_TO_THE_CENT = ", each amount to the cent"
_COHORT = (Movement.EXPANSION, Movement.CONTRACTION, Movement.CHURN, Movement.FLAT)
"""The movements of accounts live at the open."""


def _numerator(rate: DollarRate, cents: dict[Movement, Decimal]) -> Decimal:
    match rate:
        case DollarRate.GROSS_CHURN:
            return cents[Movement.CONTRACTION] + cents[Movement.CHURN]
        case DollarRate.NET_CHURN:
            return cents[Movement.CONTRACTION] + cents[Movement.CHURN] - cents[Movement.EXPANSION]
        case DollarRate.EXPANSION:
            return cents[Movement.EXPANSION]
        case DollarRate.CONTRACTION:
            return cents[Movement.CONTRACTION]


def dollar_rate(moved: Bridge, rate: DollarRate) -> Measured:
    """One of the cohort's dollar rates over the bridge's window, from its amounts to the cent."""
    start = _cent(moved.start)
    cents = {m: _cent(moved.amounts[m]) for m in _PARTS[rate]}
    components = (
        Component(
            name="starting_arr",
            value=start,
            description=f"ARR on {moved.opened.isoformat()} of the accounts live then",
        ),
        *(Component(name=m.value, value=cents[m]) for m in _PARTS[rate]),
    )
    formula = _FORMULAS[rate] + _EACH_TO_THE_CENT
    trace: dict[str, object] = {
        "cohort_accounts": sum(moved.accounts[m] for m in _COHORT),
        **moved.trace(),
    }
    if start <= 0:
        return Measured(None, formula, components, trace, "no ARR at the window's open")
    return Measured(ratio(_numerator(rate, cents), start) * HUNDRED, formula, components, trace)


def quick_ratio(moved: Bridge) -> Measured:
    """(new + expansion + reactivation) ÷ (downgrades + churn) over the period, each movement to the cent."""
    cents = {m: _cent(moved.amounts[m]) for m in Movement if m is not Movement.FLAT}
    gained = cents[Movement.NEW] + cents[Movement.EXPANSION] + cents[Movement.REACTIVATION]
    lost = cents[Movement.CONTRACTION] + cents[Movement.CHURN]
    formula = "(new + expansion + reactivation) ÷ (contraction + churn) over the period" + _EACH_TO_THE_CENT
    if lost == 0:
        return Measured(
            None,
            formula,
            moved.components(),
            moved.trace(),
            "no ARR was lost in the period (no downgrade and no churn): read the gains instead",
        )
    return Measured(ratio(gained, lost), formula, moved.components(), moved.trace())


def arpa(level: Level, day: str) -> Measured:
    """MRR (ARR ÷ 12, to the cent) ÷ accounts live on `day`."""
    mrr = _cent(level.arr / _MONTHS)
    components = (
        Component(name="mrr", value=mrr, description=f"MRR on {day}"),
        Component(name="active_accounts", value=Decimal(level.accounts), description=f"accounts live on {day}"),
    )
    trace: dict[str, object] = {"accounts": level.accounts, "account_ids": level.account_ids}
    formula = "MRR (ARR ÷ 12, to the cent) ÷ active accounts"
    if level.accounts == 0:
        return Measured(None, formula, components, trace, "no account is live on that date")
    return Measured(ratio(mrr, Decimal(level.accounts)), formula, components, trace)
