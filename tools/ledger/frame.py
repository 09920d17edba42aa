"""Where a measure is taken: at which dates (one point or a series), and over which accounts (all, or a cut).

Every measure is one SQL statement over a table `pts(k, d1, d2, dm)` of its points — k numbers
the point, d1 and d2 are the dates the measure reads (a window's open and close, a period's
start and end, or an as-of date in d2), dm the date accounts are placed in a segment member — and
returns one row per point and group. A single value is the one-point case of the same statement.

A cut places each account in one member of a dimension, by the rule of `members_sql`, and tags
the account-level rows with it: `g` is NULL for the total, the member's name for a group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb

from kpi_context.tools.ledger.sql import literal
from kpi_context.tools.ledger.validate import UNASSIGNED, dimension_column, sql_text

SAMPLE_IDS = 10
"""Ids listed per group in a trace; the counts are always complete."""

Key = tuple[int, str | None]
"""(point, member): member None is the total over every account."""


@dataclass(frozen=True)
class Point:
    """The dates one point of a measure reads."""

    d2: date
    """The as-of date, a window's or a period's close."""
    d1: date | None = None
    """A window's open (the day before it starts) or a period's first day, for measures over two dates."""
    dm: date | None = None
    """The date accounts are placed in segment members; d2 unless given."""


@dataclass(frozen=True)
class Cut:
    """A population cut by one dimension: every member and the total (group_by), or one member (where)."""

    dimension: str
    member: str | None = None
    """None: every member, and the total; a member: only that member's accounts."""


@dataclass(frozen=True)
class Frame:
    """The points a measure is taken at, and the cut of its population, if any."""

    points: tuple[Point, ...]
    cut: Cut | None = None
    lines: str = "lines"
    """The usable ledger lines (every charge type), which place accounts in members."""
    members: tuple[str, ...] = ()
    """With a cut over every member: the dimension's members, in the order groups are reported."""

    @property
    def groups(self) -> tuple[str | None, ...]:
        """The groups each point reports: the total, and the members of a cut (or the one member of a where)."""
        if self.cut is None:
            return (None,)
        if self.cut.member is not None:
            return (self.cut.member,)
        return (None, *self.members)

    def point_keys(self) -> list[Key]:
        return [(k, g) for k in range(len(self.points)) for g in self.groups]

    def ctes(self) -> str:
        """`pts` and (for a cut) `mem`, each followed by a comma: the head of a WITH clause."""
        rows = ", ".join(
            f"({k}, {_date(p.d1)}, {literal(p.d2)}, {literal(p.dm or p.d2)})" for k, p in enumerate(self.points)
        )
        head = f"pts AS (SELECT * FROM (VALUES {rows}) v(k, d1, d2, dm)),"
        if self.cut is None:
            return head
        return f"{head}\n mem AS ({members_sql(self.cut.dimension, self.lines)}),"

    def tagged(self, rows: str) -> str:
        """The rows of relation `rows` (with columns k and account_id), each with its group `g`."""
        total = f"SELECT r.*, CAST(NULL AS VARCHAR) AS g FROM {rows} r"
        if self.cut is None:
            return total
        members = f"SELECT r.*, m.g FROM {rows} r JOIN mem m ON m.k = r.k AND m.account_id = r.account_id"
        if self.cut.member is not None:
            return f"{members} WHERE m.g = {sql_text(self.cut.member)}"
        return f"{members} UNION ALL {total}"


def _date(day: date | None) -> str:
    return "CAST(NULL AS DATE)" if day is None else literal(day)


def members_sql(dimension: str, lines: str) -> str:
    """(k, account_id, g): each account's member of `dimension` on its point's date dm.

    The member is the dimension value of the account's line in force on dm (start_date ≤ dm ≤
    end_date) with the latest start_date, ties to the highest line_id, then to the later row; an
    account with no line in force takes its latest line starting on or before dm; one whose lines
    all start after dm, its earliest. Every line of the account counts, whatever its charge type.
    """
    column = dimension_column(dimension)
    in_force = "l.s <= pts.dm AND pts.dm <= l.e"
    rank = (
        f"(CASE WHEN {in_force} THEN 2 WHEN l.s <= pts.dm THEN 1 ELSE 0 END, "
        "CASE WHEN l.s <= pts.dm THEN date_diff('day', DATE '1900-01-01', l.s) "
        "ELSE date_diff('day', l.s, DATE '1900-01-01') END, COALESCE(l.line_id, ''), l.row_no)"
    )
    return (
        f"SELECT pts.k, l.account_id, arg_max(l.{column}, {rank}) AS g FROM {lines} l, pts GROUP BY pts.k, l.account_id"
    )


def members_of(con: duckdb.DuckDBPyConnection, lines: str, dimension: str) -> tuple[str, ...]:
    """The members of `dimension` in the ledger's usable lines: sorted by name, 'unassigned' last."""
    column = dimension_column(dimension)
    found = [str(m) for (m,) in con.execute(f"SELECT DISTINCT {column} FROM {lines} l").fetchall()]
    return tuple(sorted(found, key=lambda member: (member == UNASSIGNED, member)))


def by_key(rows: Sequence[tuple[object, ...]]) -> dict[Key, tuple[object, ...]]:
    """Result rows (k, g, …) keyed by (k, g), the rest of each row as its value."""
    out: dict[Key, tuple[object, ...]] = {}
    for row in rows:
        k, g, *rest = row
        assert isinstance(k, int) and (g is None or isinstance(g, str))
        out[(k, g)] = tuple(rest)
    return out
