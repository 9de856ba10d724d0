r"""Heat conduction, steady and transient, with temperature-dependent conductivity and radiation.

.. math::
    \rho c_p \partial_t T - \nabla\cdot(k(T)\nabla T) = f \quad\text{in } \Omega,\qquad
    k(T) = k_0 + k_1 (T - T_\mathrm{ref}),

with, on named boundary regions, a fixed temperature :math:`T = T_D`, an inflowing heat flux
:math:`-k\partial_n T = -q`, convection :math:`-k\partial_n T = h(T - T_\infty)` and radiation
:math:`-k\partial_n T = \sigma\varepsilon(T^4 - T_\infty^4)`. Unmentioned boundaries are insulated.
Nonlinear problems are solved by Newton's method (PETSc SNES, line search); linear ones by one
linear solve. Transient: BDF2 (first step backward Euler) or Crank–Nicolson, fixed step.

Modules: `problem` (what: materials, boundary conditions, sources, time stepping), `forms` (the
weak forms), `model` (`HeatConduction`: set-up and solve), `outputs` (QoIs, probes, units).
"""

from twinkit.physics.heat.forms import (
    bc_outflow,
    boundary_fluxes,
    conductivity,
    diffusion,
    volume_sources,
)
from twinkit.physics.heat.model import HeatConduction
from twinkit.physics.heat.problem import (
    HEAT_QOIS,
    STEFAN_BOLTZMANN,
    Convection,
    FixedTemperature,
    HeatBC,
    HeatFlux,
    HeatProblem,
    HeatSource,
    Radiation,
    ThermalMaterial,
    TimeStepping,
)

__all__ = [
    "HEAT_QOIS",
    "STEFAN_BOLTZMANN",
    "Convection",
    "FixedTemperature",
    "HeatBC",
    "HeatConduction",
    "HeatFlux",
    "HeatProblem",
    "HeatSource",
    "Radiation",
    "ThermalMaterial",
    "TimeStepping",
    "bc_outflow",
    "boundary_fluxes",
    "conductivity",
    "diffusion",
    "volume_sources",
]
