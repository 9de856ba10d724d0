"""Formulas in case files: `"max_stress / (load / ((width - hole) * thickness))"`,
`"100 degC * sin(pi * t / (40 s))"`.

A small recursive-descent parser builds a tree of a few node kinds: numbers (a number followed by
a unit is a quantity: `40 s`, `100 degC`, `5 W/(m^2*K)`), names, `+ - * / **` (`^` too), unary
minus and calls of `FUNCTIONS`. Nothing is ever passed to Python's `eval`; the cost is bounded:
at most `MAX_LENGTH` characters, nesting at most `MAX_DEPTH`, exponents constant numbers within
±`MAX_EXPONENT`. The same tree is evaluated on floats (SI), on UFL (a boundary value that depends
on time `t` and position `x, y, z`), and on pint units to check dimensions at `validate`.

A name directly after a number is a unit; any other name is a variable of the context (a
parameter, QoI or probe; `t`, `x`, `y`, `z` where a key allows them), a constant (`pi`, `e`) or
else a unit (`m`, `W`, `K`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from twinkit.case import units
from twinkit.case.units import clip

MAX_LENGTH = 200
MAX_DEPTH = 32
MAX_EXPONENT = units.MAX_EXPONENT
CONSTANTS = {"pi": math.pi, "e": math.e}
# name → (number of arguments: exact, or (least, None) for any number from least)
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "sqrt": (1, 1),
    "abs": (1, 1),
    "exp": (1, 1),
    "log": (1, 1),
    "sin": (1, 1),
    "cos": (1, 1),
    "tan": (1, 1),
    "min": (2, None),
    "max": (2, None),
}
DIMENSIONLESS_ARGUMENT = ("exp", "log", "sin", "cos", "tan")
RESERVED = ("t", "x", "y", "z")  # never read as units (t would be a tonne)

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op>\*\*|[-+*/^(),]))"
)


class ExpressionError(ValueError):
    """A formula that cannot be read or whose units do not fit; the message names the token."""


@dataclass(frozen=True)
class Num:
    value: float  # SI
    unit: str  # the unit written after the number ('' for none)


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Unary:
    arg: Any


@dataclass(frozen=True)
class Binary:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple


Node = Num | Name | Unary | Binary | Call


def looks_like_expression(text: str) -> bool:
    """Whether a quantity string is a formula rather than 'number unit' (it calls a function or
    names a variable: `t`, `x`, `y`, `z`)."""
    return bool(re.search(r"\b(?:" + "|".join((*FUNCTIONS, *RESERVED)) + r")\b", text))


def parse(text: str) -> Node:
    """The tree of formula `text`; ExpressionError naming the bad token."""
    if not isinstance(text, str):
        raise ExpressionError(f"expected a formula (text), got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"'{clip(text)}' is {len(text)} characters; at most {MAX_LENGTH}")
    tokens, pos = [], 0
    while pos < len(text) and text[pos:].strip():
        m = _TOKEN.match(text, pos)
        if m is None:
            bad = text[pos:].lstrip()[:1]
            raise ExpressionError(f"'{clip(text)}': unexpected '{bad}' at position {pos + 1}")
        kind = m.lastgroup
        assert kind is not None
        tokens.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return _Parser(text, tokens).run()


class _Parser:
    def __init__(self, text: str, tokens: list[tuple[str, str, int]]):
        self.text, self.tokens, self.i, self.depth = text, tokens, 0, 0

    def fail(self, what: str) -> ExpressionError:
        if self.i < len(self.tokens):
            _, tok, at = self.tokens[self.i]
            where = f"'{clip(tok, 20)}' at position {at + 1}"
        else:
            where = "the end"
        return ExpressionError(f"'{clip(self.text)}': {what} at {where}")

    def peek(self, *values: str) -> bool:
        return self.i < len(self.tokens) and self.tokens[self.i][1] in values

    def take(self) -> tuple[str, str, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def run(self) -> Node:
        if not self.tokens:
            raise ExpressionError("an empty formula")
        node = self.expr()
        if self.i < len(self.tokens):
            raise self.fail("expected an operator")
        return node

    def expr(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested over {MAX_DEPTH} deep")
        node = self.term()
        while self.peek("+", "-"):
            node = Binary(self.take()[1], node, self.term())
        self.depth -= 1
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.peek("*", "/"):
            node = Binary(self.take()[1], node, self.factor())
        return node

    def factor(self) -> Node:
        if self.peek("-"):
            self.take()
            return Unary(self.factor())
        if self.peek("+"):
            self.take()
            return self.factor()
        node = self.atom()
        if self.peek("**", "^"):
            self.take()
            at = self.i
            exponent = self.factor()
            value = constant(exponent)
            if value is None or abs(value) > MAX_EXPONENT:
                self.i = at
                raise self.fail(f"an exponent must be a constant number within ±{MAX_EXPONENT}")
            node = Binary("**", node, Num(value, ""))
        return node

    def atom(self) -> Node:
        if self.i >= len(self.tokens):
            raise self.fail("expected a number, name or '('")
        kind, tok, _ = self.tokens[self.i]
        if tok == "(":
            self.take()
            node = self.expr()
            if not self.peek(")"):
                raise self.fail("expected ')'")
            self.take()
            return node
        if kind == "number":
            self.take()
            return self.quantity(tok)
        if kind == "name":
            self.take()
            if self.peek("("):
                return self.call(tok)
            return Name(tok)
        raise self.fail("expected a number, name or '('")

    def quantity(self, number: str) -> Num:
        """A number, with the unit that directly follows it (a name, optionally ^ exponent)."""
        if self.i < len(self.tokens) and self.tokens[self.i][0] == "name":
            if self.i + 1 >= len(self.tokens) or self.tokens[self.i + 1][1] != "(":
                unit = self.take()[1]
                if self.peek("**", "^") and self.i + 1 < len(self.tokens):
                    kind, exp, _ = self.tokens[self.i + 1]
                    if kind == "number":
                        self.i += 2
                        unit += f"^{exp}"
                text = f"{number} {unit}"
                try:
                    return Num(units.si_value(text), unit)
                except units.UnitError as e:
                    self.i -= 1
                    raise self.fail(str(e).replace(f"'{text}': ", "")) from None
        return Num(float(number), "")

    def call(self, func: str) -> Call:
        if func not in FUNCTIONS:
            self.i -= 1
            raise self.fail(f"unknown function; expected one of {', '.join(FUNCTIONS)}")
        self.take()  # (
        args = [self.expr()]
        while self.peek(","):
            self.take()
            args.append(self.expr())
        if not self.peek(")"):
            raise self.fail("expected ')' or ','")
        self.take()
        least, most = FUNCTIONS[func]
        if len(args) < least or (most is not None and len(args) > most):
            n = str(least) if least == most else f"{least} or more"
            raise ExpressionError(f"'{clip(self.text)}': {func}() takes {n} arguments")
        return Call(func, tuple(args))


def constant(node: Node) -> float | None:
    """The value of a tree without names (None if it has one)."""
    try:
        return float(evaluate(node, lambda name: (_ for _ in ()).throw(KeyError(name))))
    except (KeyError, ExpressionError, ArithmeticError, ValueError):
        return None


def names(node: Node) -> set[str]:
    """The names a tree refers to (functions excluded)."""
    if isinstance(node, Name):
        return {node.id}
    if isinstance(node, Unary):
        return names(node.arg)
    if isinstance(node, Binary):
        return names(node.left) | names(node.right)
    if isinstance(node, Call):
        return set().union(*(names(a) for a in node.args))
    return set()


_MATH: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "exp": math.exp,
    "log": math.log,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "min": min,
    "max": max,
}


def evaluate(node: Node, lookup: Callable[[str], Any], functions: Mapping | None = None) -> Any:
    """The value of a tree: names from `lookup`, functions from `functions` (math by default;
    `ufl_functions()` builds a UFL expression). Numbers are SI."""
    fns = _MATH if functions is None else functions
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name):
        return lookup(node.id)
    if isinstance(node, Unary):
        return -evaluate(node.arg, lookup, fns)
    if isinstance(node, Call):
        return fns[node.func](*(evaluate(a, lookup, fns) for a in node.args))
    a, b = evaluate(node.left, lookup, fns), evaluate(node.right, lookup, fns)
    if node.op == "+":
        return a + b
    if node.op == "-":
        return a - b
    if node.op == "*":
        return a * b
    if node.op == "/":
        return a / b
    return a**b


def unit_value(name: str) -> float:
    """SI factor of a unit used as a name (`mm` → 0.001); ExpressionError for offset units."""
    if name in RESERVED:
        raise KeyError(name)
    a, b = _unit_affine(name)
    if b != 0.0:
        raise ExpressionError(
            f"'{name}' has an offset; write a temperature as a number with it ('100 degC')"
        )
    return a


def _unit_affine(name: str) -> tuple[float, float]:
    try:
        ab = units._affine(name, None)
    except units.UnitError as e:
        raise KeyError(name) from e
    if ab is None:
        raise ExpressionError(f"'{name}' is not a linear unit")
    return ab


def resolver(values: Mapping[str, Any]) -> Callable[[str], Any]:
    """Name → value: `values` first, then the constants, then units (SI factors)."""

    def lookup(name: str) -> Any:
        if name in values:
            return values[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        try:
            return unit_value(name)
        except KeyError:
            raise ExpressionError(f"unknown name '{clip(name)}'") from None

    return lookup
