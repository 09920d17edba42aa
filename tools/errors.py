"""One stable vocabulary of error codes for every tool.

LLM callers branch on `code`, people read `message`, and `field` points at the
argument to fix. Codes are part of the public API: add new ones, never rename.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorCode(StrEnum):
    NOT_FOUND = "not_found"
    INVALID_ARGUMENT = "invalid_argument"
    MISSING_INPUT = "missing_input"
    UNKNOWN_INPUT = "unknown_input"
    INPUT_BINDING_MISMATCH = "input_binding_mismatch"
    INVALID_BINDING_CLAIM = "invalid_binding_claim"
    VARIANT_NOT_ALLOWED = "variant_not_allowed"
    CURRENCY_MISMATCH = "currency_mismatch"
    PERIOD_MISMATCH = "period_mismatch"
    UNSAFE_COMPARISON = "unsafe_comparison"
    UNDEFINED_VALUE = "undefined_value"
    NOT_COMPUTABLE = "not_computable"
    DATASET_NOT_FOUND = "dataset_not_found"
    PATH_NOT_ALLOWED = "path_not_allowed"
    DATASET_UNAVAILABLE = "dataset_unavailable"
    """A dataset the server knows whose file is gone, unreadable, or changed while it was being read."""
    LEDGER_INVALID = "ledger_invalid"
    LEDGER_TOO_LARGE = "ledger_too_large"
    UNSUPPORTED_FORMAT = "unsupported_format"
    IMPLAUSIBLE_VALUE = "implausible_value"
    """A bare number outside the KPI's plausible range: most often a scale slip (0.76 for 76 %)."""
    OUT_OF_RANGE = "out_of_range"
    """A number or date beyond what the server can represent exactly (too many digits, a year outside 1–9999)."""
    DOES_NOT_RECONCILE = "does_not_reconcile"
    """The groups of a cut of an additive KPI do not add up to its total: a defect, never returned as a result."""
    LOCKED_DECISION = "locked_decision"
    """The call contradicts a decision the organisation's governance profile locked (pass override: true to deviate)."""


class ErrorDetail(BaseModel):
    """The structured payload of a refused call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: ErrorCode
    message: str = Field(description="What went wrong and what to do instead, for a person or an LLM.")
    field: str | None = Field(default=None, description="The argument (dotted path) that caused it, if any.")
    details: dict[str, Any] = Field(default_factory=dict, description="Machine-readable specifics.")


class KpiError(Exception):
    """A domain failure with a stable code; the server turns it into a structured error result."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.detail = ErrorDetail(code=code, message=message, field=field, details=details or {})

    @property
    def code(self) -> ErrorCode:
        return self.detail.code
