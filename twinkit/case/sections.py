"""The case's other sections: probes, sensors, alerts, outputs, optimization, run, solver,
furnace and nondimensional settings.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    Field,
    model_validator,
)

from twinkit.case.alerting import AlertKind, Duration, ForecastSpec, RouteSpec, Severity
from twinkit.case.base import (
    Count,
    Dimensionless,
    Length,
    Name,
    Position,
    PositiveLength,
    Q,
    Strict,
    Temperature,
    TemperatureDifference,
    quantity,
)

Fraction = Annotated[Q, quantity("1", "fraction")]
NonnegativeHTC = Annotated[Q, quantity("W/(m^2*K)", "nonnegative")]


class ProbeSpec(Strict):
    point: Annotated[list[Length], Field(min_length=1, max_length=3)]  # one per mesh dimension
    field: str = Field("", max_length=64)


class SensorSpec(Strict):
    """Noise and data-quality rules of one sensor stream (a probe, or a measured parameter).

    Quantities are in units of the sensor (checked by
    `twinkit.sensors.readings.rules_from_case`)."""

    noise: str | float | None = None  # standard deviation of one reading, e.g. '2 K'
    range: tuple[str | float, str | float] | None = None  # plausible readings
    rate: str | None = None  # largest plausible rate of change, e.g. '50 K/min'
    stuck: str | None = None  # the same value for longer than this: a stuck sensor, e.g. '10 min'
    hold: str | None = None  # a missing value repeats the last good one within this time
    opcua: str | dict[str, str] | None = None  # its OPC UA node id, or {node, unit} (live twin)


class AlertSpec(Strict):
    """When the live twin raises alerts."""

    drift: dict[str, float] = {}  # latent parameter: relative change from its baseline
    residual: float = Field(4.0, gt=0)  # a sensor residual beyond this many σ
    qoi: dict[str, tuple[str | float | None, str | float | None]] = {}  # QoI: [lower, upper]
    # event management and forecasts (twinkit.case.alerting)
    forecast: dict[str, ForecastSpec] = {}  # latent parameter: its limit and horizon
    severity: dict[AlertKind, Severity] = {}  # kind: severity, overriding the defaults
    routes: list[RouteSpec] = Field([], max_length=64)
    escalate_after: Duration | None = None  # unacknowledged this long: severity up one level


class QoISpec(Strict):
    type: str = Field(max_length=64)
    region: str | None = None
    component: int | None = Field(None, ge=0, le=2)
    threshold: Temperature | None = None  # fraction_below: volume fraction with T < threshold
    field: str | None = Field(None, max_length=64)  # max, min, mean, point: which field
    point: Annotated[list[Length], Field(min_length=1, max_length=3)] | None = None  # point
    value: str | None = Field(None, max_length=200)  # expression: a formula of outputs, parameters


class Outputs(Strict):
    qoi: dict[Name, QoISpec] = {}
    fields: list[str] | None = None  # None: every field the model produces
    # a transient run: the fields every N steps (and the last) as a ParaView time series
    fields_every: int | None = Field(None, ge=1)
    # stress and strain at points and over regions: L2-projected, node-averaged, or raw FE
    stress_recovery: Literal["projection", "average", "none"] = "projection"
    plots: bool = True
    # name (QoI, probe, field, parameter) → the unit people see it in (files stay SI)
    display: dict[str, str] = {}


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
    `twinkit.case.objectives.optimization_errors`). Sampler default: tpe (one objective), nsga2."""

    objectives: list[ObjectiveSpec] = Field(min_length=1)
    constraints: list[ConstraintSpec] = []
    sampler: Literal["tpe", "cmaes", "nsga2"] | None = None


class RunSpec(Strict):
    """`twinkit run` (the main job): its defaults; the command's options override them."""

    samples: int = Field(32, ge=8, le=1_000_000)  # training samples of the sweep
    test: int = Field(8, ge=0, le=1_000_000)  # held-out samples (0: a seeded fifth of training)
    workers: int = Field(1, ge=1, le=4096)  # sweep worker processes
    members: int = Field(5, ge=1, le=100)  # ensemble members of the surrogate
    epochs: int | None = Field(None, ge=1, le=1_000_000)  # most training epochs (None: default)
    trials: int = Field(100, ge=1, le=10_000_000)  # optimisation trials on the surrogate
    # FE solves the optimisation may spend, chosen by Bayesian optimisation on the surrogate
    # (0: none, the verify stage FE-checks the surrogate's optimum); `refine` is its old name
    fe_solves: int = Field(5, ge=0, le=1000, validation_alias=AliasChoices("fe_solves", "refine"))
    # training samples on the design slice: the design parameters varied, the others at their
    # nominal values (None: a quarter of `samples` when the case optimises over some
    # parameters and varies others; 0: none)
    design_samples: int | None = Field(None, ge=0, le=1_000_000)
    # replayed sensor file (CSV/Parquet), relative to the case file and inside its folder
    sensors: str | None = Field(None, min_length=1, max_length=4096)


class TimeSpec(Strict):
    end: Annotated[Q, quantity("s", "positive")]
    steps: Count  # at most solver.limits.max_steps
    initial_temperature: Temperature
    scheme: Literal["bdf2", "crank_nicolson", "backward_euler"] = "bdf2"


class InitialPerturbation(Strict):
    """Start from the conductive profile between the `bottom` and `top` temperatures plus
    `amplitude`·ΔT·cos(πx/L)·sin(πy/H) (Blankenbach's initial state; y is z in 3D)."""

    amplitude: Dimensionless


class LimitsSpec(Strict):
    """Upper bounds on the cost of one solve, checked before anything is built; raise them here
    for a bigger problem."""

    max_cells: int = Field(5_000_000, ge=1)  # estimated from the mesh section
    max_steps: int = Field(1_000_000, ge=1)  # time steps of a transient run


class SolverSpec(Strict):
    degree: Literal[1, 2, 3] = 1  # glass_flow: the temperature's degree, default 2
    linear_solver: Literal["auto", "direct", "iterative"] = "auto"
    rtol: float = Field(1e-10, gt=0, lt=1)
    max_iterations: int = Field(50, ge=1, le=100_000)
    time: TimeSpec | None = None
    plane: Literal["strain", "stress"] = "strain"
    thickness: PositiveLength | None = None  # 2D plane stress: forces and masses per body
    formulation: Literal["displacement", "mixed"] = "displacement"
    stabilization: Literal["supg", "none"] = "supg"
    initial_temperature: Temperature | None = None
    initial_perturbation: InitialPerturbation | None = None
    limits: LimitsSpec = LimitsSpec()


class FurnaceSpec(Strict):
    """The glass_furnace model's heating, pull and losses (physics.glass_furnace.Furnace)."""

    crown_peak_temperature: Temperature
    hot_spot_position: Position
    crown_drop: TemperatureDifference  # crown temperature falls by this far from the hot spot
    crown_emissivity: Fraction
    pull_rate: Annotated[Q, quantity("kg/s", "nonnegative")]
    wall_htc: NonnegativeHTC
    tank_width: PositiveLength
    inlet_temperature: Temperature
    batch_temperature: Temperature
    batch_htc: NonnegativeHTC
    ambient_temperature: Temperature
    quality_temperature: Temperature  # fraction_below QoIs count melt colder than this
    boost_power: Annotated[Q, quantity("W", "nonnegative")] | None = None


class Nondimensional(Strict):
    """Blankenbach's scaling: ρ₀ = c_p = k = 1, g = −e_y (−e_z in 3D), β = Ra; every other
    quantity is read as the SI magnitude of what is written (1 m → 1, 1 K → 1, 1 Pa*s → 1)."""

    rayleigh: Annotated[Q, quantity("1", "positive")]
