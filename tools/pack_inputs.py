"""Which figure feeds which formula input in a board pack: the caller's finance inputs, or the pack's own values.

Finance inputs are keyed as in compute_kpi: by an expression's input name (`sm_prior_period`) or by
the catalog id of the KPI it is a value of (`finance.total_sm`). Under a KPI id the caller may give
several figures, one per period (`[1450000, {"value": 1300000, "period": ...}]`); a bare number is
for the pack's own period. An input nobody gave is filled from a value the pack computed itself
(ledger KPIs such as net new ARR, for the period the input's role asks for), or listed as missing:
never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kpi_context.ontology.model import ExpressionInput, KpiDefinition, PeriodRole
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.inputs import InputArgument, When, parent_window
from kpi_context.tools.trend import claim_of
from kpi_context.tools.values import BoundValue, ValueClaim

Figures = InputArgument | list[InputArgument]
"""One figure, or one per period, as a caller gives them for one key."""

OwnValue = Callable[[str, When], BoundValue | None]
"""The pack's own value of a KPI for a period or date, when it computes that KPI (else None)."""

PERIOD_MONTHS = "period_months"
"""A raw input some formulas take (burn multiple): the length of the pack's period, which the pack knows."""


@dataclass
class Resolved:
    """The arguments for compute_from_inputs, or what is missing."""

    arguments: dict[str, InputArgument] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    used_keys: set[str] = field(default_factory=set)


def resolve_inputs(kpi: KpiDefinition, given: Mapping[str, Figures], when: When, own_value: OwnValue) -> Resolved:
    """Fill every input of `kpi`'s default formula from `given` or from the pack's own values.

    `when` is the KPI's own period as compute_kpi resolves it (a trailing-window KPI's is its window).
    """
    resolved = Resolved()
    if kpi.id in given:
        # A figure for the KPI itself: reported, exactly as compute_kpi takes it.
        resolved.arguments[kpi.id] = _single(given[kpi.id], kpi.id)
        resolved.used_keys.add(kpi.id)
        return resolved
    expression = kpi.expression_for(None)
    if expression is None:
        resolved.missing.append(f"{kpi.id} (a reported figure for {_when_text(when)})")
        return resolved
    window = parent_window(kpi)
    for spec in expression.inputs:
        needed = when.for_role(spec.period, window)
        found = _given_for(spec, given, needed, resolved)
        if found is None and spec.kpi is not None:
            own = own_value(spec.kpi, needed)
            found = None if own is None else claim_of(own)
        if found is None and spec.kpi is None and spec.name == PERIOD_MONTHS and needed.period is not None:
            found = needed.period.months
        if found is None:
            resolved.missing.append(_missing_text(spec, needed))
        else:
            resolved.arguments[spec.name] = found
    return resolved


def _given_for(
    spec: ExpressionInput, given: Mapping[str, Figures], needed: When, resolved: Resolved
) -> InputArgument | None:
    if spec.name in given and not isinstance(given[spec.name], list):
        # Named exactly as the formula names it: taken as compute_kpi takes it, role included.
        resolved.used_keys.add(spec.name)
        return _single(given[spec.name], spec.name)
    for key in dict.fromkeys((spec.name, spec.kpi)):
        if key is None or key not in given:
            continue
        figures = given[key]
        for figure in figures if isinstance(figures, list) else [figures]:
            if _is_for(figure, needed, current=spec.period is PeriodRole.CURRENT):
                resolved.used_keys.add(key)
                return figure
    return None


def _single(figures: Figures, key: str) -> InputArgument:
    if isinstance(figures, list):
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"inputs.{key} takes one figure; a list of figures (one per period) is taken only under a KPI id "
            "that another KPI's formula reads",
            field=f"inputs.{key}",
        )
    return figures


def _is_for(figure: InputArgument, needed: When, *, current: bool) -> bool:
    """A bare number is for the pack's period; a stated figure is for the period or date it states."""
    if not isinstance(figure, ValueClaim):
        return current
    if figure.period is None and figure.as_of is None:
        return current
    if needed.period is not None and figure.period is not None:
        return figure.period == needed.period
    if needed.as_of is not None:
        return figure.as_of == needed.as_of or (figure.period is not None and figure.period.end == needed.as_of)
    return False


def _when_text(when: When) -> str:
    if when.period is not None:
        return when.period.label()
    return f"as of {when.as_of.isoformat()}" if when.as_of else "the pack's period"


def _missing_text(spec: ExpressionInput, needed: When) -> str:
    what = spec.kpi or spec.name
    return f"{spec.name} ({what} for {_when_text(needed)})" if spec.name != what else f"{what} for {_when_text(needed)}"
