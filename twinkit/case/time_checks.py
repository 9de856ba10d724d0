"""The case's values in time checked: formulas of `t`, `x`, `y`, `z` and parameters with the
dimension of their key; `t` and tables only in a transient run (heat_conduction,
thermo_elasticity). A formula of position alone (a material property, a prescribed temperature)
is sampled over the bounding box of a generated mesh (a mesh file's nodes are checked at solve:
`twinkit.solve.build`)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from twinkit.case import dimensions, expressions, units
from twinkit.case.base import Q, rule_error
from twinkit.case.spec import CaseSpec, quantities
from twinkit.case.timevalues import VARIABLES
from twinkit.case.units import clip

TRANSIENT_MODELS = ("heat_conduction", "thermo_elasticity")
RUN = "a transient run (solver.time) of heat_conduction or thermo_elasticity"


def time_value_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """Formulas whose names or dimension do not fit their key, or whose values break its rule;
    `t` or a table in a steady run or in a model without time stepping."""
    transient = case.solver.time is not None and case.model in TRANSIENT_MODELS
    errors = []
    if case.outputs.fields_every is not None and not transient:
        errors.append(("outputs.fields_every", f"applies only to {RUN}"))
    for path, q in quantities(case):
        if q.table is not None and not transient:
            errors.append((path, f"a table in time needs {RUN}"))
        if not q.formula:
            continue
        known: dict[str, str | None] = {n: case.parameter_unit(n) for n in case.parameters}
        has_t = transient and not q.steady
        known |= {k: u for k, u in VARIABLES.items() if k != "t" or has_t}
        try:
            tree = expressions.parse(q.text)
            got = dimensions.dimension(tree, known, " (not t, x, y, z, a parameter or a unit)")
        except expressions.ExpressionError as e:
            if "'t'" in str(e) and q.steady:
                e = expressions.ExpressionError("t is not known here: a formula of x, y, z only")
            elif "'t'" in str(e) and not transient:
                e = expressions.ExpressionError(f"t is known only in {RUN}")
            errors.append((path, str(e)))
            continue
        want = units._unit(q.unit)
        if got is not None and got.dimensionality != want.dimensionality:
            errors.append(
                (
                    path,
                    f"'{clip(q.text)}' has dimension {got.dimensionality}; expected units "
                    f"compatible with {q.unit}",
                )
            )
            continue
        if q.steady:
            problem = _sampled_in_space(case, tree, q)
        else:
            problem = _sampled_problem(case, tree, q, transient)
        if problem:
            errors.append((path, problem))
    return errors


def _sampled_problem(case: CaseSpec, tree: expressions.Node, q: Q, transient: bool) -> str | None:
    """What is wrong with a formula's values at the origin over the run (t = 0 ... end, nominal
    parameters): not finite, or against its key's rule (a temperature below 0 K). Samples where
    the arithmetic itself fails (log(x) at x = 0) are skipped: x may lie outside the mesh."""
    end = None
    if transient and case.solver.time is not None:
        e = case.solver.time.end
        p = case.parameters.get(e.param or "")
        end = e.si if e.si is not None else (p.si if p is not None else None)
    times = [end * k / 8 for k in range(9)] if end else [0.0]
    values = {n: p.si for n, p in case.parameters.items()} | {"x": 0.0, "y": 0.0, "z": 0.0}
    samples = ((values | {"t": t}, f" at t = {t:.6g} s" if transient else "") for t in times)
    return _first_problem(tree, q, samples)


def mesh_box(case: CaseSpec) -> tuple[list[float], list[float]] | None:
    """The bounding box (lower, upper corner) of a generated mesh at nominal parameters; None
    where the case does not say it (a mesh file, a bracket, a furnace)."""
    m = case.mesh
    nominal = {n: p.si for n, p in case.parameters.items()}

    def v(q: Q) -> float:
        return float(q.si if q.si is not None else q.sign * nominal.get(q.param or "", math.nan))

    gen = getattr(m, "generator", None)
    sides = {
        "interval": ("length",),
        "rectangle": ("length", "height"),
        "box": ("length", "width", "height"),
        "plate_with_hole": ("width", "height"),
        "quarter_annulus": ("outer_radius", "outer_radius"),
    }.get(gen or "")
    if sides is None:
        return None
    hi = [v(getattr(m, k)) for k in sides]
    return [0.0] * len(hi), hi


def _sampled_in_space(case: CaseSpec, tree: expressions.Node, q: Q) -> str | None:
    """What is wrong with a formula of position at the corners, edge midpoints and centre of
    the mesh's bounding box (the origin where the box is not known), nominal parameters."""
    import itertools

    box = mesh_box(case)
    lo, hi = box if box is not None else ([0.0], [0.0])
    axes = [sorted({a, 0.5 * (a + b), b}) for a, b in zip(lo, hi, strict=True)]
    values = {n: p.si for n, p in case.parameters.items()}
    samples = []
    for point in itertools.product(*axes):
        xyz = dict(zip("xyz", [*point, 0.0, 0.0], strict=False))
        where = ", ".join(f"{k} = {xyz[k]:.6g} m" for k in "xyz"[: len(point)])
        samples.append((values | xyz, f" at {where}"))
    return _first_problem(tree, q, samples)


def _first_problem(
    tree: expressions.Node, q: Q, samples: Iterable[tuple[dict[str, float], str]]
) -> str | None:
    """The first of the (values, where) samples at which the formula is not finite or breaks its
    key's rule; samples where the arithmetic itself fails are skipped."""
    for values, at in samples:
        try:
            v = float(expressions.evaluate(tree, expressions.resolver(values)))
        except (ArithmeticError, ValueError):
            continue
        if not math.isfinite(v):
            return f"'{clip(q.text)}' is not finite{at}"
        problem = rule_error(q.rule, v, q.unit)
        if problem:
            return f"'{clip(q.text)}'{at}: {problem}"
    return None
