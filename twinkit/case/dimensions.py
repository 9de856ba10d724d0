"""Dimensions of formulas (`twinkit.case.expressions`), checked with pint units at `validate`:
a sum of different dimensions, a function of a dimensioned argument or an unknown name is an
error that names it."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from twinkit.case import units
from twinkit.case.expressions import (
    CONSTANTS,
    DIMENSIONLESS_ARGUMENT,
    RESERVED,
    Call,
    ExpressionError,
    Name,
    Node,
    Num,
    Unary,
    unit_value,
)
from twinkit.case.units import clip


def dimension(node: Node, known: Mapping[str, str | None], what: str = "") -> Any:
    """The pint unit (SI base) of a tree whose names have the SI units in `known` (None: not
    known, so not checked). ExpressionError on a sum of different dimensions, a function of a
    dimensioned argument or an unknown name (with a suggestion)."""
    ureg = units.registry()
    one = ureg.dimensionless

    def walk(n: Node) -> Any:
        if isinstance(n, Num):
            return units._unit(n.unit) if n.unit else one
        if isinstance(n, Name):
            if n.id in known:
                u = known[n.id]
                return None if u is None else units._unit(u)
            if n.id in CONSTANTS:
                return one
            try:
                unit_value(n.id)
                return units._unit(n.id)
            except KeyError:
                pass
            close = difflib.get_close_matches(n.id, [*known, *CONSTANTS], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            only = (
                " (t, x, y, z are known only where a key allows them)" if n.id in RESERVED else ""
            )
            raise ExpressionError(f"unknown name '{clip(n.id)}'{what}{only}{hint}")
        if isinstance(n, Unary):
            return walk(n.arg)
        if isinstance(n, Call):
            args = [walk(a) for a in n.args]
            if n.func in DIMENSIONLESS_ARGUMENT:
                if args[0] is not None and not args[0].dimensionless:
                    raise ExpressionError(
                        f"{n.func}() needs a dimensionless argument; it has "
                        f"{args[0].dimensionality}"
                    )
                return one
            if n.func == "sqrt":
                return None if args[0] is None else args[0] ** 0.5
            return _same(args, f"{n.func}()")
        left, right = walk(n.left), walk(n.right)
        if n.op in "+-":
            return _same([left, right], f"'{n.op}'")
        if left is None or right is None:
            return None
        if n.op == "*":
            return left * right
        if n.op == "/":
            return left / right
        assert isinstance(n.right, Num)
        return left**n.right.value

    return walk(node)


def _same(us: list, where: str) -> Any:
    known = [u for u in us if u is not None]
    for u in known[1:]:
        if u.dimensionality != known[0].dimensionality:
            raise ExpressionError(
                f"{where} joins {known[0].dimensionality} and {u.dimensionality}; "
                "the dimensions must agree"
            )
    return known[0] if len(known) == len(us) else None


NAMED_UNITS = ("1", "Pa", "N", "N/m", "W", "W/m", "W/m^2", "J", "K", "m", "s", "m/s", "kg")


def si_unit_of(u: Any) -> str:
    """A pint unit as an SI unit string: a common name where one fits ('Pa', not 'kg/m/s**2')."""
    if u is None:
        return "1"
    for name in NAMED_UNITS:
        if units._unit("" if name == "1" else name).dimensionality == u.dimensionality:
            return name
    base = units.registry().Quantity(1.0, u).to_base_units().units
    return f"{base:~}".replace(" ", "") or "1"
