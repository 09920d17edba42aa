"""The ledger measures at dates: ARR, active logos, blended ACV, concentration, and the booking ACVs.

Each measure is one statement over table `valued` (every contract's value through time) joined
to the points of its frame, grouped by point and group (`frame.py`): the same statement serves a
single value, a cut and a series. It returns, per point and group, the value with the components
and contributing ids a reader needs to trace it (counts and a few ids, never the ledger). Ratios
are taken in Python on exact DECIMAL sums. The bridge and the rates built on it are in `bridge.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, localcontext

import duckdb

from kpi_context.ontology.ledger_options import LedgerOptions, LiveBasis
from kpi_context.tools.ledger.frame import SAMPLE_IDS, Frame, Key, by_key
from kpi_context.tools.values import Component

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Measured:
    value: Decimal | None
    formula: str
    components: tuple[Component, ...] = ()
    contributing: dict[str, object] = field(default_factory=dict)
    undefined_reason: str | None = None


def dec(value: object) -> Decimal:
    """A SQL sum as a Decimal; an empty sum is zero."""
    if value is None:
        return ZERO
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def count(value: object) -> int:
    return 0 if value is None else int(str(value))


def id_list(value: object) -> list[str]:
    assert value is None or isinstance(value, list)  # min(x, n) gives a list, or NULL over no rows
    return [str(i) for i in value or []]


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 40
        return numerator / denominator


def live_values(frame_date: str) -> str:
    """(k, contract_id, account_id, value) of every contract live on each point's `frame_date` column."""
    return (
        f"SELECT pts.k, v.contract_id, v.account_id, v.value FROM valued v "
        f"JOIN pts ON v.vf <= pts.{frame_date} AND pts.{frame_date} < v.vt WHERE v.live"
    )


# --- levels at a date ---------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """The live accounts of one point and group: their ARR, counts, a few ids, and what median and top-N need."""

    arr: Decimal = ZERO
    accounts: int = 0
    contracts: int = 0
    account_ids: list[str] = field(default_factory=list)
    middle: list[Decimal] = field(default_factory=list)
    """The one or two middle account values (for a median)."""
    top_arr: Decimal = ZERO
    top_ids: list[str] = field(default_factory=list)


def levels(
    con: duckdb.DuckDBPyConnection, frame: Frame, *, median: bool = False, top: int | None = None, ids: bool = True
) -> dict[Key, Level]:
    """Per point and group, the accounts live at d2 with their ARR (and, if asked, median, top-N and a few ids).

    Without a cut, ids, median or top-N only sums and counts are needed, and those are read from the
    changes at each stretch's ends (`_running_levels`) rather than from every contract at every point.
    """
    if frame.cut is None and not median and top is None and not ids:
        return _running_levels(con, frame)
    ranked = "tagged"
    extra = ""
    if median or top is not None:
        ranked = "ranked"
        extra = """, ranked AS (
            SELECT *, row_number() OVER (PARTITION BY k, g ORDER BY value) AS up,
                      row_number() OVER (PARTITION BY k, g ORDER BY value DESC, account_id) AS down,
                      count(*) OVER (PARTITION BY k, g) AS n
            FROM tagged)"""
    middle = "list(value ORDER BY up) FILTER (WHERE up IN ((n + 1) // 2, (n + 2) // 2))" if median else "NULL"
    top_arr = f"sum(value) FILTER (WHERE down <= {top})" if top is not None else "NULL"
    top_ids = f"min(account_id, {SAMPLE_IDS}) FILTER (WHERE down <= {top})" if top is not None else "NULL"
    rows = con.execute(
        f"""
        WITH {frame.ctes()}
        acct AS (
            SELECT k, account_id, sum(value) AS value, count(*) AS contracts FROM ({live_values("d2")}) cv
            GROUP BY k, account_id
        ),
        tagged AS ({frame.tagged("acct")}){extra}
        SELECT k, g, sum(value), count(*), sum(contracts), min(account_id, {SAMPLE_IDS}), {middle}, {top_arr}, {top_ids}
        FROM {ranked} GROUP BY k, g
        """
    ).fetchall()
    found = by_key(rows)
    out: dict[Key, Level] = {}
    for key in frame.point_keys():
        row = found.get(key)
        if row is None:
            out[key] = Level()
            continue
        arr, accounts, contracts, account_ids, middle_values, top_sum, top_list = row
        assert middle_values is None or isinstance(middle_values, list)
        out[key] = Level(
            dec(arr),
            count(accounts),
            count(contracts),
            id_list(account_ids),
            [dec(v) for v in middle_values or []],
            dec(top_sum),
            id_list(top_list),
        )
    return out


def _running_levels(con: duckdb.DuckDBPyConnection, frame: Frame) -> dict[Key, Level]:
    """ARR, live contracts and live accounts at each point's d2, as running sums over the days things change.

    Each live stretch [vf, vt) of a contract adds its value (and one contract) on vf and takes them off
    on vt; each live stretch of an account (`live_accounts`) adds and takes off one account. The running
    sum of those changes up to a day is exactly the sum over the stretches covering it: the same sum
    the contracts live on that day give. Only stretches reaching into the points' span can count.
    """
    covering = "vf <= span.last AND vt > span.first"
    rows = con.execute(
        f"""
        WITH {frame.ctes()}
        span AS (SELECT min(d2) AS first, max(d2) AS last FROM pts),
        changes AS (
            SELECT vf AS day, value AS arr, 1 AS contracts, 0 AS accounts FROM valued, span WHERE live AND {covering}
            UNION ALL
            SELECT vt, -value, -1, 0 FROM valued, span WHERE live AND {covering} AND vt <= span.last
            UNION ALL
            SELECT vf, 0, 0, 1 FROM live_accounts, span WHERE {covering}
            UNION ALL
            SELECT vt, 0, 0, -1 FROM live_accounts, span WHERE {covering} AND vt <= span.last
        ),
        daily AS (
            SELECT day, sum(arr) AS arr, sum(contracts) AS contracts, sum(accounts) AS accounts
            FROM changes GROUP BY day
        ),
        running AS (
            SELECT day, sum(arr) OVER w AS arr, sum(contracts) OVER w AS contracts, sum(accounts) OVER w AS accounts
            FROM daily WINDOW w AS (ORDER BY day)
        )
        SELECT pts.k, CAST(NULL AS VARCHAR) AS g, running.arr, running.accounts, running.contracts
        FROM pts ASOF LEFT JOIN running ON pts.d2 >= running.day
        """
    ).fetchall()
    found = by_key(rows)
    return {key: Level(dec(found[key][0]), count(found[key][1]), count(found[key][2])) for key in frame.point_keys()}


def arr_at(level: Level, day: str, what: str = "ARR") -> Measured:
    return Measured(
        value=level.arr,
        formula=f"{what}: Σ annualized value of included lines of contracts live on {day}",
        contributing={"accounts": level.accounts, "contracts": level.contracts, "account_ids": level.account_ids},
    )


def active_logos(level: Level, day: str) -> Measured:
    return Measured(
        value=Decimal(level.accounts),
        formula=f"accounts with a live recurring contract on {day}",
        contributing={"accounts": level.accounts, "account_ids": level.account_ids},
    )


def blended_acv(level: Level, *, median: bool) -> Measured:
    components = (
        Component(name="arr", value=level.arr),
        Component(name="active_accounts", value=Decimal(level.accounts)),
    )
    trace: dict[str, object] = {"accounts": level.accounts}
    if level.accounts == 0:
        return Measured(None, "ARR ÷ active accounts", components, trace, "no account is live on that date")
    if not median:
        return Measured(ratio(level.arr, Decimal(level.accounts)), "ARR ÷ active accounts", components, trace)
    middle = level.middle
    return Measured(ratio(sum(middle, ZERO), Decimal(len(middle))), "median ARR per active account", components, trace)


def concentration(level: Level, top: int) -> Measured:
    components = (
        Component(name="top_customers_arr", value=level.top_arr),
        Component(name="arr", value=level.arr),
    )
    trace: dict[str, object] = {"top": top, "account_ids": level.top_ids}
    formula = f"ARR of the {top} largest accounts ÷ ARR × 100"
    if level.arr <= 0:
        return Measured(None, formula, components, trace, "no ARR on that date")
    return Measured(ratio(level.top_arr, level.arr) * HUNDRED, formula, components, trace)


# --- bookings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Booked:
    """Contracts signed in one point's period (renewals excluded), in one group: value, counts and a few ids."""

    value: Decimal = ZERO
    contracts: int = 0
    accounts: int = 0
    sample: list[str] = field(default_factory=list)


def bookings(
    con: duckdb.DuckDBPyConnection, options: LedgerOptions, frame: Frame, *, new_logos: bool
) -> dict[Key, Booked]:
    """Per point and group: contracts signed from d1 to d2 (by header date), valued as known on d2.

    new_logos: only the contracts of accounts whose first contract header date falls in the period;
    their ids in the trace are accounts, else contracts.
    """
    column = "c_signed" if options.live_basis is LiveBasis.SIGNED else "c_live"
    signed = f"""
        cv AS (
            SELECT pts.k, v.contract_id, v.account_id, v.value
            FROM valued v JOIN pts ON v.vf <= pts.d2 AND pts.d2 < v.vt
        ),
        s AS (
            -- contracts whose header date (first signature, or first go-live) falls in the period; renewals excluded
            SELECT DISTINCT pts.k, p.contract_id, p.account_id
            FROM priced p JOIN pts ON p.{column} BETWEEN pts.d1 AND pts.d2 WHERE NOT p.c_renewal
        ),
        q AS (SELECT cv.k, cv.contract_id, cv.account_id, cv.value FROM cv JOIN s ON s.k = cv.k AND s.contract_id = cv.contract_id)"""
    if new_logos:
        query = f"""
        WITH {frame.ctes()} {signed},
        f AS (SELECT account_id, min({column}) AS first FROM priced GROUP BY account_id),
        acct AS (
            SELECT q.k, q.account_id, sum(q.value) AS value, count(*) AS contracts
            FROM q JOIN pts ON pts.k = q.k JOIN f ON f.account_id = q.account_id
            WHERE f.first BETWEEN pts.d1 AND pts.d2
            GROUP BY q.k, q.account_id
        ),
        tagged AS ({frame.tagged("acct")})
        SELECT k, g, sum(value), sum(contracts), count(*), min(account_id, {SAMPLE_IDS}) FROM tagged GROUP BY k, g"""
    else:
        query = f"""
        WITH {frame.ctes()} {signed},
        tagged AS ({frame.tagged("q")})
        SELECT k, g, sum(value), count(*), count(DISTINCT account_id), min(contract_id, {SAMPLE_IDS})
        FROM tagged GROUP BY k, g"""
    found = by_key(con.execute(query).fetchall())
    out: dict[Key, Booked] = {}
    for key in frame.point_keys():
        row = found.get(key)
        out[key] = Booked() if row is None else Booked(dec(row[0]), count(row[1]), count(row[2]), id_list(row[3]))
    return out


def booked_acv(booked: Booked) -> Measured:
    components = (
        Component(name="contract_value", value=booked.value),
        Component(name="contracts", value=Decimal(booked.contracts)),
    )
    trace: dict[str, object] = {"contracts": booked.contracts, "contract_ids": booked.sample}
    formula = "Σ annualized value of contracts signed in the period ÷ number of those contracts"
    if booked.contracts == 0:
        return Measured(None, formula, components, trace, "no contract was signed in the period")
    return Measured(ratio(booked.value, Decimal(booked.contracts)), formula, components, trace)


def new_logo_acv(booked: Booked) -> Measured:
    components = (
        Component(name="new_logo_contract_value", value=booked.value),
        Component(name="new_customers_signed", value=Decimal(booked.accounts)),
    )
    trace: dict[str, object] = {
        "accounts": booked.accounts,
        "contracts": booked.contracts,
        "account_ids": booked.sample,
    }
    formula = "Σ annualized value of new customers' first contracts ÷ number of new customers"
    if booked.accounts == 0:
        return Measured(None, formula, components, trace, "no new customer signed in the period")
    return Measured(ratio(booked.value, Decimal(booked.accounts)), formula, components, trace)
