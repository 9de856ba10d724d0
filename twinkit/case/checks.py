"""What each model accepts, and the consistency checks of a case that go beyond one section."""

from __future__ import annotations

from twinkit.case import units
from twinkit.case.alert_checks import alert_errors
from twinkit.case.derived import expression_errors
from twinkit.case.fields import field_errors
from twinkit.case.materials import (
    FLOW_BCS,
    HEAT_BCS,
    MECHANICAL_BCS,
    BodyForceLoad,
    DisplacementBC,
    ForceBC,
    GravityLoad,
    TractionBC,
    VelocityBC,
)
from twinkit.case.mesh import GENERATOR_GDIM
from twinkit.case.objectives import optimization_errors, output_units
from twinkit.case.spec import CaseSpec, quantities
from twinkit.case.time_checks import time_value_errors
from twinkit.case.units import clip, clip_names

MODEL_BCS: dict[str, tuple[str, ...]] = {
    "heat_conduction": HEAT_BCS,
    "elasticity": MECHANICAL_BCS,
    "thermo_elasticity": HEAT_BCS + MECHANICAL_BCS,
    "glass_flow": FLOW_BCS + HEAT_BCS,
    "glass_furnace": (),  # the furnace sets its own
}
MODEL_LOADS: dict[str, tuple[str, ...]] = {
    "heat_conduction": ("heat_source",),
    "elasticity": ("body_force", "gravity"),
    "thermo_elasticity": ("heat_source", "body_force", "gravity"),
    "glass_flow": ("heat_source", "body_force", "gravity"),
    "glass_furnace": (),
}
MODEL_MATERIAL: dict[str, tuple[str, ...]] = {
    "heat_conduction": ("conductivity",),
    "elasticity": ("youngs_modulus", "poisson_ratio"),
    "thermo_elasticity": ("conductivity", "youngs_modulus", "poisson_ratio", "thermal_expansion"),
    "glass_flow": (
        "viscosity",
        "conductivity",
        "density",
        "specific_heat",
        "thermal_expansion",
        "reference_temperature",
    ),
}
MODEL_MATERIAL["glass_furnace"] = MODEL_MATERIAL["glass_flow"]
# glass_flow's QoI kinds and probe fields (physics.glass_flow.FLOW_QOIS; a test keeps them equal)
GLASS_FLOW_QOIS = (
    "nusselt",
    "vrms",
    "max_velocity",
    "min_temperature",
    "max_temperature",
    "mean_temperature",
    "heat_flow",
    "advected_heat",
    "source_heat",
    "fraction_below",
)
# physics.glass_furnace.FURNACE_QOIS (a test keeps them equal)
FURNACE_QOIS = GLASS_FLOW_QOIS + (
    "heat_input",
    "wall_losses",
    "batch_heat",
    "enthalpy_outflow",
    "energy_imbalance",
    "spring_zone",
)
GLASS_FLOW_PROBES = ("temperature", "velocity", "velocity_x", "velocity_y", "velocity_z")
GLASS_FLOW_SOLVER = ("stabilization", "initial_temperature", "initial_perturbation")
NOT_FOR_GLASS_FLOW = ("linear_solver", "time", "plane", "formulation")
# properties fixed by the scaling of a nondimensional run
NONDIMENSIONAL_FIXED = (
    "conductivity",
    "density",
    "specific_heat",
    "thermal_expansion",
    "absorption",
    "refractive_index",
)


def sensor_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """Sensor rules name probes or parameters; alerts name latent parameters and QoIs."""
    streams = [*case.probes, *case.parameters]
    known = set(streams)
    errors = [
        (f"sensors.{n}", f"no probe or parameter of that name; defined: {clip_names(streams)}")
        for n in case.sensors
        if n not in known
    ]
    latent = [n for n, p in case.parameters.items() if p.role == "latent"]
    is_latent = set(latent)
    errors += [
        (f"alerts.drift.{n}", f"not a latent parameter; latent: {clip_names(latent) or 'none'}")
        for n in case.alerts.drift
        if n not in is_latent
    ]
    errors += [
        (f"alerts.qoi.{n}", f"no such QoI; defined: {clip_names(case.outputs.qoi) or 'none'}")
        for n in case.alerts.qoi
        if n not in case.outputs.qoi
    ]
    return errors + alert_errors(case)


def glass_flow_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """What model glass_flow needs beyond the common checks."""
    errors = _melt_errors(case) + _flow_setup_errors(case) + _flow_output_errors(case)
    if getattr(case.mesh, "generator", None) == "interval":
        errors.append(("mesh.generator", "model glass_flow needs a 2D or 3D mesh"))
    gdim = GENERATOR_GDIM.get(getattr(case.mesh, "generator", ""), 0)
    if gdim > 1:  # file meshes are checked when built
        errors += vector_errors(case, gdim)
    return errors


def _melt_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """One material filling the mesh; no properties that a nondimensional run fixes."""
    errors: list[tuple[str, str]] = []
    if len(case.materials) != 1:
        errors.append(
            (
                "materials",
                "model glass_flow takes exactly one material (the melt, filling the mesh); "
                f"got {len(case.materials)}: {clip_names(case.materials) or 'none'}",
            )
        )
    fixed = NONDIMENSIONAL_FIXED if case.nondimensional is not None else ()
    for name, m in case.materials.items():
        key = f"materials.{name}"
        if m.regions is not None:
            errors.append((f"{key}.regions", "model glass_flow's melt fills the mesh; remove it"))
        if m.conductivity_slope is not None:
            errors.append(
                (
                    f"{key}.conductivity_slope",
                    "not used by model glass_flow (give absorption for a radiative conductivity)",
                )
            )
        errors += [
            (f"{key}.{prop}", "fixed by the nondimensional scaling (ρ = c_p = k = 1, β = Ra)")
            for prop in fixed
            if getattr(m, prop) is not None
        ]
    return errors


def _flow_setup_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """Gravity at most once (never when nondimensional), solver options, the initial state."""
    errors: list[tuple[str, str]] = []
    gravity = [i for i, ld in enumerate(case.loads) if ld.type == "gravity"]
    if case.nondimensional is not None:
        errors += [(f"loads[{i}]", "a nondimensional run has g = (0, -1)") for i in gravity]
    else:
        errors += [(f"loads[{i}]", "gravity is given more than once") for i in gravity[1:]]
    for i, ld in enumerate(case.loads):
        if ld.type == "body_force" and ld.region is not None:
            errors.append((f"loads[{i}].region", "glass_flow applies body forces everywhere"))
    s = case.solver
    errors += [
        (f"solver.{key}", "does not apply to model glass_flow (steady; direct solver)")
        for key in NOT_FOR_GLASS_FLOW
        if key in s.model_fields_set
    ]
    if s.initial_perturbation is not None:
        if s.initial_temperature is not None:
            errors.append(
                ("solver.initial_perturbation", "give initial_temperature or this, not both")
            )
        have = {bc.region for bc in case.boundary_conditions if bc.type == "temperature"}
        missing = " and ".join(f"'{r}'" for r in ("bottom", "top") if r not in have)
        if missing:
            errors.append(
                (
                    "solver.initial_perturbation",
                    f"needs temperature conditions on 'bottom' and 'top'; none on {missing}",
                )
            )
    return errors


def _flow_output_errors(
    case: CaseSpec, model: str = "glass_flow", kinds: tuple[str, ...] = GLASS_FLOW_QOIS
) -> list[tuple[str, str]]:
    """QoI kinds (with their region or threshold) and probe fields that a flow `model` knows.
    glass_flow needs a threshold for fraction_below; glass_furnace takes its quality
    temperature instead and refuses one."""
    errors: list[tuple[str, str]] = []
    for name, q in case.outputs.qoi.items():
        key = f"outputs.qoi.{name}"
        if q.type not in kinds and q.type != "expression":
            errors.append(
                (
                    f"{key}.type",
                    f"'{q.type}' is not a QoI of model {model}; expected one of "
                    + ", ".join(kinds),
                )
            )
        if q.type in ("nusselt", "heat_flow") and q.region is None:
            errors.append((f"{key}.region", f"required by type {q.type} (a boundary region)"))
        if model == "glass_furnace":
            if q.threshold is not None:
                errors.append(
                    (
                        f"{key}.threshold",
                        "the furnace counts melt below furnace.quality_temperature",
                    )
                )
        elif q.type == "fraction_below" and q.threshold is None:
            errors.append((f"{key}.threshold", "required by type fraction_below (a temperature)"))
    for name, p in case.probes.items():
        if p.field not in ("", *GLASS_FLOW_PROBES):
            errors.append(
                (
                    f"probes.{name}.field",
                    f"'{p.field}' is not a field of model {model}; expected one of "
                    + ", ".join(GLASS_FLOW_PROBES),
                )
            )
    return errors


def furnace_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """Model glass_furnace: the furnace mesh and section, one melt; QoIs of the furnace."""
    errors = _melt_errors(case)
    if getattr(case.mesh, "generator", None) != "furnace":
        errors.append(("mesh.generator", "model glass_furnace needs generator: furnace"))
    if case.furnace is None:
        errors.append(("furnace", "required by model glass_furnace (heating, pull, losses)"))
    # these scale the inflow speed and the boost density when the model is compiled
    fixed = [("furnace.tank_width", case.furnace.tank_width if case.furnace else None)]
    fixed += [(f"materials.{n}.density", m.density) for n, m in case.materials.items()]
    errors += [
        (key, f"'{q.text}': must be a fixed value for model glass_furnace, not a parameter")
        for key, q in fixed
        if q is not None and q.param is not None
    ]
    if case.nondimensional is not None:
        errors.append(("nondimensional", "applies only to model glass_flow"))
    s = case.solver
    errors += [
        (f"solver.{key}", "does not apply to model glass_furnace")
        for key in (*NOT_FOR_GLASS_FLOW, "initial_perturbation")
        if key in s.model_fields_set
    ]
    return errors + _flow_output_errors(case, "glass_furnace", FURNACE_QOIS)


def vector_errors(case: CaseSpec, gdim: int) -> list[tuple[str, str]]:
    """Vectors (velocity, displacement, traction, force, gravity, body force) that do not have
    `gdim` components."""
    vectors: list[tuple[str, list]] = []
    for i, bc in enumerate(case.boundary_conditions):
        if isinstance(bc, VelocityBC | DisplacementBC | TractionBC | ForceBC):
            vectors.append((f"boundary_conditions[{i}].value", bc.value))
    for i, ld in enumerate(case.loads):
        if isinstance(ld, GravityLoad):
            vectors.append((f"loads[{i}].acceleration", ld.acceleration))
        elif isinstance(ld, BodyForceLoad):
            vectors.append((f"loads[{i}].value", ld.value))
    errors = [
        (k, f"has {len(v)} components; the mesh is {gdim}D") for k, v in vectors if len(v) != gdim
    ]
    if case.solver.thickness is not None and gdim != 2:
        errors.append(("solver.thickness", f"applies to a 2D mesh; the mesh is {gdim}D"))
    return errors


def consistency_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """(key path, message) of every check across sections that the case fails."""
    errors: list[tuple[str, str]] = sensor_errors(case)
    for i, bc in enumerate(case.boundary_conditions):
        if bc.type not in MODEL_BCS[case.model]:
            errors.append(
                (
                    f"boundary_conditions[{i}].type",
                    f"'{bc.type}' does not apply to model {case.model}; expected one of "
                    + ", ".join(MODEL_BCS[case.model]),
                )
            )
    for i, ld in enumerate(case.loads):
        if ld.type not in MODEL_LOADS[case.model]:
            errors.append(
                (
                    f"loads[{i}].type",
                    f"'{ld.type}' does not apply to model {case.model}; expected one of "
                    + ", ".join(MODEL_LOADS[case.model]),
                )
            )
    required = MODEL_MATERIAL[case.model]
    if case.nondimensional is not None:
        required = ("viscosity",)
    for name, m in case.materials.items():
        for prop in required:
            if getattr(m, prop) is None:
                errors.append((f"materials.{name}.{prop}", f"required by model {case.model}"))
        if case.solver.time is not None and case.model not in ("elasticity", "glass_flow"):
            for prop in ("density", "specific_heat"):
                if getattr(m, prop) is None:
                    errors.append((f"materials.{name}.{prop}", "required for a transient run"))
    for name, qoi in case.outputs.qoi.items():
        if qoi.threshold is not None and qoi.type != "fraction_below":
            errors.append((f"outputs.qoi.{name}.threshold", "applies only to type fraction_below"))
    if case.model == "glass_flow":
        errors += glass_flow_errors(case)
    elif case.model == "glass_furnace":
        errors += furnace_errors(case)
    else:
        gdim = GENERATOR_GDIM.get(getattr(case.mesh, "generator", ""), 0)
        if gdim:  # file meshes are checked when read
            errors += vector_errors(case, gdim)
        if case.nondimensional is not None:
            errors.append(("nondimensional", "applies only to model glass_flow"))
        if case.furnace is not None:
            errors.append(("furnace", "applies only to model glass_furnace"))
        for key in GLASS_FLOW_SOLVER:
            if key in case.solver.model_fields_set:
                errors.append((f"solver.{key}", "applies only to model glass_flow"))
    for path, q in quantities(case):
        if q.param is None:
            continue
        if q.param not in case.parameters:
            errors.append(
                (
                    path,
                    f"'{q.text}' refers to no parameter; defined: "
                    + (clip_names(case.parameters) or "none"),
                )
            )
            continue
        p = case.parameters[q.param]
        if p.dimension != str(units.registry().Unit(q.unit).dimensionality):
            errors.append(
                (
                    path,
                    f"parameter '{q.param}' has dimension {p.dimension}; this key needs units "
                    f"compatible with {q.unit}",
                )
            )
    errors += field_errors(case) + expression_errors(case, output_units) + time_value_errors(case)
    errors += optimization_errors(case)
    errors += display_errors(case)
    if case.solver.thickness is not None and (case.model, case.solver.plane) != (
        "elasticity",
        "stress",
    ):
        errors.append(("solver.thickness", "applies to model elasticity with plane: stress"))
    return errors


FIELD_UNITS = {
    "temperature": "K",
    "displacement": "m",
    "von_mises": "Pa",
    "stress": "Pa",
    "strain": "1",
    "principal_stress": "Pa",
    "tresca": "Pa",
    "velocity": "m/s",
    "pressure": "Pa",
}


def display_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """`outputs.display` names outputs, fields or parameters, each with a unit of its dimension."""
    errors = []
    for name, unit in case.outputs.display.items():
        key = f"outputs.display.{name}"
        if name in FIELD_UNITS:
            allowed: tuple[str, ...] = (FIELD_UNITS[name],)
        elif name in case.parameters:
            allowed = (case.parameter_unit(name),)
        elif name in case.outputs.qoi or name in case.probes:
            allowed = output_units(case, name)
        else:
            known = [*case.outputs.qoi, *case.probes, *case.parameters, *FIELD_UNITS]
            errors.append(
                (key, f"no such output, field or parameter; defined: {clip_names(known)}")
            )
            continue
        try:
            ok = any(units.compatible(unit, a) for a in allowed)
        except Exception:
            errors.append((key, f"unknown unit '{clip(unit)}'"))
            continue
        if not ok:
            errors.append((key, f"'{clip(unit)}' is not a unit of {' or '.join(allowed)}"))
    return errors
