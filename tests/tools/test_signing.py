"""The signature that lets the server tell its own bound values from ones a caller typed or altered."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.claims import read_claim
from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.signing import Signer, canonical
from kpi_context.tools.values import ValueClaim, ValueStatus

DOCUMENT: dict[str, Any] = {
    "kpi": "sales.avg_contract_value",
    "value": "62000",
    "warnings": [],
    "basis": {},
    "period": {"start": "2026-07-01", "end": "2026-09-30"},
    "provenance": {"catalog_version": "1.1.0", "value_id": "v_x", "signature": "abc"},
}


@pytest.fixture(scope="module")
def ctx() -> ToolContext:
    return ToolContext.create(load_catalog(), secret=b"signing-tests")


@pytest.fixture(scope="module")
def payback(ctx: ToolContext) -> dict[str, Any]:
    """A computed value with inputs, as a client receives it (JSON, defaults left out)."""
    # 600,000 ÷ (1,200,000 ÷ 12 × 0.75) = 600,000 ÷ 75,000 = 8 months.
    value = compute_from_inputs(
        ctx,
        "sales.cac_payback_period",
        {"finance.total_sm": 600_000, "sales.new_business": 1_200_000, "sales.gross_margin": 75},
        period="2026-Q3",
        currency="USD",
    )
    assert str(value.value) == "8"
    return value.model_dump(mode="json", exclude_defaults=True)


def test_the_payload_leaves_out_only_the_fields_derived_from_it() -> None:
    document = json.loads(canonical(DOCUMENT))
    assert document["provenance"] == {"catalog_version": "1.1.0"}
    assert document["kpi"] == "sales.avg_contract_value"
    assert document["period"] == {"start": "2026-07-01", "end": "2026-09-30"}


def test_nulls_empty_collections_and_key_order_do_not_change_the_payload() -> None:
    reordered = dict(reversed(list(DOCUMENT.items())))
    reordered["undefined_reason"] = None
    reordered["components"] = []
    assert canonical(reordered) == canonical(DOCUMENT)
    # Sorted keys and no spaces: the same value always yields the same bytes.
    assert canonical(DOCUMENT).decode().startswith('{"kpi":')
    assert b" " not in canonical({"a": 1, "b": [1, 2]})


def test_any_other_change_changes_the_payload() -> None:
    for path, new in ((("value",), "62001"), (("provenance", "catalog_version"), "1.0.0"), (("label",), "ACV")):
        changed = copy.deepcopy(DOCUMENT)
        node = changed
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = new
        assert canonical(changed) != canonical(DOCUMENT), path


def test_a_signature_verifies_with_the_same_secret_only() -> None:
    data = canonical(DOCUMENT)
    signature = Signer(b"server-secret").sign(data)
    assert Signer(b"server-secret").verify(data, signature)
    assert not Signer(b"another-secret").verify(data, signature)


def test_a_signature_is_a_hex_sha256_hmac() -> None:
    signature = Signer(b"server-secret").sign(canonical(DOCUMENT))
    # SHA-256 is 32 bytes: 64 hex digits.
    assert len(signature) == 64
    assert set(signature) <= set("0123456789abcdef")


@pytest.mark.parametrize("secret", [None, b""])
def test_without_a_secret_each_signer_draws_its_own_random_one(secret: bytes | None) -> None:
    data = canonical(DOCUMENT)
    assert Signer(secret).sign(data) != Signer(secret).sign(data)


def test_the_value_id_is_a_stable_digest_independent_of_the_secret() -> None:
    value_id = Signer.value_id(canonical(DOCUMENT))
    assert value_id == Signer.value_id(canonical(dict(reversed(list(DOCUMENT.items())))))
    # "v_" followed by the first 24 hex digits of the payload's SHA-256.
    assert value_id.startswith("v_")
    assert len(value_id) == 2 + 24
    assert set(value_id[2:]) <= set("0123456789abcdef")


def test_a_value_passed_back_as_received_is_trusted(ctx: ToolContext, payback: dict[str, Any]) -> None:
    trusted = read_claim(ctx.binder, ValueClaim.model_validate(payback), "left")
    assert trusted.status is ValueStatus.COMPUTED
    assert trusted.provenance is not None
    assert trusted.inputs[0].name == "finance.total_sm"


def _set(document: dict[str, Any], path: tuple[str | int, ...], new: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    node: Any = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return changed


@pytest.mark.parametrize(
    ("path", "new"),
    [
        (("value",), "7"),
        (("label",), "CAC Payback Period — best in class, Q3 2026: 8 months"),
        (("warnings",), ["checked by the CFO"]),
        (("inputs", 0, "label"), "Total S&M: $1"),
        (("inputs", 0, "value"), "1"),
        (("basis",), {"churn_timing": "cancellation_date"}),
        (("rounding",), "none"),
        (("period", "end"), "2026-12-31"),
        (("status",), "reported"),
        (("formula",), "1 + 1"),
        (("provenance", "catalog_version"), "9.9.9"),
    ],
)
def test_changing_any_field_of_a_signed_value_makes_it_asserted(
    ctx: ToolContext, payback: dict[str, Any], path: tuple[str | int, ...], new: Any
) -> None:
    changed = _set(payback, path, new)
    read = read_claim(ctx.binder, ValueClaim.model_validate(changed), "left")
    assert read.status is ValueStatus.ASSERTED
    assert read.provenance is None


@pytest.mark.parametrize(
    ("path", "new"),
    [(("unit",), "days"), (("binding", "grain", "population"), "all_active")],
)
def test_an_altered_binding_is_not_trusted_and_then_refused_as_ungoverned(
    ctx: ToolContext, payback: dict[str, Any], path: tuple[str | int, ...], new: Any
) -> None:
    # Once the signature fails, the claim is read as asserted and its binding checked against the catalog:
    # CAC payback is over new logos, in months — neither altered form is a governed one.
    changed = _set(payback, path, new)
    with pytest.raises(KpiError) as info:
        read_claim(ctx.binder, ValueClaim.model_validate(changed), "left")
    assert info.value.code in (ErrorCode.INVALID_BINDING_CLAIM, ErrorCode.INPUT_BINDING_MISMATCH)


def test_the_value_signs_as_a_number_not_as_its_spelling() -> None:
    # 62000, "62000" and "62000.00" are one number; "62001" is another.
    spelled = [canonical({**DOCUMENT, "value": raw}) for raw in (62000, "62000", "62000.00", 62000.0)]
    assert len(set(spelled)) == 1
    assert canonical({**DOCUMENT, "value": "62001"}) not in spelled
