"""compute_kpi over a contract ledger: choose the rules, validate the rows, run the SQL, bind the result.

The rules (`rules.py`) are applied in SQL and bound to the value; the trace (`trace.py`) says what
contributed. Three entry points share one path: a value (optionally over one member of a dimension,
`where`), a cut (`group_by`: the total and every member, in one statement), and a series (many
periods, in one statement per measure). A single value is the one-point case of the series' statement.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from kpi_context.ontology.binding import GrainLevel, Segment, SegmentAssignment
from kpi_context.ontology.ledger_options import LedgerOptions
from kpi_context.tools.binder import Draft
from kpi_context.tools.compute import resolve_when
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.inputs import When
from kpi_context.tools.ledger import cuts
from kpi_context.tools.ledger.cuts import LedgerCut
from kpi_context.tools.ledger.frame import Cut, members_of
from kpi_context.tools.ledger.measures import Measured
from kpi_context.tools.ledger.rules import KPI_MEASURES, Rules, chosen_options, rules_for
from kpi_context.tools.ledger.run import CHANGES, Groups, Measure, measure_at
from kpi_context.tools.ledger.source import DatasetRegistry, ledger_source
from kpi_context.tools.ledger.sql import priced_key, priced_sql
from kpi_context.tools.ledger.trace import REJECTIONS_SHOWN, data_warnings, tidy, without_ids
from kpi_context.tools.ledger.validate import DIMENSION_LENGTH, Validation, open_ledger
from kpi_context.tools.ledger.valued import build_live_accounts, build_valued, valued_key
from kpi_context.tools.periods import Period
from kpi_context.tools.values import BoundValue, Engine, LedgerTrace, ValueStatus

__all__ = [
    "KPI_MEASURES",
    "LedgerCut",
    "Measure",
    "Progress",
    "chosen_options",
    "compute_cuts_from_ledger",
    "compute_from_ledger",
    "compute_series_from_ledger",
]

Progress = Callable[[float, float | None, str], None]
"""(progress, total, message), as MCP progress notifications carry them."""

_STEPS = 4.0


@dataclass(frozen=True)
class _Ledger:
    """A ledger open for one call: a cursor with views `lines`, `priced`, `valued` and `live_accounts`, and what
    was read."""

    con: duckdb.DuckDBPyConnection
    name: str
    checked: Validation
    dimensions: tuple[str, ...]
    engine: Engine = Engine.DUCKDB


@contextmanager
def _opened(
    datasets: DatasetRegistry,
    ledger: str | Mapping[str, Any],
    currency: str | None,
    options: LedgerOptions,
    report: Callable[[float, str], None],
) -> Iterator[_Ledger]:
    source = ledger_source(ledger, datasets)
    report(0, f"reading ledger {source.name!r}")
    with _database_errors(), open_ledger(datasets.store, source, currency, datasets.data_dir) as opened:
        checked, con = opened.validation, opened.con
        report(1, f"{checked.rows_used:,} of {checked.rows_read:,} rows valid; pricing and valuing lines")
        # Priced lines and contract values depend on the file, the rates and the options only: kept with the
        # dataset, they serve every KPI (and every date) computed under the same rules.
        priced = opened.derive(
            (opened.lines_key, priced_key(options)), functools.partial(_price, options, opened.lines)
        )
        valued = opened.derive(
            (opened.lines_key, valued_key(options)), functools.partial(build_valued, options, priced)
        )
        accounts = opened.derive(
            (opened.lines_key, valued_key(options), "live_accounts"), functools.partial(build_live_accounts, valued)
        )
        con.execute(f"CREATE TEMP VIEW lines AS SELECT * FROM {opened.lines}")
        con.execute(f"CREATE TEMP VIEW priced AS SELECT * FROM {priced}")
        con.execute(f"CREATE TEMP VIEW valued AS SELECT * FROM {valued}")
        con.execute(f"CREATE TEMP VIEW live_accounts AS SELECT * FROM {accounts}")
        yield _Ledger(con, source.name, checked, opened.dimensions, opened.engine)


def _price(options: LedgerOptions, lines: str, cursor: duckdb.DuckDBPyConnection, target: str) -> None:
    cursor.execute(f"CREATE {target} AS {priced_sql(options, lines)}")


def _reporter(progress: Progress | None) -> Callable[[float, str], None]:
    def report(step: float, message: str) -> None:
        if progress is not None:
            progress(step, _STEPS, message)

    return report


def compute_from_ledger(
    ctx: ToolContext,
    kpi_ref: str,
    ledger: str | Mapping[str, Any],
    *,
    datasets: DatasetRegistry,
    variant: str | None = None,
    period: Period | str | None = None,
    as_of: date | None = None,
    currency: str | None = None,
    basis: Mapping[str, str] | None = None,
    where: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> BoundValue:
    """One KPI value; with `where` ({dimension: member}, one dimension), over that member's accounts only."""
    rules = rules_for(ctx, kpi_ref, variant, basis)
    when = resolve_when(rules.kpi, rules.binding, period, as_of)
    report = _reporter(progress)
    with _opened(datasets, ledger, currency, rules.options, report) as opened:
        cut = _where(opened, where)
        report(2, f"computing {rules.kpi.id}")
        (values,), (when,) = _measured(ctx, opened, rules, [when], cut)
    report(_STEPS, "done")
    member = None if cut is None else cut.member
    return _bind(ctx, rules, opened, values[member], when, cut)


def compute_cuts_from_ledger(
    ctx: ToolContext,
    kpi_ref: str,
    ledger: str | Mapping[str, Any],
    *,
    datasets: DatasetRegistry,
    group_by: str,
    variant: str | None = None,
    period: Period | str | None = None,
    as_of: date | None = None,
    currency: str | None = None,
    basis: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> LedgerCut:
    """The KPI's total and its value for every member of `group_by`, all from one statement."""
    rules = rules_for(ctx, kpi_ref, variant, basis)
    when = resolve_when(rules.kpi, rules.binding, period, as_of)
    report = _reporter(progress)
    with _opened(datasets, ledger, currency, rules.options, report) as opened:
        cut = _group_by(opened, group_by)
        report(2, f"computing {rules.kpi.id} by {group_by}")
        (values,), (when,) = _measured(ctx, opened, rules, [when], cut)
    report(_STEPS, "done")
    return _cut(ctx, rules, opened, values, when, cut)


def compute_series_from_ledger(
    ctx: ToolContext,
    kpi_ref: str,
    ledger: str | Mapping[str, Any],
    *,
    datasets: DatasetRegistry,
    periods: Sequence[Period],
    variant: str | None = None,
    currency: str | None = None,
    basis: Mapping[str, str] | None = None,
    group_by: str | None = None,
    where: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> list[LedgerCut]:
    """The KPI for every period, in one statement per measure; each point as compute_from_ledger gives it.

    A point-in-time KPI is taken at each period's close, a flow over each period, a trailing-window
    KPI over its window ending at each close. With `group_by` every point has its groups; with `where`
    every point is that member's value (the two cannot be combined).
    """
    rules = rules_for(ctx, kpi_ref, variant, basis)
    if not periods:
        raise KpiError(ErrorCode.INVALID_ARGUMENT, "a series needs at least one period", field="periods")
    if group_by is not None and where:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            "give group_by or where, not both: a value over one member cut again by another dimension has no "
            "governed binding",
            field="where",
        )
    whens = [resolve_when(rules.kpi, rules.binding, p, None) for p in periods]
    report = _reporter(progress)
    with _opened(datasets, ledger, currency, rules.options, report) as opened:
        cut = _group_by(opened, group_by) if group_by is not None else _where(opened, where)
        report(2, f"computing {rules.kpi.id} for {len(periods)} periods")
        values, whens = _measured(ctx, opened, rules, whens, cut)
    report(_STEPS, "done")
    if cut is not None and cut.member is not None:
        return [
            LedgerCut(total=_bind(ctx, rules, opened, v[cut.member], w, cut))
            for v, w in zip(values, whens, strict=True)
        ]
    series = [_cut(ctx, rules, opened, v, w, cut) for v, w in zip(values, whens, strict=True)]
    if cut is None or rules.measure in cuts.ADDITIVE:
        return series
    name = rules.kpi.label
    for index in range(1, len(series)):
        shift = cuts.shift_over_time(
            name,
            cut.dimension,
            series[index - 1],
            series[index],
            _when_label(whens[index - 1]),
            _when_label(whens[index]),
        )
        if shift is not None and series[index].mix_shift is None:
            series[index] = series[index].model_copy(update={"mix_shift": shift})
    return series


def _when_label(when: When) -> str:
    return when.period.label() if when.period is not None else (when.as_of.isoformat() if when.as_of else "undated")


def _measured(
    ctx: ToolContext, opened: _Ledger, rules: Rules, whens: Sequence[When], cut: Cut | None
) -> tuple[list[Groups], list[When]]:
    members = members_of(opened.con, "lines", cut.dimension) if cut is not None and cut.member is None else ()
    return measure_at(
        opened.con,
        rules.measure,
        rules.options,
        whens,
        kpi=rules.kpi,
        variant_id=rules.variant_id,
        binding=rules.binding,
        cut=cut,
        members=members,
        ids=ctx.trace_ids > 0,
    )


def _dimension(opened: _Ledger, name: object, field: str) -> str:
    if not isinstance(name, str) or name not in opened.dimensions:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"{field} names {name!r}, which is not a dimension of this ledger; its dimensions are "
            f"{list(opened.dimensions)}",
            field=field,
            details={"dimensions": list(opened.dimensions)},
        )
    return name


def _group_by(opened: _Ledger, group_by: str) -> Cut:
    return Cut(_dimension(opened, group_by, "group_by"))


def _where(opened: _Ledger, where: Mapping[str, str] | None) -> Cut | None:
    """The one member `where` keeps; refused for several dimensions, an unknown one, or a member no row has."""
    if not where:
        return None
    if len(where) > 1:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"where names {len(where)} dimensions ({', '.join(map(str, where))}); it takes one: a value over two "
            "members at once has no governed binding",
            field="where",
        )
    ((raw, member),) = where.items()
    dimension = _dimension(opened, raw, "where")
    field = f"where.{dimension}"
    if not isinstance(member, str) or not member.strip() or len(member) > DIMENSION_LENGTH:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"{field} is a member name of 1–{DIMENSION_LENGTH} characters, not {member!r}",
            field=field,
        )
    members = members_of(opened.con, "lines", dimension)
    if member not in members:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"no row of the ledger has {dimension} {member!r}; its members are {list(members[:20])}",
            field=field,
            details={"members": list(members[:100])},
        )
    return Cut(dimension, member)


def _cut(ctx: ToolContext, rules: Rules, opened: _Ledger, values: Groups, when: When, cut: Cut | None) -> LedgerCut:
    total = _bind(ctx, rules, opened, values[None], when, None)
    if cut is None:
        return LedgerCut(total=total)
    members = [g for g in values if g is not None]
    groups = [_bind(ctx, rules, opened, values[g], when, Cut(cut.dimension, g)) for g in members]
    reconciles = cuts.reconcile(rules.measure, values[None], [values[g] for g in members], _when_label(when))
    note = cuts.rounding_note(total, groups, cut.dimension) if reconciles else None
    if note is not None:
        total = _bind(ctx, rules, opened, values[None], when, None, extra=(note,))
    result = LedgerCut(total=total, groups=groups, reconciles=reconciles)
    if rules.measure in CHANGES:
        return result.model_copy(update={"mix_shift": cuts.shift_within(rules.kpi.label, cut.dimension, result)})
    return result


def _bind(
    ctx: ToolContext,
    rules: Rules,
    opened: _Ledger,
    measured: Measured,
    when: When,
    cut: Cut | None,
    extra: tuple[str, ...] = (),
) -> BoundValue:
    checked = opened.checked
    binding = rules.binding
    if cut is not None and cut.member is not None:
        segment = Segment(
            dimension=cut.dimension,
            member=cut.member,
            assignment=SegmentAssignment.for_population(binding.grain.population),
        )
        grain = binding.grain.model_copy(update={"level": GrainLevel.SEGMENT, "segment": segment})
        binding = binding.model_copy(update={"grain": grain})
    trace = LedgerTrace(
        dataset=opened.name,
        rows_read=checked.rows_read,
        rows_used=checked.rows_used,
        rows_rejected=checked.rows_rejected,
        rejections=checked.rejections[:REJECTIONS_SHOWN],
        contributing=without_ids(measured.contributing, ctx.trace_ids),
        engine=opened.engine,
    )
    warnings = list(rules.warnings)
    if measured.undefined_reason:
        warnings.append(f"undefined: {measured.undefined_reason}")
    return ctx.binder.bind(
        Draft(
            kpi=rules.kpi,
            variant_id=rules.variant_id,
            value=measured.value,
            status=ValueStatus.COMPUTED,
            period=when.period,
            as_of=when.as_of,
            currency=checked.currency,
            undefined_reason=measured.undefined_reason,
            formula=measured.formula,
            components=tuple(tidy(c) for c in measured.components),
            ledger=trace,
            warnings=(*warnings, *data_warnings(checked), *extra),
            binding=binding,
            basis={key.value: rules.options.value_of(key).value for key in rules.spec.keys},
        )
    )


@contextmanager
def _database_errors() -> Iterator[None]:
    """A database error becomes a coded refusal; its own text ("Binder Error: …") never reaches the caller.

    An overflow is the ledger's amounts (or rates) exceeding the exact DECIMAL(38,6) the engine sums
    in: `out_of_range`. Anything else the database refuses is reported as a ledger it cannot compute,
    with the kind of error only.
    """
    try:
        yield
    except (duckdb.OutOfRangeException, duckdb.ConversionException) as exc:
        raise KpiError(
            ErrorCode.OUT_OF_RANGE,
            "the ledger's amounts, or amounts converted at ledger.fx_rates, exceed the engine's exact decimals "
            "(at most 32 integer digits, 6 decimals, per line and in every sum)",
            field="ledger",
            details={"database_error": type(exc).__name__},
        ) from None
    except (duckdb.OutOfMemoryException, duckdb.IOException) as exc:
        # The store's memory limit and spill directory bound what one computation may hold; past them the
        # ledger is too large for this server, not malformed.
        raise KpiError(
            ErrorCode.LEDGER_TOO_LARGE,
            "the ledger needs more memory or temporary disk than the engine may use; retry when the server is "
            "less busy, or give it more memory",
            field="ledger",
            details={"database_error": type(exc).__name__},
        ) from None
    except duckdb.Error as exc:
        raise KpiError(
            ErrorCode.LEDGER_INVALID,
            "the ledger could not be computed by the engine; check its columns and values against kpi://ledger-format",
            field="ledger",
            details={"database_error": type(exc).__name__},
        ) from None
