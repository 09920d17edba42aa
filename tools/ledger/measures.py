"""The ledger measures: ARR at a date, the ARR bridge, retention, logos and the ACVs.

Each measure runs the SQL of `sql.py` over table `priced` and returns its value with the
components and contributing ids a reader needs to trace it (counts and a few ids, never
the ledger). Ratios are taken in Python on exact DECIMAL sums.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext
from enum import StrEnum

import duckdb

from kpi_context.ontology.ledger_options import GrrCap, LedgerOptions, LiveBasis
from kpi_context.tools.ledger.sql import account_values_sql, contract_values_sql, had_value_before_sql, literal
from kpi_context.tools.values import Component

SAMPLE_IDS = 10
"""Ids listed per group in a trace; the counts are always complete."""

ZERO = Decimal(0)
HUNDRED = Decimal(100)


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
class Measured:
    value: Decimal | None
    formula: str
    components: tuple[Component, ...] = ()
    contributing: dict[str, object] = field(default_factory=dict)
    undefined_reason: str | None = None


def _one(con: duckdb.DuckDBPyConnection, query: str) -> tuple[object, ...]:
    row = con.execute(query).fetchone()
    assert row is not None  # aggregates without GROUP BY always return one row
    return tuple(row)


def _dec(value: object) -> Decimal:
    """A SQL sum as a Decimal; an empty sum is zero."""
    if value is None:
        return ZERO
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 40
        return numerator / denominator


def _sample(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    return [str(r[0]) for r in con.execute(f"SELECT id FROM ({query}) q ORDER BY id LIMIT {SAMPLE_IDS}").fetchall()]


# --- levels at a date ---------------------------------------------------------------


def arr_at(con: duckdb.DuckDBPyConnection, options: LedgerOptions, day: date, what: str = "ARR") -> Measured:
    # The value, its counts and its first ids in one statement: the live contracts are valued once.
    total, n_accounts, n_contracts, ids = _one(
        con,
        f"""SELECT sum(value), count(*), sum(contracts), min(account_id, {SAMPLE_IDS}) FROM (
                SELECT account_id, sum(value) AS value, count(*) AS contracts
                FROM ({contract_values_sql(options, day, live_only=True)}) cv GROUP BY account_id) a""",
    )
    assert isinstance(ids, list) or ids is None  # min(x, n) gives a list, or NULL over no rows
    return Measured(
        value=_dec(total),
        formula=f"{what}: Σ annualized value of included lines of contracts live on {day.isoformat()}",
        contributing={
            "accounts": n_accounts,
            "contracts": int(str(n_contracts)) if n_contracts is not None else 0,
            "account_ids": [str(i) for i in ids or []],
        },
    )


def active_logos(con: duckdb.DuckDBPyConnection, options: LedgerOptions, day: date) -> Measured:
    accounts = account_values_sql(options, day)
    (n,) = _one(con, f"SELECT count(*) FROM ({accounts}) a")
    return Measured(
        value=Decimal(int(str(n))),
        formula=f"accounts with a live recurring contract on {day.isoformat()}",
        contributing={"accounts": n, "account_ids": _sample(con, f"SELECT account_id AS id FROM ({accounts}) a")},
    )


def blended_acv(con: duckdb.DuckDBPyConnection, options: LedgerOptions, day: date, *, median: bool) -> Measured:
    accounts = account_values_sql(options, day)
    total, n = _one(con, f"SELECT sum(value), count(*) FROM ({accounts}) a")
    count = int(str(n))
    components = (Component(name="arr", value=_dec(total)), Component(name="active_accounts", value=Decimal(count)))
    trace: dict[str, object] = {"accounts": count}
    if count == 0:
        return Measured(None, "ARR ÷ active accounts", components, trace, "no account is live on that date")
    if not median:
        return Measured(ratio(_dec(total), Decimal(count)), "ARR ÷ active accounts", components, trace)
    middle = con.execute(
        f"SELECT value FROM ({accounts}) a ORDER BY value LIMIT 2 OFFSET {(count - 1) // 2}"
    ).fetchall()
    values = [_dec(r[0]) for r in middle][: 1 if count % 2 else 2]
    return Measured(ratio(sum(values, ZERO), Decimal(len(values))), "median ARR per active account", components, trace)


def concentration(con: duckdb.DuckDBPyConnection, options: LedgerOptions, day: date, top: int) -> Measured:
    accounts = account_values_sql(options, day)
    top_query = f"SELECT account_id, value FROM ({accounts}) a ORDER BY value DESC, account_id LIMIT {top}"
    (total,) = _one(con, f"SELECT sum(value) FROM ({accounts}) a")
    (top_total,) = _one(con, f"SELECT sum(value) FROM ({top_query}) t")
    components = (
        Component(name="top_customers_arr", value=_dec(top_total)),
        Component(name="arr", value=_dec(total)),
    )
    trace: dict[str, object] = {
        "top": top,
        "account_ids": _sample(con, f"SELECT account_id AS id FROM ({top_query}) t"),
    }
    formula = f"ARR of the {top} largest accounts ÷ ARR × 100"
    if _dec(total) <= 0:
        return Measured(None, formula, components, trace, "no ARR on that date")
    return Measured(ratio(_dec(top_total), _dec(total)) * HUNDRED, formula, components, trace)


# --- the bridge -----------------------------------------------------------------------


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


def bridge(con: duckdb.DuckDBPyConnection, options: LedgerOptions, opened: date, closed: date) -> Bridge:
    """Every account's ARR at the open and at the close, each change put in exactly one movement."""
    # One statement, one row per movement: the sums, counts and a few ids of each come out of a single
    # aggregation, and the per-account table never leaves the database.
    rows = con.execute(
        f"""
        WITH a AS ({account_values_sql(options, opened)}),
             b AS ({account_values_sql(options, closed)}),
             h AS ({had_value_before_sql(opened)}),
             moved AS (
                SELECT COALESCE(a.account_id, b.account_id) AS account_id,
                       COALESCE(a.value, 0) AS opening, COALESCE(b.value, 0) AS closing,
                       CASE WHEN a.account_id IS NULL AND h.account_id IS NULL THEN 'new'
                            WHEN a.account_id IS NULL THEN 'reactivation'
                            WHEN b.account_id IS NULL THEN 'churn'
                            WHEN b.value > a.value THEN 'expansion'
                            WHEN b.value < a.value THEN 'contraction'
                            ELSE 'flat' END AS movement
                FROM a FULL OUTER JOIN b ON a.account_id = b.account_id
                LEFT JOIN h ON h.account_id = COALESCE(a.account_id, b.account_id)
             )
        SELECT movement, sum(opening), sum(closing), sum(abs(closing - opening)), sum(least(opening, closing)),
               count(*), min(account_id, {SAMPLE_IDS})
        FROM moved GROUP BY movement
        """
    ).fetchall()
    amounts = dict.fromkeys(Movement, ZERO)
    accounts = dict.fromkeys(Movement, 0)
    opening = dict.fromkeys(Movement, ZERO)
    closing = dict.fromkeys(Movement, ZERO)
    capped = dict.fromkeys(Movement, ZERO)
    samples: dict[Movement, list[str]] = {m: [] for m in Movement}
    for name, opened_sum, closed_sum, amount, capped_sum, n, ids in rows:
        movement = Movement(name)
        opening[movement], closing[movement] = _dec(opened_sum), _dec(closed_sum)
        amounts[movement], capped[movement] = _dec(amount), _dec(capped_sum)
        accounts[movement] = int(n)
        samples[movement] = [str(i) for i in ids]
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


def retention(
    con: duckdb.DuckDBPyConnection, options: LedgerOptions, opened: date, closed: date, *, gross: bool
) -> Measured:
    """NRR or GRR of the accounts live at `opened`, measured at `closed` (0–100 scale)."""
    moved = bridge(con, options, opened, closed)
    base = sum((moved.opening[m] for m in _COHORT), ZERO)
    current = sum((moved.closing[m] for m in _COHORT), ZERO)
    capped = sum((moved.capped[m] for m in _COHORT), ZERO)
    cohort = sum(moved.accounts[m] for m in _COHORT)
    components = (
        Component(
            name="starting_arr", value=base, description=f"ARR on {opened.isoformat()} of the accounts live then"
        ),
        Component(name="expansion", value=moved.amounts[Movement.EXPANSION]),
        Component(name="contraction", value=moved.amounts[Movement.CONTRACTION]),
        Component(name="churn", value=moved.amounts[Movement.CHURN]),
        Component(name="cohort_arr_at_close", value=current, description=f"their ARR on {closed.isoformat()}"),
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


def logo_churn_rate(con: duckdb.DuckDBPyConnection, options: LedgerOptions, opened: date, closed: date) -> Measured:
    moved = bridge(con, options, opened, closed)
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


# --- bookings ---------------------------------------------------------------------------


def _signed_in(options: LedgerOptions, start: date, end: date) -> str:
    """Contracts whose header date (first signature, or first go-live) falls in the period; renewals excluded."""
    column = "c_signed" if options.live_basis is LiveBasis.SIGNED else "c_live"
    return (
        f"SELECT DISTINCT contract_id, account_id FROM priced "
        f"WHERE {column} BETWEEN {literal(start)} AND {literal(end)} AND NOT c_renewal"
    )


def booked_acv(con: duckdb.DuckDBPyConnection, options: LedgerOptions, start: date, end: date) -> Measured:
    values = contract_values_sql(options, end, live_only=False)
    query = f"SELECT cv.contract_id, cv.value FROM ({values}) cv JOIN ({_signed_in(options, start, end)}) s USING (contract_id)"
    total, n = _one(con, f"SELECT sum(value), count(*) FROM ({query}) q")
    count = int(str(n))
    components = (
        Component(name="contract_value", value=_dec(total)),
        Component(name="contracts", value=Decimal(count)),
    )
    trace: dict[str, object] = {
        "contracts": count,
        "contract_ids": _sample(con, f"SELECT contract_id AS id FROM ({query}) q"),
    }
    formula = "Σ annualized value of contracts signed in the period ÷ number of those contracts"
    if count == 0:
        return Measured(None, formula, components, trace, "no contract was signed in the period")
    return Measured(ratio(_dec(total), Decimal(count)), formula, components, trace)


def new_logo_acv(con: duckdb.DuckDBPyConnection, options: LedgerOptions, start: date, end: date) -> Measured:
    column = "c_signed" if options.live_basis is LiveBasis.SIGNED else "c_live"
    first = (
        f"SELECT account_id FROM priced GROUP BY account_id "
        f"HAVING min({column}) BETWEEN {literal(start)} AND {literal(end)}"
    )
    values = contract_values_sql(options, end, live_only=False)
    query = (
        f"SELECT cv.account_id, cv.contract_id, cv.value FROM ({values}) cv "
        f"JOIN ({_signed_in(options, start, end)}) s USING (contract_id) "
        f"WHERE cv.account_id IN ({first})"
    )
    total, logos, contracts = _one(con, f"SELECT sum(value), count(DISTINCT account_id), count(*) FROM ({query}) q")
    count = int(str(logos))
    components = (
        Component(name="new_logo_contract_value", value=_dec(total)),
        Component(name="new_customers_signed", value=Decimal(count)),
    )
    trace: dict[str, object] = {
        "accounts": count,
        "contracts": contracts,
        "account_ids": _sample(con, f"SELECT DISTINCT account_id AS id FROM ({query}) q"),
    }
    formula = "Σ annualized value of new customers' first contracts ÷ number of new customers"
    if count == 0:
        return Measured(None, formula, components, trace, "no new customer signed in the period")
    return Measured(ratio(_dec(total), Decimal(count)), formula, components, trace)
