"""Stage three of loading a governance profile: semantic rules, one small class each.

Every rule sees the parsed profile and the catalog it will run on, and returns typed issues
pointing into the profile file. The organisation's own definitions are judged by the catalog's
own rules (`ontology.rules.RULES`, the unit/grain type checker included) over the catalog as the
profile would change it, so a definition the catalog would refuse is refused here too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from kpi_context.ontology.binding import Annualization, DateBasis, RecurringInclusion, ValueBasis
from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.issues import LoadIssue, Severity, json_pointer
from kpi_context.ontology.ledger_options import LEDGER_KPI_OPTIONS, OptionKey, parse_option
from kpi_context.ontology.model import DEFAULT_VARIANT_ID, KpiDefinition
from kpi_context.ontology.profile import DefinitionStatus, Lock, Profile, definition_hash
from kpi_context.ontology.rules import RULES
from kpi_context.ontology.rules.base import Entry, RuleContext

BINDING_KEYS = {
    "value_basis": ValueBasis,
    "recurring_inclusion": RecurringInclusion,
    "annualization": Annualization,
    "date_basis": DateBasis,
}
"""`basis` keys that are binding axes: a lock on them must name the binding of a governed variant."""


@dataclass(frozen=True)
class ProfileContext:
    profile: Profile
    catalog: Catalog
    file: str

    def issue(self, rule: str, *where: str | int, message: str, severity: Severity = Severity.ERROR) -> LoadIssue:
        return LoadIssue(rule=rule, severity=severity, file=self.file, pointer=json_pointer(where), message=message)

    def definition(self, kpi_id: str) -> KpiDefinition | None:
        own = next((d for d in self.profile.definitions if d.id == kpi_id), None)
        return own or self.catalog.get(kpi_id)

    def unknown(self, rule: str, kpi_id: str, *where: str | int) -> LoadIssue:
        return self.issue(
            rule, *where, message=f"unknown KPI {kpi_id!r}: not in catalog {self.catalog.version} nor defined here"
        )


class ProfileRule(Protocol):
    name: ClassVar[str]

    def check(self, context: ProfileContext) -> list[LoadIssue]: ...


class CatalogPinned:
    """A profile approved on one catalog version is not silently applied to another."""

    name: ClassVar[str] = "catalog_pin"

    def check(self, context: ProfileContext) -> list[LoadIssue]:
        pinned, running = context.profile.catalog_version, context.catalog.version
        if pinned == running:
            return []
        return [
            context.issue(
                self.name,
                "catalog_version",
                message=f"the profile is pinned to catalog {pinned}, but the catalog is {running}: review the "
                f"locks and definitions against {running}, then set catalog_version to {running!r}",
            )
        ]


class OnePerKey:
    """One lock and one slide label per KPI, one benchmark per KPI and role, one rate per currency and date."""

    name: ClassVar[str] = "profile_unique"

    def check(self, context: ProfileContext) -> list[LoadIssue]:
        p = context.profile
        groups: list[tuple[str, Iterable[object]]] = [
            ("locks", (lock.kpi for lock in p.locks)),
            ("slide_labels", (s.kpi for s in p.slide_labels)),
            ("benchmarks", ((b.kpi, b.role) for b in p.benchmarks)),
            ("fx_rates", ((r.currency, r.on) for r in p.fx_rates)),
            ("definitions", (d.id for d in p.definitions)),
        ]
        issues = []
        for field, keys in groups:
            seen: Counter[object] = Counter()
            for index, key in enumerate(keys):
                seen[key] += 1
                if seen[key] == 2:
                    issues.append(context.issue(self.name, field, index, message=f"{key} appears more than once"))
        return issues


class LocksResolve:
    """A lock names a KPI, one of its variants and options it accepts, with values from their vocabularies."""

    name: ClassVar[str] = "lock_resolves"

    def check(self, context: ProfileContext) -> list[LoadIssue]:
        issues = []
        for index, lock in enumerate(context.profile.locks):
            kpi = context.definition(lock.kpi)
            if kpi is None:
                issues.append(context.unknown(self.name, lock.kpi, "locks", index, "kpi"))
                continue
            issues += self._variant(context, kpi, lock, index)
            for key, value in lock.basis.items():
                problem = _basis_problem(kpi, lock, key, value)
                if problem:
                    issues.append(context.issue(self.name, "locks", index, "basis", key, message=problem))
        return issues

    def _variant(self, context: ProfileContext, kpi: KpiDefinition, lock: Lock, index: int) -> list[LoadIssue]:
        if lock.variant is None or lock.variant == DEFAULT_VARIANT_ID or kpi.variant(lock.variant) is not None:
            return []
        offered = [DEFAULT_VARIANT_ID, *(v.id for v in kpi.variants)]
        return [
            context.issue(
                self.name, "locks", index, "variant", message=f"{kpi.id} has no variant {lock.variant!r}: {offered}"
            )
        ]


def _basis_problem(kpi: KpiDefinition, lock: Lock, key: str, value: str) -> str | None:
    spec = LEDGER_KPI_OPTIONS.get(kpi.id)
    option = next((k for k in OptionKey if k.value == key), None)
    if key in BINDING_KEYS:
        if value not in {member.value for member in BINDING_KEYS[key]}:
            return f"{key} is one of {[m.value for m in BINDING_KEYS[key]]}, not {value!r}"
        variant = None if lock.variant in (None, DEFAULT_VARIANT_ID) else lock.variant
        candidates = [kpi.binding_for(variant)] if lock.variant else [kpi.binding, *(v.binding for v in kpi.variants)]
        if not any(getattr(binding, key).value == value for binding in candidates):
            scope = f"variant {lock.variant!r}" if lock.variant else "any governed variant"
            return f"{key}={value} is not the binding of {scope} of {kpi.id}; lock the variant that has it"
        return None
    if option is None:
        return f"{key!r} is not a basis option; options: {sorted({*BINDING_KEYS, *(k.value for k in OptionKey)})}"
    if spec is None or option not in spec.keys:
        return f"{key!r} does not apply to {kpi.id}" + (
            "" if spec is None else f"; its options: {[k.value for k in spec.keys]}"
        )
    if parse_option(option, value, spec) is None:
        return f"{key} for {kpi.id} is one of {[v.value for v in spec.allowed(option)]}, not {value!r}"
    return None


class FxRatesValid:
    """Rates convert other currencies into the reporting currency; a rate for the reporting currency itself is 1."""

    name: ClassVar[str] = "fx_rate"

    def check(self, context: ProfileContext) -> list[LoadIssue]:
        reporting = context.profile.reporting_currency
        return [
            context.issue(
                self.name, "fx_rates", index, "currency", message=f"{reporting} is the reporting currency: no rate"
            )
            for index, rate in enumerate(context.profile.fx_rates)
            if rate.currency == reporting
        ]


class BenchmarksValid:
    """An organisation's benchmark is for a known KPI and variant, with ordered quartiles."""

    name: ClassVar[str] = "profile_benchmark"

    def check(self, context: ProfileContext) -> list[LoadIssue]:
        issues = []
        for index, org in enumerate(context.profile.benchmarks):
            kpi, bench = context.definition(org.kpi), org.benchmark
            if kpi is None:
                issues.append(context.unknown(self.name, org.kpi, "benchmarks", index, "kpi"))
            elif bench.variant is not None and kpi.variant(bench.variant) is None:
                issues.append(
                    context.issue(
                        self.name,
                        "benchmarks",
                        index,
                        "benchmark",
                        "variant",
                        message=f"{kpi.id} has no variant {bench.variant!r}",
                    )
                )
            if not bench.p25 <= bench.median <= bench.p75:
                issues.append(
                    context.issue(
                        self.name,
                        "benchmarks",
                        index,
                        "benchmark",
                        message=f"quartiles out of order: p25 {bench.p25}, median {bench.median}, p75 {bench.p75}",
                    )
                )
        return issues


class SlideLabelsResolve:
    name: ClassVar[str] = "slide_label"

    def check(self, context: ProfileContext) -> list[LoadIssue]:
        return [
            context.unknown(self.name, label.kpi, "slide_labels", index, "kpi")
            for index, label in enumerate(context.profile.slide_labels)
            if context.definition(label.kpi) is None
        ]


class DefinitionsValid:
    """The organisation's definitions pass the catalog's own rules, over the catalog as the profile changes it."""

    name: ClassVar[str] = "definition"

    def check(self, context: ProfileContext) -> list[LoadIssue]:
        own = {_path(d): index for index, d in enumerate(context.profile.definitions)}
        if not own:
            return []
        entries = [Entry(_path(d), d) for d in context.catalog if _path(d) not in own]
        entries += [Entry(_path(d), d) for d in context.profile.definitions]
        issues = []
        for rule in RULES:
            for found in rule.check(RuleContext(tuple(entries))):
                if found.file in own:
                    pointer = json_pointer(("definitions", own[found.file])) + found.pointer
                    issues.append(found.model_copy(update={"file": context.file, "pointer": pointer}))
                elif found.severity is Severity.ERROR:
                    # A catalog definition that reads a redefined KPI may no longer type-check: the profile caused it.
                    issues.append(
                        found.model_copy(
                            update={
                                "file": context.file,
                                "pointer": "/definitions",
                                "message": f"{found.file}: {found.message}",
                            }
                        )
                    )
        return issues


def _path(definition: KpiDefinition) -> str:
    return f"kpis/{definition.domain.value}/{definition.slug}.json"


class ApprovalsCurrent:
    """An organisation definition counts as approved only while it is the text that was approved.

    An approval carries the hash of the definition it approved, so any change to the definition
    leaves it `proposed` (a warning here; values computed under it say so) until approved again.
    """

    name: ClassVar[str] = "definition_approval"

    def check(self, context: ProfileContext) -> list[LoadIssue]:
        profile = context.profile
        issues = []
        for index, approval in enumerate(profile.definition_approvals):
            if not any(d.id == approval.kpi for d in profile.definitions):
                issues.append(
                    context.issue(
                        self.name,
                        "definition_approvals",
                        index,
                        "kpi",
                        message=f"approves {approval.kpi}, which this profile does not define",
                    )
                )
        for index, definition in enumerate(profile.definitions):
            if profile.definition_status(definition) is DefinitionStatus.APPROVED:
                continue
            earlier = [a for a in profile.definition_approvals if a.kpi == definition.id]
            if earlier:
                last = max(earlier, key=lambda a: a.approved_on)
                why = (
                    f"changed since {last.approver} approved it on {last.approved_on.isoformat()}; "
                    f"proposed until approved again (its hash is now {definition_hash(definition)})"
                )
            else:
                why = f"not approved yet: proposed (approve hash {definition_hash(definition)})"
            issues.append(context.issue(self.name, "definitions", index, message=why, severity=Severity.WARNING))
        return issues


PROFILE_RULES: tuple[ProfileRule, ...] = (
    CatalogPinned(),
    OnePerKey(),
    DefinitionsValid(),
    ApprovalsCurrent(),
    LocksResolve(),
    BenchmarksValid(),
    SlideLabelsResolve(),
    FxRatesValid(),
)
