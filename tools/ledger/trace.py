"""What a ledger value shows of its computation: counts and a few ids, tidy components, data warnings."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from kpi_context.tools.ledger.run import cent
from kpi_context.tools.ledger.validate import Validation
from kpi_context.tools.values import Component

REJECTIONS_SHOWN = 5
"""Rejected rows a value lists (the count is always complete): enough to see the pattern, not a dump."""


def without_ids(contributing: Mapping[str, object], keep: int) -> dict[str, object]:
    """Counts always; account and contract ids only as many as the operator allows (customer identifiers)."""
    out: dict[str, object] = {}
    for key, value in contributing.items():
        if key.endswith("_ids"):
            ids = flatten_ids(value)[:keep]
            if ids:
                out[key] = ids
        elif isinstance(value, Mapping):
            out[key] = without_ids(value, keep)
        else:
            out[key] = value
    return out


def flatten_ids(value: object) -> list[str]:
    if isinstance(value, Mapping):
        return [i for group in value.values() for i in flatten_ids(group)]
    if isinstance(value, list):
        return [str(i) for i in value]
    return [str(value)]


def tidy(component: Component) -> Component:
    """Round a component once, half-even to the cent (24000.000000000000 → 24000, …279999999999 → .28).

    The value itself is computed from the exact sums; components are shown for tracing and for
    recomputing the value by hand, which they reproduce at the value's own rounding.
    """
    value = cent(component.value)
    tidy = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    return component.model_copy(update={"value": tidy})


def data_warnings(checked: Validation) -> list[str]:
    notes = []
    if checked.rows_rejected:
        listed = min(checked.rows_rejected, REJECTIONS_SHOWN)
        notes.append(
            f"{checked.rows_rejected:,} of {checked.rows_read:,} ledger rows were rejected and left out "
            f"({listed:,} listed with row number and reason in ledger.rejections)"
        )
    if checked.converted_from:
        notes.append(
            f"amounts in {', '.join(checked.converted_from)} converted to {checked.currency} at the given rates"
        )
    return notes
