"""The case's values in time checked: formulas of `t`, `x`, `y`, `z` and parameters with the
dimension of their key; `t` and tables only in a transient heat_conduction run."""

from __future__ import annotations

from twinkit.case import dimensions, expressions, units
from twinkit.case.spec import CaseSpec, quantities
from twinkit.case.timevalues import VARIABLES
from twinkit.case.units import clip


def time_value_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """Formulas whose names or dimension do not fit their key; `t` or a table in a steady run
    or in a model without time stepping."""
    transient = case.solver.time is not None and case.model in ("heat_conduction",)
    errors = []
    if case.outputs.fields_every is not None and not transient:
        errors.append(("outputs.fields_every", "applies only to a transient heat_conduction run"))
    for path, q in quantities(case):
        if q.table is not None and not transient:
            errors.append((path, "a table in time needs a transient heat_conduction run"))
        if not q.formula:
            continue
        known: dict[str, str | None] = {n: case.parameter_unit(n) for n in case.parameters}
        known |= {k: u for k, u in VARIABLES.items() if k != "t" or transient}
        try:
            tree = expressions.parse(q.text)
            got = dimensions.dimension(tree, known, " (not t, x, y, z, a parameter or a unit)")
        except expressions.ExpressionError as e:
            if "'t'" in str(e) and not transient:
                e = expressions.ExpressionError(
                    "t is known only in a transient heat_conduction run"
                )
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
    return errors
