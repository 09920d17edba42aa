"""Everything a tool call needs, built once per server: the catalog, its search index, the binder."""

from __future__ import annotations

from dataclasses import dataclass, replace

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.ledger_options import LEDGER_KPI_OPTIONS
from kpi_context.ontology.profile_loader import LoadedProfile, apply_profile
from kpi_context.ontology.search import SearchIndex
from kpi_context.tools.binder import Binder
from kpi_context.tools.signing import Signer
from kpi_context.tools.values import ProfileStamp


@dataclass(frozen=True)
class ToolContext:
    catalog: Catalog
    index: SearchIndex
    binder: Binder
    ledger_kpis: frozenset[str] = frozenset(LEDGER_KPI_OPTIONS)
    """KPIs a contract ledger computes (cards say so)."""
    trace_ids: int = 0
    """Account ids a ledger trace may list (0–5); customer identifiers leave the server only if the operator opts in."""
    profile: LoadedProfile | None = None
    """The organisation's governance profile: locks, fiscal calendar, own definitions. None: calls choose freely."""
    override: bool = False
    """This call computes against the profile's locks (`override: true`); the value records the deviation."""

    @classmethod
    def create(
        cls,
        catalog: Catalog,
        *,
        secret: bytes | None = None,
        trace_ids: int = 0,
        profile: LoadedProfile | None = None,
    ) -> ToolContext:
        if profile is not None:
            catalog = apply_profile(catalog, profile)
        return cls(
            catalog=catalog,
            index=SearchIndex(catalog),
            binder=Binder(catalog, Signer(secret), profile=profile),
            trace_ids=trace_ids,
            profile=profile,
        )

    @property
    def fiscal_start(self) -> int | None:
        """The month the fiscal year opens, when a profile sets the calendar; None: no fiscal calendar."""
        return None if self.profile is None else self.profile.profile.fiscal_year_start_month

    @property
    def profile_stamp(self) -> ProfileStamp | None:
        """The profile every result names in its provenance (id and content hash), signed with it."""
        return None if self.profile is None else ProfileStamp(id=self.profile.id, hash=self.profile.content_hash)

    def overriding(self, override: bool) -> ToolContext:
        """This context for one call that passed `override` (itself when false)."""
        return replace(self, override=True) if override else self
