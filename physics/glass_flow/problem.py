"""What a glass-flow problem is: the melt (viscosity law, conductivity, buoyancy), flow boundary
conditions, body forces, and the problem with its thermal data, outputs and numerics."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from twinkit.physics.heat import HeatBC, HeatSource
from twinkit.physics.params import Scalar
from twinkit.physics.problem import Probe, QoI


@dataclass(frozen=True)
class ConstantViscosity:
    value: Scalar


@dataclass(frozen=True)
class VFTViscosity:
    """log₁₀(η / Pa·s) = A + B / (T − T_V), temperatures in K (DGG-1: A=−2.601, B=4330.9 K,
    T_V = 519.25 K)."""

    A: Scalar
    B: Scalar
    T_V: Scalar
    max_viscosity: Scalar | None = None  # cap for cold (practically solid) glass, Pa·s


@dataclass(frozen=True)
class ExponentialViscosity:
    """η = η₀ exp(−γ (T − T_r)) (Frank-Kamenetskii); Blankenbach 2a: η₀=1, γ=ln 1000, T_r=0."""

    eta0: Scalar
    gamma: Scalar
    T_ref: Scalar = 0.0


Viscosity = ConstantViscosity | VFTViscosity | ExponentialViscosity


@dataclass(frozen=True)
class Melt:
    """The fluid: viscosity law, conductivity (phonon + optional Rosseland radiation), buoyancy."""

    viscosity: Viscosity
    conductivity: Scalar
    density: Scalar = 1.0
    specific_heat: Scalar = 1.0
    thermal_expansion: Scalar = 0.0
    reference_temperature: Scalar = 0.0
    absorption: Scalar | None = None  # a_R (1/m): adds k_r = 16 n² σ T³ / (3 a_R)
    refractive_index: Scalar = 1.5
    # η(T, x) = law(T) · f(x): a dimensionless, positive function of position (a depth term,
    # e.g. Blankenbach 2b's exp(c (1 − y))); None: 1
    viscosity_factor: Scalar | None = None


@dataclass(frozen=True)
class NoSlip:
    region: str


@dataclass(frozen=True)
class FreeSlip:
    """u·n = 0, no tangential stress; the region must be straight and axis-aligned."""

    region: str


@dataclass(frozen=True)
class Velocity:
    region: str
    value: tuple[Scalar | None, ...]  # None: component free


@dataclass(frozen=True)
class BodyForce:
    """Force per volume: components, or (from Python) a function of x returning a UFL vector."""

    value: tuple[Scalar, ...] | Callable


FlowBC = NoSlip | FreeSlip | Velocity

FLOW_QOIS = (
    "nusselt",  # outflow through `region` / inflow-normalised: Blankenbach's Nu (region: top)
    "vrms",
    "max_velocity",
    "min_temperature",
    "max_temperature",
    "mean_temperature",
    "heat_flow",  # through a boundary region, consistent with the discrete energy equation
    "advected_heat",  # ∫ ρ c_p u·∇T: net enthalpy carried out of the domain by the flow
    "source_heat",  # ∫ q over the sources
    "fraction_below",  # volume fraction of the melt with T below `threshold` (kind arg)
)


@dataclass(frozen=True)
class GlassFlowProblem:
    melt: Melt
    flow_bcs: Sequence[FlowBC]
    thermal_bcs: Sequence[HeatBC] = ()
    sources: Sequence[HeatSource] = ()
    body_forces: Sequence[BodyForce] = ()
    gravity: tuple[Scalar, ...] = (0.0, -9.81)
    qois: Sequence[QoI] = ()
    probes: Sequence[Probe] = ()
    temperature_degree: int = 2
    supg: bool = True
    initial_temperature: Scalar | Callable | None = None  # default: mean of given temperatures
    thresholds: Mapping[str, Scalar] = field(default_factory=dict)  # QoI name → T threshold
    rtol: float = 1e-11  # relative to the first residual: the energy balance closes to this
    max_iterations: int = 40
    quadrature_degree: int = 5
