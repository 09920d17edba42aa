"""What would be comparable instead: suggestions that name catalog KPIs and variants."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.model import DEFAULT_VARIANT_ID, KpiDefinition
from kpi_context.tools.values import BoundValue

MAX_REMEDIES = 3
"""Enough to act on; a model given more reads them all and gains little."""


class RemedyAction(StrEnum):
    TREND = "compare_with_own_history"
    DERIVE = "derive_comparable_kpi"
    SWITCH_VARIANT = "use_variant"
    RECOMPUTE = "recompute_under_one_profile"


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
    """Compute `target`'s own KPI from `source`'s KPI, so that the comparison is of one KPI with itself.

    Only a value of the same KPI can be compared (identity is an axis), so the one derivation that
    helps is the one that produces the other side's KPI.
    """
    kpi = catalog.get(target.kpi)
    if kpi is None or kpi.expression is None or source.kpi not in _input_kpis(kpi):
        return []
    return [
        Remedy(
            action=RemedyAction.DERIVE,
            kpis=[kpi.id, *sorted(_input_kpis(kpi))],
            explanation=f"Compute {kpi.id} ({kpi.variant_label}) for the same period as {kpi.expression.formula}, "
            f"using the {source.kpi} value; then compare it with the other {kpi.id} value.",
        )
    ]


def _variant_switches(catalog: Catalog, value: BoundValue, other: BoundValue) -> list[Remedy]:
    kpi = catalog.get(value.kpi)
    if kpi is None or value.kpi != other.kpi:
        return []  # another KPI's rules do not make a value of this KPI comparable with it
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
        explanation=f"Compare {value.kpi} with its own value for another period of the same length (a trend).",
    )


def _governed_by(value: BoundValue) -> tuple[str | None, str | None, str | None]:
    provenance = value.provenance
    if provenance is None:
        return None, None, None
    profile = provenance.profile
    return provenance.catalog_version, profile.id if profile else None, profile.hash if profile else None


def _one_profile(left: BoundValue, right: BoundValue) -> list[Remedy]:
    """Values governed by different profiles (or catalogs) become comparable only when recomputed under one."""
    if left.provenance is None or right.provenance is None or _governed_by(left) == _governed_by(right):
        return []
    return [
        Remedy(
            action=RemedyAction.RECOMPUTE,
            kpis=sorted({left.kpi, right.kpi}),
            explanation="Recompute both values with compute_kpi on this server, under its catalog and governance "
            "profile, then compare those.",
        )
    ]


def remedies_for(catalog: Catalog, left: BoundValue, right: BoundValue | None) -> list[Remedy]:
    remedies: list[Remedy] = []
    if right is not None:
        remedies += _one_profile(left, right)
        remedies += _variant_switches(catalog, left, right) + _variant_switches(catalog, right, left)
        if right.kpi != left.kpi:
            # Deriving another KPI helps only when the two values are of different KPIs.
            remedies += _derivations(catalog, left, right) + _derivations(catalog, right, left)
    remedies.append(_trend(left))
    if right is not None and right.kpi != left.kpi:
        remedies.append(_trend(right))
    unique: dict[str, Remedy] = {}
    for remedy in remedies:
        unique.setdefault(remedy.explanation, remedy)
    return list(unique.values())[:MAX_REMEDIES]
