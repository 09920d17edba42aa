"""The ARR bridge between two dates, and the rates built on it: NRR, GRR and logo churn.

One statement gives, per point and group, every account's ARR at the open (d1) and at the close
(d2), each change put in exactly one movement, summed per movement with counts and a few ids; the
per-account table never leaves the database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

import duckdb

from kpi_context.ontology.ledger_options import (
    GrrCap,
    LedgerOptions,
    MovementTiming,
    NewCustomerExpansion,
    Reactivation,
    SamePeriodChurn,
)
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


def bridges(con: duckdb.DuckDBPyConnection, frame: Frame, options: LedgerOptions | None = None) -> dict[Key, Bridge]:
    """Per point and group, the bridge from ARR on d1 to ARR on d2 (each point's own dates).

    `options`: the bridge conventions to apply (`conventions`); None or the defaults compare the two dates only.
    """
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
    return out if options is None else conventions(con, frame, options, out)


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


# --- conventions the bridge can follow ----------------------------------------------------------
#
# The bridge above compares each account at the open and at the close. Three conventions move value
# between its movements without changing start or end, so the bridge still reconciles: a customer
# live within the period but at neither end (in no movement, or in new and churn alike); a customer's
# growth within the period it arrived in (new business, or expansion); a returning customer (its own
# movement, or expansion). The accounts they concern are found from the live stretches of each account.


def _inside_sql(frame: Frame, options: LedgerOptions) -> str:
    """Per point, group and kind, the accounts not live at the open that a convention concerns.

    kind 'passed': live within (d1, d2] but not at d2, taken on the first day of its first stretch there;
    kind 'arrived': live at d2 on a stretch that began after d1, taken on that stretch's first day. Each
    with `arrival` (new, or reactivation of a customer with recurring value in force before d1), its ARR
    on that day (`entry`) and at d2 (`closing`).
    """
    passed = options.same_period_churn is SamePeriodChurn.COUNTED
    arrived = options.new_customer_expansion is NewCustomerExpansion.IN_EXPANSION
    return f"""
        WITH {frame.ctes()}
        isl AS (
            SELECT pts.k, la.account_id, la.vf,
                   la.vf <= pts.d1 AND pts.d1 < la.vt AS covers_open,
                   la.vf <= pts.d2 AND pts.d2 < la.vt AS covers_close,
                   pts.d1 < la.vf AS starts_inside
            FROM live_accounts la JOIN pts ON la.vf <= pts.d2 AND la.vt > pts.d1
        ),
        acct AS (
            SELECT k, account_id, bool_or(covers_open) AS at_open, bool_or(covers_close) AS at_close,
                   min(CASE WHEN starts_inside THEN vf END) AS first_in,
                   max(CASE WHEN starts_inside AND covers_close THEN vf END) AS came
            FROM isl GROUP BY k, account_id
        ),
        picked AS (
            SELECT k, account_id, CASE WHEN at_close THEN 'arrived' ELSE 'passed' END AS kind,
                   CASE WHEN at_close THEN came ELSE first_in END AS entered
            FROM acct
            WHERE NOT at_open AND ((NOT at_close AND first_in IS NOT NULL AND {passed})
                                   OR (came IS NOT NULL AND {arrived}))
        ),
        entries AS (
            SELECT p.k, p.account_id, p.kind, sum(v.value) AS entry
            FROM picked p JOIN valued v ON v.account_id = p.account_id AND v.vf <= p.entered AND p.entered < v.vt
            WHERE v.live GROUP BY p.k, p.account_id, p.kind
        ),
        closing AS (SELECT k, account_id, sum(value) AS value FROM ({live_values("d2")}) c GROUP BY k, account_id),
        h AS (SELECT account_id, min(eff) AS since FROM priced WHERE per <> 'once' AND amt > 0 GROUP BY account_id),
        rows AS (
            SELECT e.k, e.account_id, e.kind,
                   CASE WHEN h.since IS NULL OR h.since > pts.d1 THEN 'new' ELSE 'reactivation' END AS arrival,
                   e.entry, COALESCE(c.value, 0) AS closing
            FROM entries e JOIN pts ON pts.k = e.k
            LEFT JOIN h ON h.account_id = e.account_id
            LEFT JOIN closing c ON c.k = e.k AND c.account_id = e.account_id
        ),
        tagged AS ({frame.tagged("rows")})
        SELECT k, g, kind, arrival, sum(entry),
               sum(CASE WHEN closing > entry THEN closing - entry ELSE 0 END),
               sum(CASE WHEN closing < entry THEN entry - closing ELSE 0 END),
               count(*), count(*) FILTER (WHERE closing > entry), count(*) FILTER (WHERE closing < entry)
        FROM tagged GROUP BY k, g, kind, arrival
    """


def conventions(
    con: duckdb.DuckDBPyConnection, frame: Frame, options: LedgerOptions, bridged: dict[Key, Bridge]
) -> dict[Key, Bridge]:
    """The bridges with value moved between movements as `options` say; with the defaults, unchanged."""
    out = dict(bridged)
    daily = options.movement_timing is MovementTiming.DAILY
    inside = (
        options.same_period_churn is SamePeriodChurn.COUNTED
        or options.new_customer_expansion is NewCustomerExpansion.IN_EXPANSION
    )
    if daily:
        # Day by day, a customer in and out within the period and a new customer's later change are already
        # movements of their own (the options it implies): nothing is left for the adjustments below.
        out = _daily(con, frame, out)
    elif inside:
        for k, g, kind, arrival, entry, up, down, n, n_up, n_down in con.execute(
            _inside_sql(frame, options)
        ).fetchall():
            assert isinstance(k, int) and (g is None or isinstance(g, str))
            key, came = (k, g), Movement(str(arrival))
            amounts, accounts = dict(out[key].amounts), dict(out[key].accounts)
            if kind == "passed":
                # In and out within the period: in the arrival movement and in churn, at its first value.
                for movement in (came, Movement.CHURN):
                    amounts[movement] += dec(entry)
                    accounts[movement] += count(n)
            else:
                # Arrived at its first value; what it gained or lost after that, to the close, is a change of its own.
                amounts[came] -= dec(up) - dec(down)
                amounts[Movement.EXPANSION] += dec(up)
                amounts[Movement.CONTRACTION] += dec(down)
                accounts[Movement.EXPANSION] += count(n_up)
                accounts[Movement.CONTRACTION] += count(n_down)
            out[key] = replace(out[key], amounts=amounts, accounts=accounts)
    if options.reactivation is Reactivation.IN_EXPANSION:
        for key, moved in out.items():
            out[key] = _folded(moved)
    return out


def _daily_sql(frame: Frame) -> str:
    """Per point, group and movement: each account's change on each day it changes in (d1, d2], classified.

    An account's value changes only where one of its live contract stretches starts or ends; on such a day t
    its value before (on t − 1) and after (on t) give the movement: from not live to live, new (its first
    live day ever) or reactivation; from live to not live, churn; otherwise a rise or a fall.
    """
    return f"""
        WITH {frame.ctes()}
        changes AS (
            SELECT pts.k, v.account_id, v.vf AS t FROM valued v JOIN pts ON pts.d1 < v.vf AND v.vf <= pts.d2 WHERE v.live
            UNION
            SELECT pts.k, v.account_id, v.vt FROM valued v JOIN pts ON pts.d1 < v.vt AND v.vt <= pts.d2 WHERE v.live
        ),
        after AS (
            SELECT c.k, c.account_id, c.t, sum(v.value) AS value
            FROM changes c JOIN valued v ON v.account_id = c.account_id AND v.vf <= c.t AND c.t < v.vt
            WHERE v.live GROUP BY c.k, c.account_id, c.t
        ),
        before AS (
            SELECT c.k, c.account_id, c.t, sum(v.value) AS value
            FROM changes c JOIN valued v ON v.account_id = c.account_id AND v.vf < c.t AND c.t <= v.vt
            WHERE v.live GROUP BY c.k, c.account_id, c.t
        ),
        first_live AS (SELECT account_id, min(vf) AS since FROM live_accounts GROUP BY account_id),
        moves AS (
            SELECT c.k, c.account_id,
                   CASE WHEN b.account_id IS NULL AND f.since = c.t THEN 'new'
                        WHEN b.account_id IS NULL THEN 'reactivation'
                        WHEN a.account_id IS NULL THEN 'churn'
                        WHEN a.value > b.value THEN 'expansion'
                        WHEN a.value < b.value THEN 'contraction'
                        ELSE 'flat' END AS movement,
                   abs(COALESCE(a.value, 0) - COALESCE(b.value, 0)) AS amount
            FROM changes c
            LEFT JOIN after a ON a.k = c.k AND a.account_id = c.account_id AND a.t = c.t
            LEFT JOIN before b ON b.k = c.k AND b.account_id = c.account_id AND b.t = c.t
            LEFT JOIN first_live f ON f.account_id = c.account_id
            WHERE a.account_id IS NOT NULL OR b.account_id IS NOT NULL
        ),
        tagged AS ({frame.tagged("moves")})
        SELECT k, g, movement, sum(amount), count(DISTINCT account_id), min(account_id, {SAMPLE_IDS})
        FROM tagged WHERE movement <> 'flat' GROUP BY k, g, movement
    """


def _daily(con: duckdb.DuckDBPyConnection, frame: Frame, bridged: dict[Key, Bridge]) -> dict[Key, Bridge]:
    """The bridges with their movements summed day by day; start and end as before, and still reconciled."""
    found: dict[Key, list[tuple[Movement, Decimal, int, list[str]]]] = {}
    for k, g, name, amount, n, sample in con.execute(_daily_sql(frame)).fetchall():
        assert isinstance(k, int) and (g is None or isinstance(g, str))
        found.setdefault((k, g), []).append((Movement(str(name)), dec(amount), count(n), id_list(sample)))
    out: dict[Key, Bridge] = {}
    for key, moved in bridged.items():
        amounts = {m: (moved.amounts[m] if m is Movement.FLAT else ZERO) for m in Movement}
        accounts = {m: (moved.accounts[m] if m is Movement.FLAT else 0) for m in Movement}
        samples = {m: (moved.samples[m] if m is Movement.FLAT else []) for m in Movement}
        for movement, amount, n, sample in found.get(key, []):
            amounts[movement], accounts[movement], samples[movement] = amount, n, sample
        out[key] = _reconciled(replace(moved, amounts=amounts, accounts=accounts, samples=samples))
    return out


def _reconciled(moved: Bridge) -> Bridge:
    a = moved.amounts
    gained = a[Movement.NEW] + a[Movement.EXPANSION] + a[Movement.REACTIVATION]
    if moved.start + gained - a[Movement.CONTRACTION] - a[Movement.CHURN] != moved.end:
        raise BridgeDoesNotReconcile(f"daily movements do not lead from {moved.start} to {moved.end}")
    return moved


def _folded(moved: Bridge) -> Bridge:
    """Reactivation counted as expansion: its amount, accounts and ids moved, the movement left at zero."""
    amounts, accounts, samples = dict(moved.amounts), dict(moved.accounts), dict(moved.samples)
    amounts[Movement.EXPANSION] += amounts[Movement.REACTIVATION]
    accounts[Movement.EXPANSION] += accounts[Movement.REACTIVATION]
    samples[Movement.EXPANSION] = sorted(samples[Movement.EXPANSION] + samples[Movement.REACTIVATION])[:SAMPLE_IDS]
    amounts[Movement.REACTIVATION], accounts[Movement.REACTIVATION] = ZERO, 0
    samples[Movement.REACTIVATION] = []
    return replace(moved, amounts=amounts, accounts=accounts, samples=samples)
