"""What every semantic rule sees and returns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from kpi_context.ontology.issues import LoadIssue, Severity, json_pointer
from kpi_context.ontology.model import Expression, FieldType, KpiDefinition


@dataclass(frozen=True)
class Entry:
    """A definition that parsed, and the file (relative to the catalog root) it came from."""

    path: str
    definition: KpiDefinition

    def issue(self, rule: str, *where: str | int, message: str, severity: Severity = Severity.ERROR) -> LoadIssue:
        return LoadIssue(rule=rule, severity=severity, file=self.path, pointer=json_pointer(where), message=message)


@dataclass(frozen=True)
class RuleContext:
    """Every parsed definition, plus the ids of files that exist but failed an earlier stage.

    Rules judge only what parsed; `known_ids` keeps them from reporting a reference to a
    file whose own errors are already on the list.
    """

    entries: tuple[Entry, ...]
    unparsed_ids: frozenset[str] = frozenset()
    _by_id: dict[str, Entry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, Entry] = {}
        for entry in self.entries:
            by_id.setdefault(entry.definition.id, entry)
        object.__setattr__(self, "_by_id", by_id)

    @property
    def by_id(self) -> Mapping[str, Entry]:
        """The first parsed definition of each id, in path order."""
        return self._by_id

    def definition(self, kpi_id: str) -> KpiDefinition | None:
        entry = self._by_id.get(kpi_id)
        return None if entry is None else entry.definition

    def is_known(self, kpi_id: str) -> bool:
        return kpi_id in self._by_id or kpi_id in self.unparsed_ids

    def merged_into(self, kpi_id: str) -> str | None:
        """The KPI a former id was merged into, if any."""
        return next((e.definition.id for e in self.entries if kpi_id in e.definition.merged_ids), None)

    def unknown_id_message(self, kpi_id: str) -> str:
        merged = self.merged_into(kpi_id)
        if merged is not None:
            return f"{kpi_id!r} was merged into {merged}; refer to {merged}"
        return f"unknown KPI id {kpi_id!r}"


class Rule(Protocol):
    """A semantic check over the whole catalog; `name` is the stable code its issues carry."""

    name: ClassVar[str]

    def check(self, context: RuleContext) -> list[LoadIssue]: ...


NUMERIC_FIELD_TYPES = frozenset({FieldType.CURRENCY, FieldType.NUMBER, FieldType.PERCENTAGE})


@dataclass(frozen=True)
class ExpressionSite:
    """An expression and where it sits in its file: the KPI's own, or one of a variant's."""

    expression: Expression
    pointer: tuple[str | int, ...]


def expression_sites(definition: KpiDefinition) -> Iterator[ExpressionSite]:
    """The KPI's expression and every variant's own expression, with their locations."""
    if definition.expression is not None:
        yield ExpressionSite(definition.expression, ("expression",))
    for index, variant in enumerate(definition.variants):
        if variant.expression is not None:
            yield ExpressionSite(variant.expression, ("variants", index, "expression"))
