"""The ledger KPIs as plain SQL over table `lines`.

The SQL is generated once per call from the chosen options (they become literals, so each
query is a fixed statement a warehouse could run), with no Python in the hot path.

Exactness: DuckDB divides DECIMALs in floating point, so every division here goes through
`exact_div`, which divides scaled integers and keeps twelve decimal places (truncated toward
zero). Amounts enter with six decimals; results are rounded once, to the cent, when bound.

Day counts are integers over a number of units per year — 360 (30-day months), 365, or
365 × 366 (actual/actual, each day weighed by its year's length), or under `as_of_year` the
length of the valuation day's year, 365 or 366 — so a partial period is always
`amount × units ÷ units`, one exact division.
"""

from __future__ import annotations

from datetime import date

from kpi_context.ontology.binding import Annualization, RecurringInclusion
from kpi_context.ontology.ledger_options import (
    ChurnTiming,
    CoTerm,
    DayCount,
    Discounts,
    FullDiscount,
    LedgerOptions,
    LiveBasis,
    ShortTerms,
)

SCALE = 12
"""Decimal places kept through the computation: DECIMAL(38,12)."""

CHANGE_TYPES = "('expansion', 'contraction', 'cancellation')"


def leap_year(year: str) -> str:
    return f"(({year} % 4 = 0 AND {year} % 100 <> 0) OR {year} % 400 = 0)"


def year_length(day: str) -> str:
    """Days in the year of date `day`: 366 in a leap year, else 365."""
    return f"(365 + CASE WHEN {leap_year(f'year({day})')} THEN 1 ELSE 0 END)"


def units_per_year(day_count: DayCount, day: str) -> str:
    """Day-count units in a year, for a valuation on `day`: a constant, save under `as_of_year`."""
    match day_count:
        case DayCount.BY_MONTH:
            return "360"
        case DayCount.ACTUAL_365 | DayCount.ACTUAL_365_NO_LEAP:
            return "365"
        case DayCount.ACTUAL_ACTUAL:
            return str(365 * 366)
        case DayCount.ACTUAL_AS_OF_YEAR:
            return year_length(day)


def line_den(day_count: DayCount, day: str) -> str:
    """A priced line's `den` for a valuation on `day`: under `as_of_year` a yearly or monthly line's is the day's year."""
    match day_count:
        case DayCount.ACTUAL_AS_OF_YEAR:
            return f"(CASE WHEN per = 'term' THEN den ELSE {year_length(day)} END)"
        case DayCount.BY_MONTH | DayCount.ACTUAL_365 | DayCount.ACTUAL_365_NO_LEAP | DayCount.ACTUAL_ACTUAL:
            return "den"


def line_rate(day_count: DayCount, day: str) -> str:
    """A priced line's yearly rate on `day`: under `as_of_year` a term line's depends on the day's year."""
    match day_count:
        case DayCount.ACTUAL_AS_OF_YEAR:
            return f"(CASE WHEN per = 'term' THEN {exact_div('num', year_length(day), 'den')} ELSE rate END)"
        case DayCount.BY_MONTH | DayCount.ACTUAL_365 | DayCount.ACTUAL_365_NO_LEAP | DayCount.ACTUAL_ACTUAL:
            return "rate"


def included_charge_types(inclusion: RecurringInclusion) -> tuple[str, ...]:
    match inclusion:
        case RecurringInclusion.RECURRING_ONLY:
            return ("recurring",)
        case RecurringInclusion.RECURRING_PLUS_COMMITTED_USAGE:
            return ("recurring", "usage_committed")
        case RecurringInclusion.RECURRING_PLUS_ONE_TIME:
            return ("recurring", "one_time", "services")
        case RecurringInclusion.ALL_CHARGES:
            return ("recurring", "usage_committed", "one_time", "services", "usage_overage")
        case RecurringInclusion.NOT_APPLICABLE:
            raise ValueError("not_applicable is not a ledger inclusion rule")


def literal(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def _leap_days_before(x: str) -> str:
    """Days falling in leap years from 0001-01-01 up to (not including) date `x`."""
    y = f"(year({x}) - 1)"
    leap = leap_year(f"year({x})")
    return f"(366 * ({y} // 4 - {y} // 100 + {y} // 400) + CASE WHEN {leap} THEN dayofyear({x}) - 1 ELSE 0 END)"


def _leap_days_counted_before(x: str) -> str:
    """29 Februaries from 0001-01-01 up to (not including) date `x`: leap years before x's, and x's own once past."""
    y = f"(year({x}) - 1)"
    leap = leap_year(f"year({x})")
    return f"(({y} // 4 - {y} // 100 + {y} // 400) + CASE WHEN {leap} AND dayofyear({x}) > 60 THEN 1 ELSE 0 END)"


def units(a: str, b: str, day_count: DayCount) -> str:
    """Day-count units in [a, b) — `b` exclusive; zero or negative when b <= a."""
    match day_count:
        case DayCount.BY_MONTH:
            # 30/360: the start's 31st counts as the 30th, and so does the end's when the start was a 30th/31st.
            d1 = f"least(day({a}), 30)"
            d2 = f"(CASE WHEN day({b}) = 31 AND day({a}) >= 30 THEN 30 ELSE day({b}) END)"
            return f"(360 * (year({b}) - year({a})) + 30 * (month({b}) - month({a})) + {d2} - {d1})"
        case DayCount.ACTUAL_365 | DayCount.ACTUAL_AS_OF_YEAR:
            # Under as_of_year the days are plain days too: only the year they are measured against moves.
            return f"date_diff('day', {a}, {b})"
        case DayCount.ACTUAL_ACTUAL:
            # A day of a 365-day year weighs 366 units, a day of a leap year 365: a year is 365 × 366 either way.
            return f"(366 * date_diff('day', {a}, {b}) - ({_leap_days_before(b)} - {_leap_days_before(a)}))"
        case DayCount.ACTUAL_365_NO_LEAP:
            # Every day but 29 February counts one unit of a 365-unit year, so a leap year is 365 units too.
            return f"(date_diff('day', {a}, {b}) - ({_leap_days_counted_before(b)} - {_leap_days_counted_before(a)}))"


def overlap(a: str, b: str, day_count: DayCount) -> str:
    return f"(CASE WHEN {b} > {a} THEN {units(a, b, day_count)} ELSE 0 END)"


def exact_div(amount: str, factor: int | str, denominator: str) -> str:
    """amount × factor ÷ denominator as DECIMAL(38,12), truncated toward zero, by integer division.

    `amount` has six decimals (DECIMAL(38,6)), `factor` is a positive integer (or an integer SQL
    expression) and `denominator` is a positive integer. On integers,
    with n = amount × 10^6 × factor (exact: the whole and the fractional part of the amount are
    scaled separately) and d the denominator, the quotient at twelve decimals is
    trunc(n × 10^6 ÷ d) = trunc(n ÷ d) × 10^6 + trunc((n mod d) × 10^6 ÷ d): n × 10^6 is never formed,
    so only n itself must fit a HUGEINT.
    """
    whole = f"CAST(trunc({amount}) AS HUGEINT) * 1000000"
    fraction = f"CAST(({amount} - trunc({amount})) * 1000000 AS HUGEINT)"
    n = f"(({whole} + {fraction}) * {factor})"
    d = f"CAST(({denominator}) AS HUGEINT)"
    quotient = f"(({n} // {d}) * 1000000 + (({n} % {d}) * 1000000) // {d})"
    return f"(CAST({quotient} AS DECIMAL(38,0)) * CAST('0.{'0' * (SCALE - 1)}1' AS DECIMAL(13,12)))"


def money(expression: str) -> str:
    return f"CAST({expression} AS DECIMAL(38,12))"


def priced_key(options: LedgerOptions) -> tuple[object, ...]:
    """The options `priced_sql` depends on: lines priced under equal keys are the same table."""
    return (
        "priced",
        options.day_count,
        options.recurring_inclusion,
        options.discounts,
        options.live_basis,
        options.churn_timing,
        options.full_discount,
    )


def _amount(discounts: Discounts) -> str:
    """The amount a line counts at under the discount rule (`amount_net`, `amount_list` of the usable lines)."""
    match discounts:
        case Discounts.NET:
            return "l.amount_net"
        case Discounts.LIST:
            return "COALESCE(l.amount_list, l.amount_net)"
        case Discounts.PERMANENT_ONLY:
            # Only a discount that lasts as long as the line is part of its recurring price.
            return "CASE WHEN l.discount_duration = 'finite' THEN COALESCE(l.amount_list, l.amount_net) ELSE l.amount_net END"


def _held(full_discount: FullDiscount) -> str:
    """Column `held` of the priced lines: a recurring line discounted to nothing that still keeps its customer."""
    match full_discount:
        case FullDiscount.CHURN:
            return ""
        case FullDiscount.CONTRACTION:
            return ",\n                   l.amount_period <> 'once' AND l.amount_net = 0 AND l.amount_list > 0 AS held"


def priced_sql(options: LedgerOptions, lines: str) -> str:
    """The rows of table `priced`: included lines with their contract header, yearly rate and day-count fraction.

    `lines` is the relation of usable ledger lines. A line earns `num × units ÷ den` over any
    stretch of its service; `rate` is that per year. Only the options of `priced_key` are read.
    """
    dc = options.day_count
    match dc:
        case DayCount.ACTUAL_AS_OF_YEAR:
            # A year's units, and so a term line's yearly rate, are known only with the valuation day:
            # `line_den` and `line_rate` supply them there. Yearly and monthly lines' rates do not move.
            year_den, term_rate = "NULL", "NULL"
        case DayCount.BY_MONTH | DayCount.ACTUAL_365 | DayCount.ACTUAL_365_NO_LEAP | DayCount.ACTUAL_ACTUAL:
            per_year = units_per_year(dc, "")
            year_den, term_rate = per_year, exact_div("num", per_year, "den")
    charge_types = ", ".join(f"'{c}'" for c in included_charge_types(options.recurring_inclusion))
    amount = _amount(options.discounts)
    match options.live_basis:
        case LiveBasis.GO_LIVE:
            effective = "l.live"
        case LiveBasis.SIGNED:
            # Signed value counts from signature; renewals (already counted) and removals from their own dates.
            effective = (
                "CASE WHEN l.amount_net > 0 AND l.change_type <> 'renewal' THEN least(l.signed, l.live) ELSE l.live END"
            )
    match options.churn_timing:
        case ChurnTiming.END_OF_PAID_PERIOD:
            cancellations = "AND l.change_type <> 'cancellation'"
        case ChurnTiming.CANCELLATION_DATE:
            cancellations = ""
    line_units = f"GREATEST({units('s', 'ex', dc)}, 1)"
    return f"""
        WITH lines AS (SELECT * FROM {lines}),
        hdr AS (
            SELECT contract_id,
                   COALESCE(min(CASE WHEN change_type IN ('new', 'renewal') THEN s END), min(s)) AS cs,
                   COALESCE(max(CASE WHEN change_type IN ('new', 'renewal') THEN ex END), max(ex)) AS cex,
                   min(signed) AS c_signed,
                   min(live) AS c_live,
                   bool_and(change_type = 'renewal') AS c_renewal
            FROM lines GROUP BY contract_id
        ),
        b AS (
            SELECT l.row_no, l.contract_id, l.account_id, l.amount_period AS per, l.s, l.ex, l.change_type,
                   {amount} AS amt,
                   {effective} AS eff,
                   l.change_type IN {CHANGE_TYPES} AS is_change,
                   h.cs, h.cex, h.c_signed, h.c_live, h.c_renewal{_held(options.full_discount)}
            FROM lines l JOIN hdr h ON h.contract_id = l.contract_id
            WHERE l.charge_type IN ({charge_types}) {cancellations}
        ),
        n AS (
            SELECT b.*,
                   is_change AND s > cs AND ex = cex AS coterm,
                   CASE per WHEN 'month' THEN amt * 12 ELSE amt END AS num,
                   CASE per WHEN 'term' THEN {line_units} ELSE {year_den} END AS den
            FROM b
        )
        SELECT n.*,
               CASE WHEN per = 'once' THEN NULL
                    WHEN per = 'term' THEN {term_rate}
                    ELSE {money("num")} END AS rate
        FROM n
    """


def in_force(day: str) -> str:
    return f"(per <> 'once' AND eff <= {day} AND {day} < ex)"


def _window(annualization: Annualization, day: str) -> tuple[str, str]:
    """(start, exclusive end) of the stretch of each contract that is annualized."""
    one_year_after = "CAST(date_add({}, INTERVAL 1 YEAR) AS DATE)"
    match annualization:
        case Annualization.TCV_OVER_TERM_YEARS:
            return "cs", "cex"
        case Annualization.FIRST_CONTRACT_YEAR:
            return "cs", f"least({one_year_after.format('cs')}, cex)"
        case Annualization.CURRENT_CONTRACT_YEAR:
            years = (
                f"GREATEST(year({day}) - year(cs) - CASE WHEN month({day}) * 100 + day({day}) "
                f"< month(cs) * 100 + day(cs) THEN 1 ELSE 0 END, 0)"
            )
            start = f"CAST(date_add(cs, INTERVAL ({years}) YEAR) AS DATE)"
            return start, f"least({one_year_after.format(start)}, cex)"
        case (
            Annualization.MRR_TIMES_12
            | Annualization.EXIT_RATE
            | Annualization.ALREADY_ANNUAL
            | Annualization.NOT_APPLICABLE
        ):
            raise ValueError(f"{annualization.value} has no window")


def _exit_rate_sql(day: str, rate: str, *, live_only: bool, source: str, k: str, with_live: bool) -> str:
    """`contract_values_sql` at the exit rate: the yearly rate of each contract's lines in force on its last day.

    Like a run rate, but read at the end of the contract instead of on the day: a ramp counts at its final
    step from the start. What is known on the day counts — the scheduled steps, and changes once effective
    (the same rule as the header-averaged windows). One-time lines have no rate.
    """
    final = f"(per <> 'once' AND s < cex AND ex >= cex AND (NOT is_change OR eff <= {day}))"
    having = f"HAVING sum(CASE WHEN {in_force(day)} THEN {rate} ELSE 0 END) > 0" if live_only else ""
    live = f", sum(CASE WHEN {in_force(day)} THEN {rate} ELSE 0 END) AS live_rate" if with_live else ""
    return f"""
        SELECT {k}contract_id, account_id, sum(CASE WHEN {final} THEN {rate} ELSE 0 END) AS value{live}
        FROM {source}
        WHERE {final} OR {in_force(day)}
        GROUP BY {k}contract_id, account_id {having}
    """


def contract_values_sql(
    options: LedgerOptions,
    day: str,
    *,
    live_only: bool,
    source: str = "priced",
    keys: tuple[str, ...] = (),
    with_live: bool = False,
) -> str:
    """One row per contract: (contract_id, account_id, value) — its annualized value on `day`.

    `day` is a SQL date expression: a literal, or a column of `source` (the priced lines, each
    carrying the `keys` columns, which the rows keep and are grouped by: one valuation per key).
    live_only: only contracts live on `day` (ARR and everything built on it); otherwise every
    contract, valued with what was known on `day` (a booking's ACV). with_live adds `live_rate`,
    the run rate of the contract's lines in force on `day` (> 0 exactly when it is live).
    """
    d = day
    dc = options.day_count
    per_year = units_per_year(dc, d)
    rate = line_rate(dc, d)
    k = "".join(f"{key}, " for key in keys)
    # Every line in force on the day is among the selected lines below, so a contract's live run rate is
    # summed in the same pass as its value: no separate pass to find the live contracts.
    live_only_having = "HAVING sum(live_rate) > 0" if live_only else ""
    if options.annualization is Annualization.MRR_TIMES_12:
        # The run rate: what is in force on the day, a month's worth times twelve; one-time lines have none.
        having = f"HAVING sum({rate}) > 0" if live_only else ""
        live = f", sum({rate}) AS live_rate" if with_live else ""
        return f"""
            SELECT {k}contract_id, account_id, sum({rate}) AS value{live}
            FROM {source}
            WHERE {in_force(d)}
            GROUP BY {k}contract_id, account_id {having}
        """
    if options.annualization is Annualization.EXIT_RATE:
        return _exit_rate_sql(d, rate, live_only=live_only, source=source, k=k, with_live=with_live)
    ws, wb = _window(options.annualization, d)
    line_dated = options.annualization is Annualization.CURRENT_CONTRACT_YEAR
    coterm_revenue = options.co_term is CoTerm.CHANGE_REVENUE
    # Each line contributes `part = num × units`; its yearly value is part × per_year ÷ (den × window),
    # divided once per contract and denominator so that steps of one contract add up exactly.
    whole_window = f"num * {units('ws', 'wb', dc)}"
    if line_dated:
        # The lines in force on the day, each as if it ran the whole contract year: ramps read their
        # current step. A co-termed change may instead count only the revenue it earns in that year.
        rest_of_window = f"num * {overlap('greatest(s, ws)', 'wb', dc)}"
        recurring_part = f"CASE WHEN coterm AND {coterm_revenue} THEN {rest_of_window} ELSE {whole_window} END"
        selected = f"({in_force(d)} OR (per = 'once' AND eff <= {d} AND s >= ws AND s < wb))"
        candidate = f"({in_force(d)} OR (per = 'once' AND eff <= {d}))"
    else:
        # Everything scheduled in the window that was known on the day: future ramp steps are part of
        # the contract, changes not yet effective are not. Run-rate co-terming spreads a change over the window.
        scheduled = f"num * {overlap('greatest(s, ws)', 'least(ex, wb)', dc)}"
        spread = f"CASE WHEN s < wb AND ex > ws THEN {whole_window} ELSE 0 END"
        recurring_part = f"CASE WHEN coterm AND NOT {coterm_revenue} THEN {spread} ELSE {scheduled} END"
        selected = f"(NOT is_change OR eff <= {d}) AND (per <> 'once' OR (s >= ws AND s < wb))"
        candidate = f"(NOT is_change OR eff <= {d})"
    # A year's units in the division: a constant, or under as_of_year the valuation day's year, then
    # a column `py` of the parts carried to the division (the day itself is not in the quotients).
    py_column, py_key, year = "", "", per_year
    if dc is DayCount.ACTUAL_AS_OF_YEAR:
        py_column, py_key, year = f", {per_year} AS py", ", py", "py"
    match options.short_terms:
        case ShortTerms.ANNUALIZE:
            divisor = "wu"
        case ShortTerms.FACE_VALUE:
            divisor = f"GREATEST(wu, {year})"
    live = ", sum(live_rate) AS live_rate" if with_live else ""
    return f"""
        WITH win AS (
            -- the part of `selected` that needs no window, first: windows are worked out only where they matter
            SELECT p.*, {ws} AS ws
            FROM {source} p
            WHERE {candidate}
        ),
        win2 AS (
            SELECT win.*, {wb} AS wb FROM win
        ),
        parts AS (
            SELECT {k}contract_id, account_id, ws, wb,
                   -- a one-time line is its amount, whatever the window: part = amount × per_year over den = per_year
                   CASE WHEN per = 'once' THEN {per_year} ELSE {line_den(dc, d)} END AS den,
                   CAST(CASE WHEN per = 'once' THEN amt * {per_year} ELSE {recurring_part} END AS DECIMAL(38,6)) AS part,
                   CASE WHEN {in_force(d)} THEN {rate} ELSE 0 END AS live_rate{py_column}
            FROM win2
            WHERE {selected}
        ),
        grouped AS (
            SELECT {k}contract_id, account_id, den{py_key}, sum(part) AS part, sum(live_rate) AS live_rate,
                   GREATEST({units("ws", "wb", dc)}, 1) AS wu
            FROM parts GROUP BY {k}contract_id, account_id, ws, wb, den{py_key}
        ),
        quotients AS (
            -- each distinct division once: exact division is the costly step, and many contracts share one
            SELECT part, den, wu{py_key}, {exact_div("part", year, f"den * {divisor}")} AS quotient
            FROM (SELECT DISTINCT part, den, wu{py_key} FROM grouped) d
        )
        SELECT {k}contract_id, account_id, sum(quotient) AS value{live}
        FROM grouped JOIN quotients USING (part, den, wu{py_key})
        GROUP BY {k}contract_id, account_id {live_only_having}
    """
