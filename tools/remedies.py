"""What would be comparable instead: suggestions that name catalog KPIs and variants."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.model import DEFAULT_VARIANT_ID, KpiDefinition
from kpi_context.tools.values import BoundValue

MAX_REMEDIES = 6


class RemedyAction(StrEnum):
    TREND = "compare_with_own_history"
    DERIVE = "derive_comparable_kpi"
    SWITCH_VARIANT = "use_variant"


class Remedy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: RemedyAction
    kpis: list[str]
    variant: str | None = None
    explanation: str


def _input_kpis(kpi: KpiDefinition) -> set[str]:
    expressions = [kpi.expression, *(v.expression for v in kpi.variants)]
    return {i.kpi for e in expressions if e is not None for i in e.inputs if i.kpi is not None}


def _derivations(catalog: Catalog, target: BoundValue, source: BoundValue) -> list[Remedy]:
    """KPIs built from `source`'s KPI that belong with `target` (same family or same binding)."""
    target_kpi = catalog.get(target.kpi)
    found = []
    for kpi in catalog:
        if kpi.id in (target.kpi, source.kpi) or source.kpi not in _input_kpis(kpi):
            continue
        same_binding = kpi.binding == target.binding
        same_family = target_kpi is not None and kpi.family is not None and kpi.family == target_kpi.family
        if not (same_binding or same_family):
            continue
        formula = kpi.expression.formula if kpi.expression else "see lookup_kpi"
        then = (
            f"then compare it directly with {target.kpi}"
            if same_binding
            else f"then compare it with {kpi.id} for another period; it is {kpi.binding.grain.describe()}, "
            f"which is still not the same as {target.kpi} ({target.binding.grain.describe()})"
        )
        found.append(
            Remedy(
                action=RemedyAction.DERIVE,
                kpis=[kpi.id, *sorted(_input_kpis(kpi))],
                explanation=f"Compute {kpi.id} ({kpi.variant_label}) from {source.kpi} as {formula}; {then}.",
            )
        )
    return found


def _variant_switches(catalog: Catalog, value: BoundValue, other: BoundValue) -> list[Remedy]:
    kpi = catalog.get(value.kpi)
    if kpi is None:
        return []
    options = {DEFAULT_VARIANT_ID: kpi.binding, **{v.id: v.binding for v in kpi.variants}}
    return [
        Remedy(
            action=RemedyAction.SWITCH_VARIANT,
            kpis=[kpi.id],
            variant=vid,
            explanation=f"Recompute {kpi.id} with variant '{vid}' ({kpi.label_for(None if vid == DEFAULT_VARIANT_ID else vid)}), "
            f"whose rules match the other value's.",
        )
        for vid, binding in options.items()
        if binding == other.binding and vid != value.variant
    ]


def _trend(value: BoundValue) -> Remedy:
    return Remedy(
        action=RemedyAction.TREND,
        kpis=[value.kpi],
        variant=value.variant,
        explanation=f"Compare {value.kpi} (variant '{value.variant}') with its own value for another period of the "
        "same length; same KPI and rules over time is a trend the server will compute.",
    )


def remedies_for(catalog: Catalog, left: BoundValue, right: BoundValue | None) -> list[Remedy]:
    remedies: list[Remedy] = []
    if right is not None:
        remedies += _variant_switches(catalog, left, right) + _variant_switches(catalog, right, left)
        remedies += _derivations(catalog, left, right) + _derivations(catalog, right, left)
    remedies.append(_trend(left))
    if right is not None and right.kpi != left.kpi:
        remedies.append(_trend(right))
    unique: dict[str, Remedy] = {}
    for remedy in remedies:
        unique.setdefault(remedy.explanation, remedy)
    return list(unique.values())[:MAX_REMEDIES]
