"""Every contract's value through time: the table each ledger measure reads, at one date or at many.

A contract's value under a set of options (`sql.contract_values_sql`) is a function of the day it
is taken on, and it only changes on a few days: when one of its lines takes effect or ends,
(for current-contract-year annualization) on an anniversary of its start, and (under the
`as_of_year` day count) on 1 January, when the year's length may change. Between two such days
it is constant. So the value is worked out once per contract and stretch — by the very same
valuation, taken on the stretch's first day — and kept as rows

    (contract_id, account_id, vf, vt, value, live)

meaning: on every day d with vf ≤ d < vt the contract's value is `value`, and it is live (a line in
force with a positive run rate) when `live`. A day on which a contract has no selected line has no
row. Any measure at any set of dates then joins this table to its dates: a single value and a
series of sixty read the same rows with the same query, and cannot drift apart.

The first stretch of each contract opens at -infinity and the last closes at +infinity; the
value of the first is taken on BEFORE_LEDGER, a day before any date a ledger may hold.
"""

from __future__ import annotations

from datetime import date

import duckdb

from kpi_context.ontology.binding import Annualization
from kpi_context.ontology.ledger_options import (
    CoTerm,
    DayCount,
    FullDiscount,
    LedgerOptions,
    RenewalUplift,
    ShortTerms,
)
from kpi_context.tools.ledger.sql import (
    contract_values_sql,
    exact_div,
    in_force,
    leap_year,
    line_rate,
    literal,
    priced_key,
    units_per_year,
)
from kpi_context.tools.ledger.validate import FIRST_YEAR, LAST_YEAR

BEFORE_LEDGER = date(FIRST_YEAR - 1, 12, 31)
"""A day before every date a ledger row may carry: the valuation day of each contract's first stretch."""


def valued_key(options: LedgerOptions) -> tuple[object, ...]:
    """The options `valued_sql` depends on: equal keys, equal tables."""
    return (
        "valued",
        *priced_key(options),
        options.annualization,
        options.short_terms,
        options.co_term,
        options.renewal_uplift,
    )


def _anniversaries(line_dated: bool, priced: str) -> str:
    """Each contract's anniversaries: the first day of each later year on which its contract year turns.

    `sql._window` counts whole years from the contract start `cs` by comparing month and day, so a
    year turns on the day whose month and day first reach those of `cs`: the same date, or 1 March
    for a contract started on 29 February in a year without one. make_date(Y, month, 1) plus (day − 1)
    days is exactly that day. Only current-contract-year annualization moves with the years.
    """
    if not line_dated:
        return ""
    return f"""
        UNION ALL
        SELECT contract_id,
               CAST(make_date(y, month(cs), 1) + to_days(CAST(day(cs) - 1 AS INTEGER)) AS DATE)
        FROM (
            SELECT contract_id, cs, unnest(range(year(cs) + 1, year(greatest(max(ex), max(eff), cs)) + 2)) AS y
            FROM {priced} GROUP BY contract_id, cs
        ) years"""


def _new_years(options: LedgerOptions, priced: str) -> str:
    """Each contract's 1 Januaries on which its value may change: only under `as_of_year`, where it reads the year's length.

    Every 1 January from the year of the contract's first own date (first line, go-live or signature) to the
    year after its last. Outside those years only the year's length still moves the value, so there only the
    1 Januaries where that length changes count — and only where the value lasts: the run rate and the
    current contract year read the lines in force, but a value known on a day (a window's, the exit rate's)
    holds before and after the contract, over every year a ledger date may have. With annualized short
    terms, a contract of yearly and monthly lines only is worth num × its days ÷ its window's days whatever
    the year's length, so only contracts with term or one-time lines need any.
    """
    match options.day_count:
        case DayCount.ACTUAL_AS_OF_YEAR:
            pass
        case DayCount.BY_MONTH | DayCount.ACTUAL_365 | DayCount.ACTUAL_365_NO_LEAP | DayCount.ACTUAL_ACTUAL:
            return ""
    match options.short_terms:
        case ShortTerms.ANNUALIZE:
            moved = "max(CASE WHEN per IN ('term', 'once') THEN 1 ELSE 0 END)"
        case ShortTerms.FACE_VALUE:
            moved = "1"  # a window shorter than 366 days is divided by at least the year's length
    first = "year(least(min(s), min(eff), min(c_signed)))"
    last = "year(greatest(max(ex), max(eff), max(c_signed))) + 1"
    match options.annualization:
        case Annualization.MRR_TIMES_12 | Annualization.CURRENT_CONTRACT_YEAR:
            span = f"{first}, {last} + 1"
        case (
            Annualization.TCV_OVER_TERM_YEARS
            | Annualization.FIRST_CONTRACT_YEAR
            | Annualization.EXIT_RATE
            | Annualization.ALREADY_ANNUAL
            | Annualization.NOT_APPLICABLE
        ):
            span = f"{FIRST_YEAR}, {LAST_YEAR + 2}"
    return f"""
        UNION ALL
        SELECT contract_id, make_date(y, 1, 1) FROM (
            SELECT contract_id, {first} AS first_year, {last} AS last_year, {moved} AS moved,
                   unnest(range({span})) AS y
            FROM {priced} GROUP BY contract_id
        ) years
        -- the flag is a column, not a HAVING: Spark cannot filter an aggregate beside a generator
        WHERE moved = 1 AND (y BETWEEN first_year AND last_year OR {leap_year("y")} <> {leap_year("(y - 1)")})"""


def _live(full_discount: FullDiscount) -> tuple[str, str, str]:
    """(CTE, join, condition) deciding whether a contract is live on a stretch.

    Live means a line in force with a positive run rate; with full discounts kept as contractions, a
    line in force that was discounted to nothing (priced column `held`) keeps its contract live too.
    """
    match full_discount:
        case FullDiscount.CHURN:
            return "", "", "live_rate > 0"
        case FullDiscount.CONTRACTION:
            cte = f""",
        held AS (SELECT DISTINCT contract_id, vf FROM stretched WHERE held AND {in_force("vf")})"""
            return cte, "LEFT JOIN held h USING (contract_id, vf)", "(live_rate > 0 OR h.contract_id IS NOT NULL)"


def _uplifts(options: LedgerOptions, priced: str) -> str:
    """Rows (UNION ALL) for the increase a renewal signed ahead brings, live from its signature to its start.

    A renewal contract (every line a renewal) signed before it starts adds, from signature to start, its run
    rate on its first day less the run rate of the account's lines it renews — those ending the day before it
    starts — when that is an increase. From its start the renewal's own value counts, as with the default.
    A decrease is never counted early: known lower value is not deducted before it takes effect. Under
    `as_of_year` a term line's rate moves with the year's length, so the stretch is cut at each 1 January.
    """
    match options.renewal_uplift:
        case RenewalUplift.AT_RENEWAL:
            return ""
        case RenewalUplift.WHEN_SIGNED:
            pass
    heads = f"""
                SELECT contract_id, account_id, min(cs) AS cs, min(c_signed) AS signed
                FROM {priced} WHERE c_renewal GROUP BY contract_id, account_id"""
    match options.day_count:
        case DayCount.ACTUAL_AS_OF_YEAR:
            spans = f"""
            SELECT contract_id, account_id, cs, greatest(signed, make_date(y, 1, 1)) AS vf,
                   least(cs, make_date(y + 1, 1, 1)) AS vt
            FROM (
                SELECT contract_id, account_id, cs, signed, unnest(range(year(signed), year(cs) + 1)) AS y
                FROM ({heads}) h WHERE signed < cs
            ) years"""
        case DayCount.BY_MONTH | DayCount.ACTUAL_365 | DayCount.ACTUAL_365_NO_LEAP | DayCount.ACTUAL_ACTUAL:
            spans = f"SELECT contract_id, account_id, cs, signed AS vf, cs AS vt FROM ({heads}) h WHERE signed < cs"
    # Each line's rate as on the stretch's first day; the renewal's own lines in force on its first day, and
    # the account's other lines ending the day before it starts (the ones it renews), in one pass.
    rate = line_rate(options.day_count, "sp.vf")
    return f"""
        UNION ALL
        SELECT contract_id, account_id, vf, vt, rate - renewed AS value, TRUE AS live
        FROM (
            SELECT sp.contract_id, sp.account_id, sp.vf, sp.vt,
                   sum(CASE WHEN p.contract_id = sp.contract_id AND p.per <> 'once' AND p.s <= sp.cs AND sp.cs < p.ex
                            THEN {rate} ELSE 0 END) AS rate,
                   sum(CASE WHEN p.contract_id <> sp.contract_id THEN {rate} ELSE 0 END) AS renewed
            FROM ({spans}) sp
            JOIN {priced} p ON p.account_id = sp.account_id AND (
                p.contract_id = sp.contract_id OR (p.per <> 'once' AND p.s < sp.cs AND p.ex = sp.cs))
            WHERE sp.vf < sp.vt
            GROUP BY sp.contract_id, sp.account_id, sp.vf, sp.vt
        ) u
        WHERE rate > renewed"""


def valued_sql(options: LedgerOptions, priced: str) -> str:
    """The rows of table `valued` (module docstring), from the table `priced` priced under the same options."""
    if not _run_rate_applies(options):
        return _general_sql(options, priced)
    per_year = units_per_year(options.day_count, "")  # a constant under the day counts of this path
    # A window [ws, wb) never shorter than one unit, except a single day from a 30th to a 31st under 30/360.
    # `cex` is one date per contract; max() reads it on every engine (PostgreSQL 15 has no any_value).
    short_window = "day(max(cex)) = 31" if options.day_count is DayCount.BY_MONTH else "false"
    return f"""
        WITH regular AS (
            SELECT contract_id,
                   bool_and(per <> 'once' AND cs <= eff AND ex <= cex) AND NOT ({short_window}) AS regular
            FROM {priced} GROUP BY contract_id
        ),
        irregular_lines AS (SELECT p.* FROM {priced} p JOIN regular r USING (contract_id) WHERE NOT r.regular),
        regular_lines AS (SELECT p.* FROM {priced} p JOIN regular r USING (contract_id) WHERE r.regular),
        breakpoints AS (
            SELECT DISTINCT contract_id, b FROM (
                SELECT contract_id, eff AS b FROM regular_lines UNION ALL SELECT contract_id, ex FROM regular_lines
            ) days
        ),
        stretches AS (
            SELECT contract_id, b AS vf, lead(b, 1, DATE 'infinity') OVER (PARTITION BY contract_id ORDER BY b) AS vt
            FROM breakpoints
        ),
        groups AS (
            SELECT p.contract_id, p.account_id, st.vf, st.vt, p.den, sum(p.num) AS num, sum(p.rate) AS live_rate
            FROM regular_lines p JOIN stretches st ON st.contract_id = p.contract_id AND p.eff <= st.vf AND st.vf < p.ex
            GROUP BY p.contract_id, p.account_id, st.vf, st.vt, p.den
        )
        SELECT contract_id, account_id, vf, vt,
               sum(CASE WHEN den = {per_year} THEN CAST(num AS DECIMAL(38,12))
                        ELSE {exact_div("num", per_year, "den")} END) AS value,
               sum(live_rate) > 0 AS live
        FROM groups GROUP BY contract_id, account_id, vf, vt
        UNION ALL
        SELECT * FROM ({_general_sql(options, "irregular_lines")}) g
    """


def _run_rate_applies(options: LedgerOptions) -> bool:
    """Whether the current-contract-year value of a regular contract is its in-force lines' yearly rates.

    Under current-contract-year annualization, short terms annualized and run-rate co-terming,
    `sql.contract_values_sql` values a contract on day d from its lines in force on d, each line's
    part being num × U, where U = units(ws, wb) is the contract's window on d (the same for all its
    lines), and divides each group of equal `den` once: trunc₁₂(U × Σnum × per_year ÷ (den × max(U, 1))).
    A contract is *regular* when it has no one-time line (a one-time part is not num × U) and every
    line is in force within the contract's span (cs ≤ eff, ex ≤ cex). Then on any day d a line is in
    force, ws ≤ d < cex, and wb = min(ws + 1 year, cex) > ws, so U ≥ 1 — save a window of one day from
    a 30th to a 31st under 30/360 (U = 0), which only a window ending at `cex`, a 31st, can be: such
    contracts are not regular. With U ≥ 1 the U cancels in the same rational, and its truncation is
    trunc₁₂(Σnum × per_year ÷ den): for den = per_year (monthly and yearly lines, one-year terms)
    exactly Σnum, which has six decimals. The value then depends only on which lines are in force,
    so it changes only where a line starts or ends: anniversaries need no stretch of their own.
    Every day's value is the same as the general path's; only its intermediate products are smaller
    (the general path multiplies by U before dividing, and refuses as out_of_range a term amount so
    large that this product leaves HUGEINT, where this path still gives the value). Other contracts
    go through the general path unchanged.
    """
    # Only under the day counts whose windows the argument above covers: under nl_365 a one-day window
    # on 29 February is zero units too, and under as_of_year a term line's rate moves every 1 January. The fast path reads neither held (fully discounted) lines nor
    # renewal uplifts, so those conventions take the general path.
    return (
        options.annualization is Annualization.CURRENT_CONTRACT_YEAR
        and options.short_terms is ShortTerms.ANNUALIZE
        and options.co_term is CoTerm.RUN_RATE
        and options.day_count in (DayCount.BY_MONTH, DayCount.ACTUAL_365, DayCount.ACTUAL_ACTUAL)
        and options.full_discount is FullDiscount.CHURN
        and options.renewal_uplift is RenewalUplift.AT_RENEWAL
    )


def _general_sql(options: LedgerOptions, priced: str) -> str:
    """The rows of `valued` for the contracts in `priced`, each valued on the first day of every stretch."""
    line_dated = options.annualization is Annualization.CURRENT_CONTRACT_YEAR
    # The days a contract's value can change on: its lines' first and first-excluded days (in force from
    # `eff` to `ex`), the anniversaries that move the contract year, and one day before them all.
    breakpoints = f"""
        SELECT DISTINCT contract_id, b FROM (
            SELECT contract_id, eff AS b FROM {priced}
            UNION ALL SELECT contract_id, ex FROM {priced}
            UNION ALL SELECT contract_id, {literal(BEFORE_LEDGER)} FROM {priced}
            {_anniversaries(line_dated, priced)}{_new_years(options, priced)}
        ) days"""
    valuation = contract_values_sql(
        options, "vf", live_only=False, source="stretched", keys=("vf", "vt"), with_live=True
    )
    held, join, live = _live(options.full_discount)
    return f"""
        WITH stretches AS (
            SELECT contract_id, b AS vf, lead(b, 1, DATE 'infinity') OVER (PARTITION BY contract_id ORDER BY b) AS vt
            FROM ({breakpoints}) bp
        ),
        stretched AS (
            SELECT p.*, st.vf, st.vt FROM {priced} p JOIN stretches st USING (contract_id)
        ){held}
        SELECT contract_id, account_id,
               CASE WHEN vf = {literal(BEFORE_LEDGER)} THEN DATE '-infinity' ELSE vf END AS vf, vt,
               value, {live} AS live
        FROM ({valuation}) v {join}{_uplifts(options, priced)}
    """


def build_valued(options: LedgerOptions, priced: str, cursor: duckdb.DuckDBPyConnection, target: str) -> None:
    cursor.execute(f"CREATE {target} AS {valued_sql(options, priced)}")


def live_accounts_sql(valued: str) -> str:
    """(account_id, vf, vt): the stretches over which each account is live, its live contracts' stretches merged.

    An account is live on a day when one of its contracts is; overlapping or touching stretches are one.
    """
    return f"""
        WITH live AS (SELECT account_id, vf, vt FROM {valued} WHERE live),
        ordered AS (
            SELECT *, max(vt) OVER (
                PARTITION BY account_id ORDER BY vf, vt ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ) AS reached
            FROM live
        ),
        islands AS (
            SELECT account_id, vf, vt,
                   sum(CASE WHEN reached IS NULL OR reached < vf THEN 1 ELSE 0 END)
                       OVER (PARTITION BY account_id ORDER BY vf, vt) AS island
            FROM ordered
        )
        SELECT account_id, min(vf) AS vf, max(vt) AS vt FROM islands GROUP BY account_id, island
    """


def build_live_accounts(valued: str, cursor: duckdb.DuckDBPyConnection, target: str) -> None:
    cursor.execute(f"CREATE {target} AS {live_accounts_sql(valued)}")
