"""Rest far above the onset of convection: a converged state to doubt, and a second try.

The motionless (conductive) state solves the steady equations at every Rayleigh number; above
onset (Ra_c ≈ 658 with free slip, 1708 between rigid walls) it is unstable, yet Newton lands on it
from a motionless start or a warm start from below onset. A state is taken to be at rest when

- the layer is heated from below (the temperature falls upwards, for β > 0),
- Ra = ρ₀|β||g|ΔT H³/(η_max κ) ≥ `RA_FAR` (ΔT across the fixed temperatures, H the smallest
  extent, η at the coldest fixed temperature, so Ra is, if anything, underestimated), and
- the Péclet number Vrms·H/κ is below `REST` · Ra^(2/3): a convecting cell has about
  0.09 Ra^(2/3) (Blankenbach 1a, 1b), the discrete rest state about 1e-7 Ra.

`leave_rest` then perturbs the temperature by a tenth of ΔT in Blankenbach's mode
cos(πx/L) sin(πz/H) and follows the evolution by pseudo-time steps (Ψtc).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from mpi4py import MPI

from twinkit.physics.fields import reduce_array
from twinkit.physics.glass_flow.forms import viscosity_value
from twinkit.physics.params import value_of

RA_FAR = 1e4  # ten times onset or more
REST = 1e-3  # Péclet number / Ra^(2/3) below which a flow is at rest
AMPLITUDE = 0.1  # of ΔT


def _height(m: Any, x: np.ndarray) -> np.ndarray:
    """Height against gravity at points `x` (n × 3)."""
    g = np.array([value_of(v, m.c.values) for v in m.problem.gravity], dtype=float)
    gdim = m.domain.gdim
    return -x[:, :gdim] @ (g / (np.linalg.norm(g) or 1.0))


def _rayleigh(m: Any, fixed: list[float]) -> float:
    law, vals = m.problem.melt.viscosity, m.c.values
    eta = viscosity_value(law, min(fixed), vals)
    return m.rayleigh_estimate(max(fixed) - min(fixed), eta)


def _heated_from_below(m: Any) -> bool:
    """Temperature and height are anti-correlated (correlated for β < 0)."""
    VT, dofs = m.spaces[2]
    owned = VT.dofmap.index_map.size_local
    T = m.w.x.array[dofs][:owned]
    h = _height(m, VT.tabulate_dof_coordinates()[:owned])
    comm = m.domain.mesh.comm
    n = comm.allreduce(T.size)
    sums = [comm.allreduce(float(a), op=MPI.SUM) for a in (T.sum(), h.sum(), (T * h).sum())]
    cov = sums[2] / n - sums[0] * sums[1] / n**2
    beta = value_of(m.problem.melt.thermal_expansion, m.c.values)
    return bool(beta * cov < 0)


def at_rest(m: Any) -> str | None:
    """Why the converged state of model `m` looks like rest far above onset, or None."""
    import ufl
    from dolfinx import fem

    fixed = m._fixed_temperatures()
    if len(fixed) < 2 or max(fixed) == min(fixed) or not _heated_from_below(m):
        return None
    ra = _rayleigh(m, fixed)
    if ra < RA_FAR:
        return None
    u = m._split[0]
    dx = m.domain.dx()
    uu = m._integral("onset/uu", lambda: ufl.dot(u, u) * dx)
    vol = m._integral("onset/vol", lambda: fem.Constant(m.domain.mesh, 1.0) * dx)
    tau = m.diffusion_time()
    peclet = float(np.sqrt(uu / vol)) * tau / m._extent()  # Vrms / (κ/H), κ/H = H/τ
    if peclet >= REST * ra ** (2 / 3):
        return None
    return (
        f"the flow is at rest (Péclet number Vrms·H/κ = {peclet:.2g}) at a Rayleigh number of "
        f"about {ra:.3g}, far above the onset of convection: it may be the unstable conductive "
        "state"
    )


def perturb(m: Any) -> None:
    """Add AMPLITUDE·ΔT·cos(πx/L)·sin(πz/H) to the temperature (x across, z up the box)."""
    VT, dofs = m.spaces[2]
    fixed = m._fixed_temperatures()
    comm = m.domain.mesh.comm
    x = VT.tabulate_dof_coordinates()
    lo = reduce_array(comm, m.domain.mesh.geometry.x.min(axis=0), MPI.MIN)
    hi = reduce_array(comm, m.domain.mesh.geometry.x.max(axis=0), MPI.MAX)
    h = _height(m, x)
    h_lo = comm.allreduce(h.min(initial=np.inf), op=MPI.MIN)
    h_hi = comm.allreduce(h.max(initial=-np.inf), op=MPI.MAX)
    xi = (x[:, 0] - lo[0]) / ((hi[0] - lo[0]) or 1.0)
    zeta = (h - h_lo) / ((h_hi - h_lo) or 1.0)
    wave = np.cos(np.pi * xi) * np.sin(np.pi * zeta)
    m.w.x.array[dofs] += AMPLITUDE * (max(fixed) - min(fixed)) * wave
    m.w.x.scatter_forward()
