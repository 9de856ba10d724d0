"""What a heat problem is: materials, boundary conditions, sources, time stepping, outputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from twinkit.physics.params import Param, Scalar
from twinkit.physics.problem import Probe, QoI, SolverOptions

STEFAN_BOLTZMANN = 5.670374419e-8  # W/(m^2 K^4)


@dataclass(frozen=True)
class ThermalMaterial:
    conductivity: Scalar
    regions: tuple[str, ...] | None = None  # None: every cell
    conductivity_slope: Scalar = 0.0  # k1 in W/(m K^2)
    reference_temperature: Scalar = 293.15
    density: Scalar = 0.0
    specific_heat: Scalar = 0.0


@dataclass(frozen=True)
class FixedTemperature:
    region: str
    value: Scalar


@dataclass(frozen=True)
class HeatFlux:
    region: str
    value: Scalar  # W/m^2 into the body


@dataclass(frozen=True)
class Convection:
    region: str
    h: Scalar
    ambient: Scalar


@dataclass(frozen=True)
class Radiation:
    region: str
    emissivity: Scalar
    ambient: Scalar


@dataclass(frozen=True)
class HeatSource:
    value: Scalar  # W/m^3
    region: str | None = None


@dataclass(frozen=True)
class TimeStepping:
    end: Scalar  # s; may be a parameter
    steps: int
    initial_temperature: Scalar
    scheme: str = "bdf2"  # or "crank_nicolson", "backward_euler"


HeatBC = FixedTemperature | HeatFlux | Convection | Radiation

HEAT_QOIS = ("min_temperature", "max_temperature", "mean_temperature", "heat_flow")


@dataclass(frozen=True)
class HeatProblem:
    materials: Sequence[ThermalMaterial]
    bcs: Sequence[HeatBC] = ()
    sources: Sequence[HeatSource] = ()
    qois: Sequence[QoI] = ()
    probes: Sequence[Probe] = ()
    time: TimeStepping | None = None
    options: SolverOptions = field(default_factory=SolverOptions)

    @property
    def nonlinear(self) -> bool:
        return any(isinstance(b, Radiation) for b in self.bcs) or any(
            isinstance(m.conductivity_slope, Param) or m.conductivity_slope != 0.0
            for m in self.materials
        )
