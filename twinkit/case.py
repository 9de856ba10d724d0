"""The case file: YAML parsed once into typed, immutable objects with SI values.

Quantities are strings with units ("100 degC", "750 W/(m^2*K)", "3 mm"), or `$name`, a reference
to a named parameter. Unknown keys are errors. `load_case` raises `CaseError` whose message names
the file, the key path, the bad value and what was expected.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    PositiveInt,
    Tag,
    ValidationError,
    model_validator,
)

from twinkit import units


class CaseError(ValueError):
    """An invalid case file. The message is meant for the user as is."""


@dataclass(frozen=True)
class Q:
    """A quantity in SI (`si`), or a reference to parameter `param`; `unit` is the SI unit."""

    si: float | None
    param: str | None
    unit: str
    text: str
    sign: float = 1.0  # "-$name" refers to minus the parameter

    def __repr__(self) -> str:
        return self.text


def _parse_quantity(v: Any, unit: str) -> Q:
    if isinstance(v, Q):
        return v
    if isinstance(v, str) and v.strip().lstrip("-").startswith("$"):
        ref = v.strip()
        sign = -1.0 if ref.startswith("-") else 1.0
        name = ref.lstrip("-")[1:].strip("{}")
        if not name.isidentifier():
            raise ValueError(f"'{v}' is not a valid parameter reference (use $name or -$name)")
        return Q(None, name, unit, v, sign)
    try:
        return Q(units.parse(v, unit), None, unit, str(v))
    except units.UnitError as e:
        raise ValueError(str(e)) from None


def _q(unit: str) -> PlainValidator:
    """Validator for a quantity convertible to SI unit `unit` (or a `$parameter`)."""
    return PlainValidator(partial(_parse_quantity, unit=unit))


Length = Annotated[Q, _q("m")]
Temperature = Annotated[Q, _q("K")]
Dimensionless = Annotated[Q, _q("1")]
Stress = Annotated[Q, _q("Pa")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- parameters --------------------------------------------------------------------------------
Role = Literal["design", "operating", "latent", "fixed"]


class Parameter(Strict):
    """A named input: a value, a range (lower, upper) or both; role says who controls it."""

    value: str | float | None = None
    range: tuple[str | float, str | float] | None = None
    role: Role = "fixed"
    scale: Literal["linear", "log"] = "linear"
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> Parameter:
        if self.value is None and self.range is None:
            raise ValueError("give a value, a range [lower, upper], or both")
        texts = [t for t in (self.value, *(self.range or ())) if t is not None]
        dims = set()
        for t in texts:
            try:
                dims.add(str(units.dimension_of(t)))
                units.si_value(t)
            except units.UnitError as e:
                raise ValueError(str(e)) from None
        if len(dims) > 1:
            raise ValueError(f"value and range have different dimensions: {sorted(dims)}")
        if self.range is not None:
            lo, hi = (units.si_value(t) for t in self.range)
            if lo > hi:
                raise ValueError(f"range lower {self.range[0]} is above upper {self.range[1]}")
            if self.scale == "log" and lo <= 0:
                raise ValueError("a log-scale range needs a positive lower bound")
            if self.value is not None and not lo <= units.si_value(self.value) <= hi:
                raise ValueError(f"value {self.value} lies outside the range {list(self.range)}")
        if self.role in ("design", "operating", "latent") and self.range is None:
            raise ValueError(f"a {self.role} parameter needs a range [lower, upper]")
        return self

    @property
    def si(self) -> float:
        """Nominal SI value: the value, else the middle of the range (geometric if log)."""
        if self.value is not None:
            return units.si_value(self.value)
        lo, hi = self.bounds
        return (lo * hi) ** 0.5 if self.scale == "log" else 0.5 * (lo + hi)

    @property
    def bounds(self) -> tuple[float, float]:
        if self.range is None:
            return (self.si, self.si)
        lo, hi = (units.si_value(t) for t in self.range)
        return lo, hi

    @property
    def dimension(self) -> str:
        t = self.value if self.value is not None else self.range[0]  # type: ignore[index]
        return str(units.dimension_of(t))


# ---- mesh ---------------------------------------------------------------------------------------
class IntervalMesh(Strict):
    generator: Literal["interval"]
    length: Length
    cells: PositiveInt


class RectangleMesh(Strict):
    generator: Literal["rectangle"]
    length: Length
    height: Length
    cells: tuple[PositiveInt, PositiveInt]
    cell_type: Literal["triangle", "quadrilateral"] = "triangle"


class BoxMesh(Strict):
    generator: Literal["box"]
    length: Length
    width: Length
    height: Length
    cells: tuple[PositiveInt, PositiveInt, PositiveInt]
    cell_type: Literal["tetrahedron", "hexahedron"] = "tetrahedron"


class PlateWithHoleMesh(Strict):
    generator: Literal["plate_with_hole"]
    width: Length
    height: Length
    radius: Length
    size: Length
    hole_size: Length | None = None
    order: Literal[1, 2] = 1  # 2: curved (quadratic) cells


class QuarterAnnulusMesh(Strict):
    generator: Literal["quarter_annulus"]
    inner_radius: Length
    outer_radius: Length
    size: Length
    order: Literal[1, 2] = 1  # 2: curved (quadratic) cells


class BracketMesh(Strict):
    generator: Literal["bracket"]
    thickness: Length
    fillet_radius: Length
    hole_diameter: Length
    size: Length
    width: Length | None = None
    base_length: Length | None = None
    height: Length | None = None


class FurnaceMesh(Strict):
    """Longitudinal section of a melting tank (physics.glass_furnace.furnace_mesh); the boost
    zone exists when `boost_position` is given."""

    generator: Literal["furnace"]
    length: Length
    depth: Length
    batch_length: Length
    inlet_height: Length
    throat_height: Length
    size: Length
    boost_position: Length | None = None
    boost_width: Length | None = None
    boost_height: Length | None = None
    boost_elevation: Length | None = None


class FileMesh(Strict):
    """A gmsh `.geo`/`.msh` file or any meshio format with named regions (path relative to case)."""

    file: str
    size: Length | None = None


GENERATOR_REGIONS: dict[str, tuple[str, ...]] = {
    "interval": ("left", "right", "domain"),
    "rectangle": ("left", "right", "bottom", "top", "domain"),
    "box": ("left", "right", "front", "back", "bottom", "top", "domain"),
    "plate_with_hole": ("left", "right", "bottom", "top", "hole", "domain"),
    "quarter_annulus": ("inner", "outer", "left", "bottom", "domain"),
    "bracket": ("base", "hole", "fillet", "top", "end", "surface", "domain"),
    "furnace": (
        "bottom",
        "throat",
        "front_wall",
        "surface",
        "batch",
        "inlet",
        "back_wall",
        "melt",
        "boost",
        "domain",
    ),
}


def _mesh_kind(v: Any) -> str | None:
    if isinstance(v, dict):
        if "file" in v:
            return "file"
        g = v.get("generator")
        return g if g in GENERATOR_REGIONS else None
    if isinstance(v, BaseModel):
        return getattr(v, "generator", "file")
    return None


MeshSpec = Annotated[
    Annotated[IntervalMesh, Tag("interval")]
    | Annotated[RectangleMesh, Tag("rectangle")]
    | Annotated[BoxMesh, Tag("box")]
    | Annotated[PlateWithHoleMesh, Tag("plate_with_hole")]
    | Annotated[QuarterAnnulusMesh, Tag("quarter_annulus")]
    | Annotated[BracketMesh, Tag("bracket")]
    | Annotated[FurnaceMesh, Tag("furnace")]
    | Annotated[FileMesh, Tag("file")],
    Discriminator(
        _mesh_kind,
        custom_error_type="mesh_kind",
        custom_error_message=(
            "expected 'file: PATH' or 'generator:' one of " + ", ".join(GENERATOR_REGIONS)
        ),
    ),
]


# ---- materials, boundary conditions, loads --------------------------------------------------
class ConstantViscositySpec(Strict):
    law: Literal["constant"]
    value: Annotated[Q, _q("Pa*s")]


class VFTViscositySpec(Strict):
    """Vogel–Fulcher–Tammann: log₁₀(η / Pa·s) = A + B / (T − T_V)."""

    law: Literal["vft"]
    A: Dimensionless
    B: Temperature
    T_V: Temperature
    max_viscosity: Annotated[Q, _q("Pa*s")] | None = None  # cap for practically solid glass


class ExponentialViscositySpec(Strict):
    """η = η₀ exp(−γ (T − T_ref))."""

    law: Literal["exponential"]
    eta0: Annotated[Q, _q("Pa*s")]
    gamma: Annotated[Q, _q("1/K")]
    T_ref: Temperature


ViscositySpec = Annotated[
    ConstantViscositySpec | VFTViscositySpec | ExponentialViscositySpec,
    Field(discriminator="law"),
]


class Material(Strict):
    """Material data; each model uses what it needs. `regions`: cell regions (all if unset)."""

    regions: tuple[str, ...] | None = None
    conductivity: Annotated[Q, _q("W/(m*K)")] | None = None
    conductivity_slope: Annotated[Q, _q("W/(m*K^2)")] | None = None
    reference_temperature: Temperature | None = None
    density: Annotated[Q, _q("kg/m^3")] | None = None
    specific_heat: Annotated[Q, _q("J/(kg*K)")] | None = None
    youngs_modulus: Stress | None = None
    poisson_ratio: Dimensionless | None = None
    thermal_expansion: Annotated[Q, _q("1/K")] | None = None
    yield_strength: Stress | None = None
    viscosity: ViscositySpec | None = None
    absorption: Annotated[Q, _q("1/m")] | None = None  # Rosseland mean absorption coefficient
    refractive_index: Dimensionless | None = None


Vector = list[Length | None]


class _Region(Strict):
    region: str


class TemperatureBC(_Region):
    type: Literal["temperature"]
    value: Temperature


class HeatFluxBC(_Region):
    type: Literal["heat_flux"]
    value: Annotated[Q, _q("W/m^2")]


class ConvectionBC(_Region):
    type: Literal["convection"]
    h: Annotated[Q, _q("W/(m^2*K)")]
    ambient: Temperature


class RadiationBC(_Region):
    type: Literal["radiation"]
    emissivity: Dimensionless
    ambient: Temperature


class FixedBC(_Region):
    type: Literal["fixed"]


class DisplacementBC(_Region):
    type: Literal["displacement"]
    value: list[Length | None]


class TractionBC(_Region):
    type: Literal["traction"]
    value: list[Stress]


class PressureBC(_Region):
    type: Literal["pressure"]
    value: Stress


class ForceBC(_Region):
    type: Literal["force"]
    value: list[Annotated[Q, _q("N")]]


class NoSlipBC(_Region):
    type: Literal["no_slip"]


class FreeSlipBC(_Region):
    type: Literal["free_slip"]


class VelocityBC(_Region):
    type: Literal["velocity"]
    value: list[Annotated[Q, _q("m/s")] | None]


HEAT_BCS = ("temperature", "heat_flux", "convection", "radiation")
MECHANICAL_BCS = ("fixed", "displacement", "traction", "pressure", "force")
FLOW_BCS = ("no_slip", "free_slip", "velocity")

BoundaryCondition = Annotated[
    TemperatureBC
    | HeatFluxBC
    | ConvectionBC
    | RadiationBC
    | FixedBC
    | DisplacementBC
    | TractionBC
    | PressureBC
    | ForceBC
    | NoSlipBC
    | FreeSlipBC
    | VelocityBC,
    Field(discriminator="type"),
]


class HeatSourceLoad(Strict):
    type: Literal["heat_source"]
    value: Annotated[Q, _q("W/m^3")]
    region: str | None = None


class BodyForceLoad(Strict):
    type: Literal["body_force"]
    value: list[Annotated[Q, _q("N/m^3")]]
    region: str | None = None


class GravityLoad(Strict):
    type: Literal["gravity"]
    acceleration: list[Annotated[Q, _q("m/s^2")]]


Load = Annotated[HeatSourceLoad | BodyForceLoad | GravityLoad, Field(discriminator="type")]


class ProbeSpec(Strict):
    point: list[Length]
    field: str = ""


class SensorSpec(Strict):
    """Noise and data-quality rules of one sensor stream (a probe, or a measured parameter).

    Quantities are in units of the sensor (checked by `twinkit.sensors.rules_from_case`)."""

    noise: str | float | None = None  # standard deviation of one reading, e.g. '2 K'
    range: tuple[str | float, str | float] | None = None  # plausible readings
    rate: str | None = None  # largest plausible rate of change, e.g. '50 K/min'
    stuck: str | None = None  # the same value for longer than this: a stuck sensor, e.g. '10 min'
    hold: str | None = None  # a missing value repeats the last good one within this time


class AlertSpec(Strict):
    """When the live twin raises alerts."""

    drift: dict[str, float] = {}  # latent parameter: relative change from its baseline
    residual: float = Field(4.0, gt=0)  # a sensor residual beyond this many σ
    qoi: dict[str, tuple[str | float | None, str | float | None]] = {}  # QoI: [lower, upper]


class QoISpec(Strict):
    type: str
    region: str | None = None
    component: int | None = None
    threshold: Temperature | None = None  # fraction_below: volume fraction with T < threshold


class Outputs(Strict):
    qoi: dict[str, QoISpec] = {}
    fields: list[str] | None = None  # None: every field the model produces
    plots: bool = True


class ObjectiveSpec(Strict):
    """An output (QoI, probe or design parameter) to minimize or maximize."""

    output: str
    direction: Literal["minimize", "maximize"] = "minimize"


class ConstraintSpec(Strict):
    """An output bounded above (`max`) and/or below (`min`), in units of the output."""

    output: str
    max: str | float | None = None
    min: str | float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> ConstraintSpec:
        if self.max is None and self.min is None:
            raise ValueError("give max, min or both")
        return self


class OptimizationSpec(Strict):
    """`twinkit optimize`: objectives and constraints over the design parameters (checked by
    `twinkit.objectives.optimization_errors`). Sampler default: tpe (one objective), nsga2."""

    objectives: list[ObjectiveSpec] = Field(min_length=1)
    constraints: list[ConstraintSpec] = []
    sampler: Literal["tpe", "cmaes", "nsga2"] | None = None


class RunSpec(Strict):
    """`twinkit run` (the main job): its defaults; the command's options override them."""

    samples: int = Field(32, ge=8)  # training samples of the sweep
    test: int = Field(8, ge=0)  # held-out samples (0: train holds out a seeded fifth)
    workers: int = Field(1, ge=1)  # sweep worker processes
    members: int = Field(5, ge=1)  # ensemble members of the surrogate
    epochs: int | None = Field(None, ge=1)  # most training epochs (None: the trainer's default)
    trials: int = Field(100, ge=1)  # optimisation trials on the surrogate
    refine: int = Field(3, ge=0)  # FE infill rounds while the best design fails verification
    sensors: str | None = None  # replayed sensor file (CSV/Parquet), relative to the case file


class TimeSpec(Strict):
    end: Annotated[Q, _q("s")]
    steps: PositiveInt
    initial_temperature: Temperature
    scheme: Literal["bdf2", "crank_nicolson", "backward_euler"] = "bdf2"


class InitialPerturbation(Strict):
    """Start from the conductive profile between the `bottom` and `top` temperatures plus
    `amplitude`·ΔT·cos(πx/L)·sin(πy/H) (Blankenbach's initial state; y is z in 3D)."""

    amplitude: Dimensionless


class SolverSpec(Strict):
    degree: Literal[1, 2, 3] = 1  # glass_flow: the temperature's degree, default 2
    linear_solver: Literal["auto", "direct", "iterative"] = "auto"
    rtol: float = Field(1e-10, gt=0, lt=1)
    max_iterations: PositiveInt = 50
    time: TimeSpec | None = None
    plane: Literal["strain", "stress"] = "strain"
    formulation: Literal["displacement", "mixed"] = "displacement"
    stabilization: Literal["supg", "none"] = "supg"
    initial_temperature: Temperature | None = None
    initial_perturbation: InitialPerturbation | None = None


class FurnaceSpec(Strict):
    """The glass_furnace model's heating, pull and losses (physics.glass_furnace.Furnace)."""

    crown_peak_temperature: Temperature
    hot_spot_position: Length
    crown_drop: Temperature  # crown temperature falls by this far from the hot spot
    crown_emissivity: Dimensionless
    pull_rate: Annotated[Q, _q("kg/s")]
    wall_htc: Annotated[Q, _q("W/(m^2*K)")]
    tank_width: Length
    inlet_temperature: Temperature
    batch_temperature: Temperature
    batch_htc: Annotated[Q, _q("W/(m^2*K)")]
    ambient_temperature: Temperature
    quality_temperature: Temperature  # fraction_below QoIs count melt colder than this
    boost_power: Annotated[Q, _q("W")] | None = None


class Nondimensional(Strict):
    """Blankenbach's scaling: ρ₀ = c_p = k = 1, g = −e_y (−e_z in 3D), β = Ra; every other
    quantity is read as the SI magnitude of what is written (1 m → 1, 1 K → 1, 1 Pa*s → 1)."""

    rayleigh: Dimensionless


# ---- the case ----------------------------------------------------------------------------------
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
GENERATOR_GDIM = {
    "interval": 1,
    "rectangle": 2,
    "plate_with_hole": 2,
    "quarter_annulus": 2,
    "box": 3,
    "bracket": 3,
    "furnace": 2,
}


class Case(Strict):
    name: str = ""
    description: str = ""
    model: Literal[
        "heat_conduction", "elasticity", "thermo_elasticity", "glass_flow", "glass_furnace"
    ]
    nondimensional: Nondimensional | None = None  # glass_flow only
    furnace: FurnaceSpec | None = None  # glass_furnace only
    seed: int = 0
    mesh: MeshSpec
    parameters: dict[str, Parameter] = {}
    materials: dict[str, Material]
    boundary_conditions: list[BoundaryCondition] = []
    loads: list[Load] = []
    probes: dict[str, ProbeSpec] = {}
    outputs: Outputs = Outputs()
    solver: SolverSpec = SolverSpec()
    optimization: OptimizationSpec | None = None
    sensors: dict[str, SensorSpec] = {}
    alerts: AlertSpec = AlertSpec()
    run: RunSpec = RunSpec()

    @model_validator(mode="after")
    def _consistency(self) -> Case:
        errors: list[tuple[str, str]] = _sensor_errors(self)
        for i, bc in enumerate(self.boundary_conditions):
            if bc.type not in MODEL_BCS[self.model]:
                errors.append(
                    (
                        f"boundary_conditions[{i}].type",
                        f"'{bc.type}' does not apply to model {self.model}; expected one of "
                        + ", ".join(MODEL_BCS[self.model]),
                    )
                )
        for i, ld in enumerate(self.loads):
            if ld.type not in MODEL_LOADS[self.model]:
                errors.append(
                    (
                        f"loads[{i}].type",
                        f"'{ld.type}' does not apply to model {self.model}; expected one of "
                        + ", ".join(MODEL_LOADS[self.model]),
                    )
                )
        required = MODEL_MATERIAL[self.model]
        if self.nondimensional is not None:
            required = ("viscosity",)
        for name, m in self.materials.items():
            for prop in required:
                if getattr(m, prop) is None:
                    errors.append((f"materials.{name}.{prop}", f"required by model {self.model}"))
            if self.solver.time is not None and self.model not in ("elasticity", "glass_flow"):
                for prop in ("density", "specific_heat"):
                    if getattr(m, prop) is None:
                        errors.append((f"materials.{name}.{prop}", "required for a transient run"))
        for name, qoi in self.outputs.qoi.items():
            if qoi.threshold is not None and qoi.type != "fraction_below":
                errors.append(
                    (f"outputs.qoi.{name}.threshold", "applies only to type fraction_below")
                )
        if self.model == "glass_flow":
            errors += _glass_flow_errors(self)
        elif self.model == "glass_furnace":
            errors += _furnace_errors(self)
        else:
            if self.nondimensional is not None:
                errors.append(("nondimensional", "applies only to model glass_flow"))
            if self.furnace is not None:
                errors.append(("furnace", "applies only to model glass_furnace"))
            for key in GLASS_FLOW_SOLVER:
                if key in self.solver.model_fields_set:
                    errors.append((f"solver.{key}", "applies only to model glass_flow"))
        for path, q in _quantities(self):
            if q.param is None:
                continue
            if q.param not in self.parameters:
                errors.append(
                    (
                        path,
                        f"'{q.text}' refers to no parameter; defined: "
                        + (", ".join(self.parameters) or "none"),
                    )
                )
                continue
            p = self.parameters[q.param]
            if p.dimension != str(units.registry().Unit(q.unit).dimensionality):
                errors.append(
                    (
                        path,
                        f"parameter '{q.param}' has dimension {p.dimension}; this key needs units "
                        f"compatible with {q.unit}",
                    )
                )
        from twinkit.objectives import optimization_errors

        errors += optimization_errors(self)
        if errors:
            raise _CaseConsistencyError(errors)
        return self

    # ---- convenience --------------------------------------------------------------------------
    def parameter_values(self, overrides: Mapping[str, str] | None = None) -> dict[str, float]:
        """Nominal SI values of all parameters, with `overrides` ({name: '6 mm'}) applied."""
        values = {n: p.si for n, p in self.parameters.items()}
        for name, text in (overrides or {}).items():
            if name not in self.parameters:
                raise CaseError(
                    f"--set {name}: no such parameter; defined: {', '.join(self.parameters)}"
                )
            p = self.parameters[name]
            example = p.value if p.value is not None else p.range[0]  # type: ignore[index]
            try:
                dim = str(units.dimension_of(text))
                v = units.si_value(text)
            except units.UnitError as e:
                raise CaseError(f"--set {name}={text}: {e}; expected e.g. '{example}'") from None
            if dim != p.dimension:
                raise CaseError(
                    f"--set {name}={text}: has dimension {dim}; expected units compatible with "
                    f"'{example}' ({p.dimension})"
                )
            lo, hi = p.bounds
            if p.range is not None and not lo <= v <= hi:
                raise CaseError(
                    f"--set {name}={text}: outside the parameter's range {list(p.range)}"
                )
            values[name] = v
        return values

    def parameter_unit(self, name: str) -> str:
        """SI unit of a parameter, taken from the first key that refers to it."""
        for _, q in _quantities(self):
            if q.param == name:
                return q.unit
        return "1"

    def mesh_parameters(self) -> set[str]:
        """Parameters the geometry depends on (changing them re-meshes)."""
        return {q.param for _, q in _quantities(self.mesh) if q.param}


def _sensor_errors(case: Case) -> list[tuple[str, str]]:
    """Sensor rules name probes or parameters; alerts name latent parameters and QoIs."""
    streams = [*case.probes, *case.parameters]
    errors = [
        (f"sensors.{n}", f"no probe or parameter of that name; defined: {', '.join(streams)}")
        for n in case.sensors
        if n not in streams
    ]
    latent = [n for n, p in case.parameters.items() if p.role == "latent"]
    errors += [
        (f"alerts.drift.{n}", f"not a latent parameter; latent: {', '.join(latent) or 'none'}")
        for n in case.alerts.drift
        if n not in latent
    ]
    errors += [
        (f"alerts.qoi.{n}", f"no such QoI; defined: {', '.join(case.outputs.qoi) or 'none'}")
        for n in case.alerts.qoi
        if n not in case.outputs.qoi
    ]
    return errors


def _glass_flow_errors(case: Case) -> list[tuple[str, str]]:
    """What model glass_flow needs beyond the common checks."""
    errors = _melt_errors(case) + _flow_setup_errors(case) + _flow_output_errors(case)
    if getattr(case.mesh, "generator", None) == "interval":
        errors.append(("mesh.generator", "model glass_flow needs a 2D or 3D mesh"))
    gdim = GENERATOR_GDIM.get(getattr(case.mesh, "generator", ""), 0)
    if gdim > 1:  # file meshes are checked when built
        errors += vector_errors(case, gdim)
    return errors


def _melt_errors(case: Case) -> list[tuple[str, str]]:
    """One material filling the mesh; no properties that a nondimensional run fixes."""
    errors: list[tuple[str, str]] = []
    if len(case.materials) != 1:
        errors.append(
            (
                "materials",
                "model glass_flow takes exactly one material (the melt, filling the mesh); "
                f"got {len(case.materials)}: {', '.join(case.materials) or 'none'}",
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


def _flow_setup_errors(case: Case) -> list[tuple[str, str]]:
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
    case: Case, model: str = "glass_flow", kinds: tuple[str, ...] = GLASS_FLOW_QOIS
) -> list[tuple[str, str]]:
    """QoI kinds (with their region or threshold) and probe fields that a flow `model` knows.
    glass_flow needs a threshold for fraction_below; glass_furnace takes its quality
    temperature instead and refuses one."""
    errors: list[tuple[str, str]] = []
    for name, q in case.outputs.qoi.items():
        key = f"outputs.qoi.{name}"
        if q.type not in kinds:
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


def _furnace_errors(case: Case) -> list[tuple[str, str]]:
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


def vector_errors(case: Case, gdim: int) -> list[tuple[str, str]]:
    """Vectors of a glass_flow case (velocity, gravity, body force) that do not have `gdim`
    components."""
    vectors: list[tuple[str, list]] = []
    for i, bc in enumerate(case.boundary_conditions):
        if isinstance(bc, VelocityBC):
            vectors.append((f"boundary_conditions[{i}].value", bc.value))
    for i, ld in enumerate(case.loads):
        if isinstance(ld, GravityLoad):
            vectors.append((f"loads[{i}].acceleration", ld.acceleration))
        elif isinstance(ld, BodyForceLoad):
            vectors.append((f"loads[{i}].value", ld.value))
    return [
        (key, f"has {len(v)} components; the mesh is {gdim}D")
        for key, v in vectors
        if len(v) != gdim
    ]


class _CaseConsistencyError(ValueError):
    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors))
        self.errors = errors


def _quantities(obj: Any, path: str = "") -> list[tuple[str, Q]]:
    """All quantities in a validated case object, with their key paths."""
    out: list[tuple[str, Q]] = []
    if isinstance(obj, Q):
        return [(path, obj)]
    if isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            out += _quantities(getattr(obj, name), f"{path}.{name}" if path else name)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out += _quantities(v, f"{path}.{k}")
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            out += _quantities(v, f"{path}[{i}]")
    return out


# ---- loading ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadedCase:
    """A validated case with where it came from."""

    case: Case
    path: Path
    hash: str

    @property
    def name(self) -> str:
        return self.case.name or self.path.stem

    def mesh_file(self) -> Path | None:
        m = self.case.mesh
        return (self.path.parent / m.file).resolve() if isinstance(m, FileMesh) else None


# Where pydantic puts a discriminator tag ('convection', 'rectangle') into an error's location.
_TAGGED_UNIONS = {("mesh",), ("boundary_conditions", int), ("loads", int)}

# pydantic's wording → the case-file reader's, applied in order.
_WORDING = [
    (r"Input should be a valid dictionary.*", "expected a mapping (key: value ...)"),
    (r"Input should be a valid (tuple|list)", "expected a list [...]"),
    (r"Input should be (greater|less)", r"expected a number \1"),
    (r"Input should be", "expected"),
    (r"(Tuple|List) should have (.*) items? after validation, not", r"expected \2 items, got"),
]


def _fmt_loc(loc: tuple[Any, ...], raw: Any, missing: bool = False) -> str:
    """The key path as written in the file, e.g. `boundary_conditions[1].h`.

    pydantic's `loc` also holds union tags ('convection') and member names ('str', 'float');
    following it through the YAML data keeps only the keys and indices the user wrote.
    """
    out, node = "", raw
    for k, part in enumerate(loc):
        shape = tuple(int if isinstance(p, int) else p for p in loc[:k])
        if shape in _TAGGED_UNIONS and isinstance(part, str):
            continue
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out, node = f"{out}[{part}]", node[part]
        elif (isinstance(node, dict) and part in node) or (missing and k == len(loc) - 1):
            out = f"{out}.{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(top level)"


def _fmt_value(v: Any) -> str:
    s = json.dumps(v, default=str) if not isinstance(v, str) else repr(v)
    return s if len(s) < 80 else s[:77] + "..."


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """Keys the schema allows in the mapping at `loc` (for 'unknown key' messages)."""

    def flat(t: Any) -> list[Any]:  # Annotated[X, ...] → X; X | Y → X, Y
        if typing.get_origin(t) is Annotated:
            return flat(typing.get_args(t)[0])
        if typing.get_origin(t) in (typing.Union, types.UnionType):
            return [f for a in typing.get_args(t) for f in flat(a)]
        return [t]

    def children(t: Any, part: Any) -> list[Any]:
        origin, args = typing.get_origin(t), typing.get_args(t)
        if origin in (list, tuple):
            return [a for a in args if a is not Ellipsis]
        if origin is dict:
            return [args[1]]
        if isinstance(t, type) and issubclass(t, BaseModel):
            fields = t.model_fields
            tags = [
                typing.get_args(fields[k].annotation)
                for k in ("type", "generator", "law")
                if k in fields
            ]
            if (t is FileMesh and part == "file") or any(part in tag for tag in tags):
                return [t]  # a union tag: stay on this member
            if part in fields:
                return [fields[part].annotation]
        return []

    found: list[Any] = [Case]
    for part in loc:
        found = [c for t in found for f in flat(t) for c in children(f, part)]
    models = [f for t in found for f in flat(t) if isinstance(f, type) and issubclass(f, BaseModel)]
    return list(dict.fromkeys(k for m in models for k in m.model_fields))


def _unknown_key(loc: tuple[Any, ...]) -> str:
    keys = _keys_at(loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1)
    if close:
        return f"unknown key; did you mean '{close[0]}'?"
    return "unknown key; expected one of " + ", ".join(keys) if keys else "unknown key"


def _format_validation(path: Path, e: ValidationError, raw: Any) -> str:
    lines: list[list[str]] = []  # [key path, message, got]
    for err in e.errors():
        kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
        if isinstance(ctx.get("error"), _CaseConsistencyError):
            lines += [[p, m, ""] for p, m in ctx["error"].errors]
            continue
        loc = _fmt_loc(err["loc"], raw, missing=kind == "missing")
        msg = err["msg"].removeprefix("Value error, ")
        for pattern, repl in _WORDING:
            msg = re.sub(pattern, repl, msg)
        if kind == "extra_forbidden":
            msg = _unknown_key(err["loc"])
        elif kind == "missing":
            msg = "required key is missing"
        elif kind == "union_tag_invalid":
            loc += "." + ctx["discriminator"].strip("'")
            value, msg = ctx["tag"], f"expected one of {ctx['expected_tags']}"
        elif kind == "union_tag_not_found":
            loc += "." + ctx["discriminator"].strip("'")
            kind, msg = "missing", "required key is missing"
        got = f" (got {_fmt_value(value)})"
        if kind == "missing" or (isinstance(value, str) and value in msg):
            got = ""
        last = lines[-1] if lines else None
        if last and last[0] == loc and last[2] == got and msg.startswith("expected "):
            # the members of a union (str | float) each report; say it once
            last[1] += " or " + msg.removeprefix("expected ")
            continue
        lines.append([loc, msg, got])
    # a misspelt required key is one mistake, not an unknown key plus a missing one
    meant = set()
    for loc, msg, _ in lines:
        if msg.startswith("unknown key; did you mean"):
            parent, key = loc.rpartition(".")[0], msg.split("'")[1]
            meant.add(f"{parent}.{key}" if parent else key)
    lines = [x for x in lines if not (x[0] in meant and x[1] == "required key is missing")]
    return "\n".join(f"{path}: {loc}: {msg}{got}" for loc, msg, got in lines)


def _unique_key_loader() -> type:
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        """yaml.SafeLoader that rejects a key given twice (YAML would keep the last silently)."""

        def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
            seen: set = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key '{key}' is given twice", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def load_case(path: str | Path, check_regions: bool = True) -> LoadedCase:
    """Read, validate and convert a case file. Raises CaseError with a user-facing message."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise CaseError(f"{path}: case file not found")
    try:
        text = path.read_text()
        raw = yaml.load(text, Loader=_unique_key_loader())  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        cmark, context = getattr(e, "context_mark", None), getattr(e, "context", None)
        if cmark and context:  # where the unclosed bracket, quote or block began
            problem += f" ({context} at line {cmark.line + 1}, column {cmark.column + 1})"
        raise CaseError(f"{path}: not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CaseError(f"{path}: cannot read the file ({e})") from None
    if raw is None:
        raise CaseError(f"{path}: the file is empty; expected a mapping of keys (model, mesh, ...)")
    if not isinstance(raw, dict):
        raise CaseError(
            f"{path}: (top level): expected a mapping of keys (model, mesh, materials, ...), "
            f"got {type(raw).__name__}"
        )
    try:
        case = Case.model_validate(raw)
    except ValidationError as e:
        raise CaseError(_format_validation(path, e, raw)) from None
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:16]
    loaded = LoadedCase(case, path, digest)
    if check_regions:
        check_mesh_regions(loaded)
    return loaded


def _mesh_region_dims(loaded: LoadedCase) -> dict[str, int | None]:
    """Region names the mesh will have; dimension known for files, None for generators."""
    m = loaded.case.mesh
    if isinstance(m, FileMesh):
        f = loaded.mesh_file()
        assert f is not None
        if not f.exists():
            raise CaseError(f"{loaded.path}: mesh.file: '{m.file}': mesh file not found at {f}")
        from physics.domain import MeshError, region_names

        try:
            return dict(region_names(f))
        except MeshError as e:
            raise CaseError(f"{loaded.path}: mesh.file: {e}") from None
    return {r: None for r in GENERATOR_REGIONS[m.generator]}


def check_mesh_regions(loaded: LoadedCase) -> None:
    """Every region named in the case exists in the mesh."""
    regions = _mesh_region_dims(loaded)
    c = loaded.case
    used: list[tuple[str, str]] = []
    for i, bc in enumerate(c.boundary_conditions):
        used.append((f"boundary_conditions[{i}].region", bc.region))
    for i, ld in enumerate(c.loads):
        if getattr(ld, "region", None):
            used.append((f"loads[{i}].region", str(ld.region)))  # type: ignore[union-attr]
    for name, mat in c.materials.items():
        for j, r in enumerate(mat.regions or ()):
            used.append((f"materials.{name}.regions[{j}]", r))
    for name, q in c.outputs.qoi.items():
        if q.region:
            used.append((f"outputs.qoi.{name}.region", q.region))
    bad = [
        f"{loaded.path}: {key}: region '{r}' is not in the mesh; it has {sorted(regions)}"
        for key, r in used
        if r not in regions and r != "domain"
    ]
    if bad:
        raise CaseError("\n".join(bad))
