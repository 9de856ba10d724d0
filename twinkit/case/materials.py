"""The case's materials, boundary conditions and loads."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
)

from twinkit.case.base import Dimensionless, Length, Q, Stress, Strict, Temperature, quantity


class ConstantViscositySpec(Strict):
    law: Literal["constant"]
    value: Annotated[Q, quantity("Pa*s")]


class VFTViscositySpec(Strict):
    """Vogel–Fulcher–Tammann: log₁₀(η / Pa·s) = A + B / (T − T_V)."""

    law: Literal["vft"]
    A: Dimensionless
    B: Temperature
    T_V: Temperature
    max_viscosity: Annotated[Q, quantity("Pa*s")] | None = None  # cap for practically solid glass


class ExponentialViscositySpec(Strict):
    """η = η₀ exp(−γ (T − T_ref))."""

    law: Literal["exponential"]
    eta0: Annotated[Q, quantity("Pa*s")]
    gamma: Annotated[Q, quantity("1/K")]
    T_ref: Temperature


ViscositySpec = Annotated[
    ConstantViscositySpec | VFTViscositySpec | ExponentialViscositySpec,
    Field(discriminator="law"),
]


class Material(Strict):
    """Material data; each model uses what it needs. `regions`: cell regions (all if unset)."""

    regions: tuple[str, ...] | None = None
    conductivity: Annotated[Q, quantity("W/(m*K)")] | None = None
    conductivity_slope: Annotated[Q, quantity("W/(m*K^2)")] | None = None
    reference_temperature: Temperature | None = None
    density: Annotated[Q, quantity("kg/m^3")] | None = None
    specific_heat: Annotated[Q, quantity("J/(kg*K)")] | None = None
    youngs_modulus: Stress | None = None
    poisson_ratio: Dimensionless | None = None
    thermal_expansion: Annotated[Q, quantity("1/K")] | None = None
    yield_strength: Stress | None = None
    viscosity: ViscositySpec | None = None
    absorption: Annotated[Q, quantity("1/m")] | None = None  # Rosseland mean absorption coefficient
    refractive_index: Dimensionless | None = None


Vector = list[Length | None]


class _Region(Strict):
    region: str


class TemperatureBC(_Region):
    type: Literal["temperature"]
    value: Temperature


class HeatFluxBC(_Region):
    type: Literal["heat_flux"]
    value: Annotated[Q, quantity("W/m^2")]


class ConvectionBC(_Region):
    type: Literal["convection"]
    h: Annotated[Q, quantity("W/(m^2*K)")]
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
    value: list[Annotated[Q, quantity("N")]]


class NoSlipBC(_Region):
    type: Literal["no_slip"]


class FreeSlipBC(_Region):
    type: Literal["free_slip"]


class VelocityBC(_Region):
    type: Literal["velocity"]
    value: list[Annotated[Q, quantity("m/s")] | None]


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
    value: Annotated[Q, quantity("W/m^3")]
    region: str | None = None


class BodyForceLoad(Strict):
    type: Literal["body_force"]
    value: list[Annotated[Q, quantity("N/m^3")]]
    region: str | None = None


class GravityLoad(Strict):
    type: Literal["gravity"]
    acceleration: list[Annotated[Q, quantity("m/s^2")]]


Load = Annotated[HeatSourceLoad | BodyForceLoad | GravityLoad, Field(discriminator="type")]
