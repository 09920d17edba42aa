"""Governed ledger options travel with values: one label, one number.

A ledger value states the options it was computed under (`basis`). A value computed from
inputs inherits its inputs' options, so NRR built from bridge movements computed with
`churn_timing=cancellation_date` says so, and cannot pass for the default NRR. A value
without stated options (a reported figure) is read under the catalog's defaults.
"""

from __future__ import annotations

from collections.abc import Sequence

from kpi_context.ontology.binding import BindingAxis, binding_differences
from kpi_context.ontology.ledger_options import LEDGER_KPI_OPTIONS, catalog_defaults
from kpi_context.ontology.model import KpiDefinition
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.values import BoundValue


def effective_basis(value: BoundValue) -> dict[str, str]:
    """The options behind a value: those it states, and the catalog's defaults for the rest of its KPI's keys."""
    spec = LEDGER_KPI_OPTIONS.get(value.kpi)
    if spec is None:
        return dict(value.basis)
    defaults = catalog_defaults(spec, value.binding)
    return {**{key.value: defaults.value_of(key).value for key in spec.keys}, **value.basis}


def inherited_basis(kpi: KpiDefinition, inputs: Sequence[tuple[str, BoundValue]]) -> dict[str, str]:
    """The options a computed value carries from its inputs; inputs computed under conflicting options are refused."""
    merged: dict[str, tuple[str, str]] = {}
    for name, value in inputs:
        for key, option in value.basis.items():
            seen = merged.setdefault(key, (option, name))
            if seen[0] != option:
                raise KpiError(
                    ErrorCode.INPUT_BINDING_MISMATCH,
                    f"inputs {seen[1]!r} and {name!r} of {kpi.id} were computed under different ledger options "
                    f"({key}={seen[0]} vs {key}={option}); recompute them under the same basis",
                    field=f"inputs.{name}",
                    details={"input": name, "axis": f"basis.{key}", "required": seen[0], "given": option},
                )
    spec = LEDGER_KPI_OPTIONS.get(kpi.id)
    keys = {key.value for key in spec.keys} if spec is not None else set(merged)
    return {key: option for key, (option, _) in sorted(merged.items()) if key in keys}


_BINDING_AXIS_OF_OPTION = {
    "recurring_inclusion": BindingAxis.RECURRING_INCLUSION,
    "annualization": BindingAxis.ANNUALIZATION,
    "live_basis": BindingAxis.DATE_BASIS,
}
"""Options that are also binding axes: where the bindings already differ on that axis, it is said there once."""


def basis_differences(left: BoundValue, right: BoundValue) -> list[tuple[str, str, str]]:
    """(option, left, right) for every governed option on which two values differ, beyond their bindings."""
    a, b = effective_basis(left), effective_basis(right)
    in_binding = {axis for axis, _, _ in binding_differences(left.binding, right.binding)}
    return [
        (key, a.get(key, "unstated"), b.get(key, "unstated"))
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key) and _BINDING_AXIS_OF_OPTION.get(key) not in in_binding
    ]
