"""The organisation's locked decisions at call time: defaults, refusals, and recorded deviations.

A lock fills in what a call leaves open (its variant, its `basis` options), so two assistants in
one company get one ACV. A call that names something else is refused with `locked_decision`,
unless it says `override: true`; the value is then computed, and the binder records the
deviation on it (`deviation_of`), judged from the rules the value was actually computed under,
so nothing the caller says about itself is trusted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kpi_context.ontology.binding import Binding
from kpi_context.ontology.ledger_options import LEDGER_KPI_OPTIONS, catalog_defaults
from kpi_context.ontology.model import DEFAULT_VARIANT_ID, KpiDefinition
from kpi_context.ontology.profile import Lock
from kpi_context.ontology.profile_loader import LoadedProfile
from kpi_context.ontology.profile_rules import BINDING_KEYS
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.values import Deviation

if TYPE_CHECKING:  # the binder reads deviations and the context holds the binder: no import at run time
    from kpi_context.tools.context import ToolContext


def with_locks(
    ctx: ToolContext,
    kpi: KpiDefinition,
    variant: str | None,
    basis: Mapping[str, str] | None,
    *,
    ledger_keys: Collection[str] = (),
) -> tuple[str | None, dict[str, str] | None]:
    """`variant` and `basis` with the lock's choices filled in where the call left them open.

    Binding keys select a variant, so they are filled only when the call named no variant and no
    binding key of its own; ledger options (`ledger_keys`, for a ledger computation) whenever absent.
    """
    lock = None if ctx.profile is None else ctx.profile.profile.lock_for(kpi.id)
    if lock is None:
        return variant, None if basis is None else dict(basis)
    given = dict(basis or {})
    chose_rules = variant is not None or any(key in BINDING_KEYS for key in given)
    filled = dict(given)
    for key, value in lock.basis.items():
        if key in given:
            continue
        in_binding = key in BINDING_KEYS
        if (in_binding and not chose_rules and (key in ledger_keys or not ledger_keys)) or (
            not in_binding and key in ledger_keys
        ):
            filled[key] = value
    if variant is None and not chose_rules:
        variant = lock.variant if lock.variant is not None else _variant_with(kpi, lock)
    return variant, filled or None


def _variant_with(kpi: KpiDefinition, lock: Lock) -> str | None:
    """The governed variant whose binding has the lock's binding keys (a lock may name them without a variant)."""
    wanted = {key: value for key, value in lock.basis.items() if key in BINDING_KEYS}
    if not wanted:
        return None
    bindings = {DEFAULT_VARIANT_ID: kpi.binding, **{v.id: v.binding for v in kpi.variants}}
    return next(
        (vid for vid, binding in bindings.items() if all(getattr(binding, k).value == v for k, v in wanted.items())),
        None,
    )


def enforce_locks(
    ctx: ToolContext, kpi: KpiDefinition, variant_id: str | None, binding: Binding, basis: Mapping[str, str]
) -> None:
    """Refuse rules that contradict the KPI's lock, unless the call overrides it."""
    if ctx.profile is None or ctx.override:
        return
    deviation = deviation_of(ctx.profile, kpi, variant_id, binding, basis)
    if deviation is None:
        return
    lock = ctx.profile.profile.lock_for(kpi.id)
    assert lock is not None  # a deviation needs a lock
    differs = ", ".join(f"{key} {deviation.chosen[key]} (locked: {value})" for key, value in deviation.locked.items())
    raise KpiError(
        ErrorCode.LOCKED_DECISION,
        f"{kpi.id}: {differs} contradicts {deviation.policy}, approved by {deviation.approved}. Omit the choice to "
        "use the locked rules, or pass override: true to compute anyway (the value will say it deviates)",
        field="variant" if "variant" in deviation.locked else f"basis.{next(iter(deviation.locked))}",
        details={
            "lock": kpi.id,
            "policy": lock.policy,
            "locked": deviation.locked,
            "chosen": deviation.chosen,
            "approver": lock.approval.approver,
            "approved_on": lock.approval.approved_on.isoformat(),
        },
    )


def deviation_of(
    profile: LoadedProfile, kpi: KpiDefinition, variant_id: str | None, binding: Binding, basis: Mapping[str, str]
) -> Deviation | None:
    """Where the rules a value was computed under differ from its KPI's lock; None when they agree (or no lock)."""
    lock = profile.profile.lock_for(kpi.id)
    if lock is None:
        return None
    locked: dict[str, str] = {}
    chosen: dict[str, str] = {}
    used_variant = variant_id or DEFAULT_VARIANT_ID
    if lock.variant is not None and used_variant != lock.variant:
        locked["variant"], chosen["variant"] = lock.variant, used_variant
    for key, value in lock.basis.items():
        # Binding keys are read off the value's binding; ledger options only where the value states them.
        used = getattr(binding, key).value if key in BINDING_KEYS else basis.get(key)
        if used is not None and used != value:
            locked[key], chosen[key] = value, used
    if not locked:
        return None
    return Deviation(policy=policy_name(profile, lock), locked=locked, chosen=chosen, approved=approved_text(lock))


def policy_name(profile: LoadedProfile, lock: Lock) -> str:
    return f"{profile.profile.organisation.name}'s locked {lock.policy}"


def approved_text(lock: Lock) -> str:
    return f"{lock.approval.approver}, {lock.approval.approved_on.isoformat()}"


def catalog_choice(kpi: KpiDefinition, lock: Lock) -> dict[str, str]:
    """What the catalog would use, absent the lock, for each thing the lock decides."""
    spec = LEDGER_KPI_OPTIONS.get(kpi.id)
    defaults = None if spec is None else catalog_defaults(spec, kpi.binding)
    choice = {} if lock.variant is None else {"variant": DEFAULT_VARIANT_ID}
    for key in lock.basis:
        if key in BINDING_KEYS:
            choice[key] = getattr(kpi.binding, key).value
        elif defaults is not None:
            choice[key] = str(getattr(defaults, key).value)
    return choice


def with_profile_rates(
    ctx: ToolContext, ledger: str | Mapping[str, Any], currency: str | None, close: date | None
) -> tuple[str | Mapping[str, Any], str | None]:
    """The ledger converted into the profile's reporting currency at the profile's rates, when the call names no
    other currency and no rates of its own.

    Each currency takes its latest rate dated on or before `close` (the value's close; the last close of a
    series or pack, so every point converts at one rate); a currency with no such rate is left out, and the
    engine refuses a ledger that needs it.
    """
    if ctx.profile is None:
        return ledger, currency
    profile = ctx.profile.profile
    spec: dict[str, Any] = {"dataset": ledger} if isinstance(ledger, str) else dict(ledger)
    if (currency is not None and currency != profile.reporting_currency) or "fx_rates" in spec:
        return ledger, currency
    latest: dict[str, tuple[date, Decimal]] = {}
    for rate in profile.fx_rates:
        if (close is None or rate.on <= close) and (rate.currency not in latest or latest[rate.currency][0] < rate.on):
            latest[rate.currency] = (rate.on, rate.rate)
    if not latest:
        return ledger, currency
    spec["fx_rates"] = {code: value for code, (_, value) in sorted(latest.items())}
    return spec, profile.reporting_currency
