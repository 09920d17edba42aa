"""Signing bound values, so the server can tell its own values from ones typed or altered by a caller.

The signature covers the whole value — number, binding, options, period, label, warnings,
inputs, trace — everything except the signature and the value id, which are derived from it.
A caller who changes any field (the top-level unit, a warning, an input's label) gets a value
that reads as asserted. The canonical form drops nulls and empty collections and sorts keys, so
a client that leaves out defaults or reorders keys still presents the same value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

_DERIVED = ("signature", "value_id", "series_id", "pack_id")
"""Provenance fields computed from the payload itself."""


def canonical(document: Mapping[str, Any]) -> bytes:
    """Sorted, compact JSON of a value's JSON form without its derived provenance fields."""
    body = dict(document)
    if isinstance(body.get("value"), str | int | float) and not isinstance(body.get("value"), bool):
        # The number, not its spelling: "62000.00", "62000" and 62000 sign alike.
        body["value"] = _number(body["value"])
    provenance = body.get("provenance")
    if isinstance(provenance, Mapping):
        body["provenance"] = {key: item for key, item in provenance.items() if key not in _DERIVED}
    return json.dumps(_pruned(body), sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _number(raw: str | int | float) -> str | int | float:
    try:
        number = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    except InvalidOperation:
        return raw  # not a number: signed as written, so it cannot pass for one
    if not number.is_finite():
        return raw
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _pruned(node: Any) -> Any:
    """Nulls and empty lists or objects left out, at every depth: absent and empty mean the same."""
    if isinstance(node, Mapping):
        kept = {str(key): _pruned(item) for key, item in node.items()}
        return {key: item for key, item in kept.items() if item is not None and item != [] and item != {}}
    if isinstance(node, list | tuple):
        return [_pruned(item) for item in node]
    return node


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
