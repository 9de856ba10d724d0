r"""Buoyant Stokes flow coupled to heat transport, with temperature-dependent viscosity.

.. math::
    -\nabla\cdot\big(\eta(T)(\nabla u + \nabla u^T)\big) + \nabla p
        = \rho_0\,\beta\,(T - T_0)\,(-g) + f,\qquad \nabla\cdot u = 0,

    \rho_0 c_p\, u\cdot\nabla T - \nabla\cdot\big(k(T)\nabla T\big) = q,
    \qquad k(T) = k_c + \frac{16 n^2 \sigma T^3}{3 a_R}\quad\text{(Rosseland, if } a_R
    \text{ is given)}.

Inertia is neglected (infinite Prandtl number, as in a glass melt). Viscosity laws: constant,
Vogel–Fulcher–Tammann (log₁₀ η = A + B/(T − T_V)) and exponential (η = η₀ exp(−γ(T − T_r))).
Non-dimensional runs (Blankenbach) use ρ₀ = c_p = k = η₀ = 1, g = (0, −1), β = Ra.

Discretisation: Taylor–Hood P2/P1 for (u, p), P2 (or the given degree) for T, one monolithic
Newton (PETSc SNES, line search, MUMPS) with SUPG on the energy equation for high Péclet
numbers. Newton starts from the previous solution; a first solve does a few Picard sweeps
and, if Newton fails, continues in the buoyancy and the viscosity contrast.

Modules: `problem` (what: melt, viscosity laws, boundary conditions, the problem), `forms` (the
weak forms), `model` (`GlassFlow`: spaces, forms, boundary conditions, solver set-up), `solver`
(Newton, continuation, cold start), `outputs` (fields, QoIs, probes, units).
"""

from twinkit.physics.glass_flow.forms import (
    conductivity,
    continuity,
    energy,
    momentum,
    viscosity,
    viscosity_value,
)
from twinkit.physics.glass_flow.model import GlassFlow, _normal_axis
from twinkit.physics.glass_flow.problem import (
    FLOW_QOIS,
    BodyForce,
    ConstantViscosity,
    ExponentialViscosity,
    FlowBC,
    FreeSlip,
    GlassFlowProblem,
    Melt,
    NoSlip,
    Velocity,
    VFTViscosity,
    Viscosity,
)

__all__ = [
    "FLOW_QOIS",
    "BodyForce",
    "ConstantViscosity",
    "ExponentialViscosity",
    "FlowBC",
    "FreeSlip",
    "GlassFlow",
    "GlassFlowProblem",
    "Melt",
    "NoSlip",
    "VFTViscosity",
    "Velocity",
    "Viscosity",
    "_normal_axis",
    "conductivity",
    "continuity",
    "energy",
    "momentum",
    "viscosity",
    "viscosity_value",
]
