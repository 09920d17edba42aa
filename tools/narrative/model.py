"""What check_narrative returns: findings with stable codes, each with its place in the draft and a fix."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from kpi_context.tools.compare import Mismatch
from kpi_context.tools.remedies import Remedy

MAX_TEXT = 20_000
"""Characters of draft one call checks: a board narrative is a few thousand."""
MAX_VALUES = 60
"""Bound values one call takes: a board pack's worth, with its prior periods."""
MAX_FINDINGS = 100
"""Findings returned; a draft with more is rewritten, not patched."""


class FindingCode(StrEnum):
    """Stable codes: a pipeline branches on them. Add new ones, never rename."""

    UNBACKED_NUMBER = "unbacked_number"
    """A figure that matches no given value at the precision it is shown to."""
    MISMATCHED_VALUE = "mismatched_value"
    """A figure that is the value of another KPI, period or variant than the sentence names."""
    UNSAFE_COMPARISON = "unsafe_comparison"
    """A sentence setting two values against each other that compare_metrics refuses to compare."""
    UNLABELLED_BASIS = "unlabelled_basis"
    """A KPI named without the qualifier that tells it from a look-alike also in play ("ACV")."""
    MISSING_PAIR = "missing_pair"
    """A KPI quoted without a KPI the catalog says it must be read with (NRR without GRR)."""


class Severity(StrEnum):
    ERROR = "error"
    """The draft states something the values do not say: fix before anyone reads it."""
    WARNING = "warning"
    """The draft is accurate but leaves a reader room to misread it."""


SEVERITY = {
    FindingCode.UNBACKED_NUMBER: Severity.ERROR,
    FindingCode.MISMATCHED_VALUE: Severity.ERROR,
    FindingCode.UNSAFE_COMPARISON: Severity.ERROR,
    FindingCode.UNLABELLED_BASIS: Severity.WARNING,
    FindingCode.MISSING_PAIR: Severity.WARNING,
}


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: FindingCode
    severity: Severity
    span: tuple[int, int] = Field(description="[start, end) character offsets of `text` in the draft.")
    text: str = Field(description="The part of the draft the finding is about.")
    message: str
    fix: str = Field(description="A replacement to write, or what to do.")
    kpis: list[str] = Field(default_factory=list, description="KPI ids involved.")
    mismatches: list[Mismatch] = Field(
        default_factory=list, description="For unsafe_comparison: the axes on which the two values differ."
    )
    remedies: list[Remedy] = Field(default_factory=list, description="For unsafe_comparison: what to compare instead.")


class NarrativeCheck(BaseModel):
    """The findings on one draft, in the order they occur, and what was read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    passed: bool = Field(description="True when no finding is an error (warnings may remain).")
    findings: list[Finding] = Field(default_factory=list)
    figures: int = Field(description="Figures read in the draft.")
    backed: int = Field(description="Figures that a given value states, for the KPI and period the draft names.")
    kpis: list[str] = Field(default_factory=list, description="KPIs the draft names, by id.")
    notes: list[str] = Field(default_factory=list)
