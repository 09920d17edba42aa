"""The signature that lets the server tell its own bound values from ones a caller typed."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from kpi_context.ontology.binding import Aggregation, Binding, Grain, GrainLevel, Population
from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.periods import Period
from kpi_context.tools.signing import Signer, signed_payload

Q3 = Period(start=date(2026, 7, 1), end=date(2026, 9, 30))


@pytest.fixture(scope="module")
def acv_binding() -> Binding:
    return load_catalog().kpis["sales.avg_contract_value"].binding


def payload(binding: Binding, **changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "kpi": "sales.avg_contract_value",
        "variant": "default",
        "value": Decimal("62000"),
        "unit": "currency",
        "currency": "USD",
        "period": Q3,
        "as_of": None,
        "binding": binding,
        "status": "computed",
    }
    fields.update(changes)
    return signed_payload(**fields)


def test_the_payload_is_canonical_json_of_the_meaning_bearing_fields(acv_binding: Binding) -> None:
    document = json.loads(payload(acv_binding))
    assert set(document) == {
        "kpi",
        "variant",
        "value",
        "unit",
        "currency",
        "period",
        "as_of",
        "binding",
        "status",
        "basis",
    }
    assert document["period"] == ["2026-07-01", "2026-09-30"]
    # No ledger options given: the basis signs as an empty object.
    assert document["basis"] == {}
    assert document["value"] == "62000"
    assert document["binding"]["grain"]["level"] == "new_customer"
    # Sorted keys and no spaces: the same value always yields the same bytes.
    assert payload(acv_binding) == json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize("written", ["62000.00", "62000", "6.2E+4", "62000.000000"])
def test_the_same_number_written_differently_signs_alike(acv_binding: Binding, written: str) -> None:
    assert payload(acv_binding, value=Decimal(written)) == payload(acv_binding, value=Decimal("62000"))


def test_negative_zero_signs_like_zero(acv_binding: Binding) -> None:
    assert payload(acv_binding, value=Decimal("-0.00")) == payload(acv_binding, value=Decimal("0"))


def test_an_undefined_value_signs_as_null(acv_binding: Binding) -> None:
    assert json.loads(payload(acv_binding, value=None))["value"] is None


@pytest.mark.parametrize(
    "change",
    [
        {"kpi": "customers.avg_contract_value"},
        {"variant": "first_year"},
        {"value": Decimal("62000.01")},
        {"unit": "currency_per_month"},
        {"currency": "EUR"},
        {"period": Period(start=date(2026, 4, 1), end=date(2026, 6, 30))},
        {"as_of": date(2026, 9, 30)},
        {"status": "asserted"},
        {"basis": {"grr_cap": "aggregate"}},
    ],
)
def test_every_meaning_bearing_field_changes_the_payload(acv_binding: Binding, change: dict[str, Any]) -> None:
    assert payload(acv_binding, **change) != payload(acv_binding)


def test_the_basis_is_signed_as_a_sorted_object(acv_binding: Binding) -> None:
    options = {"short_terms": "face_value", "day_count": "actual_365"}
    document = json.loads(payload(acv_binding, basis=options))
    assert document["basis"] == options
    assert payload(acv_binding, basis=options) == payload(
        acv_binding, basis={"day_count": "actual_365", "short_terms": "face_value"}
    )
    # The bytes list the keys in order, whatever order the caller's dict had.
    assert b'"basis":{"day_count":"actual_365","short_terms":"face_value"}' in payload(acv_binding, basis=options)


def test_a_missing_basis_signs_like_an_empty_one(acv_binding: Binding) -> None:
    assert payload(acv_binding, basis=None) == payload(acv_binding, basis={}) == payload(acv_binding)


def test_a_different_option_value_changes_the_payload(acv_binding: Binding) -> None:
    assert payload(acv_binding, basis={"grr_cap": "aggregate"}) != payload(
        acv_binding, basis={"grr_cap": "per_customer"}
    )


def test_a_different_grain_changes_the_payload(acv_binding: Binding) -> None:
    per_account = acv_binding.model_copy(
        update={
            "grain": Grain(level=GrainLevel.ACCOUNT, aggregation=Aggregation.MEAN, population=Population.ALL_ACTIVE)
        }
    )
    assert payload(per_account) != payload(acv_binding)


def test_a_signature_verifies_with_the_same_secret_only(acv_binding: Binding) -> None:
    data = payload(acv_binding)
    signature = Signer(b"server-secret").sign(data)
    assert Signer(b"server-secret").verify(data, signature)
    assert not Signer(b"another-secret").verify(data, signature)


def test_a_signature_does_not_verify_another_payload(acv_binding: Binding) -> None:
    signer = Signer(b"server-secret")
    signature = signer.sign(payload(acv_binding))
    assert not signer.verify(payload(acv_binding, value=Decimal("99000")), signature)


def test_a_signature_is_a_hex_sha256_hmac(acv_binding: Binding) -> None:
    signature = Signer(b"server-secret").sign(payload(acv_binding))
    # SHA-256 is 32 bytes: 64 hex digits.
    assert len(signature) == 64
    assert set(signature) <= set("0123456789abcdef")


@pytest.mark.parametrize("secret", [None, b""])
def test_without_a_secret_each_signer_draws_its_own_random_one(acv_binding: Binding, secret: bytes | None) -> None:
    data = payload(acv_binding)
    assert Signer(secret).sign(data) != Signer(secret).sign(data)


def test_a_tampered_signature_does_not_verify(acv_binding: Binding) -> None:
    signer = Signer(b"server-secret")
    data = payload(acv_binding)
    signature = signer.sign(data)
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    assert not signer.verify(data, flipped)


def test_the_value_id_is_a_stable_digest_independent_of_the_secret(acv_binding: Binding) -> None:
    data = payload(acv_binding)
    value_id = Signer.value_id(data)
    assert value_id == Signer.value_id(payload(acv_binding, value=Decimal("62000.00")))
    assert value_id != Signer.value_id(payload(acv_binding, value=Decimal("62001")))
    # "v_" followed by the first 24 hex digits of the payload's SHA-256.
    assert value_id.startswith("v_")
    assert len(value_id) == 2 + 24
    assert set(value_id[2:]) <= set("0123456789abcdef")
