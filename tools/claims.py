"""Reading values that callers hand back: verify the server's signature, or validate the claim.

A caller may pass a bound value it received earlier (trusted if the signature checks
out), or type one by hand (then it is `asserted`). An asserted binding must still be
one the catalog allows for that KPI: nobody can declare that ARR has per-account grain.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from kpi_context.ontology.binding import Binding, Grain, SegmentAssignment, Unit, binding_differences
from kpi_context.ontology.model import DEFAULT_VARIANT_ID, KpiDefinition, PlausibleRange
from kpi_context.tools.binder import Binder, Draft
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.signing import canonical
from kpi_context.tools.values import BindingClaim, BoundValue, ValueClaim, ValueStatus

MAX_INTEGER_DIGITS = 30
"""Integer digits a caller's number may have (a decimal string allows the same): 10^30 is beyond any KPI."""
_TOO_LARGE = Decimal(10) ** MAX_INTEGER_DIGITS
_ASCII_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)


def claim_decimal(claim: ValueClaim, field: str, *, value_field: str | None = None) -> Decimal | None:
    """The claim's number as an exact Decimal; `value_field` names it in a refusal (default `{field}.value`)."""
    raw = claim.value
    where = value_field or f"{field}.value"
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) >= 10**MAX_INTEGER_DIGITS:
        # Checked before any conversion: the text of an integer of over 4,300 digits is refused by Python.
        raise _too_large(where)
    if isinstance(raw, str) and not _ASCII_DECIMAL.fullmatch(raw):
        # Decimal() itself reads any script's digits ("١٠٠٠" is 1000): only ASCII digits are numbers here.
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"{raw!r} is not a decimal number written with ASCII digits (e.g. '1234.5')",
            field=where,
        )
    try:
        # repr() of a float is the shortest text that round-trips, i.e. what the caller wrote.
        number = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    except InvalidOperation:
        raise KpiError(ErrorCode.INVALID_ARGUMENT, f"{raw!r} is not a number", field=where) from None
    if not number.is_finite():
        raise KpiError(ErrorCode.INVALID_ARGUMENT, "the value must be a finite number", field=where)
    if number.copy_abs() >= _TOO_LARGE:  # copy_abs, not abs(): abs() rounds to the context's 28 digits
        raise _too_large(where)
    return number


def _too_large(field: str) -> KpiError:
    return KpiError(
        ErrorCode.OUT_OF_RANGE,
        f"argument {field!r} has more than {MAX_INTEGER_DIGITS} integer digits; no KPI value is that large",
        field=field,
        details={"max_integer_digits": MAX_INTEGER_DIGITS},
    )


def check_count(value: Decimal, unit: Unit, plausible: PlausibleRange | None, what: str, field: str) -> None:
    """A count of things (customers, contracts) is a whole number, and not negative unless its KPI is a change.

    Refused with `invalid_argument` even when confirmed: 2.5 customers or -3 new customers is never a
    true figure (a negative count is allowed only where the plausible range reaches below zero, as for
    a headcount change).
    """
    if unit is not Unit.COUNT:
        return
    if value != value.to_integral_value():
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"{what} is a count: {value.normalize():f} is not a whole number",
            field=field,
            details={"given": str(value), "unit": unit.value},
        )
    negatives = plausible is not None and (plausible.min is None or plausible.min < 0)
    if value < 0 and not negatives:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"{what} is a count: {value.normalize():f} is negative; a count is a whole number of 0 or more "
            "(a net change entered for a total?)",
            field=field,
            details={"given": str(value), "unit": unit.value},
        )


def merge_binding(base: Binding, claim: BindingClaim | None, field: str) -> Binding:
    """The base binding with the axes the caller stated laid over it."""
    if claim is None:
        return base
    stated = claim.model_dump(exclude_none=True)
    merged = base.model_dump()
    grain = stated.pop("grain", None)
    merged.update(stated)
    if grain:
        merged["grain"] = {**merged["grain"], **grain}
    try:
        return Binding.model_validate(merged)
    except ValidationError as exc:
        message = "; ".join(err["msg"] for err in exc.errors())
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT, f"inconsistent binding: {message}", field=f"{field}.binding"
        ) from None


def verified(binder: Binder, claim: ValueClaim) -> BoundValue | None:
    """The claim as a trusted bound value if it carries this server's valid signature over all of it, else None."""
    if claim.provenance is None:
        return None
    document = claim.model_dump(mode="json", exclude={"confirm"})
    if not binder.signer.verify(canonical(document), claim.provenance.signature):
        return None
    # Signed by this server, so it was a BoundValue: read it back as one (absent fields take their defaults).
    present = {key: item for key, item in document.items() if item is not None or key == "value"}
    try:
        trusted = BoundValue.model_validate(present)
    except ValidationError:
        return None
    return trusted if binder.catalog.get(trusted.kpi) is not None else None


def allowed_bindings(kpi: KpiDefinition) -> dict[str, Binding]:
    return {DEFAULT_VARIANT_ID: kpi.binding, **{v.id: v.binding for v in kpi.variants}}


def variant_id_of(kpi: KpiDefinition, variant: str | None, field: str) -> str | None:
    """None for the default rules; the variant id otherwise; refused when the KPI has no such variant."""
    if variant is None or variant == DEFAULT_VARIANT_ID:
        return None
    if kpi.variant(variant) is None:
        allowed = ", ".join(allowed_bindings(kpi))
        raise KpiError(
            ErrorCode.VARIANT_NOT_ALLOWED,
            f"{kpi.id} has no variant {variant!r}; its governed variants are: {allowed}",
            field=field,
            details={"allowed": list(allowed_bindings(kpi))},
        )
    return variant


def governed_variant(kpi: KpiDefinition, variant: str | None, binding: Binding, field: str) -> str | None:
    """The variant whose binding the claimed binding is; INVALID_BINDING_CLAIM when none is."""
    chosen = variant_id_of(kpi, variant, f"{field}.variant")
    allowed = allowed_bindings(kpi)
    if allowed[chosen or DEFAULT_VARIANT_ID] == binding:
        return chosen
    if variant is None:
        for vid, candidate in allowed.items():
            if candidate == binding:
                return None if vid == DEFAULT_VARIANT_ID else vid
    differences = binding_differences(allowed[chosen or DEFAULT_VARIANT_ID], binding)
    axes = ", ".join(f"{axis.value} is {want!r} in the catalog, claimed {got!r}" for axis, want, got in differences)
    raise KpiError(
        ErrorCode.INVALID_BINDING_CLAIM,
        f"the claimed binding is not a governed form of {kpi.id}: {axes}",
        field=f"{field}.binding",
        details={
            "kpi": kpi.id,
            "mismatches": [{"axis": a.value, "catalog": w, "claimed": g} for a, w, g in differences],
            "allowed_variants": list(allowed),
        },
    )


def uncut(binding: Binding, whole: Grain) -> Binding:
    """The binding of the whole population a cut was taken from: no segment, and the whole's grain level."""
    if binding.grain.segment is None:
        return binding
    grain = binding.grain.model_copy(update={"level": whole.level, "segment": None})
    return binding.model_copy(update={"grain": grain})


def check_segment(binding: Binding, field: str) -> None:
    """A claimed segment places accounts as the engine does for that population (window open for a cohort)."""
    segment = binding.grain.segment
    if segment is None:
        return
    expected = SegmentAssignment.for_population(binding.grain.population)
    if segment.assignment is not expected:
        raise KpiError(
            ErrorCode.INVALID_BINDING_CLAIM,
            f"a cut over {binding.grain.population.value.replace('_', ' ')} places accounts {expected.describe()}, "
            f"not {segment.assignment.describe()}",
            field=f"{field}.binding.grain.segment.assignment",
            details={"expected": expected.value, "claimed": segment.assignment.value},
        )


def asserted(binder: Binder, claim: ValueClaim, field: str) -> BoundValue:
    """A caller-typed value for a catalog KPI, validated against the catalog and marked asserted."""
    if claim.kpi is None:
        raise KpiError(ErrorCode.INVALID_ARGUMENT, "a value must name its kpi", field=f"{field}.kpi")
    kpi = binder.catalog.get(claim.kpi)
    if kpi is None:
        raise KpiError(ErrorCode.NOT_FOUND, f"unknown KPI {claim.kpi!r}", field=f"{field}.kpi")
    base = kpi.binding_for(variant_id_of(kpi, claim.variant, f"{field}.variant"))
    binding = merge_binding(base, claim.binding, field)
    # A cut (grain.segment) is a governed form of the KPI over one member: its other axes must be governed.
    variant_id = governed_variant(kpi, claim.variant, uncut(binding, base.grain), field)
    check_segment(binding, field)
    if claim.unit is not None and claim.unit != binding.unit:
        raise KpiError(
            ErrorCode.INVALID_BINDING_CLAIM,
            f"{kpi.id} is measured in {binding.unit.value}, not {claim.unit.value}",
            field=f"{field}.unit",
        )
    if binding.currency_required and claim.currency is None:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"{kpi.id} is an amount of money: state its currency",
            field=f"{field}.currency",
        )
    number = claim_decimal(claim, field)
    if number is not None:
        check_count(number, binding.unit, kpi.plausible_range, f"{field} ({kpi.id})", f"{field}.value")
    value = binder.bind(
        Draft(
            kpi=kpi,
            variant_id=variant_id,
            value=number,
            status=ValueStatus.ASSERTED,
            period=claim.period,
            as_of=claim.as_of,
            currency=claim.currency,
            warnings=("asserted: this value was not produced by this server (no valid signature)",),
            binding=binding if binding.grain.segment is not None else None,
            # The options a caller states are kept: a typed "GRR, aggregate cap" must not pass for the default GRR.
            basis=dict(claim.basis or {}),
        )
    )
    return value.model_copy(update={"provenance": None})


def read_claim(binder: Binder, claim: ValueClaim, field: str) -> BoundValue:
    return verified(binder, claim) or asserted(binder, claim, field)
