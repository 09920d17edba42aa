"""Turning a number into a bound value: binding, rounding, benchmark band, label, signature."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from kpi_context import __version__
from kpi_context.ontology.binding import Binding, Segment, Unit, binding_differences
from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.model import DEFAULT_VARIANT_ID, Benchmark, KpiDefinition
from kpi_context.ontology.profile import DefinitionStatus
from kpi_context.ontology.profile_loader import LoadedProfile
from kpi_context.tools.formatting import format_value, quantize, rounding_rule
from kpi_context.tools.governance import deviation_of
from kpi_context.tools.periods import Period
from kpi_context.tools.signing import Signer, canonical
from kpi_context.tools.values import (
    BenchmarkBand,
    BenchmarkPosition,
    BoundValue,
    Component,
    InputUse,
    LedgerTrace,
    ProfileStamp,
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
    basis: Mapping[str, str] = field(default_factory=dict)
    """Governed ledger options behind the value: applied by the engine, or passed on by the inputs."""


@dataclass(frozen=True)
class Binder:
    catalog: Catalog
    signer: Signer
    profile: LoadedProfile | None = None
    """The governance profile every value names (signed with it), and whose locks and calendar it reads."""

    @property
    def fiscal_start(self) -> int | None:
        return None if self.profile is None else self.profile.profile.fiscal_year_start_month

    def bind(self, draft: Draft) -> BoundValue:
        kpi = draft.kpi
        binding = draft.binding or kpi.binding_for(draft.variant_id)
        variant = draft.variant_id or DEFAULT_VARIANT_ID
        value = None if draft.value is None else quantize(draft.value, binding.unit)
        currency = draft.currency if binding.currency_required else None
        warnings = list(draft.warnings)
        deviation, remark = None, None
        if self.profile is not None:
            deviation = deviation_of(self.profile, kpi, draft.variant_id, binding, draft.basis)
            if deviation is not None:
                remark = f"deviates from {deviation.policy}"
                warnings.append(f"{remark} (approved by {deviation.approved}): compare only with values bound alike")
            if self.profile.status_of(kpi.id) is DefinitionStatus.PROPOSED:
                remark = ", ".join(filter(None, (remark, "proposed definition")))
                warnings.append(
                    f"computed under {self.profile.profile.organisation.name}'s own definition of {kpi.id}, which is "
                    "proposed: not approved in its current form"
                )
        if draft.status is not ValueStatus.COMPUTED:
            warnings.append(
                f"{draft.status.value} by the caller: bound under the catalog's rules ({kpi.label_for(draft.variant_id)}), "
                "which the server could not verify"
            )
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
        unsigned = Provenance(
            catalog_version=self.catalog.version,
            catalog_hash=self.catalog.content_hash,
            profile=None if self.profile is None else ProfileStamp(id=self.profile.id, hash=self.profile.content_hash),
            engine=ENGINE,
            value_id="",
            signature="",
        )
        value_bound = BoundValue(
            kpi=kpi.id,
            variant=variant,
            value=value,
            undefined_reason=draft.undefined_reason,
            unit=binding.unit,
            currency=currency,
            period=draft.period,
            as_of=draft.as_of,
            binding=binding,
            basis=dict(draft.basis),
            status=draft.status,
            formula=draft.formula,
            inputs=list(draft.inputs),
            components=list(draft.components),
            ledger=draft.ledger,
            warnings=warnings,
            benchmark_position=position,
            deviation=deviation,
            label=governed_label(
                kpi,
                draft.variant_id,
                value,
                binding.unit,
                currency,
                draft.period,
                draft.as_of,
                draft.status,
                segment=binding.grain.segment,
                remark=remark,
                fiscal_start=self.fiscal_start,
            ),
            rounding=rounding_rule(binding.unit, currency),
            provenance=unsigned,
        )
        return self.sign(value_bound)

    def sign(self, value: BoundValue) -> BoundValue:
        """The value with its value id and signature, both over its whole canonical form."""
        assert value.provenance is not None  # bind() always gives one
        payload = canonical(value.model_dump(mode="json"))
        provenance = value.provenance.model_copy(
            update={"value_id": Signer.value_id(payload), "signature": self.signer.sign(payload)}
        )
        return value.model_copy(update={"provenance": provenance})


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
    status: ValueStatus = ValueStatus.COMPUTED,
    *,
    segment: Segment | None = None,
    remark: str | None = None,
    fiscal_start: int | None = None,
) -> str:
    """The line to quote. A figure the caller gave says "as reported" instead of rules it never stated.

    A value over one member of a dimension names it after the KPI: "ARR (enterprise segment) — …". A `remark`
    (a deviation from a locked decision, a proposed definition) follows the rules; periods read in the fiscal
    calendar when one is set (`fiscal_start`).
    """
    when = period.label(fiscal_start) if period is not None else (f"as of {as_of.isoformat()}" if as_of else "undated")
    rules = kpi.label_for(variant_id) if status is ValueStatus.COMPUTED else f"{kpi.label}, as {status.value}"
    if remark:
        rules = f"{rules}, {remark}"
    name = short_name(kpi) if segment is None else f"{short_name(kpi)} ({segment.member} {segment.dimension})"
    return f"{name} — {rules}, {when}: {format_value(value, unit, currency)}"


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
    p25, median, p75 = (
        quantize(Decimal(str(q)), binding.unit) for q in (benchmark.p25, benchmark.median, benchmark.p75)
    )
    band = _band(value, p25, median, p75)
    shown = benchmark_quartiles(benchmark, binding.unit)
    source = f"{benchmark.source_name} ({benchmark.source_year})"
    return (
        BenchmarkPosition(
            band=band,
            reading=_reading(band, benchmark, shown),
            p25=p25,
            median=median,
            p75=p75,
            source=source,
        ),
        None,
    )


def benchmark_quartiles(benchmark: Benchmark, unit: Unit) -> str:
    """'p25 $25,000 · median $62,000 · p75 $100,000': the quartiles with their unit."""
    currency = "USD" if benchmark.unit == "$" else None
    shown = [
        format_value(quantize(Decimal(str(q)), unit), unit, currency)
        for q in (benchmark.p25, benchmark.median, benchmark.p75)
    ]
    return f"p25 {shown[0]} · median {shown[1]} · p75 {shown[2]}"


def _band(value: Decimal, p25: Decimal, median: Decimal, p75: Decimal) -> BenchmarkBand:
    """Exact bands: a value equal to a quartile is *at* it, never above or below it."""
    for quartile, at in ((p25, BenchmarkBand.AT_P25), (median, BenchmarkBand.AT_MEDIAN), (p75, BenchmarkBand.AT_P75)):
        if value == quartile:
            return at
    if value < p25:
        return BenchmarkBand.BELOW_P25
    if value < median:
        return BenchmarkBand.P25_TO_MEDIAN
    if value < p75:
        return BenchmarkBand.MEDIAN_TO_P75
    return BenchmarkBand.ABOVE_P75


_BAND_WORDS: dict[BenchmarkBand, tuple[str, str]] = {
    # (reading when higher is better, reading when lower is better)
    BenchmarkBand.BELOW_P25: ("below the 25th percentile: bottom quartile", "below the 25th percentile: top quartile"),
    BenchmarkBand.AT_P25: ("at the 25th percentile", "at the 25th percentile"),
    BenchmarkBand.P25_TO_MEDIAN: (
        "between the 25th percentile and the median",
        "between the 25th percentile and the median",
    ),
    BenchmarkBand.AT_MEDIAN: ("at the median", "at the median"),
    BenchmarkBand.MEDIAN_TO_P75: (
        "between the median and the 75th percentile",
        "between the median and the 75th percentile",
    ),
    BenchmarkBand.AT_P75: ("at the 75th percentile", "at the 75th percentile"),
    BenchmarkBand.ABOVE_P75: ("above the 75th percentile: top quartile", "above the 75th percentile: bottom quartile"),
}


def _reading(band: BenchmarkBand, benchmark: Benchmark, quartiles: str) -> str:
    """The band in words: among peers for a survey, against the catalog's bands for editorial quartiles,
    with a warning when the figures were not checked against the publication they are credited to."""
    higher_is_better = benchmark.higher_is_better
    words = _BAND_WORDS[band][0 if higher_is_better else 1]
    among = "peers" if benchmark.measures_peers else "editorial bands (no peers were measured)"
    reading = f"{words} of {among} (higher is {'better' if higher_is_better else 'worse'}); {quartiles}"
    if benchmark.unverified:
        reading += f"; figures not verified against {benchmark.source_name}"
    return reading
