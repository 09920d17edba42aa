"""Values handed back by callers: the server's own (signature checks out) or asserted and validated."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.binder import Draft
from kpi_context.tools.claims import claim_decimal, merge_binding, read_claim, verified
from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, ErrorDetail, KpiError
from kpi_context.tools.periods import Period
from kpi_context.tools.values import BindingClaim, BoundValue, GrainClaim, ValueClaim, ValueStatus


@pytest.fixture(scope="module")
def ctx() -> ToolContext:
    return ToolContext.create(load_catalog(), secret=b"claims-tests")


def as_claim(bound: BoundValue, **changes: Any) -> ValueClaim:
    """What a caller sends back: the JSON of a bound value, optionally edited."""
    document = bound.model_dump(mode="json")
    document.update(changes)
    return ValueClaim.model_validate(document)


def acv_q3(ctx: ToolContext) -> BoundValue:
    # 1,240,000 of new-logo contract value (TCV ÷ term) ÷ 20 new logos signed = 62,000.
    return compute_from_inputs(
        ctx,
        "sales.avg_contract_value",
        {"new_logo_contract_value": 1_240_000, "new_customers_signed": 20},
        period="2026-Q3",
        currency="USD",
    )


def refused(claim: ValueClaim, ctx: ToolContext) -> ErrorDetail:
    with pytest.raises(KpiError) as info:
        read_claim(ctx.binder, claim, "left")
    return info.value.detail


def typed_arr(**fields: Any) -> ValueClaim:
    document: dict[str, Any] = {"kpi": "sales.arr", "value": 10_000_000, "currency": "USD", "as_of": "2026-09-30"}
    document.update(fields)
    return ValueClaim.model_validate(document)


# --- the server's own values ---------------------------------------------------------------


def test_a_value_passed_back_verbatim_is_verified_and_keeps_its_status(ctx: ToolContext) -> None:
    original = acv_q3(ctx)
    read = read_claim(ctx.binder, as_claim(original), "left")
    assert read.status is ValueStatus.COMPUTED
    assert read.value == Decimal("62000")
    assert read.binding == original.binding
    assert read.provenance == original.provenance
    assert read.label == original.label


def test_verification_does_not_depend_on_how_the_number_is_written(ctx: ToolContext) -> None:
    # "62000.00" is the same number as 62000: the signature still holds.
    read = verified(ctx.binder, as_claim(acv_q3(ctx), value="62000.00"))
    assert read is not None
    assert read.status is ValueStatus.COMPUTED


def test_a_value_with_a_tampered_signature_is_marked_asserted(ctx: ToolContext) -> None:
    original = acv_q3(ctx)
    assert original.provenance is not None
    provenance = original.provenance.model_dump(mode="json")
    signature = provenance["signature"]
    provenance["signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]
    read = read_claim(ctx.binder, as_claim(original, provenance=provenance), "left")
    assert read.status is ValueStatus.ASSERTED
    assert read.provenance is None
    assert any(w.startswith("asserted") for w in read.warnings)
    # Still a valid governed form of ACV, so its value and binding are kept.
    assert read.value == Decimal("62000")
    assert read.binding == original.binding


def test_a_value_whose_number_was_edited_is_marked_asserted_with_the_edited_number(ctx: ToolContext) -> None:
    read = read_claim(ctx.binder, as_claim(acv_q3(ctx), value="99000"), "left")
    assert read.status is ValueStatus.ASSERTED
    assert read.value == Decimal("99000")


def test_a_value_signed_by_another_server_is_marked_asserted(ctx: ToolContext) -> None:
    other = ToolContext.create(ctx.catalog, secret=b"someone-else")
    read = read_claim(ctx.binder, as_claim(acv_q3(other)), "left")
    assert read.status is ValueStatus.ASSERTED


def test_a_claim_without_provenance_is_not_verified(ctx: ToolContext) -> None:
    assert verified(ctx.binder, as_claim(acv_q3(ctx), provenance=None)) is None


def grr_capped_on_the_aggregate(ctx: ToolContext) -> BoundValue:
    """GRR as the ledger engine signs it when computed with grr_cap=aggregate."""
    grr = ctx.catalog.kpis["customers.gross_revenue_retention"]
    return ctx.binder.bind(
        Draft(
            kpi=grr,
            variant_id=None,
            value=Decimal("93"),
            status=ValueStatus.COMPUTED,
            period=Period(start=date(2025, 10, 1), end=date(2026, 9, 30)),
            basis={"grr_cap": "aggregate"},
        )
    )


def test_a_value_passed_back_verbatim_keeps_the_ledger_options_it_was_computed_under(ctx: ToolContext) -> None:
    read = read_claim(ctx.binder, as_claim(grr_capped_on_the_aggregate(ctx)), "left")
    assert read.status is ValueStatus.COMPUTED
    assert read.basis == {"grr_cap": "aggregate"}


@pytest.mark.parametrize(
    "basis", [{"grr_cap": "per_customer"}, {}, {"grr_cap": "aggregate", "day_count": "actual_365"}]
)
def test_a_value_whose_basis_was_edited_is_marked_asserted(ctx: ToolContext, basis: dict[str, str]) -> None:
    # The signature covers `basis`: relabelling the options behind a number is an edit like any other.
    read = read_claim(ctx.binder, as_claim(grr_capped_on_the_aggregate(ctx), basis=basis), "left")
    assert read.status is ValueStatus.ASSERTED
    assert read.provenance is None


# --- asserted values are validated against the catalog --------------------------------------


def test_a_typed_arr_is_asserted_with_the_catalogs_binding(ctx: ToolContext) -> None:
    read = read_claim(ctx.binder, typed_arr(), "left")
    assert read.status is ValueStatus.ASSERTED
    assert read.binding == ctx.catalog.kpis["sales.arr"].binding
    # A typed value states no rules of its own: its label says "as asserted" instead of the catalog's rules.
    assert read.label == "ARR — ARR, as asserted, as of 2026-09-30: $10,000,000"
    assert read.provenance is None
    assert (
        "asserted by the caller: bound under the catalog's rules (live recurring run-rate), which the server "
        "could not verify"
    ) in read.warnings


def test_a_caller_cannot_claim_that_arr_has_per_account_grain(ctx: ToolContext) -> None:
    claim = typed_arr(value=120_000, binding={"grain": {"level": "account", "aggregation": "mean"}})
    detail = refused(claim, ctx)
    assert detail.code is ErrorCode.INVALID_BINDING_CLAIM
    assert detail.field == "left.binding"
    assert detail.details["kpi"] == "sales.arr"
    mismatches = {m["axis"]: (m["catalog"], m["claimed"]) for m in detail.details["mismatches"]}
    assert mismatches == {"grain.level": ("company", "account"), "grain.aggregation": ("total", "mean")}
    assert detail.details["allowed_variants"] == ["default", "header_averaged"]


def test_a_signed_arr_whose_grain_was_edited_loses_its_signature_and_is_refused(ctx: ToolContext) -> None:
    arr = compute_from_inputs(
        ctx, "sales.arr", {"sales.arr": 10_000_000}, as_of=date(2026, 9, 30), currency="USD"
    ).model_dump(mode="json")
    arr["binding"]["grain"] = {"level": "account", "aggregation": "mean", "population": "all_active"}
    detail = refused(ValueClaim.model_validate(arr), ctx)
    assert detail.code is ErrorCode.INVALID_BINDING_CLAIM


def test_a_claimed_binding_that_is_a_governed_variant_is_read_as_that_variant(ctx: ToolContext) -> None:
    claim = ValueClaim(
        kpi="sales.avg_contract_value",
        value=65_000,
        currency="USD",
        binding=BindingClaim(annualization="first_contract_year"),
    )
    read = read_claim(ctx.binder, claim, "left")
    assert read.variant == "first_year"
    assert read.binding == ctx.catalog.kpis["sales.avg_contract_value"].binding_for("first_year")


def test_a_claimed_binding_that_contradicts_the_named_variant_is_refused(ctx: ToolContext) -> None:
    # first_year annualizes the first contract year; claiming TCV ÷ term under that name is a contradiction.
    claim = ValueClaim(
        kpi="sales.avg_contract_value",
        variant="first_year",
        value=65_000,
        currency="USD",
        binding=BindingClaim(annualization="tcv_over_term_years"),
    )
    detail = refused(claim, ctx)
    assert detail.code is ErrorCode.INVALID_BINDING_CLAIM
    assert [m["axis"] for m in detail.details["mismatches"]] == ["annualization"]


def test_an_unknown_variant_is_refused_with_the_allowed_ones(ctx: ToolContext) -> None:
    detail = refused(ValueClaim(kpi="sales.avg_contract_value", variant="gross", value=1, currency="USD"), ctx)
    assert detail.code is ErrorCode.VARIANT_NOT_ALLOWED
    assert detail.field == "left.variant"
    assert detail.details["allowed"] == ["default", "first_year", "contract_value"]


def test_a_claimed_unit_other_than_the_kpis_is_refused(ctx: ToolContext) -> None:
    detail = refused(typed_arr(unit="currency_per_month"), ctx)
    assert detail.code is ErrorCode.INVALID_BINDING_CLAIM
    assert detail.field == "left.unit"


def test_an_amount_of_money_without_a_currency_is_refused(ctx: ToolContext) -> None:
    detail = refused(typed_arr(currency=None), ctx)
    assert detail.code is ErrorCode.INVALID_ARGUMENT
    assert detail.field == "left.currency"


def test_a_claim_must_name_its_kpi(ctx: ToolContext) -> None:
    detail = refused(ValueClaim(value=5), ctx)
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "left.kpi")


def test_a_claim_for_an_unknown_kpi_is_not_found(ctx: ToolContext) -> None:
    detail = refused(ValueClaim(kpi="sales.nope", value=5), ctx)
    assert (detail.code, detail.field) == (ErrorCode.NOT_FOUND, "left.kpi")


def test_a_binding_that_contradicts_itself_is_an_invalid_argument(ctx: ToolContext) -> None:
    base = ctx.catalog.kpis["sales.arr"].binding
    # Money must require a currency; stating the opposite is inconsistent.
    with pytest.raises(KpiError) as info:
        merge_binding(base, BindingClaim(currency_required=False), "left")
    assert (info.value.code, info.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "left.binding")


def test_merging_a_partial_grain_keeps_the_unstated_grain_axes() -> None:
    base = load_catalog().kpis["sales.arr"].binding
    merged = merge_binding(base, BindingClaim(grain=GrainClaim(level="account")), "left")
    assert merged.grain.level.value == "account"
    assert merged.grain.aggregation == base.grain.aggregation
    assert merged.grain.population == base.grain.population
    assert merge_binding(base, None, "left") == base


# --- the number itself --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # A JSON 0.1 becomes the decimal 0.1 the caller wrote, not its binary approximation.
        (0.1, Decimal("0.1")),
        (62000, Decimal("62000")),
        ("62000.50", Decimal("62000.50")),
        ("-12.5", Decimal("-12.5")),
        (None, None),
    ],
)
def test_claimed_numbers_become_exact_decimals(raw: float | int | str | None, expected: Decimal | None) -> None:
    assert claim_decimal(ValueClaim(value=raw), "left") == expected


def test_an_infinite_number_is_refused() -> None:
    with pytest.raises(KpiError) as info:
        claim_decimal(ValueClaim(value=float("inf")), "left")
    assert (info.value.code, info.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "left.value")


@pytest.mark.parametrize("raw", ["abc", "12abc", "1e5", "NaN", "12,000"])
def test_a_value_string_that_is_not_a_plain_decimal_is_rejected_by_the_claim_model(raw: str) -> None:
    with pytest.raises(ValidationError):
        ValueClaim(value=raw)


def test_a_claim_with_an_unknown_field_is_rejected() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        ValueClaim.model_validate({"value": 1, "kpi": "sales.arr", "colour": "red"})
