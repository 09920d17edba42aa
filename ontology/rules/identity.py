"""Each id is defined once, in the file its id names; each label and each merged id names one KPI."""

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


class UniqueLabels:
    """No two KPIs share a label: a model that reads a label must know which KPI it names."""

    name: ClassVar[str] = "unique_labels"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        issues = []
        first: dict[str, str] = {}
        for entry in context.by_id.values():
            key = entry.definition.label.casefold()
            if key in first:
                issues.append(
                    entry.issue(
                        self.name,
                        "label",
                        message=f"label {entry.definition.label!r} is already the label of {first[key]}; "
                        "give the look-alike a label that says how it differs",
                    )
                )
            else:
                first[key] = entry.definition.id
        return issues


class MergedIdsDistinct:
    """A merged id stands for exactly one KPI and is no longer defined on its own."""

    name: ClassVar[str] = "merged_ids"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        issues = []
        owner: dict[str, str] = {}
        for entry in context.by_id.values():
            for index, merged in enumerate(entry.definition.merged_ids):
                problem = None
                if context.is_known(merged):
                    problem = f"{merged} is still defined as a KPI of its own; remove its file or this merge"
                elif merged in owner:
                    problem = f"{merged} is already merged into {owner[merged]}"
                if problem:
                    issues.append(entry.issue(self.name, "merged_ids", index, message=problem))
                else:
                    owner[merged] = entry.definition.id
        return issues
