"""Each id is defined once, in the file its id names."""

from __future__ import annotations

from typing import ClassVar

from kpi_context.ontology.issues import LoadIssue
from kpi_context.ontology.rules.base import RuleContext


def expected_path(kpi_id: str) -> str:
    """Where the definition of `kpi_id` must live, relative to the catalog root."""
    domain, _, slug = kpi_id.partition(".")
    return f"kpis/{domain}/{slug}.json"


class UniqueIds:
    name: ClassVar[str] = "unique_ids"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        issues = []
        for entry in context.entries:
            first = context.by_id[entry.definition.id]
            if first is not entry:
                issues.append(
                    entry.issue(
                        self.name, "id", message=f"id {entry.definition.id!r} is already defined in {first.path}"
                    )
                )
        return issues


class IdMatchesPath:
    name: ClassVar[str] = "id_matches_path"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        issues = []
        for entry in context.entries:
            expected = expected_path(entry.definition.id)
            if entry.path != expected:
                issues.append(
                    entry.issue(
                        self.name,
                        "id",
                        message=f"id {entry.definition.id!r} must be defined in {expected}, not {entry.path}",
                    )
                )
        return issues
