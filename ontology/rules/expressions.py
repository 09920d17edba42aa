"""Formulas parse, use exactly their declared inputs, and produce the unit and grain their KPI declares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from kpi_context.ontology.binding import Binding, Unit
from kpi_context.ontology.expression import (
    ExpressionError,
    Extent,
    Node,
    Quantity,
    extent_of,
    infer,
    parse,
    quantity_of,
    referenced_names,
)
from kpi_context.ontology.issues import LoadIssue, Severity
from kpi_context.ontology.model import Expression
from kpi_context.ontology.rules.base import Entry, RuleContext

_NOT_ARITHMETIC = frozenset({Unit.TEXT, Unit.DATE})

Where = tuple[str | int, ...]


class ExpressionTypes:
    """Checks every expression against the binding its value will carry.

    A variant with its own expression is checked against the variant's binding; a variant
    that reuses the KPI's expression must still declare a binding that expression can
    produce. Unknown input KPI ids are left to `references_resolve`, and inputs whose
    definition failed to load are skipped, so one fault is reported once.
    """

    name: ClassVar[str] = "expression_types"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        issues: list[LoadIssue] = []
        for entry in context.entries:
            definition = entry.definition
            own = definition.expression
            if own is not None:
                issues.extend(self._site(context, entry, own, definition.binding, ("expression",), None))
            for index, variant in enumerate(definition.variants):
                if variant.expression is not None:
                    where: Where = ("variants", index, "expression")
                    issues.extend(self._site(context, entry, variant.expression, variant.binding, where, None))
                elif own is not None:
                    issues.extend(
                        self._site(
                            context, entry, own, variant.binding, ("expression",), ("variants", index, "binding")
                        )
                    )
        return issues

    def _site(
        self,
        context: RuleContext,
        entry: Entry,
        expression: Expression,
        binding: Binding,
        where: Where,
        inherited_by: Where | None,
    ) -> Iterator[LoadIssue]:
        """Issues of one expression judged against one binding.

        `inherited_by` is set when a variant reuses the KPI's expression: then only the
        result is judged (the expression itself was judged with the KPI) and the fault is
        reported at the variant's binding.
        """
        formula = (*where, "formula")
        try:
            tree = parse(expression.formula)
        except ExpressionError as error:
            if inherited_by is None:
                yield entry.issue(self.name, *formula, message=f"formula does not parse: {error}")
            return
        env: dict[str, Quantity] = {}
        complete = True
        for found in self._inputs(context, entry, expression, tree, where, env):
            complete = False
            if inherited_by is None:
                yield found
        if not complete or not referenced_names(tree) <= set(env):
            # An input left out of `env` (its KPI is unknown or failed to load) was reported elsewhere.
            return
        try:
            result = infer(tree, env)
        except ExpressionError as error:
            if inherited_by is None:
                yield entry.issue(self.name, *formula, message=f"formula does not type-check: {error}")
            return
        target = inherited_by or formula
        for problem in _result_mismatches(result, binding):
            yield entry.issue(self.name, *target, message=problem)

    def _inputs(
        self,
        context: RuleContext,
        entry: Entry,
        expression: Expression,
        tree: Node,
        where: Where,
        env: dict[str, Quantity],
    ) -> Iterator[LoadIssue]:
        """Fill `env` with each input's quantity and yield every fault of the declared inputs.

        An input whose KPI is unknown is left out of `env` without an issue here: `references_resolve`
        reports it, and the caller does not type a formula whose names are not all in `env`.
        """
        used = referenced_names(tree)
        declared: set[str] = set()
        for index, item in enumerate(expression.inputs):
            at = (*where, "inputs", index)
            if item.name in declared:
                yield entry.issue(self.name, *at, "name", message=f"input name {item.name!r} is declared twice")
                continue
            declared.add(item.name)
            if item.name not in used:
                yield entry.issue(
                    self.name, *at, message=f"input {item.name!r} is declared but the formula never uses it"
                )
            if item.kpi is None:
                assert item.binding is not None  # the model guarantees a raw input has its binding
                if item.variant is not None:
                    yield entry.issue(self.name, *at, "variant", message="a raw input cannot name a variant")
                if not (item.description or "").strip():
                    yield entry.issue(
                        self.name,
                        *at,
                        message=f"raw input {item.name!r} has no description of the figure it expects",
                        severity=Severity.WARNING,
                    )
                bound = item.binding
            else:
                source = context.definition(item.kpi)
                if source is None:
                    continue  # reported by references_resolve, or by the source's own file
                if item.variant is not None and source.variant(item.variant) is None:
                    known = ", ".join(v.id for v in source.variants) or "none"
                    yield entry.issue(
                        self.name,
                        *at,
                        "variant",
                        message=f"{item.kpi} has no variant {item.variant!r} (variants: {known})",
                    )
                    continue
                bound = source.binding_for(item.variant)
            if bound.unit in _NOT_ARITHMETIC:
                yield entry.issue(
                    self.name, *at, message=f"input {item.name!r} is a {bound.unit.value} value; no arithmetic applies"
                )
                continue
            env[item.name] = quantity_of(bound)
        for name in sorted(used - declared):
            yield entry.issue(
                self.name, *where, "formula", message=f"formula uses {name!r}, which is not a declared input"
            )


def _result_mismatches(result: Quantity, binding: Binding) -> Iterator[str]:
    """Why a formula's result cannot carry `binding`: its unit, or the kind of grain it yields.

    A literal-only result (scalar) is judged on unit alone. A per-entity result must describe
    the entity and population the binding names, since that is what "average per X" promises.
    """
    unit = result.unit or Unit.RATIO
    if unit != binding.unit:
        yield f"formula yields {unit.value} but the KPI is declared in {binding.unit.value}"
    if result.extent is Extent.SCALAR:
        return
    declared = extent_of(binding.grain)
    if result.extent != declared:
        yield (
            f"formula yields {result.describe()} but the binding's grain "
            f"({binding.grain.describe()}) is {Quantity(binding.unit, declared).describe()}"
        )
        return
    if result.extent is Extent.PER_ENTITY:
        if result.level is not None and result.level != binding.grain.level:
            yield f"formula averages per {result.level.value} but the binding's grain level is {binding.grain.level.value}"
        if result.population is not None and result.population != binding.grain.population:
            yield (
                f"formula averages over population {result.population.value} but the binding names "
                f"{binding.grain.population.value}"
            )
