"""Turning a number into a bound value: binding, rounding, benchmark band, label, signature."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from kpi_context import __version__
from kpi_context.ontology.binding import Binding, Unit, binding_differences
from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.model import DEFAULT_VARIANT_ID, Benchmark, KpiDefinition
from kpi_context.tools.formatting import format_value, quantize
from kpi_context.tools.periods import Period
from kpi_context.tools.signing import Signer, signed_payload
from kpi_context.tools.values import (
    BenchmarkBand,
    BenchmarkPosition,
    BoundValue,
    Component,
    InputUse,
    LedgerTrace,
    Provenance,
    ValueStatus,
)

ENGINE = f"kpi-context {__version__}"

# The benchmark's own unit string must describe the same kind of number as the value.
_BENCHMARK_UNITS: dict[str, set[Unit]] = {
    "%": {Unit.PERCENT},
    "$": {Unit.CURRENCY},
    "ratio": {Unit.RATIO},
    "count": {Unit.COUNT, Unit.SCORE},
    "months": {Unit.MONTHS},
    "days": {Unit.DAYS},
}


@dataclass(frozen=True)
class Draft:
    """Everything about a value except what the binder derives (rounding, label, benchmark, signature)."""

    kpi: KpiDefinition
    variant_id: str | None
    value: Decimal | None
    status: ValueStatus
    period: Period | None = None
    as_of: date | None = None
    currency: str | None = None
    undefined_reason: str | None = None
    formula: str | None = None
    inputs: tuple[InputUse, ...] = ()
    components: tuple[Component, ...] = ()
    ledger: LedgerTrace | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    binding: Binding | None = None
    """Overrides the catalog binding; only the ledger engine sets it, from the options it applied."""


@dataclass(frozen=True)
class Binder:
    catalog: Catalog
    signer: Signer

    def bind(self, draft: Draft) -> BoundValue:
        kpi = draft.kpi
        binding = draft.binding or kpi.binding_for(draft.variant_id)
        variant = draft.variant_id or DEFAULT_VARIANT_ID
        value = None if draft.value is None else quantize(draft.value, binding.unit)
        currency = draft.currency if binding.currency_required else None
        warnings = list(draft.warnings)
        position = None
        if value is not None and kpi.benchmark is not None:
            position, note = benchmark_position(
                kpi.benchmark,
                value,
                binding,
                draft.variant_id,
                currency,
                measured_under=kpi.binding_for(kpi.benchmark.variant),
            )
            if note:
                warnings.append(note)
        payload = signed_payload(
            kpi=kpi.id,
            variant=variant,
            value=value,
            unit=binding.unit.value,
            currency=currency,
            period=draft.period,
            as_of=draft.as_of,
            binding=binding,
            status=draft.status.value,
        )
        provenance = Provenance(
            catalog_version=self.catalog.version,
            catalog_hash=self.catalog.content_hash,
            engine=ENGINE,
            value_id=Signer.value_id(payload),
            signature=self.signer.sign(payload),
        )
        return BoundValue(
            kpi=kpi.id,
            variant=variant,
            value=value,
            undefined_reason=draft.undefined_reason,
            unit=binding.unit,
            currency=currency,
            period=draft.period,
            as_of=draft.as_of,
            binding=binding,
            status=draft.status,
            formula=draft.formula,
            inputs=list(draft.inputs),
            components=list(draft.components),
            ledger=draft.ledger,
            warnings=warnings,
            benchmark_position=position,
            label=governed_label(kpi, draft.variant_id, value, binding.unit, currency, draft.period, draft.as_of),
            provenance=provenance,
        )


def short_name(kpi: KpiDefinition) -> str:
    """The name boards use: an all-caps abbreviation alias when there is one (ACV, NRR), else the label."""
    for alias in kpi.aliases:
        if alias.isupper() and 2 <= len(alias) <= 5 and alias.isalpha():
            return alias
    return kpi.label


def governed_label(
    kpi: KpiDefinition,
    variant_id: str | None,
    value: Decimal | None,
    unit: Unit,
    currency: str | None,
    period: Period | None,
    as_of: date | None,
) -> str:
    when = period.label() if period is not None else (f"as of {as_of.isoformat()}" if as_of else "undated")
    return f"{short_name(kpi)} — {kpi.label_for(variant_id)}, {when}: {format_value(value, unit, currency)}"


def benchmark_position(
    benchmark: Benchmark,
    value: Decimal,
    binding: Binding,
    variant_id: str | None,
    currency: str | None,
    *,
    measured_under: Binding | None = None,
) -> tuple[BenchmarkPosition | None, str | None]:
    """The quartile band, only when the value was produced under the benchmark's own definition.

    `measured_under` is the binding the benchmark was measured with; a value whose rules differ on
    any axis (e.g. a ledger option that includes usage) is not placed, even under the same variant id.
    """
    if benchmark.variant != variant_id:
        measured = benchmark.variant or DEFAULT_VARIANT_ID
        return None, f"no benchmark position: the benchmark measures variant '{measured}', not this one"
    if measured_under is not None and binding != measured_under:
        axes = ", ".join(axis.value for axis, _, _ in binding_differences(measured_under, binding))
        return None, f"no benchmark position: this value's rules differ from the benchmark's on {axes}"
    if binding.unit not in _BENCHMARK_UNITS.get(benchmark.unit, set()):
        return (
            None,
            f"no benchmark position: benchmark unit {benchmark.unit!r} does not match {binding.unit.value}",
        )
    if benchmark.unit == "$" and currency != "USD":
        return None, f"no benchmark position: the benchmark is in USD and this value is in {currency}"
    p25, median, p75 = (Decimal(str(q)) for q in (benchmark.p25, benchmark.median, benchmark.p75))
    if value < p25:
        band = BenchmarkBand.BELOW_P25
    elif value < median:
        band = BenchmarkBand.P25_TO_MEDIAN
    elif value < p75:
        band = BenchmarkBand.MEDIAN_TO_P75
    else:
        band = BenchmarkBand.ABOVE_P75
    return (
        BenchmarkPosition(
            band=band,
            reading=_reading(band, benchmark.higher_is_better),
            p25=p25,
            median=median,
            p75=p75,
            higher_is_better=benchmark.higher_is_better,
            source=f"{benchmark.source_name} ({benchmark.source_year})",
        ),
        None,
    )


def _reading(band: BenchmarkBand, higher_is_better: bool) -> str:
    quartile = {
        BenchmarkBand.BELOW_P25: 1,
        BenchmarkBand.P25_TO_MEDIAN: 2,
        BenchmarkBand.MEDIAN_TO_P75: 3,
        BenchmarkBand.ABOVE_P75: 4,
    }[band]
    if not higher_is_better:
        quartile = 5 - quartile
    names = {1: "bottom quartile", 2: "below median", 3: "above median", 4: "top quartile"}
    return f"{names[quartile]} of peers (higher is {'better' if higher_is_better else 'worse'})"
