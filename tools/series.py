"""kpi_series: one KPI over a run of periods, from a ledger in one pass, with the governed change at each step.

Every point is the value `compute_kpi` gives for that period, to the cent (the engine computes the
single value as the one-point case of the same query). What every point shares — binding, options,
formula, ledger counts, catalog — is stated once; each point keeps its own quotable label and
value id. The whole series is signed like a bound value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kpi_context.ontology.binding import Binding, Unit
from kpi_context.tools.binder import short_name
from kpi_context.tools.context import ToolContext
from kpi_context.tools.governance import with_profile_rates
from kpi_context.tools.ledger.engine import LedgerCut, Progress, compute_series_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.periods import Every, Period, is_fiscal, parse_period, periods_between
from kpi_context.tools.signing import Signer, canonical
from kpi_context.tools.trend import Change, change
from kpi_context.tools.values import BoundValue, GroupValue, LedgerCounts, ProfileStamp

HOW_TO_COMPARE = (
    "Points are compact: to compare one with another value, compute_kpi with its period and pass that value."
)


class SeriesPoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    period: str
    value: Decimal | None
    label: str = Field(description="The governed line to quote for this point.")
    change: Change | str | None = Field(
        default=None, description="The governed change from the previous point, or why there is none."
    )
    groups: dict[str, Decimal | None] = Field(default_factory=dict, description="Member → value, with group_by.")
    value_id: str


class SeriesProvenance(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    catalog_version: str
    catalog_hash: str
    profile: ProfileStamp | None = Field(default=None, description="The governance profile in force, if any.")
    series_id: str = Field(description="Stable id of this series: a digest of what the signature covers.")
    signature: str = Field(description="HMAC-SHA256 over the whole series, made with the server's secret.")


class Series(BaseModel):
    """One KPI at every step from `start` to `end`, under one set of rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kpi: str
    variant: str
    label: str = Field(description="What the series shows: KPI, rules, step and range.")
    every: Every
    unit: Unit
    currency: str | None = None
    binding: Binding
    basis: dict[str, str] = Field(default_factory=dict)
    formula: str | None = None
    group_by: str | None = None
    points: list[SeriesPoint]
    notes: list[str] = Field(default_factory=list, description="Mix shift and reconciliation notes.")
    warnings: list[str] = Field(default_factory=list)
    ledger: LedgerCounts | None = None
    how_to_compare: str = HOW_TO_COMPARE
    provenance: SeriesProvenance


def kpi_series(
    ctx: ToolContext,
    kpi_ref: str,
    ledger: str | Mapping[str, Any],
    *,
    datasets: DatasetRegistry,
    start: str | Period,
    end: str | Period,
    every: Every,
    variant: str | None = None,
    basis: Mapping[str, str] | None = None,
    currency: str | None = None,
    group_by: str | None = None,
    where: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> Series:
    fiscal = ctx.fiscal_start
    first = parse_period(start, field="start", fiscal_start=fiscal) if isinstance(start, str) else start
    last = parse_period(end, field="end", fiscal_start=fiscal) if isinstance(end, str) else end
    # Steps follow the calendar `start` is written in: 'FY2027-Q1' steps by fiscal quarters, '2026-Q1' by calendar ones.
    stepped = fiscal if isinstance(start, str) and is_fiscal(start) else None
    periods = periods_between(first, last, every, fiscal_start=stepped)
    ledger, currency = with_profile_rates(ctx, ledger, currency, periods[-1].end)
    cuts = compute_series_from_ledger(
        ctx,
        kpi_ref,
        ledger,
        datasets=datasets,
        periods=periods,
        variant=variant,
        currency=currency,
        basis=basis,
        group_by=group_by,
        where=where,
        progress=progress,
    )
    return _assembled(ctx, periods, cuts, every, group_by)


def _assembled(
    ctx: ToolContext, periods: Sequence[Period], cuts: Sequence[LedgerCut], every: Every, group_by: str | None
) -> Series:
    totals = [cut.total for cut in cuts]
    head = totals[-1]
    kpi = ctx.catalog.kpis[head.kpi]
    points = [
        SeriesPoint(
            period=period.label(ctx.fiscal_start),
            value=value.value,
            label=value.label,
            change=change(ctx, totals[index - 1], value) if index else None,
            groups={_member(group): group.value for group in cut.groups},
            value_id=value.provenance.value_id if value.provenance else "",
        )
        for index, (period, cut, value) in enumerate(zip(periods, cuts, totals, strict=True))
    ]
    notes = [cut.mix_shift for cut in cuts if cut.mix_shift]
    if group_by is not None and any(cut.reconciles for cut in cuts):
        notes.append(f"every point's {group_by} groups add up to its total exactly")
    variant_id = None if head.variant == "default" else head.variant
    series = Series(
        kpi=head.kpi,
        variant=head.variant,
        label=f"{short_name(kpi)} — {kpi.label_for(variant_id)}, by {every.value}, "
        f"{periods[0].label(ctx.fiscal_start)} to {periods[-1].label(ctx.fiscal_start)}",
        every=every,
        unit=head.unit,
        currency=head.currency,
        binding=head.binding,
        basis=head.basis,
        formula=head.formula,
        group_by=group_by,
        points=points,
        notes=list(dict.fromkeys(notes)),
        warnings=list(dict.fromkeys(w for value in totals for w in value.warnings)),
        ledger=None if head.ledger is None else LedgerCounts.of(head.ledger),
        provenance=SeriesProvenance(
            catalog_version=ctx.catalog.version,
            catalog_hash=ctx.catalog.content_hash,
            profile=ctx.profile_stamp,
            series_id="",
            signature="",
        ),
    )
    return _signed(ctx, series)


def cut_value(ctx: ToolContext, cut: LedgerCut) -> BoundValue:
    """A cut as compute_kpi returns it: the total, with every member as a whole bound value in `groups`.

    The total is signed again over all of it, groups included; each group keeps its own signature,
    so one can be passed to compare_metrics alone.
    """
    notes = [note for note in (cut.mix_shift,) if note]
    total = cut.total.model_copy(
        update={
            "groups": [GroupValue.model_validate(group.model_dump(exclude={"groups"})) for group in cut.groups],
            "warnings": [*cut.total.warnings, *notes],
        }
    )
    return ctx.binder.sign(total)


def _member(value: BoundValue) -> str:
    segment = value.binding.grain.segment
    return segment.member if segment is not None else "total"


def _signed(ctx: ToolContext, series: Series) -> Series:
    payload = canonical(series.model_dump(mode="json"))
    provenance = series.provenance.model_copy(
        update={"series_id": Signer.value_id(payload), "signature": ctx.binder.signer.sign(payload)}
    )
    return series.model_copy(update={"provenance": provenance})
