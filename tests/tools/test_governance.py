"""Locked decisions at call time: applied as defaults, contradictions refused, overrides recorded on the value."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.loader import load_catalog
from kpi_context.ontology.profile_loader import LoadedProfile, load_profile
from kpi_context.tools.claims import read_claim
from kpi_context.tools.compare import UnsafeComparison, compare_values
from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.engine import compute_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.values import BoundValue, ValueClaim
from tests.support.ledgers import line
from tests.support.profiles import EXAMPLE, context

ACV = "sales.avg_contract_value"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def acme(catalog: Catalog) -> LoadedProfile:
    return load_profile(EXAMPLE, catalog)


@pytest.fixture(scope="module")
def ctx(catalog: Catalog, acme: LoadedProfile) -> ToolContext:
    return context(catalog, acme)


@pytest.fixture
def registry(tmp_path: Path) -> DatasetRegistry:
    return DatasetRegistry.from_cli(tmp_path)


def ramp() -> list[dict[str, Any]]:
    # One new customer signed 1 Feb 2026 on a two-year ramp: 10,000 in year one, 14,000 in year two.
    return [
        line(amount="10000", start_date="2026-02-01", end_date="2027-01-31", signed_date="2026-02-01"),
        line(amount="14000", start_date="2027-02-01", end_date="2028-01-31", signed_date="2026-02-01"),
    ]


def acv(ctx: ToolContext, registry: DatasetRegistry, **options: Any) -> BoundValue:
    return compute_from_ledger(ctx, ACV, {"rows": ramp()}, datasets=registry, period="2026-02", **options)


def test_a_call_that_leaves_the_variant_open_gets_the_locked_first_year_acv(ctx, registry):
    # Acme locks ACV to first-year value: the first contract year is worth 10,000 (not 24,000 ÷ 2 = 12,000).
    value = acv(ctx, registry)
    assert value.variant == "first_year"
    assert value.value == Decimal(10000)
    assert value.basis["discounts"] == "net"
    assert value.deviation is None


def test_a_variant_contradicting_the_lock_is_refused_naming_the_lock_its_approver_and_date(ctx, registry):
    with pytest.raises(KpiError) as refused:
        acv(ctx, registry, variant="default")
    detail = refused.value.detail
    assert detail.code is ErrorCode.LOCKED_DECISION
    assert detail.field == "variant"
    assert detail.details["lock"] == ACV
    assert detail.details["approver"] == "Dana Whitfield (CFO)"
    assert detail.details["approved_on"] == "2026-10-05"
    assert "Acme's locked ACV policy" in detail.message


def test_a_basis_option_contradicting_the_lock_is_refused(ctx, registry):
    with pytest.raises(KpiError) as refused:
        acv(ctx, registry, basis={"discounts": "list"})
    assert refused.value.code is ErrorCode.LOCKED_DECISION
    assert refused.value.detail.field == "basis.discounts"


def test_a_binding_key_that_selects_another_variant_is_refused_as_well(ctx, registry):
    # TCV ÷ term is the default variant's annualization; the lock is first contract year.
    with pytest.raises(KpiError) as refused:
        acv(ctx, registry, basis={"annualization": "tcv_over_term_years"})
    assert refused.value.code is ErrorCode.LOCKED_DECISION


def test_naming_the_locked_choice_itself_is_not_a_contradiction(ctx, registry):
    assert acv(ctx, registry, variant="first_year").value == Decimal(10000)


def test_an_override_computes_the_value_and_records_the_deviation_in_its_binding_and_label(ctx, registry):
    # TCV 10,000 + 14,000 = 24,000 over a two-year term: 12,000 a year.
    value = acv(ctx.overriding(True), registry, variant="default")
    assert value.value == Decimal(12000)
    assert value.deviation is not None
    assert value.deviation.locked == {"variant": "first_year"}
    assert value.deviation.chosen == {"variant": "default"}
    assert value.deviation.approved == "Dana Whitfield (CFO), 2026-10-05"
    assert "deviates from Acme's locked ACV policy" in value.label
    assert value.label.endswith("Feb 2026: $12,000")


def test_an_overridden_value_compares_only_with_values_computed_the_same_way(ctx, registry):
    overridden = acv(ctx.overriding(True), registry, variant="default")
    locked = acv(ctx, registry)
    with pytest.raises(UnsafeComparison) as refused:
        compare_values(ctx.binder, overridden, locked)
    assert "deviation" in {m.axis for m in refused.value.refusal.mismatches}
    again = acv(ctx.overriding(True), registry, variant="default")
    assert compare_values(ctx.binder, overridden, again).difference == 0


def _handed_back(value: BoundValue, **edits: Any) -> ValueClaim:
    document = value.model_dump(mode="json")
    document.update(edits)
    return ValueClaim.model_validate(document)


def test_the_deviation_and_the_profile_are_covered_by_the_signature(ctx, registry):
    overridden = acv(ctx.overriding(True), registry, variant="default")
    # Handed back untouched, the value verifies and keeps its provenance.
    assert read_claim(ctx.binder, _handed_back(overridden), "left").provenance is not None
    # A model that deletes the deviation, or names another profile, hands back a value that reads as asserted.
    assert read_claim(ctx.binder, _handed_back(overridden, deviation=None), "left").provenance is None
    provenance = overridden.model_dump(mode="json")["provenance"]
    forged = {**provenance, "profile": {"id": "globex", "hash": provenance["profile"]["hash"]}}
    assert read_claim(ctx.binder, _handed_back(overridden, provenance=forged), "left").provenance is None


def test_locks_apply_to_values_from_inputs_too(ctx):
    # A reported ACV is bound under the locked first-year variant; asking for the default is refused.
    value = compute_from_inputs(ctx, ACV, {ACV: 50000}, period="2026-Q3", currency="USD")
    assert value.variant == "first_year"
    with pytest.raises(KpiError) as refused:
        compute_from_inputs(ctx, ACV, {ACV: 50000}, period="2026-Q3", currency="USD", variant="default")
    assert refused.value.code is ErrorCode.LOCKED_DECISION


def test_without_a_profile_nothing_is_locked(catalog, registry):
    plain = context(catalog, None)
    # Catalog default: 24,000 ÷ 2 years.
    value = acv(plain, registry)
    assert value.variant == "default"
    assert value.value == Decimal(12000)
    assert value.provenance is not None and value.provenance.profile is None


def test_every_value_names_the_profile_by_id_and_content_hash(ctx, acme, registry):
    value = acv(ctx, registry)
    assert value.provenance is not None
    assert value.provenance.profile is not None
    assert value.provenance.profile.id == "acme"
    assert value.provenance.profile.hash == acme.content_hash
    assert acme.content_hash.startswith("sha256:")


def test_a_ledger_option_lock_fills_in_the_option_a_call_leaves_open(ctx, registry):
    # Acme locks NRR to count churn on the cancellation date (the catalog's default is the end of the paid period).
    rows = [line(start_date="2025-01-01", end_date="2027-12-31", signed_date="2025-01-01")]
    nrr = compute_from_ledger(
        ctx, "customers.net_revenue_retention", {"rows": rows}, datasets=registry, period="2026-Q3"
    )
    assert nrr.basis["churn_timing"] == "cancellation_date"


def test_values_computed_under_a_proposed_definition_say_so(catalog, tmp_path):
    from tests.support.profiles import example_document, loaded

    document = example_document()
    # Acme edits its approved burn-multiple definition after approval: the approval's hash no longer matches.
    document["definitions"][0]["interpretation_guidance"] = "Lower is better; above 1.5 the board asks why."
    profile = loaded(tmp_path, document, catalog)
    ctx = context(catalog, profile)
    # 100,000 a month × 3 months ÷ 200,000 net new ARR = 1.5.
    value = compute_from_inputs(
        ctx,
        "finance.burn_multiple",
        {"finance.net_burn_rate": 100000, "period_months": 3, "sales.net_new_arr": 200000},
        period="2026-Q3",
        currency="USD",
    )
    assert value.value == Decimal("1.5")
    assert "proposed definition" in value.label
    assert any("proposed: not approved in its current form" in w for w in value.warnings)


def test_values_computed_under_an_approved_organisation_definition_carry_no_such_remark(ctx):
    value = compute_from_inputs(
        ctx,
        "finance.burn_multiple",
        {"finance.net_burn_rate": 100000, "period_months": 3, "sales.net_new_arr": 200000},
        period="2026-Q3",
        currency="USD",
    )
    assert "proposed" not in value.label


def test_a_ledger_in_another_currency_is_converted_at_the_profiles_latest_rate_before_the_close(catalog, tmp_path):
    from kpi_context.tools.governance import with_profile_rates
    from tests.support.profiles import loaded, minimal_document

    rates = [
        {"currency": "EUR", "rate": "1.10", "on": "2026-06-30"},
        {"currency": "EUR", "rate": "1.08", "on": "2026-10-31"},
    ]
    ctx = context(catalog, loaded(tmp_path, minimal_document(fx_rates=rates), catalog))
    registry = DatasetRegistry.from_cli(tmp_path)
    rows = {"rows": [line(currency="EUR", amount="10000", end_date="2027-12-31")]}

    def arr(close: str) -> BoundValue:
        day = date.fromisoformat(close)
        ledger, currency = with_profile_rates(ctx, rows, None, day)
        return compute_from_ledger(ctx, "sales.arr", ledger, datasets=registry, currency=currency, as_of=day)

    # 30 Sep 2026: the latest EUR rate on or before it is 1.10 (30 Jun): 10,000 × 1.10 = 11,000 USD.
    september = arr("2026-09-30")
    assert (september.value, september.currency) == (Decimal(11000), "USD")
    # 31 Dec 2026: the 31 Oct rate 1.08 applies: 10,800 USD.
    assert arr("2026-12-31").value == Decimal(10800)
    # A caller's own currency or rates are left alone.
    assert with_profile_rates(ctx, rows, "EUR", None) == (rows, "EUR")


def test_a_lock_naming_only_a_binding_option_selects_the_variant_that_has_it(catalog, tmp_path, registry):
    from tests.support.profiles import loaded, minimal_document

    # First-contract-year annualization is the first_year variant's binding: 10,000 for the ramp.
    lock = {
        "kpi": ACV,
        "policy": "ACV policy",
        "basis": {"annualization": "first_contract_year"},
        "approval": {"approver": "Pat Lee", "approved_on": "2026-09-01"},
    }
    ctx = context(catalog, loaded(tmp_path, minimal_document(locks=[lock]), catalog))
    value = acv(ctx, registry)
    assert (value.variant, value.value) == ("first_year", Decimal(10000))
    assert compute_from_inputs(ctx, ACV, {ACV: 50000}, period="2026-Q3", currency="USD").variant == "first_year"
