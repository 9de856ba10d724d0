"""The case's `optimization:` section checked: objectives and constraints name outputs that exist,
with bounds in units of the output's dimension.

An objective or constraint names an *output*: a QoI (`outputs.qoi`), a probe, or a design
parameter. `output_units` says which SI unit each output has; `twinkit.optimization.goals` turns the
section into the goals an optimisation evaluates.
"""

from __future__ import annotations

from twinkit.case import units
from twinkit.case.derived import expression_unit
from twinkit.case.fields import FIELD_QOIS, field_unit
from twinkit.case.mesh import GENERATOR_GDIM
from twinkit.case.spec import CaseSpec
from twinkit.case.units import clip, clip_names

# SI unit of each QoI kind in 3D; kinds in PER_DEPTH are per unit depth in 2D (W/m) and per unit
# area in 1D (W/m^2). Kinds not listed are temperatures.
QOI_UNITS = {
    "max_von_mises": "Pa",
    "max_displacement": "m",
    "reaction_force": "N",
    "mass": "kg",
    "safety_factor": "1",
    "heat_flow": "W",
    "advected_heat": "W",
    "source_heat": "W",
    "vrms": "m/s",
    "max_velocity": "m/s",
    "nusselt": "1",
    "fraction_below": "1",
    "heat_input": "W",
    "wall_losses": "W",
    "batch_heat": "W",
    "enthalpy_outflow": "W",
    "energy_imbalance": "1",
    "spring_zone": "m",
}
PER_DEPTH = {
    "reaction_force",
    "mass",
    "heat_flow",
    "advected_heat",
    "source_heat",
    "heat_input",
    "wall_losses",
    "batch_heat",
    "enthalpy_outflow",
}

QOI_BODY = {"reaction_force", "mass"}  # per body, not per metre, with solver.thickness


def output_units(case: CaseSpec, name: str) -> tuple[str, ...]:
    """The SI units output `name` can have (several only where the mesh dimension is unknown)."""
    if name in case.outputs.qoi:
        kind = case.outputs.qoi[name].type
        if kind == "expression":
            return (expression_unit(case, name, output_units),)
        if kind in FIELD_QOIS:
            return (field_unit(case.outputs.qoi[name].field or "", case.model),)
        unit = QOI_UNITS.get(kind, "K")
        if kind not in PER_DEPTH or (case.solver.thickness is not None and kind in QOI_BODY):
            return (unit,)
        by_dim = {3: unit, 2: f"{unit}/m", 1: f"{unit}/m^2"}
        gdim = GENERATOR_GDIM.get(getattr(case.mesh, "generator", ""))
        return (by_dim[gdim],) if gdim else tuple(by_dim.values())
    if name in case.probes:
        return (field_unit(case.probes[name].field, case.model),)
    return (case.parameter_unit(name),)


def _outputs(case: CaseSpec) -> list[str]:
    design = [n for n, p in case.parameters.items() if p.role == "design"]
    return [*case.outputs.qoi, *case.probes, *design]


def optimization_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """(key path, message) for each problem in the case's `optimization` section."""
    spec = case.optimization
    if spec is None:
        return []
    errors: list[tuple[str, str]] = []
    if not any(p.role == "design" for p in case.parameters.values()):
        errors.append(("optimization", "no parameter has role design (nothing to optimize)"))
    known = _outputs(case)
    named = [(f"objectives[{i}]", o.output) for i, o in enumerate(spec.objectives)]
    named += [(f"constraints[{i}]", c.output) for i, c in enumerate(spec.constraints)]
    for key, name in named:
        if name not in known:
            errors.append(
                (
                    f"optimization.{key}.output",
                    f"'{clip(name)}' is no QoI, probe or design parameter; defined: "
                    + (clip_names(known) or "none"),
                )
            )
    seen: set[str] = set()
    for i, o in enumerate(spec.objectives):
        if o.output in seen:
            errors.append(
                (
                    f"optimization.objectives[{i}].output",
                    f"'{clip(o.output)}' is an objective twice",
                )
            )
        seen.add(o.output)
    for i, c in enumerate(spec.constraints):
        if c.output not in known:
            continue
        for kind in ("max", "min"):
            text = getattr(c, kind)
            if text is not None:
                msg = _bound_error(text, output_units(case, c.output))
                if msg:
                    errors.append((f"optimization.constraints[{i}].{kind}", msg))
    if spec.sampler == "cmaes" and len(spec.objectives) > 1:
        errors.append(("optimization.sampler", "cmaes optimizes one objective; use nsga2 or tpe"))
    return errors


def _bound_error(text: str | float, allowed: tuple[str, ...]) -> str | None:
    for unit in allowed:
        try:
            units.parse(text, unit)
            return None
        except units.UnitError:
            continue
    try:
        units.dimension_of(text)
    except units.UnitError as e:
        return str(e)
    want = " or ".join(allowed)
    return (
        f"'{clip(text)}' does not have the output's dimension; expected units compatible with "
        f"{want}"
    )


def bound_unit(text: str | float, allowed: tuple[str, ...]) -> str:
    """The first of `allowed` that a bound converts to (checked before by `optimization_errors`)."""
    return next(u for u in allowed if _bound_error(text, (u,)) is None)
