"""Every KPI id a definition mentions names a definition in the catalog."""

from __future__ import annotations

from typing import ClassVar

from kpi_context.ontology.issues import LoadIssue, Severity
from kpi_context.ontology.rules.base import RuleContext, expression_sites


class ReferencesResolve:
    name: ClassVar[str] = "references_resolve"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        issues = []
        for entry in context.entries:
            definition = entry.definition
            listed = (("related_kpi_ids", definition.related_kpi_ids), ("must_pair_with", definition.must_pair_with))
            for field, ids in listed:
                for index, kpi_id in enumerate(ids):
                    if not context.is_known(kpi_id):
                        issues.append(entry.issue(self.name, field, index, message=context.unknown_id_message(kpi_id)))
                    elif kpi_id == definition.id:
                        issues.append(
                            entry.issue(
                                self.name,
                                field,
                                index,
                                message=f"{field} lists the KPI itself",
                                severity=Severity.WARNING,
                            )
                        )
            for site in expression_sites(definition):
                for index, item in enumerate(site.expression.inputs):
                    if item.kpi is not None and not context.is_known(item.kpi):
                        issues.append(
                            entry.issue(
                                self.name,
                                *site.pointer,
                                "inputs",
                                index,
                                "kpi",
                                message=f"input {item.name!r} reads {context.unknown_id_message(item.kpi)}",
                            )
                        )
        return issues
