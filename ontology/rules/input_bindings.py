"""Every input of a formula carries the rules its result claims: one label, one number.

The type checker (`expressions.py`) makes sure a formula yields the right unit and grain. These
rules look at the other binding axes. A result labelled "signed, TCV ÷ term" must not be built
from go-live, contract-year figures, and a result labelled "trailing 12 months" must not be built
from one quarter's flows: otherwise one label can carry two different numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from kpi_context.ontology.binding import Annualization, Binding, DateBasis, RecurringInclusion, TimeBasisKind
from kpi_context.ontology.issues import LoadIssue
from kpi_context.ontology.model import Expression, ExpressionInput, PeriodRole
from kpi_context.ontology.rules.base import Entry, RuleContext

Where = tuple[str | int, ...]

_DATED = frozenset({DateBasis.SIGNED, DateBasis.GO_LIVE})


@dataclass(frozen=True)
class Site:
    """One expression judged against the binding its value will carry."""

    expression: Expression
    binding: Binding
    where: Where


def sites(entry: Entry) -> Iterator[Site]:
    """The KPI's expression under its binding; each variant under its own, with or without its own formula."""
    definition = entry.definition
    if definition.expression is not None:
        yield Site(definition.expression, definition.binding, ("expression",))
    for index, variant in enumerate(definition.variants):
        expression = variant.expression or definition.expression
        if expression is not None:
            yield Site(expression, variant.binding, ("variants", index))


def judged_inputs(context: RuleContext) -> Iterator[tuple[Entry, Site, int, ExpressionInput, Binding]]:
    """Every input of every expression site with the binding it reads; inputs whose binding is unknown are skipped."""
    for entry in context.entries:
        for site in sites(entry):
            for index, item in enumerate(site.expression.inputs):
                given = input_binding(context, item)
                if given is not None:
                    yield entry, site, index, item, given


def input_binding(context: RuleContext, item: ExpressionInput) -> Binding | None:
    if item.binding is not None:
        return item.binding
    source = context.definition(item.kpi) if item.kpi is not None else None
    if source is None or (item.variant is not None and source.variant(item.variant) is None):
        return None  # reported by the reference and expression rules
    return source.binding_for(item.variant)


class InputsCarryResultRules:
    """Recurring inclusion, annualization and the counting date pass from inputs to the result unchanged.

    An input that states one of these axes (its value is not `not_applicable`) must state the
    result's value, so a formula cannot relabel go-live figures as signed ones.
    """

    name: ClassVar[str] = "inputs_carry_result_rules"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        return [
            entry.issue(self.name, *site.where, "inputs", index, message=f"input {item.name!r}: {problem}")
            for entry, site, index, item, given in judged_inputs(context)
            for problem in _axis_problems(site.binding, given)
        ]


def _axis_problems(result: Binding, given: Binding) -> Iterator[str]:
    stated = RecurringInclusion.NOT_APPLICABLE not in (result.recurring_inclusion, given.recurring_inclusion)
    if stated and given.recurring_inclusion is not result.recurring_inclusion and not _adds_to(result, given):
        yield (
            f"recurring_inclusion is {given.recurring_inclusion.value} but the result claims "
            f"{result.recurring_inclusion.value}"
        )
    annualized = Annualization.NOT_APPLICABLE not in (result.annualization, given.annualization)
    if annualized and given.annualization is not result.annualization:
        yield f"annualization is {given.annualization.value} but the result claims {result.annualization.value}"
    if result.date_basis in _DATED and given.date_basis in _DATED and given.date_basis is not result.date_basis:
        yield f"date_basis is {given.date_basis.value} but the result claims {result.date_basis.value}"


def _adds_to(result: Binding, given: Binding) -> bool:
    """A recurring-only part of a result that includes more (recurring + one-time) is a legitimate addend."""
    return (
        given.recurring_inclusion is RecurringInclusion.RECURRING_ONLY
        and result.recurring_inclusion is not RecurringInclusion.RECURRING_ONLY
    )


class InputsCoverResultWindow:
    """A result's time basis decides which period each input must be for.

    - trailing window of W months: flows are read over that window (role `window`); balances at its
      close (`current`), at its open (`window_open`), or a year earlier when W is 12 (`prior_year`);
      trailing inputs must have the same window.
    - flow over the period: no window roles and no trailing-window inputs.
    - point in time: no window roles.
    """

    name: ClassVar[str] = "inputs_cover_result_window"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        issues = []
        for entry, site, index, item, given in judged_inputs(context):
            problem = _window_problem(site.binding, given, item.period)
            if problem:
                issues.append(
                    entry.issue(self.name, *site.where, "inputs", index, message=f"input {item.name!r}: {problem}")
                )
        return issues


def _window_problem(result: Binding, given: Binding, role: PeriodRole) -> str | None:
    kind, window = result.time_basis.kind, result.time_basis.window_months
    input_kind = given.time_basis.kind
    if input_kind is TimeBasisKind.NOT_APPLICABLE or kind is TimeBasisKind.NOT_APPLICABLE:
        return None
    windowed = role in (PeriodRole.WINDOW, PeriodRole.WINDOW_OPEN)
    match kind:
        case TimeBasisKind.TRAILING_WINDOW:
            prior_window = role is PeriodRole.PRIOR_YEAR and window == 12
            if input_kind is TimeBasisKind.PERIOD_FLOW and role is not PeriodRole.WINDOW and not prior_window:
                return f"a flow under a trailing {window}-month result must be read over the window (period 'window')"
            if input_kind is TimeBasisKind.POINT_IN_TIME and role is PeriodRole.WINDOW:
                return "a balance is read at the window's close ('current') or open ('window_open'), not over it"
            if input_kind is TimeBasisKind.POINT_IN_TIME and role is PeriodRole.PRIOR_PERIOD:
                return "a balance under a trailing window is read at its open ('window_open'), not the prior period"
            if input_kind is TimeBasisKind.POINT_IN_TIME and role is PeriodRole.PRIOR_YEAR and window != 12:
                return f"'prior_year' is not the open of a {window}-month window; use 'window_open'"
            if input_kind is TimeBasisKind.TRAILING_WINDOW and (given.time_basis.window_months != window or windowed):
                return f"a trailing input must cover a {window}-month window of its own"
        case TimeBasisKind.PERIOD_FLOW:
            if windowed:
                return "a flow over the period has no trailing window to read"
            if input_kind is TimeBasisKind.TRAILING_WINDOW:
                return f"a trailing {given.time_basis.window_months}-month input cannot make a flow over the period"
        case TimeBasisKind.POINT_IN_TIME:
            # A balance may be divided by a flow rate (cash ÷ monthly burn = runway), so flows are allowed.
            if windowed:
                return "a point-in-time result has no trailing window to read"
    return None
