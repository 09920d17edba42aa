"""Signing bound values, so the server can tell its own values from ones typed by a caller.

The signature covers exactly what makes a value mean something: the KPI and variant,
the number, its unit and currency, its period or date, its binding, the governed ledger
options it was computed under (`basis`) and its status.
Labels, warnings and input lists are explanations and are not covered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from kpi_context.ontology.binding import Binding
from kpi_context.tools.periods import Period


def signed_payload(
    *,
    kpi: str,
    variant: str,
    value: Decimal | None,
    unit: str,
    currency: str | None,
    period: Period | None,
    as_of: date | None,
    binding: Binding,
    status: str,
    basis: Mapping[str, str] | None = None,
) -> bytes:
    """Canonical bytes of the meaning-bearing fields."""
    document: dict[str, Any] = {
        "kpi": kpi,
        "variant": variant,
        # Normalized so that "62000.00" and "62000" sign alike: same number, same meaning.
        "value": None if value is None else _normal(value),
        "unit": unit,
        "currency": currency,
        "period": None if period is None else [period.start.isoformat(), period.end.isoformat()],
        "as_of": None if as_of is None else as_of.isoformat(),
        "binding": binding.model_dump(mode="json"),
        "status": status,
        "basis": dict(sorted((basis or {}).items())),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _normal(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


class Signer:
    """HMAC-SHA256 with the server's secret; a fresh random secret unless the operator sets one."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret else secrets.token_bytes(32)

    def sign(self, payload: bytes) -> str:
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()

    def verify(self, payload: bytes, signature: str) -> bool:
        return hmac.compare_digest(self.sign(payload), signature)

    @staticmethod
    def value_id(payload: bytes) -> str:
        return "v_" + hashlib.sha256(payload).hexdigest()[:24]
