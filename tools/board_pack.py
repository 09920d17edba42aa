"""board_pack: the KPI section of a board deck for one period, every figure governed the same way.

From a contract ledger: ARR with its quarter-over-quarter and year-over-year growth, the ARR
bridge (labelled movements that add up), NRR and GRR, logo churn, new-logo ACV against its
benchmark, blended ACV and its trend, CARR. From the finance figures the caller gives: CAC payback,
magic number, burn multiple, Rule of 40 and runway (whatever the catalog's formulas need; ledger
values fill the inputs they can). Each KPI comes with its change against the prior period and the
prior year (governed comparisons) and the KPIs it must be read with. A KPI that cannot be computed
is listed with exactly what is missing; an input that fails its checks is refused as in compute_kpi.
What every value shares — catalog, ledger counts, options — is stated once at the top.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kpi_context.ontology.ledger_options import LEDGER_KPI_OPTIONS
from kpi_context.tools.compute import compute_from_inputs, resolve_when
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.governance import with_profile_rates
from kpi_context.tools.inputs import When
from kpi_context.tools.ledger.engine import KPI_MEASURES, Progress, compute_from_ledger, compute_series_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.pack_inputs import PERIOD_MONTHS, Figures, resolve_inputs
from kpi_context.tools.periods import Period, parse_period
from kpi_context.tools.resolve import resolve_kpi
from kpi_context.tools.signing import Signer, canonical
from kpi_context.tools.trend import Change, change
from kpi_context.tools.values import BoundValue, LedgerCounts, ProfileStamp

LEDGER_SECTION = (
    "sales.arr",
    "sales.arr_growth_qoq",
    "sales.growth_rate_yoy",
    "sales.net_new_arr",
    "customers.net_revenue_retention",
    "customers.gross_revenue_retention",
    "customers.logo_churn_rate",
    "sales.avg_contract_value",
    "customers.avg_contract_value",
    "customers.acv_trend_pct",
    "sales.carr",
)
"""The ledger half of the default pack, in the order a board reads it."""

FINANCE_SECTION = (
    "sales.cac_payback_period",
    "sales.magic_number",
    "finance.burn_multiple",
    "operations.rule_of_40",
    "finance.runway_months",
)
"""The half computed from the caller's finance figures (and ledger values where a formula reads them)."""

MAX_PACK_KPIS = 40

DEFAULT_SECTION = "default"
"""In `kpis`, the default section: ["default", "customers.arpa"] extends it, a list without it replaces it."""

_BRIDGE_LINES = (
    ("start", "Opening ARR", 1),
    ("new", "New business", 1),
    ("expansion", "Expansion", 1),
    ("reactivation", "Reactivation", 1),
    ("contraction", "Contraction", -1),
    ("churn", "Churn", -1),
)


class CompareTo(StrEnum):
    PRIOR_PERIOD = "prior_period"
    PRIOR_YEAR = "prior_year"


class PackItem(BaseModel):
    """One KPI of the pack: its governed line and how it moved."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kpi: str
    label: str = Field(description="The governed line to quote.")
    slide_label: str | None = Field(default=None, description="The organisation's short name for slides.")
    value: Decimal | None
    undefined_reason: str | None = None
    changes: dict[CompareTo, Change | str] = Field(
        default_factory=dict, description="Governed change against each earlier period, or why there is none."
    )
    benchmark: str | None = Field(default=None, description="Where the value sits against its peer benchmark.")
    options: dict[str, str] = Field(
        default_factory=dict, description="Ledger options where this KPI's differ from the pack's."
    )
    pair_with: list[str] = Field(default_factory=list, description="KPIs to read beside this one.")
    warnings: list[str] = Field(default_factory=list)
    value_id: str


class BridgeLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line: str
    amount: Decimal = Field(description="Signed: movements that lower ARR are negative.")


class ArrBridge(BaseModel):
    """Opening ARR, each movement, closing ARR: the lines add up to the closing figure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    period: str
    lines: list[BridgeLine]
    closing: Decimal
    reconciles: bool
    check: str


class NotComputable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kpi: str
    missing: list[str] = Field(description="Exactly what to add to `inputs` (name, KPI and period).")


class Refused(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kpi: str
    code: ErrorCode
    message: str
    field: str | None = None


class PackProvenance(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    catalog_version: str
    catalog_hash: str
    profile: ProfileStamp | None = Field(default=None, description="The governance profile in force, if any.")
    pack_id: str
    signature: str = Field(description="HMAC-SHA256 over the whole pack, made with the server's secret.")


class BoardPack(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    period: str
    currency: str | None = None
    options: dict[str, str] = Field(
        default_factory=dict, description="Ledger options the ledger KPIs share (an item lists its own differences)."
    )
    ledger: LedgerCounts | None = None
    items: list[PackItem]
    bridge: ArrBridge | None = None
    not_computable: list[NotComputable] = Field(default_factory=list)
    refused: list[Refused] = Field(default_factory=list)
    unused_inputs: list[str] = Field(default_factory=list, description="Inputs given that no KPI of the pack read.")
    notes: list[str] = Field(default_factory=list)
    provenance: PackProvenance


class _LedgerValues:
    """Ledger values of the pack, each computed once per KPI and period or date."""

    def __init__(
        self,
        ctx: ToolContext,
        ledger: str | Mapping[str, Any] | None,
        datasets: DatasetRegistry,
        currency: str | None,
        basis: Mapping[str, str] | None,
    ) -> None:
        self._ctx, self._ledger, self._datasets = ctx, ledger, datasets
        self._currency, self._basis = currency, basis
        self._cache: dict[tuple[str, Period | None, object], BoundValue] = {}

    def computes(self, kpi_id: str) -> bool:
        return self._ledger is not None and kpi_id in KPI_MEASURES

    def prefetch(self, kpi_id: str, periods: Sequence[Period]) -> None:
        """The KPI for several periods in one pass over the ledger (each point equals the single value)."""
        wanted = sorted({p for p in periods if (kpi_id, p, None) not in self._cache}, key=lambda p: p.start)
        if not self.computes(kpi_id) or not wanted:
            return
        assert self._ledger is not None  # computes() checked it
        cuts = compute_series_from_ledger(
            self._ctx,
            kpi_id,
            self._ledger,
            datasets=self._datasets,
            periods=wanted,
            currency=self._currency,
            basis=_ledger_basis(kpi_id, self._basis),
        )
        for period, cut in zip(wanted, cuts, strict=True):
            self._cache[(kpi_id, period, None)] = cut.total

    def at(self, kpi_id: str, when: When) -> BoundValue | None:
        if not self.computes(kpi_id) or (when.period is None and when.as_of is None):
            return None
        key = (kpi_id, when.period, when.as_of)
        if key not in self._cache:
            assert self._ledger is not None  # computes() checked it
            self._cache[key] = compute_from_ledger(
                self._ctx,
                kpi_id,
                self._ledger,
                datasets=self._datasets,
                period=when.period if when.as_of is None else None,
                as_of=when.as_of,
                currency=self._currency,
                basis=_ledger_basis(kpi_id, self._basis),
            )
        return self._cache[key]


def board_pack(
    ctx: ToolContext,
    period: str | Period,
    *,
    datasets: DatasetRegistry,
    ledger: str | Mapping[str, Any] | None = None,
    inputs: Mapping[str, Figures] | None = None,
    currency: str | None = None,
    kpis: Sequence[str] | None = None,
    compare_to: Sequence[CompareTo] = (CompareTo.PRIOR_PERIOD, CompareTo.PRIOR_YEAR),
    basis: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> BoardPack:
    fiscal = ctx.fiscal_start
    current = parse_period(period, field="period", fiscal_start=fiscal) if isinstance(period, str) else period
    if current.months is None:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            "a board pack is for whole calendar months: give '2026-Q3', '2026-09' or '2026'",
            field="period",
        )
    if ledger is not None:
        ledger, currency = with_profile_rates(ctx, ledger, currency, current.end)
    given = dict(inputs or {})
    wanted = _wanted(ctx, kpis, ledger is not None)
    _check_keys(ctx, given, wanted)
    values = _LedgerValues(ctx, ledger, datasets, currency, basis)
    earlier = {
        CompareTo.PRIOR_PERIOD: current.shifted(-current.months, field="period"),
        CompareTo.PRIOR_YEAR: current.shifted(-12, field="period"),
    }
    items: list[PackItem] = []
    missing: list[NotComputable] = []
    refused: list[Refused] = []
    used: set[str] = set()
    computed: dict[str, BoundValue] = {}

    def own_value(kpi_id: str, when: When) -> BoundValue | None:
        earlier_in_pack = computed.get(kpi_id)
        if earlier_in_pack is not None and earlier_in_pack.ledger is None and earlier_in_pack.period == when.period:
            return earlier_in_pack
        return values.at(kpi_id, when)

    for index, kpi_id in enumerate(wanted):
        if progress is not None:
            progress(index, len(wanted), f"computing {kpi_id}")
        when = When(current, None)
        try:
            if values.computes(kpi_id):
                values.prefetch(kpi_id, [current, *(earlier[name] for name in compare_to)])
                value = values.at(kpi_id, when)
                assert value is not None  # computes() and a period: always a value
                prior = {name: values.at(kpi_id, When(shifted, None)) for name, shifted in earlier.items()}
                changes = {name: _change(ctx, prior[name], value) for name in compare_to}
            else:
                kpi = ctx.catalog.kpis[kpi_id]
                own_when = resolve_when(kpi, kpi.binding, current, None)
                resolved = resolve_inputs(kpi, given, own_when, own_value)
                used |= resolved.used_keys
                if resolved.missing:
                    missing.append(NotComputable(kpi=kpi_id, missing=resolved.missing))
                    continue
                value = compute_from_inputs(ctx, kpi_id, resolved.arguments, period=current, currency=currency)
                changes = {}
        except KpiError as error:
            if _about_the_whole_pack(error):
                raise
            if error.code is ErrorCode.MISSING_INPUT:
                missing.append(NotComputable(kpi=kpi_id, missing=list(error.detail.details.get("missing", []))))
            else:
                refused.append(
                    Refused(kpi=kpi_id, code=error.code, message=error.detail.message, field=error.detail.field)
                )
            continue
        computed[kpi_id] = value
        items.append(_item(ctx, value, changes))
    return _signed(ctx, _assemble(ctx, current, items, computed, missing, refused, given, used, wanted))


_LEDGER_FAULTS = frozenset(
    {
        ErrorCode.DATASET_NOT_FOUND,
        ErrorCode.DATASET_UNAVAILABLE,
        ErrorCode.PATH_NOT_ALLOWED,
        ErrorCode.LEDGER_INVALID,
        ErrorCode.LEDGER_TOO_LARGE,
        ErrorCode.UNSUPPORTED_FORMAT,
    }
)


def _about_the_whole_pack(error: KpiError) -> bool:
    """A fault in the ledger or another shared argument: one refusal for the call, not one per KPI."""
    field = error.detail.field or ""
    return error.code in _LEDGER_FAULTS or field.split(".")[0] in ("ledger", "currency", "basis", "period")


def _wanted(ctx: ToolContext, kpis: Sequence[str] | None, has_ledger: bool) -> list[str]:
    """The pack's KPIs: the default section, or the ids asked for, where `DEFAULT_SECTION` stands for the default."""
    default = [*(LEDGER_SECTION if has_ledger else ()), *FINANCE_SECTION]
    if kpis is None:
        return default
    if len(kpis) > MAX_PACK_KPIS:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"a pack holds at most {MAX_PACK_KPIS} KPIs; {len(kpis)} were asked for",
            field="kpis",
        )
    ids: list[str] = []
    for n, ref in enumerate(kpis):
        ids += default if ref == DEFAULT_SECTION else [resolve_kpi(ctx.catalog, ctx.index, ref, field=f"kpis.{n}").id]
    return list(dict.fromkeys(ids))


def _check_keys(ctx: ToolContext, given: Mapping[str, Figures], wanted: Sequence[str]) -> None:
    """A key that names no KPI and no formula input of the pack is a typo: refused, not silently dropped."""
    names = {PERIOD_MONTHS}
    for kpi_id in wanted:
        expression = ctx.catalog.kpis[kpi_id].expression_for(None)
        names |= {spec.name for spec in expression.inputs} if expression else set()
    for key in given:
        if key not in names and key not in ctx.catalog.kpis:
            raise KpiError(
                ErrorCode.UNKNOWN_INPUT,
                f"inputs.{key} names no KPI and no formula input of this pack; key finance figures by catalog id "
                "(e.g. 'finance.total_sm') or by the input name lookup_kpi lists",
                field=f"inputs.{key}",
            )


def _ledger_basis(kpi_id: str, basis: Mapping[str, str] | None) -> Mapping[str, str] | None:
    """The caller's options, restricted to those this KPI takes (ARR has no GRR cap)."""
    if not basis:
        return None
    spec = LEDGER_KPI_OPTIONS[kpi_id]
    taken = {key.value for key in spec.keys}
    return {key: value for key, value in basis.items() if key in taken} or None


def _change(ctx: ToolContext, prior: BoundValue | None, value: BoundValue) -> Change | str:
    if prior is None:
        return "no earlier value"
    return change(ctx, prior, value)


def _item(ctx: ToolContext, value: BoundValue, changes: Mapping[CompareTo, Change | str]) -> PackItem:
    kpi = ctx.catalog.kpis[value.kpi]
    return PackItem(
        kpi=value.kpi,
        label=value.label,
        slide_label=None if ctx.profile is None else ctx.profile.profile.slide_label(value.kpi),
        value=value.value,
        undefined_reason=value.undefined_reason,
        changes=dict(changes),
        benchmark=value.benchmark_position.reading if value.benchmark_position else None,
        pair_with=list(kpi.must_pair_with),
        warnings=list(value.warnings),
        value_id=value.provenance.value_id if value.provenance else "",
    )


def shared_options(values: Sequence[BoundValue]) -> dict[str, str]:
    """Each option at the value most ledger KPIs used: stated once; an item states only where it differs."""
    counts: dict[str, Counter[str]] = {}
    for value in values:
        for key, option in value.basis.items():
            counts.setdefault(key, Counter())[option] += 1
    return {key: tally.most_common(1)[0][0] for key, tally in sorted(counts.items())}


def _with_own_options(item: PackItem, value: BoundValue, shared: Mapping[str, str]) -> PackItem:
    own = {key: option for key, option in value.basis.items() if shared.get(key, option) != option}
    return item.model_copy(update={"options": own}) if own else item


def arr_bridge(net_new: BoundValue) -> ArrBridge | None:
    """The bridge of a net new ARR value computed from a ledger (its components), or None for any other value."""
    parts = {component.name: component.value for component in net_new.components}
    if (
        net_new.kpi != "sales.net_new_arr"
        or not all(name in parts for name, _, _ in _BRIDGE_LINES)
        or "end" not in parts
    ):
        return None
    # Adding zero turns the -0 of a negated empty movement into 0.
    lines = [BridgeLine(line=label, amount=parts[name] * sign + 0) for name, label, sign in _BRIDGE_LINES]
    total = sum((line.amount for line in lines), Decimal(0))
    closing = parts["end"]
    residual = closing - total
    check = "opening + new + expansion + reactivation − contraction − churn = closing"
    if residual:
        check += f" (differs by {residual} after rounding each line to the cent)"
    period = net_new.period.label() if net_new.period else "the period"
    return ArrBridge(period=period, lines=lines, closing=closing, reconciles=residual == 0, check=check)


def _assemble(
    ctx: ToolContext,
    current: Period,
    items: list[PackItem],
    computed: Mapping[str, BoundValue],
    missing: list[NotComputable],
    refused: list[Refused],
    given: Mapping[str, Figures],
    used: set[str],
    wanted: Sequence[str],
) -> BoardPack:
    ledger_values = [v for v in computed.values() if v.ledger is not None]
    options = shared_options(ledger_values)
    items = [_with_own_options(item, computed[item.kpi], options) for item in items]
    trace = ledger_values[0].ledger if ledger_values else None
    notes: list[str] = []
    currencies = {v.currency for v in computed.values() if v.currency}
    net_new = computed.get("sales.net_new_arr")
    return BoardPack(
        period=current.label(ctx.fiscal_start),
        currency=next(iter(currencies)) if len(currencies) == 1 else None,
        options=options,
        ledger=None if trace is None else LedgerCounts.of(trace),
        items=items,
        bridge=None if net_new is None else arr_bridge(net_new),
        not_computable=missing,
        refused=refused,
        unused_inputs=sorted(set(given) - used),
        notes=notes,
        provenance=PackProvenance(
            catalog_version=ctx.catalog.version,
            catalog_hash=ctx.catalog.content_hash,
            profile=ctx.profile_stamp,
            pack_id="",
            signature="",
        ),
    )


def _signed(ctx: ToolContext, pack: BoardPack) -> BoardPack:
    payload = canonical(pack.model_dump(mode="json"))
    provenance = pack.provenance.model_copy(
        update={"pack_id": Signer.value_id(payload), "signature": ctx.binder.signer.sign(payload)}
    )
    return pack.model_copy(update={"provenance": provenance})
