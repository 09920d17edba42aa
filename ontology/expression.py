"""A small, safe arithmetic language for KPI formulas.

Formulas are parsed into a tree (never `eval`), type-checked for units and grains, and
evaluated with `Decimal`. The grain check is what makes the catalog refuse the classic
error of dividing a per-customer amount by a company total (the uncorrected CAC
payback formula), while allowing total ÷ count, which is how an average is formed.

Grammar:  expr := term (('+'|'-') term)* ; term := unary (('*'|'/') unary)* ;
          unary := '-' unary | atom ; atom := NUMBER | NAME | NAME '(' args ')' | '(' expr ')'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, DivisionByZero, InvalidOperation, localcontext
from enum import StrEnum

from kpi_context.ontology.binding import Aggregation, Binding, Grain, GrainLevel, Population, Unit


class ExpressionError(ValueError):
    """A formula that cannot be parsed or does not type-check."""


class Func(StrEnum):
    PER_MONTH = "per_month"
    PER_YEAR = "per_year"
    PERCENT = "percent"
    RATIO = "ratio"
    MIN = "min"
    MAX = "max"


_ARITY = {Func.PER_MONTH: 1, Func.PER_YEAR: 1, Func.PERCENT: 1, Func.RATIO: 1, Func.MIN: 2, Func.MAX: 2}


@dataclass(frozen=True)
class Num:
    value: Decimal


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class Neg:
    operand: Node


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    func: Func
    args: tuple[Node, ...]


Node = Num | Ref | Neg | BinOp | Call

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<name>[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)?)|(?P<op>[-+*/(),]))")


def _tokenize(formula: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(formula):
        if formula[pos:].strip() == "":
            break
        match = _TOKEN.match(formula, pos)
        if match is None or match.lastgroup is None:
            raise ExpressionError(f"unexpected character {formula[pos:].lstrip()[:1]!r} at position {pos}")
        tokens.append((match.lastgroup, match.group(match.lastgroup), match.start(match.lastgroup)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, formula: str) -> None:
        self.tokens = _tokenize(formula)
        self.i = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, text: str | None = None) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise ExpressionError(f"formula ends early; expected {text or 'an operand'}")
        if text is not None and tok[1] != text:
            raise ExpressionError(f"expected {text!r} at position {tok[2]}, found {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.expr()
        tok = self.peek()
        if tok is not None:
            raise ExpressionError(f"unexpected {tok[1]!r} at position {tok[2]}")
        return node

    def expr(self) -> Node:
        node = self.term()
        while (tok := self.peek()) is not None and tok[1] in "+-" and tok[0] == "op":
            self.take()
            node = BinOp(tok[1], node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while (tok := self.peek()) is not None and tok[1] in "*/" and tok[0] == "op":
            self.take()
            node = BinOp(tok[1], node, self.unary())
        return node

    def unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok[1] == "-":
            self.take()
            return Neg(self.unary())
        return self.atom()

    def atom(self) -> Node:
        kind, text, pos = self.take()
        if kind == "num":
            return Num(Decimal(text))
        if kind == "name":
            nxt = self.peek()
            if nxt is not None and nxt[1] == "(":
                return self.call(text, pos)
            return Ref(text)
        if text == "(":
            node = self.expr()
            self.take(")")
            return node
        raise ExpressionError(f"expected an operand at position {pos}, found {text!r}")

    def call(self, name: str, pos: int) -> Node:
        try:
            func = Func(name)
        except ValueError:
            known = ", ".join(f.value for f in Func)
            raise ExpressionError(f"unknown function {name!r} at position {pos}; known: {known}") from None
        self.take("(")
        args = [self.expr()]
        while (tok := self.peek()) is not None and tok[1] == ",":
            self.take()
            args.append(self.expr())
        self.take(")")
        if len(args) != _ARITY[func]:
            raise ExpressionError(f"{func.value}() takes {_ARITY[func]} argument(s), got {len(args)}")
        return Call(func, tuple(args))


@functools.lru_cache(maxsize=1024)
def parse(formula: str) -> Node:
    """Parse a formula into a tree; raises ExpressionError with the position of the fault.

    Trees are immutable and the catalog's formulas few, so each is parsed once, not on every compute.
    """
    return _Parser(formula).parse()


def referenced_names(node: Node) -> set[str]:
    match node:
        case Num():
            return set()
        case Ref(name=name):
            return {name}
        case Neg(operand=operand):
            return referenced_names(operand)
        case BinOp(left=left, right=right):
            return referenced_names(left) | referenced_names(right)
        case Call(args=args):
            return set().union(*(referenced_names(a) for a in args))


# --- type checking -------------------------------------------------------------


class Extent(StrEnum):
    """What kind of quantity an operand is, for the grain algebra."""

    TOTAL = "total"
    """An extensive amount summed over a population (company ARR, new-logo count)."""
    PER_ENTITY = "per_entity"
    """An amount describing one entity (average per new customer, one contract)."""
    INTENSIVE = "intensive"
    """A rate or ratio; combines with either of the others."""
    SCALAR = "scalar"
    """A literal number."""


@dataclass(frozen=True)
class Quantity:
    unit: Unit | None  # None: a dimensionless literal
    extent: Extent
    level: GrainLevel | None = None
    population: Population | None = None

    def describe(self) -> str:
        match self.extent:
            case Extent.TOTAL:
                pop = self.population.value.replace("_", " ") if self.population else "?"
                return f"a total over {pop}"
            case Extent.PER_ENTITY:
                level = self.level.value.replace("_", " ") if self.level else "?"
                return f"an amount per {level}"
            case Extent.INTENSIVE:
                return "a rate"
            case Extent.SCALAR:
                return "a number"


def quantity_of(binding: Binding) -> Quantity:
    grain = binding.grain
    return Quantity(binding.unit, extent_of(grain), grain.level, grain.population)


def extent_of(grain: Grain) -> Extent:
    match grain.aggregation:
        case Aggregation.TOTAL:
            return Extent.TOTAL
        case Aggregation.MEAN | Aggregation.MEDIAN | Aggregation.SINGLE:
            return Extent.PER_ENTITY
        case Aggregation.RATE:
            return Extent.INTENSIVE


_DIMENSIONLESS = {None, Unit.RATIO}
_CUSTOMER_POPULATIONS = {
    Population.ALL_ACTIVE,
    Population.NEW_LOGOS_IN_PERIOD,
    Population.STARTING_COHORT,
    Population.CHURNED_IN_PERIOD,
    Population.EXISTING_CUSTOMERS,
    Population.DEALS_CLOSED_IN_PERIOD,
    Population.AT_RISK,
    Population.TOP_CUSTOMERS,
}


def _name(unit: Unit | None) -> str:
    return "a plain number" if unit is None else unit.value


def _sum_type(op: str, a: Quantity, b: Quantity) -> Quantity:
    if a.unit != b.unit and not ({a.unit, b.unit} <= {None, Unit.RATIO}):
        raise ExpressionError(f"cannot {'add' if op == '+' else 'subtract'} {_name(b.unit)} and {_name(a.unit)}")
    if Extent.SCALAR in (a.extent, b.extent):
        other = b if a.extent is Extent.SCALAR else a
        return Quantity(a.unit or b.unit, other.extent, other.level, other.population)
    if a.extent != b.extent:
        raise ExpressionError(f"grain mismatch: cannot combine {a.describe()} with {b.describe()} using '{op}'")
    if a.extent is Extent.PER_ENTITY and (a.level, a.population) != (b.level, b.population):
        raise ExpressionError(f"grain mismatch: {a.describe()} and {b.describe()} describe different entities")
    return a


def _product_unit(a: Unit | None, b: Unit | None) -> Unit | None:
    if a in _DIMENSIONLESS:
        return b if b is not None else a
    if b in _DIMENSIONLESS:
        return a
    if {a, b} == {Unit.CURRENCY_PER_MONTH, Unit.MONTHS}:
        return Unit.CURRENCY
    raise ExpressionError(f"cannot multiply {_name(a)} by {_name(b)}")


def _quotient_unit(a: Unit | None, b: Unit | None) -> Unit | None:
    if b in _DIMENSIONLESS:
        return a
    if a == b:
        return Unit.RATIO
    table = {
        (Unit.CURRENCY, Unit.COUNT): Unit.CURRENCY,
        (Unit.CURRENCY_PER_MONTH, Unit.COUNT): Unit.CURRENCY_PER_MONTH,
        (Unit.CURRENCY, Unit.CURRENCY_PER_MONTH): Unit.MONTHS,
        (Unit.CURRENCY, Unit.MONTHS): Unit.CURRENCY_PER_MONTH,
        (Unit.COUNT, Unit.COUNT): Unit.RATIO,
    }
    found = table.get((a, b)) if a is not None and b is not None else None
    if found is None:
        raise ExpressionError(f"cannot divide {_name(a)} by {_name(b)}")
    return found


def _product_type(a: Quantity, b: Quantity) -> Quantity:
    unit = _product_unit(a.unit, b.unit)
    if {a.extent, b.extent} == {Extent.PER_ENTITY, Extent.TOTAL}:
        raise ExpressionError(f"grain mismatch: cannot multiply {a.describe()} by {b.describe()}")
    dominant = a if a.extent in (Extent.TOTAL, Extent.PER_ENTITY) else b
    extent = dominant.extent if dominant.extent not in (Extent.SCALAR,) else Extent.SCALAR
    return Quantity(unit, extent, dominant.level, dominant.population)


def _quotient_type(a: Quantity, b: Quantity) -> Quantity:
    unit = _quotient_unit(a.unit, b.unit)
    pair = (a.extent, b.extent)
    if pair in ((Extent.PER_ENTITY, Extent.TOTAL), (Extent.TOTAL, Extent.PER_ENTITY)):
        raise ExpressionError(
            f"grain mismatch: divides {a.describe()} by {b.describe()}; "
            "divide totals by totals, or per-entity amounts by per-entity amounts"
        )
    if b.extent in (Extent.SCALAR, Extent.INTENSIVE):
        return Quantity(unit, a.extent, a.level, a.population)
    if a.extent in (Extent.SCALAR, Extent.INTENSIVE):
        return Quantity(unit, Extent.INTENSIVE)
    if pair == (Extent.TOTAL, Extent.TOTAL):
        if b.unit is Unit.COUNT and a.unit is not Unit.COUNT:
            if (
                a.population in _CUSTOMER_POPULATIONS
                and b.population in _CUSTOMER_POPULATIONS
                and a.population != b.population
            ):
                raise ExpressionError(
                    f"population mismatch: averages {a.describe()} over a count of {b.describe()[10:]}"
                )
            return Quantity(unit, Extent.PER_ENTITY, b.level, b.population)
        return Quantity(unit, Extent.INTENSIVE)
    # per-entity ÷ per-entity
    if a.level != b.level:
        raise ExpressionError(f"grain mismatch: divides {a.describe()} by {b.describe()}")
    return Quantity(unit, Extent.INTENSIVE)


def _call_type(func: Func, args: list[Quantity]) -> Quantity:
    (first, *rest) = args
    match func:
        case Func.PER_MONTH:
            if first.unit is not Unit.CURRENCY:
                raise ExpressionError(f"per_month() takes an annual currency amount, not {_name(first.unit)}")
            return Quantity(Unit.CURRENCY_PER_MONTH, first.extent, first.level, first.population)
        case Func.PER_YEAR:
            if first.unit is not Unit.CURRENCY_PER_MONTH:
                raise ExpressionError(f"per_year() takes a monthly currency amount, not {_name(first.unit)}")
            return Quantity(Unit.CURRENCY, first.extent, first.level, first.population)
        case Func.PERCENT:
            if first.unit not in _DIMENSIONLESS:
                raise ExpressionError(f"percent() takes a ratio, not {_name(first.unit)}")
            return Quantity(Unit.PERCENT, first.extent, first.level, first.population)
        case Func.RATIO:
            if first.unit is not Unit.PERCENT:
                raise ExpressionError(f"ratio() takes a percent, not {_name(first.unit)}")
            return Quantity(Unit.RATIO, first.extent, first.level, first.population)
        case Func.MIN | Func.MAX:
            # A literal bound (max(net_burn, 0)) takes the other operand's unit: clamping is not arithmetic.
            other = rest[0]
            if Extent.SCALAR in (first.extent, other.extent) and first.extent != other.extent:
                return other if first.extent is Extent.SCALAR else first
            return _sum_type("+", first, other)


def infer(node: Node, env: Mapping[str, Quantity]) -> Quantity:
    """The unit and grain of a formula's result, or ExpressionError naming the fault."""
    match node:
        case Num():
            return Quantity(None, Extent.SCALAR)
        case Ref(name=name):
            if name not in env:
                raise ExpressionError(f"formula uses {name!r}, which is not a declared input")
            return env[name]
        case Neg(operand=operand):
            return infer(operand, env)
        case BinOp(op=op, left=left, right=right):
            a, b = infer(left, env), infer(right, env)
            match op:
                case "+" | "-":
                    return _sum_type(op, a, b)
                case "*":
                    return _product_type(a, b)
                case _:
                    return _quotient_type(a, b)
        case Call(func=func, args=args):
            return _call_type(func, [infer(a, env) for a in args])


# --- evaluation ----------------------------------------------------------------


class UndefinedResult(ArithmeticError):
    """The formula has no value for these inputs (e.g. a division by zero)."""


_TWELVE = Decimal(12)
_HUNDRED = Decimal(100)


def evaluate(node: Node, values: Mapping[str, Decimal]) -> Decimal:
    """Exact decimal evaluation; raises UndefinedResult for division by zero."""
    with localcontext() as ctx:
        ctx.prec = 34
        ctx.traps[DivisionByZero] = True
        ctx.traps[InvalidOperation] = True
        return _eval(node, values)


def _eval(node: Node, values: Mapping[str, Decimal]) -> Decimal:
    match node:
        case Num(value=value):
            return value
        case Ref(name=name):
            return values[name]
        case Neg(operand=operand):
            return -_eval(operand, values)
        case BinOp(op=op, left=left, right=right):
            a, b = _eval(left, values), _eval(right, values)
            match op:
                case "+":
                    return a + b
                case "-":
                    return a - b
                case "*":
                    return a * b
                case _:
                    if b == 0:
                        raise UndefinedResult(f"division by zero: the denominator {_render(right)} is 0")
                    return a / b
        case Call(func=func, args=args):
            vals = [_eval(a, values) for a in args]
            match func:
                case Func.PER_MONTH:
                    return vals[0] / _TWELVE
                case Func.PER_YEAR:
                    return vals[0] * _TWELVE
                case Func.PERCENT:
                    return vals[0] * _HUNDRED
                case Func.RATIO:
                    return vals[0] / _HUNDRED
                case Func.MIN:
                    return min(vals)
                case Func.MAX:
                    return max(vals)


def _render(node: Node) -> str:
    match node:
        case Num(value=value):
            return str(value)
        case Ref(name=name):
            return name
        case Neg(operand=operand):
            return f"-{_render(operand)}"
        case BinOp(op=op, left=left, right=right):
            return f"({_render(left)} {op} {_render(right)})"
        case Call(func=func, args=args):
            return f"{func.value}({', '.join(_render(a) for a in args)})"
