"""The semantic rules, stage three of loading: each a small class judging the parsed catalog."""

from __future__ import annotations

from kpi_context.ontology.rules.base import Rule
from kpi_context.ontology.rules.content import (
    BenchmarkOrder,
    ProductionMatchesExpression,
    PublishedSourceNamed,
    UnitsConsistent,
    VariantsValid,
)
from kpi_context.ontology.rules.cycles import NoComputedCycles
from kpi_context.ontology.rules.expressions import ExpressionTypes
from kpi_context.ontology.rules.identity import IdMatchesPath, MergedIdsDistinct, UniqueIds, UniqueLabels
from kpi_context.ontology.rules.input_bindings import InputsCarryResultRules, InputsCoverResultWindow
from kpi_context.ontology.rules.polarity import PolarityAndRangeDeclared
from kpi_context.ontology.rules.references import ReferencesResolve

RULES: tuple[Rule, ...] = (
    UniqueIds(),
    IdMatchesPath(),
    UniqueLabels(),
    MergedIdsDistinct(),
    ReferencesResolve(),
    NoComputedCycles(),
    ExpressionTypes(),
    InputsCarryResultRules(),
    InputsCoverResultWindow(),
    BenchmarkOrder(),
    PublishedSourceNamed(),
    UnitsConsistent(),
    VariantsValid(),
    ProductionMatchesExpression(),
    PolarityAndRangeDeclared(),
)
"""Every rule the loader runs, in the order their findings are most useful to read."""
