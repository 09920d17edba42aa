"""The argument types the tools publish: small schemas a model reads, strict validation behind them.

Every byte of an input schema is read by the model on every conversation. Bound values passed
back (`inputs`, `left`, `right`) are therefore published as plain objects and validated here,
strictly, against the full value model; a fault names its exact place (`left.binding.grain`).
The `basis` options, by contrast, are published with every allowed value: those are choices a
model must be able to see to make.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

from kpi_context.ontology.binding import Annualization, DateBasis, RecurringInclusion, ValueBasis
from kpi_context.ontology.ledger_options import (
    ChurnTiming,
    CoTerm,
    DayCount,
    Discounts,
    FullDiscount,
    GrrCap,
    LiveBasis,
    MovementTiming,
    NewCustomerExpansion,
    Reactivation,
    RenewalUplift,
    SamePeriodChurn,
    ShortTerms,
)
from kpi_context.server.ledger_calls import LedgerSpec
from kpi_context.server.strict_arguments import path_is_branch, unreadable_argument
from kpi_context.tools.compare import BenchmarkRef
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.inputs import InputArgument, PercentText
from kpi_context.tools.periods import parse_period
from kpi_context.tools.values import ValueClaim

InputValue = StrictInt | StrictFloat | PercentText | dict[str, Any]
"""A number (in the unit lookup_kpi lists), a percent string such as "76%", or an object (see the description)."""

INPUTS_HELP = (
    "Input name (from lookup_kpi) → a number in the input's unit (percent on the 0–100 scale), a string like "
    '"76%", a bound value returned by compute_kpi (pass it whole), or {"value": 0.76, "unit": "ratio"} to state '
    'a unit; add "confirm": true to keep a true figure outside the plausible range.'
)
VALUE_HELP = "A bound value exactly as compute_kpi returned it (or {kpi, value, period|as_of, currency} typed by you)."


def _without_null_defaults(schema: dict[str, Any]) -> None:
    """Drop each key's `"default": null`: every key is optional and absent means the KPI's own rule.

    Said once per key it would cost a model fifteen characters a key on every conversation.
    """
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class Basis(BaseModel):
    """Governed options."""

    # The docstring is published in the schema a model reads on every call; the argument's own description
    # says the rest (binding keys select a variant, ledger keys apply with `ledger`), so it stays this short.

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_without_null_defaults)

    value_basis: ValueBasis | None = None
    recurring_inclusion: RecurringInclusion | None = None
    annualization: Annualization | None = None
    date_basis: DateBasis | None = None
    short_terms: ShortTerms | None = None
    day_count: DayCount | None = None
    discounts: Discounts | None = None
    live_basis: LiveBasis | None = None
    co_term: CoTerm | None = None
    churn_timing: ChurnTiming | None = None
    grr_cap: GrrCap | None = None
    full_discount: FullDiscount | None = None
    reactivation: Reactivation | None = None
    same_period_churn: SamePeriodChurn | None = None
    new_customer_expansion: NewCustomerExpansion | None = None
    renewal_uplift: RenewalUplift | None = None
    movement_timing: MovementTiming | None = None

    def chosen(self) -> dict[str, str]:
        return {key: str(value) for key, value in self.model_dump(mode="json", exclude_none=True).items()}


def _strict(model: type[BaseModel], raw: Any, field: str) -> Any:
    # The middleware has refused these already for a tool call; checked again for any other caller.
    unreadable = unreadable_argument({field: raw})
    if unreadable is not None:
        raise KpiError(unreadable.code, unreadable.message, field=unreadable.field)
    try:
        return model.model_validate_json(json.dumps(raw, allow_nan=True), strict=True)
    except ValidationError as exc:
        located = [
            (".".join(str(part) for part in (field, *error["loc"]) if not _is_branch(part)), error["msg"])
            for error in exc.errors()
        ]
        # The deepest place is the most specific; a value that fits no branch of a union (a number or a
        # decimal string) lists what each branch expected.
        where = max((path for path, _ in located), key=len)
        reasons = list(dict.fromkeys(message for path, message in located if path == where))
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"argument {where!r} is not valid: {'; or '.join(reasons[:3])} (values are never coerced)",
            field=where,
        ) from None


def _is_branch(part: object) -> bool:
    """Union branch tags pydantic puts into an error's location ('int', 'ValueClaim'): not the caller's keys."""
    return isinstance(part, str) and path_is_branch(part)


def value_claim(raw: Mapping[str, Any], field: str) -> ValueClaim:
    document = dict(raw)
    if isinstance(document.get("period"), str):
        # A typed figure may name its period as a caller writes it ('2026-Q2'); a bound value carries dates.
        document["period"] = parse_period(document["period"], field=f"{field}.period").model_dump(mode="json")
    claim: ValueClaim = _strict(ValueClaim, document, field)
    return claim


def basis_argument(raw: Mapping[str, str] | None, field: str = "basis") -> dict[str, str] | None:
    """Options published as a plain object (their vocabulary is in compute_kpi's schema), checked as strictly."""
    if raw is None:
        return None
    basis: Basis = _strict(Basis, dict(raw), field)
    return basis.chosen()


def ledger_reference(raw: str | Mapping[str, Any], field: str = "ledger") -> str | LedgerSpec:
    """A ledger published as a plain object (its fields are described on compute_kpi), checked as strictly."""
    if isinstance(raw, str):
        return raw
    spec: LedgerSpec = _strict(LedgerSpec, dict(raw), field)
    return spec


def comparison_side(raw: Mapping[str, Any], field: str) -> ValueClaim | BenchmarkRef:
    if "benchmark" in raw:
        ref: BenchmarkRef = _strict(BenchmarkRef, dict(raw), field)
        return ref
    return value_claim(raw, field)


def input_figures(
    raw: Mapping[str, InputValue | list[InputValue]] | None,
) -> dict[str, InputArgument | list[InputArgument]] | None:
    """A board pack's inputs: one figure per key, or a list of figures (one per period) under a KPI id."""
    if raw is None:
        return None
    return {
        name: [_figure(item, f"inputs.{name}.{n}") for n, item in enumerate(value)]
        if isinstance(value, list)
        else _figure(value, f"inputs.{name}")
        for name, value in raw.items()
    }


def _figure(value: InputValue, field: str) -> InputArgument:
    return value_claim(value, field) if isinstance(value, dict) else value


def input_arguments(raw: Mapping[str, InputValue] | None) -> dict[str, InputArgument] | None:
    if raw is None:
        return None
    return {
        name: value_claim(value, f"inputs.{name}") if isinstance(value, dict) else value for name, value in raw.items()
    }


ValueArgument = Annotated[dict[str, Any], Field(description=VALUE_HELP)]
