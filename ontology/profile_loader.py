"""Loads a governance profile in three stages (JSON Schema, pydantic, semantic rules) against a catalog.

Like the catalog loader it reports every finding with the file and a JSON pointer, and a stage
judges only what passed the one before. `apply_profile` then gives the catalog as the
organisation sees it: its own definitions added or replacing the catalog's, its replacement
benchmarks in place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.issues import LoadIssue, Severity, errors_in, json_pointer, warnings_in
from kpi_context.ontology.profile import BenchmarkRole, DefinitionStatus, Profile, definition_hash, profile_hash
from kpi_context.ontology.profile_rules import PROFILE_RULES, ProfileContext
from kpi_context.ontology.schema import PROFILE_SCHEMA, validator_for


@dataclass(frozen=True)
class LoadedProfile:
    """A profile that passed every error-level rule, with its content hash and advisory findings."""

    profile: Profile
    content_hash: str
    warnings: tuple[LoadIssue, ...] = ()

    @property
    def id(self) -> str:
        return self.profile.organisation.id

    def status_of(self, kpi_id: str) -> DefinitionStatus | None:
        """The approval status of the organisation's own definition of `kpi_id`; None for a catalog definition."""
        own = next((d for d in self.profile.definitions if d.id == kpi_id), None)
        return None if own is None else self.profile.definition_status(own)


@dataclass(frozen=True)
class ProfileReport:
    profile: LoadedProfile | None
    issues: tuple[LoadIssue, ...]

    @property
    def errors(self) -> list[LoadIssue]:
        return errors_in(self.issues)

    @property
    def warnings(self) -> list[LoadIssue]:
        return warnings_in(self.issues)


class ProfileError(Exception):
    """The profile failed to load; `issues` lists every finding."""

    def __init__(self, issues: tuple[LoadIssue, ...]) -> None:
        self.issues = issues
        errors = errors_in(issues)
        super().__init__(f"profile has {len(errors)} error(s); first: {errors[0].render() if errors else '-'}")


def _issue(rule: str, file: str, where: tuple[str | int, ...], message: str) -> LoadIssue:
    return LoadIssue(rule=rule, severity=Severity.ERROR, file=file, pointer=json_pointer(where), message=message)


def check_profile(path: Path, catalog: Catalog) -> ProfileReport:
    """Judge the profile at `path` against `catalog` without raising."""
    file = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return ProfileReport(None, (_issue("read", file, (), f"cannot read the file: {exc}"),))
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        return ProfileReport(None, (_issue("json", file, (), message),))
    violations = validator_for(PROFILE_SCHEMA).violations(data)
    if violations:
        return ProfileReport(None, tuple(_issue("schema", file, v.path, v.message) for v in violations))
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        issues = [
            _issue("model", file, tuple(p for p in error["loc"] if isinstance(p, str | int)), error["msg"])
            for error in exc.errors()
        ]
        return ProfileReport(None, tuple(issues))
    context = ProfileContext(profile, catalog, file)
    issues = sorted((i for rule in PROFILE_RULES for i in rule.check(context)), key=lambda i: i.sort_key)
    loaded = None
    if not errors_in(issues):
        loaded = LoadedProfile(profile, profile_hash(data), tuple(warnings_in(issues)))
    return ProfileReport(loaded, tuple(issues))


def load_profile(path: Path, catalog: Catalog) -> LoadedProfile:
    report = check_profile(path, catalog)
    if report.profile is None:
        raise ProfileError(report.issues)
    return report.profile


def apply_profile(catalog: Catalog, loaded: LoadedProfile) -> Catalog:
    """The catalog as the organisation sees it. Its version and hash stay the catalog's: values cite the profile's
    own hash beside them, which covers the definitions and benchmarks it changed."""
    kpis = dict(catalog.kpis)
    for definition in loaded.profile.definitions:
        kpis[definition.id] = definition
    for org in loaded.profile.benchmarks:
        if org.role is BenchmarkRole.REPLACEMENT:
            kpis[org.kpi] = kpis[org.kpi].model_copy(update={"benchmark": org.benchmark})
    return Catalog(
        manifest=catalog.manifest,
        kpis={kpi_id: kpis[kpi_id] for kpi_id in sorted(kpis)},
        content_hash=catalog.content_hash,
        warnings=catalog.warnings,
    )


def profile_summary(loaded: LoadedProfile) -> dict[str, object]:
    """The profile in brief, as `kpi://profile` and `kpi-context profile show` give it."""
    profile = loaded.profile
    start = profile.fiscal_year_start_month
    return {
        "organisation": profile.organisation.model_dump(mode="json"),
        "content_hash": loaded.content_hash,
        "catalog_version": profile.catalog_version,
        "fiscal_year": {
            "start_month": start,
            "naming": "by the calendar year it ends in",
            "periods": "FYyyyy, FYyyyy-Qn, FYyyyy-Hn" if start != 1 else "fiscal = calendar (January start)",
        },
        "reporting_currency": profile.reporting_currency,
        "fx_rates": [
            f"1 {r.currency} = {r.rate} {profile.reporting_currency} on {r.on.isoformat()}" for r in profile.fx_rates
        ],
        "locks": [
            {
                "kpi": lock.kpi,
                "policy": lock.policy,
                **({"variant": lock.variant} if lock.variant else {}),
                **({"basis": lock.basis} if lock.basis else {}),
                "approved": f"{lock.approval.approver}, {lock.approval.approved_on.isoformat()}",
            }
            for lock in profile.locks
        ],
        "benchmarks": [
            {"kpi": b.kpi, "role": b.role.value, "source": f"{b.benchmark.source_name}, {b.benchmark.source_year}"}
            for b in profile.benchmarks
        ],
        "slide_labels": {s.kpi: s.label for s in profile.slide_labels},
        "definitions": [
            {"kpi": d.id, "status": profile.definition_status(d).value, "hash": definition_hash(d)}
            for d in profile.definitions
        ],
    }
