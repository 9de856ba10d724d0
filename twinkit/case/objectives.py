"""What `twinkit optimize` optimizes: a case's objectives and constraints, checked and evaluated.

An objective or constraint names an *output*: a QoI (`outputs.qoi`), a probe, or a design
parameter. Constraint bounds carry units and must have the output's dimension. `Goals.evaluate`
turns predicted means and stds into objective values and constraint values `g` (feasible when
`g ≤ 0`; each divided by its bound's magnitude so that violations of different outputs compare).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from twinkit.case import units
from twinkit.case.base import CaseError
from twinkit.case.loading import Case, LoadedCase
from twinkit.case.mesh import GENERATOR_GDIM

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


def output_units(case: Case, name: str) -> tuple[str, ...]:
    """The SI units output `name` can have (several only where the mesh dimension is unknown)."""
    if name in case.outputs.qoi:
        kind = case.outputs.qoi[name].type
        unit = QOI_UNITS.get(kind, "K")
        if kind not in PER_DEPTH:
            return (unit,)
        by_dim = {3: unit, 2: f"{unit}/m", 1: f"{unit}/m^2"}
        gdim = GENERATOR_GDIM.get(getattr(case.mesh, "generator", ""))
        return (by_dim[gdim],) if gdim else tuple(by_dim.values())
    if name in case.probes:
        field = case.probes[name].field or {"elasticity": "d", "thermo_elasticity": "d"}.get(
            case.model, "temperature"
        )
        if field == "von_mises":
            return ("Pa",)
        return (
            ("m/s",)
            if field.startswith("velocity")
            else ("K",)
            if field == "temperature"
            else ("m",)
        )
    return (case.parameter_unit(name),)


def _outputs(case: Case) -> list[str]:
    design = [n for n, p in case.parameters.items() if p.role == "design"]
    return [*case.outputs.qoi, *case.probes, *design]


def optimization_errors(case: Case) -> list[tuple[str, str]]:
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
                    f"'{name}' is no QoI, probe or design parameter; defined: "
                    + (", ".join(known) or "none"),
                )
            )
    seen = [o.output for o in spec.objectives]
    errors += [
        (f"optimization.objectives[{i}].output", f"'{n}' is an objective twice")
        for i, n in enumerate(seen)
        if n in seen[:i]
    ]
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
    return f"'{text}' does not have the output's dimension; expected units compatible with {want}"


@dataclass(frozen=True)
class Bound:
    """`output` ≤ `value` (kind 'max') or ≥ `value` (kind 'min'), in SI `unit`."""

    output: str
    kind: str
    value: float
    unit: str
    text: str


@dataclass(frozen=True)
class Goals:
    """Objectives `(output, direction)` and bounds of a case; `robust` = k in mean ± k·std."""

    objectives: tuple[tuple[str, str], ...]
    bounds: tuple[Bound, ...]
    units: dict[str, str]
    robust: float = 0.0

    @classmethod
    def from_case(cls, loaded: LoadedCase, robust: float = 0.0) -> Goals:
        case = loaded.case
        spec = case.optimization
        if spec is None:
            raise CaseError(
                f"{loaded.path}: optimization: the case has no optimization section; add e.g. "
                "'optimization: {objectives: [{output: mass, direction: minimize}]}'"
            )
        if robust < 0:
            raise CaseError(f"--robust {robust}: expected k ≥ 0 (penalty k·std)")
        unit_of = {o.output: output_units(case, o.output)[0] for o in spec.objectives}
        bounds = []
        for c in spec.constraints:
            for kind, text in (("max", c.max), ("min", c.min)):
                if text is not None:
                    unit = _unit_of_bound(text, output_units(case, c.output))
                    unit_of[c.output] = unit
                    bounds.append(Bound(c.output, kind, units.parse(text, unit), unit, str(text)))
        objectives = tuple((o.output, o.direction) for o in spec.objectives)
        return cls(objectives, tuple(bounds), unit_of, robust)

    @property
    def outputs(self) -> list[str]:
        """Every output the goals need, objectives first."""
        return list(
            dict.fromkeys([o for o, _ in self.objectives] + [b.output for b in self.bounds])
        )

    @property
    def directions(self) -> list[str]:
        return [d for _, d in self.objectives]

    def evaluate(
        self, mean: Mapping[str, np.ndarray], std: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Objective values (n, n_objectives) and constraint values g (n, n_bounds), g ≤ 0 feasible.

        With `robust` = k, a minimized output counts as mean + k·std, a maximized one as
        mean − k·std, and each bound is checked on the pessimistic side.
        """
        k = self.robust
        sign = {"minimize": 1.0, "maximize": -1.0}
        f = np.stack([mean[o] + sign[d] * k * std[o] for o, d in self.objectives], axis=1)
        g = [
            (mean[b.output] + k * std[b.output] - b.value)
            if b.kind == "max"
            else (b.value - mean[b.output] + k * std[b.output])
            for b in self.bounds
        ]
        scale = [abs(b.value) or 1.0 for b in self.bounds]
        n = f.shape[0]
        return f, (np.stack(g, axis=1) / scale if g else np.zeros((n, 0)))


def _unit_of_bound(text: str | float, allowed: tuple[str, ...]) -> str:
    """The first of `allowed` that `text` converts to (checked before by `_bound_error`)."""
    return next(u for u in allowed if _bound_error(text, (u,)) is None)
