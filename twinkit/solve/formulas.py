"""Formulas of a case file (`twinkit.case.expressions`) as physics values: a function
(x, pool) → UFL that reads t from the pool's time constant, or a `TimeSeries` for a table."""

from __future__ import annotations

from typing import Any

from twinkit.case.base import Q


def time_value(q: Q) -> Any:
    """A formula (of t, x, y, z, parameters) as a function (x, pool) → UFL that reads t from the
    pool's time constant; a table as a `TimeSeries`."""
    from twinkit.case import expressions as ex
    from twinkit.physics.params import Param, TimeSeries

    if q.table is not None:
        return TimeSeries(*q.table)
    tree = ex.parse(q.text)

    def value(x: Any, c: Any) -> Any:
        def lookup(name: str) -> Any:
            if name == "t":
                return c.time()
            if name in ("x", "y", "z"):
                return x["xyz".index(name)]
            if name in c.values:
                return c(Param(name))
            return ex.resolver({})(name)

        return ex.evaluate(tree, lookup, _ufl_functions())

    return value


def _ufl_functions() -> dict[str, Any]:
    """The functions of a formula as UFL operators."""
    import ufl

    def fold(f: Any) -> Any:
        def apply(*args: Any) -> Any:
            out = args[0]
            for a in args[1:]:
                out = f(out, a)
            return out

        return apply

    return {
        "sqrt": ufl.sqrt,
        "abs": abs,
        "exp": ufl.exp,
        "log": ufl.ln,
        "sin": ufl.sin,
        "cos": ufl.cos,
        "tan": ufl.tan,
        "min": fold(ufl.min_value),
        "max": fold(ufl.max_value),
    }
