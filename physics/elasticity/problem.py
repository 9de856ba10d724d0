"""What an elasticity problem is: materials, supports, loads, formulation, outputs (checked on
construction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from twinkit.physics.elasticity.recovery import (
    RECOVERY,
    STRAIN_FIELDS,
    STRESS_FIELDS,
    TENSOR_FIELDS,
)
from twinkit.physics.params import Scalar
from twinkit.physics.problem import Probe, QoI, SolverOptions


@dataclass(frozen=True)
class ElasticMaterial:
    youngs_modulus: Scalar
    poisson_ratio: Scalar
    regions: tuple[str, ...] | None = None  # None: every cell
    density: Scalar = 0.0  # kg/m^3
    thermal_expansion: Scalar = 0.0  # 1/K
    reference_temperature: Scalar = 293.15  # K, stress-free temperature
    yield_strength: Scalar = 0.0  # Pa, for the safety factor
    # A prescribed temperature (K) of the material's cells, or its rise above the reference
    # temperature: the thermal strain α ΔT without solving for heat (a function of x for a
    # profile). At most one of the two; either replaces a temperature field passed to the model.
    temperature: Scalar | None = None
    temperature_change: Scalar | None = None
    # Initial (eigen) strain: (component, value) pairs, components 'xx', 'yy', 'zz', 'xy', 'xz',
    # 'yz' of the symmetric tensor (ε_xy, not the engineering shear γ_xy = 2 ε_xy)
    initial_strain: tuple[tuple[str, Scalar], ...] = ()

    def __post_init__(self) -> None:
        if self.temperature is not None and self.temperature_change is not None:
            raise ValueError("give a temperature or a temperature_change, not both")
        comps = [k for k, _ in self.initial_strain]
        for k in comps:
            if k not in STRAIN_COMPONENTS:
                raise ValueError(
                    f"initial strain component '{k}'; expected one of {STRAIN_COMPONENTS}"
                )
        if len(set(comps)) != len(comps):
            raise ValueError("an initial strain component is given twice")


STRAIN_COMPONENTS = ("xx", "yy", "zz", "xy", "xz", "yz")


@dataclass(frozen=True)
class Fixed:
    region: str


@dataclass(frozen=True)
class Displacement:
    region: str
    value: tuple[Scalar | None, ...]  # None: that component is free


@dataclass(frozen=True)
class Traction:
    region: str
    value: tuple[Scalar, ...]  # force per area (per length in 2D), Pa


@dataclass(frozen=True)
class Pressure:
    region: str
    value: Scalar  # Pa, positive pushes into the surface


@dataclass(frozen=True)
class Force:
    region: str
    value: tuple[Scalar, ...]  # total force, spread uniformly over the region (N, N/m in 2D)


@dataclass(frozen=True)
class BodyForce:
    value: tuple[Scalar, ...]  # N/m^3
    region: str | None = None


@dataclass(frozen=True)
class Gravity:
    acceleration: tuple[Scalar, ...]  # m/s^2, times each material's density


ElasticBC = Fixed | Displacement
ElasticLoad = Traction | Pressure | Force | BodyForce | Gravity

FIELD_QOIS = ("max", "min", "mean", "point")  # of a scalar field named by the QoI's `field`
ELASTICITY_QOIS = (
    "max_von_mises",
    "max_displacement",
    "reaction_force",
    "mass",
    "safety_factor",
    *FIELD_QOIS,
)
DISPLACEMENT_FIELDS = ("displacement_x", "displacement_y", "displacement_z")
SCALAR_FIELDS = DISPLACEMENT_FIELDS + STRESS_FIELDS + STRAIN_FIELDS
PROBE_FIELDS = ("", "displacement", *SCALAR_FIELDS)


@dataclass(frozen=True)
class ElasticityProblem:
    materials: Sequence[ElasticMaterial]
    bcs: Sequence[ElasticBC] = ()
    loads: Sequence[ElasticLoad] = ()
    qois: Sequence[QoI] = ()
    probes: Sequence[Probe] = ()
    plane: str = "strain"  # 2D only: "strain" or "stress"
    formulation: str = "displacement"  # or "mixed" (Taylor–Hood u/p, near-incompressible)
    options: SolverOptions = field(default_factory=SolverOptions)
    stress_recovery: str = "projection"  # or "average", "none" (see `recovery`)
    fields: tuple[str, ...] = ()  # extra output fields: stress, strain, principal_stress, tresca
    # 2D plane stress: the plate's thickness; forces (`Force` loads, reactions) and masses are
    # then per body (N, kg), not per metre of depth
    thickness: Scalar | None = None

    def __post_init__(self) -> None:
        if not self.materials:
            raise ValueError("elasticity needs at least one material")
        for b in self.bcs:
            if not isinstance(b, Fixed | Displacement):
                raise TypeError(f"{type(b).__name__} is a load: pass it in `loads`, not `bcs`")
        for ld in self.loads:
            if not isinstance(ld, Traction | Pressure | Force | BodyForce | Gravity):
                raise TypeError(f"{type(ld).__name__} is not a load: pass it in `bcs`")
        if self.plane not in ("strain", "stress"):
            raise ValueError(f"plane must be 'strain' or 'stress', not '{self.plane}'")
        if self.thickness is not None and self.plane != "stress":
            raise ValueError("a thickness goes with plane stress")
        if self.formulation not in ("displacement", "mixed"):
            raise ValueError(
                f"formulation must be 'displacement' or 'mixed', not '{self.formulation}'"
            )
        for q in self.qois:
            if q.kind not in ELASTICITY_QOIS:
                raise ValueError(
                    f"QoI '{q.name}': unknown kind '{q.kind}'; expected one of {ELASTICITY_QOIS}"
                )
            if q.kind == "reaction_force" and (q.region is None or q.component is None):
                raise ValueError(f"QoI '{q.name}': reaction_force needs a region and a component")
            if q.kind in FIELD_QOIS and q.field not in SCALAR_FIELDS:
                raise ValueError(
                    f"QoI '{q.name}': kind {q.kind} needs a field, one of {SCALAR_FIELDS}"
                )
            if (q.kind == "point") != (q.point is not None):
                raise ValueError(f"QoI '{q.name}': a point is given with kind point, and only then")
        if self.stress_recovery not in RECOVERY:
            raise ValueError(f"stress_recovery must be one of {RECOVERY}")
        for name in self.fields:
            if name not in TENSOR_FIELDS:
                raise ValueError(f"unknown field '{name}'; expected one of {tuple(TENSOR_FIELDS)}")
        for p in self.probes:
            if p.field not in PROBE_FIELDS:
                raise ValueError(
                    f"probe '{p.name}': unknown field '{p.field}'; expected one of {PROBE_FIELDS}"
                )
