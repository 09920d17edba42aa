"""Rules about which way a KPI is good and where its true values lie."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from kpi_context.ontology.binding import Unit
from kpi_context.ontology.issues import LoadIssue
from kpi_context.ontology.model import KpiDefinition, PlausibleRange
from kpi_context.ontology.rules.base import NUMERIC_FIELD_TYPES, Entry, RuleContext, expression_sites

# Raw figures in these units are where a scale slip hides (0.76 entered for 76 %), so each needs a range.
_RANGED_RAW_UNITS = frozenset({Unit.PERCENT, Unit.RATIO})


def _describe(bounds: PlausibleRange) -> str:
    low = "-inf" if bounds.min is None else str(bounds.min)
    high = "+inf" if bounds.max is None else str(bounds.max)
    return f"[{low}, {high}]"


class PolarityAndRangeDeclared:
    """Every numeric KPI says which way is good and where its values lie; text and date KPIs say neither.

    The range is what lets a bare figure be checked for a scale or unit slip, so benchmark quartiles
    must fall inside it, and a raw percent or ratio input of a formula must carry its own.
    """

    name: ClassVar[str] = "polarity_and_range"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        issues: list[LoadIssue] = []
        for entry in context.entries:
            definition = entry.definition
            if definition.field_type in NUMERIC_FIELD_TYPES:
                issues.extend(self._numeric(entry, definition))
            else:
                issues.extend(self._not_numeric(entry, definition))
            issues.extend(self._raw_inputs(entry, definition))
        return issues

    def _numeric(self, entry: Entry, definition: KpiDefinition) -> list[LoadIssue]:
        issues = []
        kind = definition.field_type.value
        if definition.polarity is None:
            issues.append(
                entry.issue(self.name, "polarity", message=f"a {kind} KPI must state its polarity (which way is good)")
            )
        bounds = definition.plausible_range
        if bounds is None:
            issues.append(
                entry.issue(
                    self.name, "plausible_range", message=f"a {kind} KPI must state the range its true values lie in"
                )
            )
            return issues
        bench = definition.benchmark
        if bench is not None:
            for quartile, value in (("p25", bench.p25), ("median", bench.median), ("p75", bench.p75)):
                if not bounds.contains(Decimal(str(value))):
                    issues.append(
                        entry.issue(
                            self.name,
                            "benchmark",
                            quartile,
                            message=f"benchmark {quartile} {value} lies outside the plausible range {_describe(bounds)}",
                        )
                    )
        return issues

    def _not_numeric(self, entry: Entry, definition: KpiDefinition) -> list[LoadIssue]:
        kind = definition.field_type.value
        issues = []
        if definition.polarity is not None:
            issues.append(
                entry.issue(self.name, "polarity", message=f"a {kind} KPI has no direction; remove its polarity")
            )
        if definition.plausible_range is not None:
            issues.append(
                entry.issue(
                    self.name,
                    "plausible_range",
                    message=f"a {kind} KPI has no numeric range; remove its plausible_range",
                )
            )
        return issues

    def _raw_inputs(self, entry: Entry, definition: KpiDefinition) -> list[LoadIssue]:
        issues = []
        for site in expression_sites(definition):
            for index, item in enumerate(site.expression.inputs):
                at = (*site.pointer, "inputs", index, "plausible_range")
                if item.kpi is not None:
                    if item.plausible_range is not None:
                        issues.append(
                            entry.issue(
                                self.name,
                                *at,
                                message=f"input {item.name!r} reads {item.kpi}, whose own range applies; remove this one",
                            )
                        )
                    continue
                if item.binding is not None and item.binding.unit in _RANGED_RAW_UNITS and item.plausible_range is None:
                    issues.append(
                        entry.issue(
                            self.name,
                            *at,
                            message=f"raw {item.binding.unit.value} input {item.name!r} must state its plausible range",
                        )
                    )
        return issues
