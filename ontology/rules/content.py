"""Rules about a single definition's content: benchmarks, sources, units, variants, production."""

from __future__ import annotations

from typing import ClassVar

from kpi_context.ontology.binding import Unit
from kpi_context.ontology.issues import LoadIssue, Severity
from kpi_context.ontology.model import DEFAULT_VARIANT_ID, FieldType, Production, Tier
from kpi_context.ontology.rules.base import NUMERIC_FIELD_TYPES, RuleContext

# The public format writes the percent unit as '%'; a percent KPI's benchmark must use it too, or a
# quartile of 0.72 would be read against values on the 0–100 scale.
_PERCENT_LABELS = frozenset({"%", "percent"})

_UNIT_FOR_FIELD_TYPE: dict[FieldType, frozenset[Unit]] = {
    FieldType.CURRENCY: frozenset({Unit.CURRENCY, Unit.CURRENCY_PER_MONTH}),
    FieldType.PERCENTAGE: frozenset({Unit.PERCENT}),
    FieldType.NUMBER: frozenset({Unit.COUNT, Unit.RATIO, Unit.MONTHS, Unit.DAYS, Unit.SCORE}),
    FieldType.TEXT: frozenset({Unit.TEXT}),
    FieldType.DATE: frozenset({Unit.DATE}),
}


class BenchmarkOrder:
    """Quartiles must be ordered; an inverted benchmark would place every value in the wrong band."""

    name: ClassVar[str] = "benchmark_order"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        issues = []
        for entry in context.entries:
            bench = entry.definition.benchmark
            if bench is not None and not (bench.p25 <= bench.median <= bench.p75):
                issues.append(
                    entry.issue(
                        self.name,
                        "benchmark",
                        message=f"quartiles out of order: p25 {bench.p25}, median {bench.median}, p75 {bench.p75}",
                    )
                )
            if bench is not None and bench.variant is not None and entry.definition.variant(bench.variant) is None:
                issues.append(
                    entry.issue(
                        self.name,
                        "benchmark",
                        "variant",
                        message=f"benchmark names variant {bench.variant!r}, which the KPI does not define",
                    )
                )
        return issues


class PublishedSourceNamed:
    """A `published` tier is a claim about an outside source; it must say which one and when."""

    name: ClassVar[str] = "published_source"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        issues = []
        for entry in context.entries:
            source = entry.definition.definition_source
            if source.tier is not Tier.PUBLISHED:
                continue
            if not (source.source_name or "").strip():
                issues.append(
                    entry.issue(
                        self.name, "definition_source", "source_name", message="published tier without a source name"
                    )
                )
            if source.publication_date is None:
                issues.append(
                    entry.issue(
                        self.name,
                        "definition_source",
                        "publication_date",
                        message="published tier without a publication date",
                    )
                )
        return issues


class UnitsConsistent:
    """Field type, binding unit and benchmark unit must agree, so percent values are never scaled twice."""

    name: ClassVar[str] = "units_consistent"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        issues = []
        for entry in context.entries:
            definition = entry.definition
            unit = definition.binding.unit
            allowed = _UNIT_FOR_FIELD_TYPE[definition.field_type]
            if unit not in allowed:
                issues.append(
                    entry.issue(
                        self.name,
                        "binding",
                        "unit",
                        message=f"a {definition.field_type.value} KPI cannot have unit {unit.value}",
                    )
                )
            bench = definition.benchmark
            if bench is not None and (unit is Unit.PERCENT) != (bench.unit.strip().lower() in _PERCENT_LABELS):
                issues.append(
                    entry.issue(
                        self.name,
                        "benchmark",
                        "unit",
                        message=f"benchmark unit {bench.unit!r} does not match the KPI's unit {unit.value}",
                    )
                )
            if unit is Unit.PERCENT and definition.unit_label not in (None, "%"):
                issues.append(
                    entry.issue(
                        self.name, "unit_label", message=f"a percent KPI is labelled {definition.unit_label!r}, not '%'"
                    )
                )
        return issues


class VariantsValid:
    """Variant ids are unique and distinct from the default, and a variant differs from the default."""

    name: ClassVar[str] = "variants_valid"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        issues = []
        for entry in context.entries:
            definition = entry.definition
            seen: set[str] = set()
            for index, variant in enumerate(definition.variants):
                if variant.id == DEFAULT_VARIANT_ID or variant.id in seen:
                    issues.append(
                        entry.issue(
                            self.name,
                            "variants",
                            index,
                            "id",
                            message=f"variant id {variant.id!r} is reserved or repeated",
                        )
                    )
                seen.add(variant.id)
                same_rules = variant.binding == definition.binding and variant.expression in (
                    None,
                    definition.expression,
                )
                if same_rules:
                    issues.append(
                        entry.issue(
                            self.name,
                            "variants",
                            index,
                            message=f"variant {variant.id!r} has the default's binding and formula; it governs nothing",
                        )
                    )
                if variant.binding.unit != definition.binding.unit:
                    issues.append(
                        entry.issue(
                            self.name,
                            "variants",
                            index,
                            "binding",
                            "unit",
                            message="a variant must keep the KPI's unit; a different unit is a different KPI",
                        )
                    )
            if definition.variants and definition.field_type not in NUMERIC_FIELD_TYPES:
                issues.append(entry.issue(self.name, "variants", message="only numeric KPIs can have variants"))
        return issues


class ProductionMatchesExpression:
    """Computed KPIs carry a formula; primary ones are reported and must not pretend to have one."""

    name: ClassVar[str] = "production"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        issues = []
        for entry in context.entries:
            definition = entry.definition
            numeric = definition.field_type in NUMERIC_FIELD_TYPES
            match definition.production:
                case Production.COMPUTED:
                    if not numeric:
                        issues.append(
                            entry.issue(self.name, "production", message="text and date KPIs are primary, not computed")
                        )
                    elif definition.expression is None:
                        issues.append(
                            entry.issue(self.name, "expression", message="a computed KPI needs an expression")
                        )
                case Production.PRIMARY:
                    if definition.expression is not None:
                        issues.append(
                            entry.issue(
                                self.name, "expression", message="a primary KPI is reported, so it has no expression"
                            )
                        )
            if definition.field_type is FieldType.TEXT and not (definition.narrative_guidance or "").strip():
                issues.append(
                    entry.issue(
                        self.name,
                        "narrative_guidance",
                        message="a text KPI must say what belongs in it (narrative_guidance)",
                    )
                )
            if numeric and definition.drift_risk is None:
                issues.append(
                    entry.issue(
                        self.name, "drift_risk", message="numeric KPI without a drift risk", severity=Severity.WARNING
                    )
                )
        return issues
