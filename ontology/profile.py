"""The governance profile: one organisation's locked decisions, calendar, currency and own definitions.

The catalog says what a KPI may mean; a profile says what it means *here*. Loaded with
`kpi-context serve --profile PATH`, it turns every per-call choice the organisation has settled
(does ACV include one-time fees?) into a default that a call may only contradict by saying
`override: true`. It is validated in three stages like the catalog (JSON Schema generated from
these models, the pydantic parse, then semantic rules in `ontology.profile_rules`).

Fiscal years are named by the calendar year in which they end: with `fiscal_year_start_month`
2 (February), FY2027 runs from 1 February 2026 to 31 January 2027.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kpi_context.ontology.catalog import canonical_json
from kpi_context.ontology.model import Benchmark, KpiDefinition, KpiId, Slug, Text

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. 'USD'.")]
DefinitionHash = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Organisation(_Frozen):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", description="Stable id, cited by every value.")]
    name: Annotated[str, Field(min_length=1, max_length=80, description="As labels name it: 'Acme'.")]


class FxRate(_Frozen):
    """How many units of the reporting currency one unit of `currency` was worth on `on`."""

    currency: CurrencyCode
    rate: Annotated[Decimal, Field(gt=0)]
    on: date


class Approval(_Frozen):
    """Who approved what, and when."""

    approver: Text
    approved_on: date


class Lock(_Frozen):
    """A decision the organisation settled for one KPI: the variant and/or `basis` options every call uses."""

    kpi: KpiId
    policy: Annotated[
        str,
        Field(
            min_length=1, max_length=60, description="Short name for labels: 'ACV policy' → 'Acme's locked ACV policy'."
        ),
    ]
    variant: Slug | None = Field(default=None, description="The governed variant ('default' for the catalog's rules).")
    basis: dict[
        Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")], Annotated[str, Field(min_length=1, max_length=64)]
    ] = Field(default_factory=dict, description="`basis` options, as compute_kpi takes them.")
    approval: Approval
    reason: str | None = None

    @model_validator(mode="after")
    def _decides_something(self) -> Self:
        if self.variant is None and not self.basis:
            raise ValueError("a lock names a variant, basis options, or both")
        return self


class BenchmarkRole(StrEnum):
    EXTRA = "extra"
    """Shown beside the catalog's benchmark on the KPI's card."""
    REPLACEMENT = "replacement"
    """Used instead of the catalog's benchmark, including to place values."""


class OrgBenchmark(_Frozen):
    kpi: KpiId
    role: BenchmarkRole
    benchmark: Benchmark = Field(description="Quartiles with their unit and source (source_name, source_year).")


class SlideLabel(_Frozen):
    kpi: KpiId
    label: Annotated[str, Field(min_length=1, max_length=32, description="Short name for slides: 'New ACV'.")]


class DefinitionApproval(Approval):
    """Approval of one organisation definition, tied to its content: any change voids it."""

    kpi: KpiId
    definition_hash: DefinitionHash = Field(description="`kpi-context profile show` prints each definition's hash.")


class DefinitionStatus(StrEnum):
    APPROVED = "approved"
    PROPOSED = "proposed"
    """Never approved, or changed since its approval: values computed under it say so."""


class Profile(_Frozen):
    organisation: Organisation
    catalog_version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$", description="The catalog it was approved on.")]
    fiscal_year_start_month: Annotated[int, Field(ge=1, le=12)] = Field(
        default=1, description="Month the fiscal year opens; a fiscal year is named by the calendar year it ends in."
    )
    reporting_currency: CurrencyCode
    fx_rates: tuple[FxRate, ...] = ()
    locks: tuple[Lock, ...] = ()
    benchmarks: tuple[OrgBenchmark, ...] = ()
    slide_labels: tuple[SlideLabel, ...] = ()
    definitions: tuple[KpiDefinition, ...] = Field(
        default=(), description="KPIs the organisation adds, or catalog KPIs it redefines (same id)."
    )
    definition_approvals: tuple[DefinitionApproval, ...] = ()

    def lock_for(self, kpi_id: str) -> Lock | None:
        return next((lock for lock in self.locks if lock.kpi == kpi_id), None)

    def slide_label(self, kpi_id: str) -> str | None:
        return next((s.label for s in self.slide_labels if s.kpi == kpi_id), None)

    def definition_status(self, definition: KpiDefinition) -> DefinitionStatus:
        current = definition_hash(definition)
        approved = any(a.kpi == definition.id and a.definition_hash == current for a in self.definition_approvals)
        return DefinitionStatus.APPROVED if approved else DefinitionStatus.PROPOSED


def definition_hash(definition: KpiDefinition) -> str:
    """sha256 over the definition's canonical JSON: what an approval approves."""
    return "sha256:" + hashlib.sha256(canonical_json(definition.model_dump(mode="json"))).hexdigest()


def profile_hash(document: object) -> str:
    """sha256 over the profile file's canonical JSON (key order and spacing do not matter)."""
    return "sha256:" + hashlib.sha256(canonical_json(document)).hexdigest()
