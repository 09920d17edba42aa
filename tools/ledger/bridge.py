"""The ARR bridge between two dates, and the rates built on it: NRR, GRR and logo churn.

One statement gives, per point and group, every account's ARR at the open (d1) and at the close
(d2), each change put in exactly one movement, summed per movement with counts and a few ids; the
per-account table never leaves the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

import duckdb

from kpi_context.ontology.ledger_options import GrrCap, LedgerOptions
from kpi_context.tools.ledger.frame import SAMPLE_IDS, Frame, Key
from kpi_context.tools.ledger.measures import HUNDRED, ZERO, Measured, count, dec, id_list, live_values, ratio
from kpi_context.tools.values import Component


class Movement(StrEnum):
    NEW = "new"
    EXPANSION = "expansion"
    REACTIVATION = "reactivation"
    CONTRACTION = "contraction"
    CHURN = "churn"
    FLAT = "flat"


class BridgeDoesNotReconcile(AssertionError):
    """start + new + expansion + reactivation − contraction − churn ≠ end: a defect, never a data problem."""


@dataclass(frozen=True)
class Bridge:
    start: Decimal
    end: Decimal
    amounts: dict[Movement, Decimal]
    accounts: dict[Movement, int]
    samples: dict[Movement, list[str]]
    opened: date
    closed: date
    opening: dict[Movement, Decimal]
    """ARR at the open, per movement."""
    closing: dict[Movement, Decimal]
    """ARR at the close, per movement."""
    capped: dict[Movement, Decimal]
    """Σ min(ARR at close, ARR at open) per movement: the per-customer capped base of GRR."""

    def components(self) -> tuple[Component, ...]:
        described = {
            Movement.NEW: "ARR of accounts live for the first time",
            Movement.EXPANSION: "rise in ARR of accounts live at both dates",
            Movement.REACTIVATION: "ARR of returning former customers",
            Movement.CONTRACTION: "fall in ARR of accounts still live at the close",
            Movement.CHURN: "ARR at the open of accounts no longer live at the close",
        }
        return (
            Component(name="start", value=self.start, description=f"ARR on {self.opened.isoformat()}"),
            *(Component(name=m.value, value=self.amounts[m], description=described[m]) for m in described),
            Component(name="end", value=self.end, description=f"ARR on {self.closed.isoformat()}"),
        )

    def trace(self) -> dict[str, object]:
        return {
            "accounts": {m.value: n for m, n in self.accounts.items()},
            "account_ids": {m.value: ids for m, ids in self.samples.items() if ids},
        }


def bridges(con: duckdb.DuckDBPyConnection, frame: Frame) -> dict[Key, Bridge]:
    """Per point and group, the bridge from ARR on d1 to ARR on d2 (each point's own dates)."""
    rows = con.execute(
        f"""
        WITH {frame.ctes()}
        a AS (SELECT k, account_id, sum(value) AS value FROM ({live_values("d1")}) o GROUP BY k, account_id),
        b AS (SELECT k, account_id, sum(value) AS value FROM ({live_values("d2")}) c GROUP BY k, account_id),
        -- the first day each account had recurring value in force: before the open, it is a returning customer.
        -- Only an account live at the close and not at the open is ever asked, so only those are looked up.
        fresh AS (
            SELECT b.account_id FROM b WHERE NOT EXISTS (SELECT 1 FROM a WHERE a.k = b.k AND a.account_id = b.account_id)
        ),
        h AS (
            SELECT account_id, min(eff) AS since FROM priced
            WHERE per <> 'once' AND amt > 0 AND account_id IN (SELECT account_id FROM fresh) GROUP BY account_id
        ),
        moved AS (
            SELECT pts.k, COALESCE(a.account_id, b.account_id) AS account_id,
                   COALESCE(a.value, 0) AS opening, COALESCE(b.value, 0) AS closing,
                   CASE WHEN a.account_id IS NULL AND (h.since IS NULL OR h.since > pts.d1) THEN 'new'
                        WHEN a.account_id IS NULL THEN 'reactivation'
                        WHEN b.account_id IS NULL THEN 'churn'
                        WHEN b.value > a.value THEN 'expansion'
                        WHEN b.value < a.value THEN 'contraction'
                        ELSE 'flat' END AS movement
            FROM a FULL OUTER JOIN b ON a.k = b.k AND a.account_id = b.account_id
            JOIN pts ON pts.k = COALESCE(a.k, b.k)
            LEFT JOIN h ON h.account_id = COALESCE(a.account_id, b.account_id)
        ),
        tagged AS ({frame.tagged("moved")})
        SELECT k, g, movement, sum(opening), sum(closing), sum(abs(closing - opening)), sum(least(opening, closing)),
               count(*), min(account_id, {SAMPLE_IDS})
        FROM tagged GROUP BY k, g, movement
        """
    ).fetchall()
    by_movement: dict[Key, list[tuple[object, ...]]] = {}
    for k, g, *rest in rows:
        assert isinstance(k, int) and (g is None or isinstance(g, str))
        by_movement.setdefault((k, g), []).append(tuple(rest))
    out: dict[Key, Bridge] = {}
    for key in frame.point_keys():
        point = frame.points[key[0]]
        assert point.d1 is not None  # a bridge is always between two dates
        out[key] = _bridge(by_movement.get(key, []), point.d1, point.d2)
    return out


def _bridge(rows: list[tuple[object, ...]], opened: date, closed: date) -> Bridge:
    amounts = dict.fromkeys(Movement, ZERO)
    accounts = dict.fromkeys(Movement, 0)
    opening = dict.fromkeys(Movement, ZERO)
    closing = dict.fromkeys(Movement, ZERO)
    capped = dict.fromkeys(Movement, ZERO)
    samples: dict[Movement, list[str]] = {m: [] for m in Movement}
    for name, opened_sum, closed_sum, amount, capped_sum, n, sample in rows:
        movement = Movement(str(name))
        opening[movement], closing[movement] = dec(opened_sum), dec(closed_sum)
        amounts[movement], capped[movement] = dec(amount), dec(capped_sum)
        accounts[movement] = count(n)
        samples[movement] = id_list(sample)
    start, end = sum(opening.values(), ZERO), sum(closing.values(), ZERO)
    result = Bridge(start, end, amounts, accounts, samples, opened, closed, opening, closing, capped)
    reconciled = (
        start
        + amounts[Movement.NEW]
        + amounts[Movement.EXPANSION]
        + amounts[Movement.REACTIVATION]
        - amounts[Movement.CONTRACTION]
        - amounts[Movement.CHURN]
    )
    if reconciled != end:
        raise BridgeDoesNotReconcile(f"bridge gives {reconciled}, ARR at close is {end}")
    return result


_COHORT = (Movement.EXPANSION, Movement.CONTRACTION, Movement.CHURN, Movement.FLAT)
"""The movements of accounts live at the open: the cohort retention is measured over."""


def retention(moved: Bridge, options: LedgerOptions, *, gross: bool) -> Measured:
    """NRR or GRR of the accounts live at the bridge's open, measured at its close (0–100 scale)."""
    base = sum((moved.opening[m] for m in _COHORT), ZERO)
    current = sum((moved.closing[m] for m in _COHORT), ZERO)
    capped = sum((moved.capped[m] for m in _COHORT), ZERO)
    cohort = sum(moved.accounts[m] for m in _COHORT)
    components = (
        Component(
            name="starting_arr",
            value=base,
            description=f"ARR on {moved.opened.isoformat()} of the accounts live then",
        ),
        Component(name="expansion", value=moved.amounts[Movement.EXPANSION]),
        Component(name="contraction", value=moved.amounts[Movement.CONTRACTION]),
        Component(name="churn", value=moved.amounts[Movement.CHURN]),
        Component(name="cohort_arr_at_close", value=current, description=f"their ARR on {moved.closed.isoformat()}"),
    )
    trace: dict[str, object] = {"cohort_accounts": cohort, **moved.trace()}
    if not gross:
        formula = "Σ ARR at close of the opening cohort ÷ Σ their ARR at open × 100"
        numerator = current
    elif options.grr_cap is GrrCap.PER_CUSTOMER:
        formula = "Σ min(ARR at close, ARR at open) over the opening cohort ÷ Σ ARR at open × 100"
        numerator = capped
    else:
        formula = "min(Σ ARR at close, Σ ARR at open) over the opening cohort ÷ Σ ARR at open × 100"
        numerator = min(current, base)
    if base <= 0:
        return Measured(None, formula, components, trace, "no ARR at the window's open")
    return Measured(ratio(numerator, base) * HUNDRED, formula, components, trace)


def logo_churn_rate(moved: Bridge) -> Measured:
    cohort = sum(moved.accounts[m] for m in _COHORT)
    churned = moved.accounts[Movement.CHURN]
    components = (
        Component(name="customers_churned", value=Decimal(churned)),
        Component(name="customers_at_open", value=Decimal(cohort)),
    )
    formula = "accounts of the opening cohort not live at close ÷ accounts live at open × 100"
    if cohort == 0:
        return Measured(None, formula, components, moved.trace(), "no account was live at the window's open")
    return Measured(ratio(Decimal(churned), Decimal(cohort)) * HUNDRED, formula, components, moved.trace())
