"""Derived outputs: QoIs of type `expression`, formulas of other QoIs, probes and parameters
(`kt: {type: expression, value: "max_stress / (load / ((width - hole) * thickness))"}`).

Checked at validate (every name known, dimensions consistent, `twinkit.case.expressions`) and
evaluated after each solve, in the order the QoIs are written: an expression may use the
expressions above it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twinkit.case import dimensions as dims
from twinkit.case import expressions as ex
from twinkit.case.spec import CaseSpec

UnitsOf = Callable[[CaseSpec, str], tuple[str, ...]]  # objectives.output_units


def expression_qois(case: CaseSpec) -> dict[str, str]:
    """name → formula of the case's expression QoIs, in the order written."""
    return {n: q.value or "" for n, q in case.outputs.qoi.items() if q.type == "expression"}


def _check(case: CaseSpec, units_of: UnitsOf) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(SI unit of each valid expression QoI, errors)."""
    known: dict[str, str | None] = {}
    for name in case.parameters:
        known[name] = case.parameter_unit(name)
    for name in case.probes:
        known[name] = _single(units_of(case, name))
    formulas = expression_qois(case)
    for name in case.outputs.qoi:
        if name not in formulas:
            known[name] = _single(units_of(case, name))
    found, errors = {}, []
    for name, text in formulas.items():
        key = f"outputs.qoi.{name}.value"
        if not text:
            errors.append(
                (key, "required by type expression (a formula of QoIs, probes, parameters)")
            )
            continue
        try:
            tree = ex.parse(text)
            own = ex.names(tree) & {name}
            if own:
                raise ex.ExpressionError(f"'{name}' refers to itself")
            unit = dims.si_unit_of(
                dims.dimension(tree, known, " (not a parameter, QoI, probe or unit)")
            )
        except ex.ExpressionError as e:
            errors.append((key, str(e)))
            known.pop(name, None)
            continue
        found[name] = known[name] = unit
    for name, q in case.outputs.qoi.items():
        if q.value is not None and q.type != "expression":
            errors.append((f"outputs.qoi.{name}.value", "applies only to type expression"))
    return found, errors


def _single(us: tuple[str, ...]) -> str | None:
    return us[0] if len(us) == 1 else None  # a file mesh's per-depth QoI: its dimension is unknown


def expression_errors(case: CaseSpec, units_of: UnitsOf) -> list[tuple[str, str]]:
    """(key path, message) of each expression QoI that cannot be read or whose units clash."""
    return _check(case, units_of)[1]


def expression_unit(case: CaseSpec, name: str, units_of: UnitsOf) -> str:
    """The SI unit of expression QoI `name` ('1' if it does not check)."""
    return _check(case, units_of)[0].get(name, "1")


def evaluate_expressions(
    case: CaseSpec,
    qoi: Mapping[str, float],
    sensors: Mapping[str, float],
    params: Mapping[str, Any],
) -> dict[str, float]:
    """The expression QoIs' values (SI) from the solve's QoIs, probe values and parameters;
    NaN where the arithmetic fails (a division by zero)."""
    values: dict[str, Any] = {**params, **sensors, **qoi}
    out = {}
    for name, text in expression_qois(case).items():
        try:
            v = float(ex.evaluate(ex.parse(text), ex.resolver(values)))
        except (ArithmeticError, ValueError):
            v = float("nan")
        out[name] = values[name] = v
    return out
