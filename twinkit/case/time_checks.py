"""The case's values in time checked: formulas of `t`, `x`, `y`, `z` and parameters with the
dimension of their key; `t` and tables only in a transient run (heat_conduction,
thermo_elasticity)."""

from __future__ import annotations

from twinkit.case import dimensions, expressions, units
from twinkit.case.spec import CaseSpec, quantities
from twinkit.case.timevalues import VARIABLES
from twinkit.case.units import clip

TRANSIENT_MODELS = ("heat_conduction", "thermo_elasticity")
RUN = "a transient run (solver.time) of heat_conduction or thermo_elasticity"


def time_value_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """Formulas whose names or dimension do not fit their key; `t` or a table in a steady run
    or in a model without time stepping."""
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
        known |= {k: u for k, u in VARIABLES.items() if k != "t" or transient}
        try:
            tree = expressions.parse(q.text)
            got = dimensions.dimension(tree, known, " (not t, x, y, z, a parameter or a unit)")
        except expressions.ExpressionError as e:
            if "'t'" in str(e) and not transient:
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
    return errors
