"""The ledger SQL, written once for DuckDB, as PostgreSQL and Spark SQL.

Every statement the engine runs is written in DuckDB's dialect (`sql.py`, `valued.py`, the
measures). For another engine it is parsed and re-written by sqlglot; where sqlglot's
translation would run but answer differently (or not run), a rule below rewrites that node
by hand before the target SQL is generated. Each rule is exact for the way the ledger SQL uses
the construct; the equality tests (every KPI under every option on every engine) are the gate.

The hand-written pieces:

- exact integer division (`a // b` on HUGEINT, from `sql.exact_div`): PostgreSQL's NUMERIC is
  unbounded and `div` truncates toward zero as DuckDB does; Spark divides the exact multiple
  `a - a % b` (whose quotient needs no rounding) and casts back to DECIMAL(38,0). HUGEINT is
  NUMERIC / DECIMAL(38,0); `trunc` of a decimal truncates toward zero on both.
- date arithmetic: `date + INTERVAL n YEAR` (clamped to 28 February as DuckDB clamps) and
  `date + to_days(n)`; `make_date` with integer arguments.
- date spines: `unnest(range(a, b))` (b exclusive).
- DuckDB's aggregates without an equivalent: `min(x, n)` (the n smallest, sorted), `arg_max(x,
  (k1, k2, …))` (x of the largest key tuple), and `ASOF LEFT JOIN` on one `>=` condition.
- checks on text: `regexp_full_match` (anchored), `TRY_CAST` to DATE or DECIMAL on PostgreSQL
  (which has none: a CASE over the text's shape; the validator only casts text that already
  matched its YYYY-MM-DD or amount pattern, so a day like 02-30 is the only failure left).
- Spark has no infinite dates: DuckDB's ±infinity become 0001-01-01 and 9999-12-31, outside
  every date a ledger may hold (1900–2199).

Strings compare byte-wise on DuckDB and Spark; PostgreSQL compares them under a collation, so
the checked table's text columns are made COLLATE "C" (byte order) where it is built: ties
between line ids, and the ids a trace lists, then sort as on DuckDB.
"""

from __future__ import annotations

import functools
import itertools

import sqlglot
from sqlglot import exp

from kpi_context.tools.values import Engine

INFINITY = {"infinity": "9999-12-31", "-infinity": "0001-01-01"}
"""Spark's stand-ins for DuckDB's infinite dates."""

_SPARK_DIVISOR = "DECIMAL(18,0)"
"""The divisor of an exact division on Spark: every day-count denominator fits 18 digits, and the quotient
then keeps 19 integer digits (the value × 10^6: up to 10^13 a year per contract)."""


class DialectError(ValueError):
    """A statement uses a DuckDB construct this module does not translate: a defect, found by the equality tests."""


def _raw(sql: str) -> exp.Expr:
    """A piece of target SQL, kept verbatim (parenthesised so it binds as one operand)."""
    return exp.Var(this=f"({sql})")


def _sql(node: exp.Expr | None, engine: Engine) -> str:
    assert node is not None
    return node.sql(dialect=_DIALECTS[engine])


_UNNAMED = itertools.count(1)

_DIALECTS = {Engine.DUCKDB: "duckdb", Engine.POSTGRESQL: "postgres", Engine.SPARK: "spark"}


def _smallest(value: exp.Expr, count: exp.Expr, where: exp.Expr | None, engine: Engine) -> str:
    """DuckDB's min(x, n): the n smallest values, ascending (NULL or empty over no rows)."""
    x, n = _sql(value, engine), _sql(count, engine)
    condition = "" if where is None else f" FILTER ({_sql(where, engine)})"
    if engine is Engine.POSTGRESQL:
        return f'(ARRAY_AGG({x} ORDER BY {x} COLLATE "C"){condition})[1:{n}]'
    return f"SLICE(ARRAY_SORT(COLLECT_LIST({x}){condition}), 1, {n})"


def _arg_max(node: exp.ArgMax, engine: Engine) -> exp.Expr:
    key = node.expression
    keys = key.expressions if isinstance(key, exp.Tuple) else [key]
    value = _sql(node.this, engine)
    if engine is Engine.POSTGRESQL:
        order = ", ".join(f"{_sql(k, engine)} DESC" for k in keys)
        return _raw(f"(ARRAY_AGG({value} ORDER BY {order}))[1]")
    return _raw(f"MAX_BY({value}, STRUCT({', '.join(_sql(k, engine) for k in keys)}))")


def _interval_years(interval: exp.Interval) -> exp.Expr:
    unit = interval.unit.name.upper() if interval.unit is not None else ""
    if unit not in ("YEAR", "YEARS"):
        raise DialectError(f"only year intervals are translated, not {interval.sql('duckdb')}")
    count = interval.this
    if isinstance(count, exp.Literal) and count.is_string:
        return exp.Literal.number(count.this)
    assert count is not None
    return count


def _add_years(date: exp.Expr, years: exp.Expr, engine: Engine) -> exp.Expr:
    """date + n years, 29 February landing on 28 February (DuckDB, PostgreSQL and Spark's add_months agree)."""
    d, n = _sql(date, engine), _sql(years, engine)
    if engine is Engine.POSTGRESQL:
        return _raw(f"CAST({d} + MAKE_INTERVAL(years => CAST({n} AS INT)) AS DATE)")
    return _raw(f"ADD_MONTHS({d}, 12 * ({n}))")


def _add_days(date: exp.Expr, days: exp.Expr, engine: Engine) -> exp.Expr:
    d, n = _sql(date, engine), _sql(days, engine)
    if engine is Engine.POSTGRESQL:
        return _raw(f"{d} + CAST({n} AS INT)")
    return _raw(f"DATE_ADD({d}, CAST({n} AS INT))")


def _asof(join: exp.Join) -> exp.Join:
    """`ASOF LEFT JOIN t ON a >= t.c`: each left row with the row of t of the largest c ≤ a.

    The same rows come from a range join on [c, next c): t's rows are numbered by c (c is unique in the
    ledger SQL's use: one row per day) and each is matched over the days until the next one.
    """
    condition = join.args.get("on")
    table = join.this
    if join.side != "LEFT" or not isinstance(condition, exp.GTE) or not isinstance(table, exp.Table):
        raise DialectError(f"only ASOF LEFT JOIN t ON x >= t.c is translated, not {join.sql('duckdb')}")
    probe, key = condition.this, condition.expression
    if not isinstance(key, exp.Column):
        raise DialectError("the ASOF key must be a column of the joined table")
    name = table.alias_or_name
    column = key.name
    ranged = sqlglot.parse_one(
        f"SELECT *, LEAD({column}) OVER (ORDER BY {column}) AS asof_next FROM {table.name}", read="duckdb"
    )
    bounded = exp.and_(
        condition.copy(),
        exp.or_(
            exp.column("asof_next", table=name).is_(exp.null()),
            exp.LT(this=probe.copy(), expression=exp.column("asof_next", table=name)),
        ),
    )
    return exp.Join(
        this=exp.Subquery(this=ranged, alias=exp.TableAlias(this=exp.to_identifier(name))), side="LEFT", on=bounded
    )


def _full_match(node: exp.RegexpFullMatch, engine: Engine) -> exp.Expr:
    value, pattern = node.this, node.expression
    if not isinstance(pattern, exp.Literal):
        raise DialectError("regexp_full_match takes a literal pattern")
    if engine is Engine.POSTGRESQL:
        anchored = exp.Literal.string(f"^(?:{pattern.this})$")
        return _raw(f"{_sql(value, engine)} ~ {_sql(anchored, engine)}")
    # Java's $ also matches before a final line break; \z is the very end.
    anchored = exp.Literal.string(f"^(?:{pattern.this})" + "\\z")
    return _raw(f"{_sql(value, engine)} RLIKE {_sql(anchored, engine)}")


def _pg_try_cast(node: exp.TryCast) -> exp.Expr:
    """PostgreSQL has no TRY_CAST: the cast of text of the shape the validator lets through, else NULL."""
    text = f"BTRIM({_sql(node.this, Engine.POSTGRESQL)}, ' ')"
    to = node.to
    if to.is_type(exp.DataType.Type.DATE):
        y, m, d = (f"CAST(SUBSTR({text}, {a}, {n}) AS INT)" for a, n in ((1, 4), (6, 2), (9, 2)))
        last_day = f"EXTRACT(DAY FROM MAKE_DATE({y}, {m}, 1) + INTERVAL '1 month' - INTERVAL '1 day')"
        return _raw(
            f"CASE WHEN {text} ~ '^[0-9]{{4}}-(0[1-9]|1[0-2])-[0-9]{{2}}$' THEN "
            f"CASE WHEN {y} >= 1 AND {d} BETWEEN 1 AND {last_day} THEN CAST({text} AS DATE) END END"
        )
    if to.is_type(*exp.DataType.REAL_TYPES) or to.is_type(exp.DataType.Type.DECIMAL):
        target = _sql(to, Engine.POSTGRESQL)
        return _raw(f"CASE WHEN {text} ~ '^-?[0-9]{{1,32}}(\\.[0-9]+)?$' THEN CAST({text} AS {target}) END")
    raise DialectError(f"TRY_CAST to {to.sql('duckdb')} is not translated for PostgreSQL")


def _spark_int_div(node: exp.IntDiv) -> exp.Expr:
    a, b = _sql(node.this, Engine.SPARK), _sql(node.expression, Engine.SPARK)
    # HUGEINT operands (already rewritten to DECIMAL(38,0) below this node) divide as decimals; DIV gives a BIGINT.
    wide = (exp.DataType.Type.INT128, exp.DataType.Type.DECIMAL)
    if not any(c.to.is_type(*wide) for c in node.find_all(exp.Cast)):
        return _raw(f"{a} DIV {b}")
    # a − a % b is an exact multiple of b: dividing it rounds nothing.
    return _raw(f"CAST((({a}) - ({a}) % ({b})) / CAST({b} AS {_SPARK_DIVISOR}) AS DECIMAL(38,0))")


def _rule(node: exp.Expr, engine: Engine) -> exp.Expr:
    match node:
        case exp.Filter(this=exp.Min() as smallest) if smallest.args.get("count") is not None:
            return _raw(_smallest(smallest.this, smallest.args["count"], node.expression, engine))
        case exp.Min() if node.args.get("count") is not None:
            if isinstance(node.parent, exp.Filter):
                return node
            return _raw(_smallest(node.this, node.args["count"], None, engine))
        case exp.ArgMax():
            return _arg_max(node, engine)
        case exp.Join() if (node.args.get("method") or "").upper() == "ASOF":
            return _asof(node)
        case exp.DateAdd(expression=exp.Interval() as interval):
            return _add_years(node.this, _interval_years(interval), engine)
        case exp.Add(expression=exp.ToDays() as days):
            return _add_days(node.this, days.this, engine)
        case exp.DateFromParts() if engine is Engine.POSTGRESQL:
            parts = ", ".join(f"CAST({_sql(node.args[p], engine)} AS INT)" for p in ("year", "month", "day"))
            return _raw(f"MAKE_DATE({parts})")
        case exp.Explode(this=exp.GenerateSeries() as series) if engine is Engine.POSTGRESQL:
            end = _sql(series.args["end"], engine)
            if series.args.get("is_end_exclusive"):
                end = f"({end}) - 1"
            return _raw(f"GENERATE_SERIES(CAST({_sql(series.args['start'], engine)} AS INT), CAST({end} AS INT))")
        case exp.RegexpFullMatch():
            return _full_match(node, engine)
        case exp.Subquery() if (
            engine is Engine.POSTGRESQL and not node.alias and isinstance(node.parent, exp.From | exp.Join)
        ):
            # PostgreSQL 15 wants a name for every subquery in FROM; DuckDB does not.
            return node.as_(f"_unnamed_{next(_UNNAMED)}")
        case exp.DayOfYear() if engine is Engine.POSTGRESQL:
            return _raw(f"CAST(EXTRACT(DOY FROM {_sql(node.this, engine)}) AS INT)")
        case exp.TryCast() if engine is Engine.POSTGRESQL:
            return _pg_try_cast(node)
        case exp.DataType() if node.is_type(exp.DataType.Type.INT128):
            if engine is Engine.POSTGRESQL:
                return exp.DataType.build("NUMERIC")
            return exp.DataType.build("DECIMAL(38,0)")
        case exp.Trunc() if engine is Engine.SPARK:
            # sqlglot casts to BIGINT, which overflows; toward zero, at any size:
            x = _sql(node.this, engine)
            return _raw(f"CASE WHEN {x} < 0 THEN CEIL({x}) ELSE FLOOR({x}) END")
        case exp.IntDiv() if engine is Engine.SPARK:
            return _spark_int_div(node)
        case exp.Cast(this=exp.Literal(is_string=True) as text) if engine is Engine.SPARK and text.this in INFINITY:
            return exp.Cast(this=exp.Literal.string(INFINITY[text.this]), to=node.to)
    return node


def _rewrite(node: exp.Expr, engine: Engine) -> exp.Expr:
    """`node` with every rule applied, children first (a rule renders children already rewritten)."""
    for child in list(node.iter_expressions()):
        rewritten = _rewrite(child, engine)
        if rewritten is not child:
            child.replace(rewritten)
    return _rule(node, engine)


def _typed_once(tree: exp.Expr) -> None:
    """Keep each subquery that types text (TRY_CAST) from being merged into the query around it.

    PostgreSQL inlines a subquery in FROM into its parent and then evaluates a typed column again at every
    reference — the validator reads each amount and date in a dozen checks, each a pattern match and a cast.
    OFFSET 0 leaves the subquery as it is: every column typed once per row. Only the typing subquery.
    """
    for select in list(tree.find_all(exp.Select)):
        if any(projection.find(exp.TryCast) for projection in select.expressions) and select.args.get("offset") is None:
            select.set("offset", exp.Offset(expression=exp.Literal.number(0)))


@functools.lru_cache(maxsize=512)
def transpile(sql: str, engine: Engine) -> str:
    """One DuckDB statement as the engine's SQL (the same text on DuckDB)."""
    if engine is Engine.DUCKDB:
        return sql
    tree = sqlglot.parse_one(sql, read="duckdb")
    if engine is Engine.POSTGRESQL:
        _typed_once(tree)
    tree = _rewrite(tree, engine)
    return tree.sql(dialect=_DIALECTS[engine])
