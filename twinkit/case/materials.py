"""The case's materials, boundary conditions and loads."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from twinkit.case.base import (
    Dimensionless,
    Length,
    Q,
    Stress,
    Strict,
    Temperature,
    quantity,
)
from twinkit.case.timevalues import TimeTemperature, space_quantity, time_quantity

Viscosity = Annotated[Q, quantity("Pa*s", "positive")]
PositiveStress = Annotated[Q, quantity("Pa", "positive")]
VECTOR = Field(min_length=1, max_length=3)  # one component per space dimension
StrainComponent = Literal["xx", "yy", "zz", "xy", "xz", "yz"]  # of the symmetric tensor


# η(T, x) = law(T) · factor(x): a dimensionless formula of x, y, z (a depth term)
ViscosityFactor = Annotated[Q, space_quantity("1", "positive")]


class ConstantViscositySpec(Strict):
    law: Literal["constant"]
    value: Viscosity
    factor: ViscosityFactor | None = None


class VFTViscositySpec(Strict):
    """Vogel–Fulcher–Tammann: log₁₀(η / Pa·s) = A + B / (T − T_V)."""

    law: Literal["vft"]
    A: Dimensionless
    B: Annotated[Q, quantity("K", "positive")]  # a temperature scale, not a temperature
    T_V: Temperature
    max_viscosity: Viscosity | None = None  # cap for practically solid glass
    factor: ViscosityFactor | None = None


class ExponentialViscositySpec(Strict):
    """η = η₀ exp(−γ (T − T_ref))."""

    law: Literal["exponential"]
    eta0: Viscosity
    gamma: Annotated[Q, quantity("1/K")]
    T_ref: Temperature
    factor: ViscosityFactor | None = None


ViscositySpec = Annotated[
    ConstantViscositySpec | VFTViscositySpec | ExponentialViscositySpec,
    Field(discriminator="law"),
]


class Material(Strict):
    """Material data; each model uses what it needs. `regions`: cell regions (all if unset)."""

    regions: tuple[str, ...] | None = None
    conductivity: Annotated[Q, space_quantity("W/(m*K)", "positive")] | None = None
    conductivity_slope: Annotated[Q, quantity("W/(m*K^2)")] | None = None
    reference_temperature: Temperature | None = None
    density: Annotated[Q, quantity("kg/m^3", "positive")] | None = None
    specific_heat: Annotated[Q, quantity("J/(kg*K)", "positive")] | None = None
    youngs_modulus: Annotated[Q, space_quantity("Pa", "positive")] | None = None
    poisson_ratio: Annotated[Q, quantity("1", "poisson")] | None = None
    thermal_expansion: Annotated[Q, quantity("1/K")] | None = None
    yield_strength: PositiveStress | None = None
    viscosity: ViscositySpec | None = None
    # Rosseland mean absorption coefficient
    absorption: Annotated[Q, quantity("1/m", "positive")] | None = None
    refractive_index: Annotated[Q, quantity("1", "index")] | None = None
    # elasticity: a prescribed temperature of the material's cells (or its rise above
    # reference_temperature) for the thermal strain α ΔT, and an initial strain; may be formulas
    # of x, y, z
    temperature: Annotated[Q, space_quantity("K", "absolute")] | None = None
    temperature_change: Annotated[Q, space_quantity("K")] | None = None
    initial_strain: dict[StrainComponent, Annotated[Q, space_quantity("1")]] | None = None


Vector = list[Length | None]


class _Region(Strict):
    region: str


class TemperatureBC(_Region):
    type: Literal["temperature"]
    value: TimeTemperature  # may be a formula of t, x, y, z or a table (transient)


class HeatFluxBC(_Region):
    type: Literal["heat_flux"]
    value: Annotated[Q, time_quantity("W/m^2")]


class ConvectionBC(_Region):
    type: Literal["convection"]
    h: Annotated[Q, quantity("W/(m^2*K)", "positive")]
    ambient: TimeTemperature


class RadiationBC(_Region):
    type: Literal["radiation"]
    emissivity: Annotated[Q, quantity("1", "fraction")]
    ambient: Temperature


class FixedBC(_Region):
    type: Literal["fixed"]


class DisplacementBC(_Region):
    type: Literal["displacement"]
    value: Annotated[list[Length | None], VECTOR]


class TractionBC(_Region):
    type: Literal["traction"]
    value: Annotated[list[Stress], VECTOR]


class PressureBC(_Region):
    type: Literal["pressure"]
    value: Stress


class ForceBC(_Region):
    type: Literal["force"]
    value: Annotated[list[Annotated[Q, quantity("N")]], VECTOR]


class NoSlipBC(_Region):
    type: Literal["no_slip"]


class FreeSlipBC(_Region):
    type: Literal["free_slip"]


class VelocityBC(_Region):
    type: Literal["velocity"]
    value: Annotated[list[Annotated[Q, quantity("m/s")] | None], VECTOR]


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
    value: Annotated[Q, time_quantity("W/m^3")]
    region: str | None = None


class BodyForceLoad(Strict):
    type: Literal["body_force"]
    value: Annotated[list[Annotated[Q, quantity("N/m^3")]], VECTOR]
    region: str | None = None


class GravityLoad(Strict):
    type: Literal["gravity"]
    acceleration: Annotated[list[Annotated[Q, quantity("m/s^2")]], VECTOR]


Load = Annotated[HeatSourceLoad | BodyForceLoad | GravityLoad, Field(discriminator="type")]
