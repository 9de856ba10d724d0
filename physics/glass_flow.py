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
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from mpi4py import MPI

from twinkit.physics.domain import RegionMesh
from twinkit.physics.fields import reduce_array
from twinkit.physics.heat import (
    STEFAN_BOLTZMANN,
    FixedTemperature,
    HeatBC,
    HeatSource,
    bc_outflow,
)
from twinkit.physics.params import ConstantPool, Scalar, value_of
from twinkit.physics.probes import PointEvaluator
from twinkit.physics.problem import Probe, QoI, petsc_prefix
from twinkit.physics.result import Result, SolverStatus


# ---- problem data ---------------------------------------------------------------------------
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


# ---- weak forms ----------------------------------------------------------------------------
def viscosity(law: Viscosity, T, c: ConstantPool):
    import ufl

    if isinstance(law, ConstantViscosity):
        return c(law.value)
    if isinstance(law, VFTViscosity):
        # guard the pole at T_V; with a cap, log₁₀ η never exceeds log₁₀ η_max
        log_eta = c(law.A) + c(law.B) / ufl.max_value(T - c(law.T_V), 1.0)
        if law.max_viscosity is not None:
            log_eta = ufl.min_value(log_eta, ufl.ln(c(law.max_viscosity)) / np.log(10.0))
        return 10**log_eta
    return c(law.eta0) * ufl.exp(-c(law.gamma) * (T - c(law.T_ref)))


def viscosity_value(law: Viscosity, T: float, params: Mapping[str, float]) -> float:
    """The viscosity law evaluated numerically (for scales and continuation)."""
    v = lambda s: value_of(s, params)  # noqa: E731
    if isinstance(law, ConstantViscosity):
        return v(law.value)
    if isinstance(law, VFTViscosity):
        log_eta = v(law.A) + v(law.B) / max(T - v(law.T_V), 1.0)
        if law.max_viscosity is not None:
            log_eta = min(log_eta, float(np.log10(v(law.max_viscosity))))
        return float(10**log_eta)
    return float(v(law.eta0) * np.exp(-v(law.gamma) * (T - v(law.T_ref))))


def conductivity(m: Melt, T, c: ConstantPool):
    k = c(m.conductivity)
    if m.absorption is not None:
        n = c(m.refractive_index)
        k = k + 16 * n**2 * STEFAN_BOLTZMANN * T**3 / (3 * c(m.absorption))
    return k


def momentum(u, p, v, eta, buoyancy, dx):
    """Stokes: ∫ 2η ε(u):ε(v) − p ∇·v − f·v."""
    import ufl

    eps = ufl.sym(ufl.grad(u))
    return (
        2 * eta * ufl.inner(eps, ufl.sym(ufl.grad(v))) - p * ufl.div(v) - ufl.dot(buoyancy, v)
    ) * dx


def continuity(u, q, dx):
    import ufl

    return -q * ufl.div(u) * dx


def energy(u, T, s, rho_cp, k, source, supg: bool, h, dx):
    """Advection–diffusion with SUPG: ∫ ρc u·∇T s + k∇T·∇s − q s + τ (u·∇s) R(T).

    The advective form is used rather than ∇·(uT): Taylor–Hood velocities are divergence-free
    only weakly, and the spurious source ρc T ∇·u_h of the divergence form overheats melts with
    an inflow and strong viscosity contrast. The discrete energy balance stays exact because the
    advected heat is reported as the same integral, ∫ ρc u·∇T dx.
    """
    import ufl

    adv = rho_cp * ufl.dot(u, ufl.grad(T))
    F = (adv * s + k * ufl.inner(ufl.grad(T), ufl.grad(s)) - source * s) * dx
    if supg:
        speed = ufl.sqrt(ufl.dot(u, u) + 1e-30)
        alpha = k / rho_cp
        tau = 1 / ufl.sqrt((2 * speed / h) ** 2 + (4 * alpha / h**2) ** 2)
        residual = adv - ufl.div(k * ufl.grad(T)) - source
        F += tau * ufl.dot(u, ufl.grad(s)) * residual * dx
    return F


# ---- the model -----------------------------------------------------------------------------
class _Homotopy:
    """A continuation knob over parameters: `value` λ ∈ [0, 1] sets every parameter that
    differs between `start` and `end` to start + λ (end − start) in the constant pool."""

    def __init__(self, pool: ConstantPool, start: Mapping[str, float], end: Mapping[str, float]):
        self._pool = pool
        self.changed = {k: (start.get(k, v), v) for k, v in end.items() if start.get(k, v) != v}
        self._value = 0.0

    @property
    def value(self) -> float:
        return self._value

    @value.setter
    def value(self, lam: float) -> None:
        self._value = lam
        self._pool.update({k: a + lam * (b - a) for k, (a, b) in self.changed.items()})


class GlassFlow:
    """Monolithic (u, p, T) model; forms compiled once, `solve` may be repeated (warm start)."""

    primary = "temperature"

    def __init__(self, domain: RegionMesh, problem: GlassFlowProblem, params: Mapping[str, float]):
        import basix.ufl
        import ufl
        from dolfinx import fem

        self.domain, self.problem = domain, problem
        mesh = domain.mesh
        gdim = domain.gdim
        self.c = c = ConstantPool(mesh, params)
        cell = mesh.basix_cell()
        el_u = basix.ufl.element("Lagrange", cell, 2, shape=(gdim,))
        el_p = basix.ufl.element("Lagrange", cell, 1)
        el_T = basix.ufl.element("Lagrange", cell, problem.temperature_degree)
        self.W = W = fem.functionspace(mesh, basix.ufl.mixed_element([el_u, el_p, el_T]))
        self.w = w = fem.Function(W)
        self.spaces = [W.sub(i).collapse() for i in range(3)]
        u, p, T = ufl.split(w)
        v, q, s = ufl.TestFunctions(W)
        self._split = (u, p, T)

        m = problem.melt
        # Continuation knobs: buoyancy scale, and θ blending η(T) with the constant η_ref.
        self.s_buoy: Any = fem.Constant(mesh, 1.0)
        self.theta: Any = fem.Constant(mesh, 1.0)
        self.eta_ref: Any = fem.Constant(mesh, 1.0)
        self.eta = self.eta_ref ** (1 - self.theta) * viscosity(m.viscosity, T, c) ** self.theta
        g = c.vector(tuple(problem.gravity))
        rho0, beta = c(m.density), c(m.thermal_expansion)
        buoy = -self.s_buoy * rho0 * beta * (T - c(m.reference_temperature)) * g
        for f in problem.body_forces:
            x = ufl.SpatialCoordinate(mesh)
            buoy = buoy + (f.value(x) if callable(f.value) else c.vector(tuple(f.value)))
        self.rho_cp = rho0 * c(m.specific_heat)
        self.k = conductivity(m, T, c)
        self.q = sum(
            (c(src.value) * self._indicator(src.region) for src in problem.sources),
            fem.Constant(mesh, 0.0),
        )
        h = ufl.CellDiameter(mesh)
        # UFL's estimate for exp/pow/sqrt coefficients is huge (a 3D SUPG Jacobian took 20 s on
        # 48 cells); 2k+1 keeps the optimal rates (tested) at a fraction of the cost.
        dx = ufl.dx(metadata={"quadrature_degree": problem.quadrature_degree})

        def energy_residual(w_T):
            """Energy equation of the current state tested with w_T (for consistent fluxes)."""
            R = energy(u, T, w_T, self.rho_cp, self.k, self.q, problem.supg, h, dx)
            for bc in problem.thermal_bcs:
                out = bc_outflow(bc, T, c)
                if out is not None:
                    R += out * w_T * domain.ds(bc.region)
            return R

        self._energy_residual = energy_residual
        # pseudo-time term (1/Δτ) ρc (T − T_prev): zero for the steady problem
        self.inv_dtau: Any = fem.Constant(mesh, 0.0)
        self.T_prev = fem.Function(self.spaces[2][0])
        pseudo = self.inv_dtau * self.rho_cp * (T - self.T_prev) * s * dx
        F = (
            momentum(u, p, v, self.eta, buoy, dx)
            + continuity(u, q, dx)
            + energy_residual(s)
            + pseudo
        )
        self.F = F
        self.bcs = self._dirichlet()

        from dolfinx.fem.petsc import NonlinearProblem

        opts = {
            "snes_type": "newtonls",
            "snes_linesearch_type": "bt",
            "snes_rtol": problem.rtol,
            "snes_atol": 1e-12,
            "snes_stol": 0.0,
            "snes_max_it": problem.max_iterations,
            "snes_force_iteration": True,  # one step more takes the residual to round-off
            "ksp_type": "preonly",
            "pc_type": "lu",
            "pc_factor_mat_solver_type": "mumps",
            # saddle-point pivoting outgrows MUMPS's workspace estimate (INFOG(1) = -9)
            "mat_mumps_icntl_14": 200,
        }
        self._solver = NonlinearProblem(
            F, w, bcs=self.bcs, petsc_options_prefix=petsc_prefix(self, "flow"), petsc_options=opts
        )
        self._evaluator: PointEvaluator | None = None
        self._forms: dict[str, Any] = {}
        self._initialised = False
        self._anchor: tuple[np.ndarray, dict[str, float]] | None = None
        self._scale: float | None = None  # first residual norm seen: scales the tolerance

    # ---- set-up helpers ---------------------------------------------------------------------
    def _indicator(self, region: str | None):
        """1 on the cells of `region` (everywhere if None), as a DG0 function."""
        from dolfinx import fem

        if region is None:
            return 1.0
        V0 = fem.functionspace(self.domain.mesh, ("DG", 0))
        chi = fem.Function(V0)
        chi.x.array[self.domain.cells(region)] = 1.0
        chi.x.scatter_forward()
        return chi

    def _dirichlet(self) -> list:
        from dolfinx import fem

        W, domain, c = self.W, self.domain, self.c
        fdim = domain.tdim - 1
        bcs = []
        Wu = W.sub(0)
        for bc in self.problem.flow_bcs:
            facets = domain.facets(bc.region)
            if isinstance(bc, NoSlip):
                values: tuple = (0.0,) * domain.gdim
            elif isinstance(bc, FreeSlip):
                axis = _normal_axis(domain, bc.region)
                values = tuple(0.0 if i == axis else None for i in range(domain.gdim))
            else:
                values = bc.value
            for i, val in enumerate(values):
                if val is None:
                    continue
                Wi = Wu.sub(i)
                dofs = fem.locate_dofs_topological(Wi, fdim, facets)
                bcs.append(fem.dirichletbc(c(val), dofs, Wi))
        WT, _ = self.spaces[2]
        for tbc in self.problem.thermal_bcs:
            if isinstance(tbc, FixedTemperature):
                dofs = fem.locate_dofs_topological(W.sub(2), fdim, domain.facets(tbc.region))
                if callable(tbc.value):
                    VT, _ = self.spaces[2]
                    gT = fem.Function(VT)
                    gT.interpolate(fem.Expression(c(tbc.value), VT.element.interpolation_points))
                    dofs2 = fem.locate_dofs_topological(
                        (W.sub(2), VT), fdim, domain.facets(tbc.region)
                    )
                    bcs.append(fem.dirichletbc(gT, dofs2, W.sub(2)))
                else:
                    bcs.append(fem.dirichletbc(c(tbc.value), dofs, W.sub(2)))
        if self._pressure_is_undetermined():
            bcs.append(self._pin_pressure())
        return bcs

    def _pressure_is_undetermined(self) -> bool:
        """True if every boundary facet has its normal velocity prescribed (closed container)."""
        named = [self.domain.facets(b.region) for b in self.problem.flow_bcs]
        mesh = self.domain.mesh
        from dolfinx import mesh as dmesh

        boundary = dmesh.exterior_facet_indices(mesh.topology)
        covered = np.unique(np.concatenate(named)) if named else np.array([], np.int32)
        local = np.setdiff1d(boundary, covered).size == 0
        return bool(mesh.comm.allreduce(local, op=MPI.LAND))

    def _pin_pressure(self):
        """p = 0 at one vertex: fixes the constant in a closed domain."""
        from dolfinx import fem

        Wp = self.W.sub(1)
        Vp, _ = self.spaces[1]
        x0 = self.domain.mesh.geometry.x.min(axis=0)
        x0 = reduce_array(self.domain.mesh.comm, x0, MPI.MIN)
        dofs = fem.locate_dofs_geometrical(
            (Wp, Vp), lambda x: np.all(np.isclose(x.T, x0[: x.shape[0]], atol=1e-12), axis=1)
        )
        zero = fem.Function(Vp)
        return fem.dirichletbc(zero, dofs, Wp)

    @property
    def ndofs(self) -> int:
        return int(self.W.dofmap.index_map.size_global * self.W.dofmap.index_map_bs)

    # ---- solving ----------------------------------------------------------------------------
    def _given_temperatures(self) -> list[float]:
        vals = []
        for bc in self.problem.thermal_bcs:
            v = getattr(bc, "value", None) if isinstance(bc, FixedTemperature) else None
            v = v if v is not None else getattr(bc, "ambient", None)
            if v is not None and not callable(v):
                vals.append(value_of(v, self.c.values))
        return vals

    def initialise(self) -> None:
        """Start state: u = 0, p = 0, T from `initial_temperature` (default: mean given T)."""
        from dolfinx import fem

        T0 = self.problem.initial_temperature
        VT, dofs = self.spaces[2]
        self.w.x.array[:] = 0.0
        if callable(T0):
            t = fem.Function(VT)
            t.interpolate(fem.Expression(self.c(T0), VT.element.interpolation_points))
            self.w.x.array[dofs] = t.x.array
        else:
            given = self._given_temperatures()
            mean = value_of(T0, self.c.values) if T0 is not None else np.mean(given or [0.0])
            self.w.x.array[dofs] = mean
        self.w.x.scatter_forward()

    def _newton(self) -> tuple[bool, int]:
        snes = self._solver.solver
        if self._scale is None:  # the first residual ever seen sets the absolute tolerance
            snes.setConvergenceHistory(reset=True)
            self._scale = float(snes.getFunctionNorm()) or None
        snes.setTolerances(atol=self.problem.rtol * (self._scale or 1.0))
        try:
            self._solver.solve()
        except Exception:  # PETSc error (e.g. a NaN in a function evaluation)
            return False, int(snes.getIterationNumber())
        finally:
            if self._scale is None and len(snes.getConvergenceHistory()[0]):
                self._scale = float(snes.getConvergenceHistory()[0][0]) or 1.0
        ok = snes.getConvergedReason() > 0 and bool(np.all(np.isfinite(self.w.x.array)))
        return ok, int(snes.getIterationNumber())

    def set_anchor(self) -> None:
        """Start every later solve from the current (converged) solution instead of the last.

        Where the steady state is not unique (a strongly cooled melt near the viscosity cap), the
        state Newton lands on depends on where it starts; anchored, the result of a solve depends
        on its parameters only, not on the order of the solves (sweeps, resumed sweeps, FE checks).
        """
        if not self._initialised:
            raise RuntimeError("set_anchor needs a converged solution")
        self._anchor = (self.w.x.array.copy(), self.c.values)

    def solve(self, params: Mapping[str, float] | None = None) -> Result:
        """Solve for `params` (SI).

        Newton starts from the last solution (warm start), or from the anchor (`set_anchor`); if
        it fails, the parameters move from those of the start to the new ones in steps
        (`_parameter_continuation`). A first solve, or a continuation that fails, starts cold
        (`_cold_start`).
        """
        t0 = time.perf_counter()
        if self._anchor is not None:
            self.w.x.array[:] = self._anchor[0]
            self.c.update(self._anchor[1])
            self._initialised = True
        previous = self.c.values
        if params:
            self.c.update(params)
        converged, total = False, 0
        if self._initialised:
            backup = self.w.x.array.copy()
            converged, total = self._newton()
            if not converged:
                self.w.x.array[:] = backup
                converged, its = self._parameter_continuation(previous, self.c.values)
                total += its
        if not converged:
            converged, its = self._cold_start()
            total += its
        self._initialised = converged
        status = SolverStatus(converged, total, time.perf_counter() - t0)
        if not converged:
            reason = self._solver.solver.getConvergedReason()
            status.message = f"Newton did not converge (SNES reason {reason})"
        return Result(
            fields=self.fields(),
            qoi=self.qois() if converged else {},
            sensors=self.sensors() if converged else {},
            units=self.units(),
            solver=status,
            parameters=self.c.values,
        )

    def _parameter_continuation(
        self, start: Mapping[str, float], end: Mapping[str, float]
    ) -> tuple[bool, int]:
        """Walk from the solution at `start` to `end` along the straight line in parameter
        space (`_ramp` in steps of half the way, halved after a failure); the pool holds the
        `end` values afterwards, converged or not."""
        knob = _Homotopy(self.c, start, end)
        if not knob.changed:
            return False, 0
        try:
            return self._ramp(knob, 0.0, 0.5, max_failures=2)
        finally:
            self.c.update(end)

    def _jump_or_ramp(self, knob, start: float, step: float | None, jump) -> tuple[bool, int]:
        """Set the continuation constant `knob` to 1 and solve with `jump` (Ψtc follows the
        physical evolution in one go); if that fails, go back and `_ramp` from `start`."""
        reached = self.w.x.array.copy()
        knob.value = 1.0
        ok, total = jump()
        if not ok:
            self.w.x.array[:] = reached
            ok, its = self._ramp(knob, start, step)
            total += its
        return ok, total

    def _cold_start(self) -> tuple[bool, int]:
        """Solve from the initial state, on easier problems first.

        1. Without an initial field: the steady state without buoyancy (forced flow only).
        2. Ψtc isoviscous at the viscosity of the coldest prescribed temperature, with the
           buoyancy scaled to Ra ≈ 1e4.
        3. Ψtc straight to full buoyancy; if that fails, ×3 buoyancy steps (`_ramp`).
        4. Ψtc straight to the full viscosity contrast; if that fails, one decade of the contrast
           the isoviscous state spans per step (`_ramp`: warm-started Newton, Ψtc if Newton
           fails, halved steps).
        """
        self.initialise()
        law, vals = self.problem.melt.viscosity, self.c.values
        fixed = self._fixed_temperatures() or self._given_temperatures() or [0.0]
        self.eta_ref.value = viscosity_value(law, min(fixed), vals)
        total = 0
        if not callable(self.problem.initial_temperature):
            # no initial field given: start from the steady state without buoyancy (forced flow,
            # constant viscosity), which already carries the boundary heating
            self.theta.value, self.s_buoy.value = 0.0, 0.0
            backup = self.w.x.array.copy()
            ok, total = self._newton()
            if not ok:
                self.w.x.array[:] = backup
        t_lo, t_hi = self._temperature_range()
        ra = self.rayleigh_estimate(max(t_hi - t_lo, float(np.ptp(fixed))))
        s0 = float(min(1.0, 1e4 / ra)) if ra > 0 else 1.0
        self.theta.value, self.s_buoy.value = 0.0, s0
        ok, its = self._pseudo_transient()
        total += its
        if ok and s0 < 1.0:  # full buoyancy, else ×3 steps of it
            ok, its = self._jump_or_ramp(self.s_buoy, s0, None, self._pseudo_transient)
            total += its
        if ok:  # the viscosity contrast, else one decade of what the isoviscous state spans
            t_lo, t_hi = self._temperature_range()
            contrast = viscosity_value(law, t_lo, vals) / viscosity_value(law, t_hi, vals)
            decades = float(np.log10(contrast)) if np.isfinite(contrast) and contrast > 1 else 0
            jump = self._pseudo_transient if decades > 0 else self._newton
            ok, its = self._jump_or_ramp(self.theta, 0.0, 1.0 / max(1.0, decades), jump)
            total += its
        self.theta.value, self.s_buoy.value = 1.0, 1.0
        return ok, total

    def _temperature_range(self) -> tuple[float, float]:
        T = self.w.x.array[self.spaces[2][1]]
        comm = self.domain.mesh.comm
        return comm.allreduce(T.min(), op=MPI.MIN), comm.allreduce(T.max(), op=MPI.MAX)

    def _fixed_temperatures(self) -> list[float]:
        return [
            value_of(bc.value, self.c.values)
            for bc in self.problem.thermal_bcs
            if isinstance(bc, FixedTemperature) and not callable(bc.value)
        ]

    def _ramp(
        self, knob, start: float, step: float | None, max_failures: int = 6
    ) -> tuple[bool, int]:
        """Move a continuation constant from `start` to 1 by warm-started Newton solves, in
        steps of `step` (or ×3 if None), halving the step after a failure."""
        snes = self._solver.solver
        max_it = snes.getTolerances()[3]
        snes.setTolerances(max_it=12)  # a good warm start converges in < 8: fail fast otherwise
        try:
            return self._ramp_steps(knob, start, step, max_failures)
        finally:
            snes.setTolerances(max_it=max_it)

    def _ramp_steps(self, knob, value: float, step: float | None, max_failures: int):
        total, failures = 0, 0
        while value < 1.0:
            target = min(1.0, value * 3 if step is None else value + step)
            backup = self.w.x.array.copy()
            knob.value = target
            ok, its = self._newton()
            total += its
            if not ok:  # Newton cannot follow: pseudo-time steps at this level usually can
                self.w.x.array[:] = backup
                ok, its = self._pseudo_transient()
                total += its
            if ok:
                value = target
                continue
            failures += 1
            self.w.x.array[:] = backup
            if failures > max_failures:
                knob.value = value
                return False, total
            step = (target - value) / 2  # smaller (arithmetic) steps from here on
        return True, total

    def rayleigh_estimate(self, delta_T: float) -> float:
        """ρ₀ β |g| ΔT H³ / (η_ref κ) with H the smallest extent and κ from `diffusion_time`."""
        m, vals = self.problem.melt, self.c.values
        g = np.linalg.norm([value_of(x, vals) for x in self.problem.gravity])
        rho0, beta = value_of(m.density, vals), value_of(m.thermal_expansion, vals)
        H, tau = self._extent(), self.diffusion_time()
        return float(rho0 * abs(beta) * g * delta_T * H * tau / float(self.eta_ref.value))

    def _extent(self) -> float:
        x = self.domain.mesh.geometry.x[:, : self.domain.gdim]
        comm = self.domain.mesh.comm
        ext = reduce_array(comm, x.max(axis=0), MPI.MAX) - reduce_array(
            comm, x.min(axis=0), MPI.MIN
        )
        return float(np.min(ext))

    def diffusion_time(self) -> float:
        """ρc L²/k with L the smallest extent of the domain: the pseudo-time scale."""
        from dolfinx import fem

        dx = self.domain.dx()
        vol = self._integral("scale/volume", lambda: fem.Constant(self.domain.mesh, 1.0) * dx)
        k = self._integral("scale/k", lambda: self.k * dx) / vol
        rho_cp = self._integral("scale/rho_cp", lambda: self.rho_cp * dx) / vol
        return float(rho_cp * self._extent() ** 2 / k)

    def _pseudo_transient(self, max_steps: int = 80) -> tuple[bool, int]:
        """Ψtc: one Newton step per pseudo-time step, Δτ growing as the residual falls (SER),
        then plain Newton. It follows the physical evolution early on, so an unstable steady
        state (e.g. pure conduction under a convecting one) is left behind."""
        snes = self._solver.solver
        VT, Tdofs = self.spaces[2]
        tau = self.diffusion_time()
        dtau, total = 1e-4 * tau, 0
        rtol, atol, stol, max_it = snes.getTolerances()
        linesearch = snes.getLineSearch().getType()
        try:
            snes.setTolerances(max_it=1)
            snes.getLineSearch().setType("basic")  # Ψtc takes the full linearly implicit step
            t_lo, t_hi = self._temperature_range()
            band = (t_lo - (t_hi - t_lo) - 100.0, t_hi + (t_hi - t_lo) + 100.0)
            previous = None
            for _ in range(max_steps):
                self.T_prev.x.array[:] = self.w.x.array[Tdofs]
                self.inv_dtau.value = 1.0 / dtau
                backup = self.w.x.array.copy()
                self._newton()
                total += 1
                history = snes.getConvergenceHistory()[0]
                steady = float(history[0]) if len(history) else np.inf  # at the step start
                T = self.w.x.array[Tdofs]
                finite = np.isfinite(steady) and np.all(np.isfinite(self.w.x.array))
                if not finite or T.min() < band[0] or T.max() > band[1]:
                    self.w.x.array[:] = backup  # unphysical step: retry with a smaller one
                    dtau /= 4
                    continue
                if steady < self.problem.rtol * (self._scale or 1.0) or dtau > 1e3 * tau:
                    break
                # switched evolution relaxation on the steady residual of accepted states
                growth = 2.0 if previous is None or steady == 0 else previous / steady
                previous = steady
                dtau *= float(np.clip(growth, 1.2, 2.0))
        finally:
            snes.setTolerances(rtol=rtol, atol=atol, stol=stol, max_it=max_it)
            snes.getLineSearch().setType(linesearch)
            self.inv_dtau.value = 0.0
            self.T_prev.x.array[:] = self.w.x.array[Tdofs]  # 0 · NaN would still be NaN
        ok, its = self._newton()
        return ok, total + its

    # ---- outputs ----------------------------------------------------------------------------
    def fields(self) -> dict[str, Any]:
        u = self.w.sub(0).collapse()
        p = self.w.sub(1).collapse()
        T = self.w.sub(2).collapse()
        u.name, p.name, T.name = "velocity", "pressure", "temperature"
        return {"temperature": T, "velocity": u, "pressure": p}

    def units(self) -> dict[str, str]:
        flow = {2: "W/m", 3: "W"}[self.domain.tdim]
        kinds = {
            "vrms": "m/s",
            "max_velocity": "m/s",
            "nusselt": "1",
            "heat_flow": flow,
            "advected_heat": flow,
            "source_heat": flow,
            "fraction_below": "1",
        }
        u = {q.name: kinds.get(q.kind, "K") for q in self.problem.qois}
        return u | {
            p.name: "m/s" if p.field.startswith("velocity") else "K" for p in self.problem.probes
        }

    def sensors(self) -> dict[str, float]:
        if not self.problem.probes:
            return {}
        if self._evaluator is None:
            self._evaluator = PointEvaluator.for_probes(
                self.domain.mesh, self.problem.probes, self.c.values
            )
        f = self.fields()
        out = {}
        T_vals = self._evaluator(f["temperature"])
        u_vals = self._evaluator(f["velocity"])
        for i, p in enumerate(self.problem.probes):
            if p.field in ("", "temperature"):
                out[p.name] = float(T_vals[i])
            elif p.field == "velocity":
                out[p.name] = float(np.linalg.norm(u_vals[i]))
            else:
                out[p.name] = float(u_vals[i]["xyz".index(p.field[-1])])
        return out

    def qois(self) -> dict[str, float]:
        return {q.name: self._qoi(q) for q in self.problem.qois}

    def _integral(self, key: str, make) -> float:
        from dolfinx import fem

        from twinkit.physics.fields import assemble_scalar

        if key not in self._forms:
            self._forms[key] = fem.form(make())
        return assemble_scalar(self._forms[key])

    def _qoi(self, q: QoI) -> float:
        import ufl
        from dolfinx import fem

        from twinkit.physics.fields import nodal_extreme

        u, _, T = self._split
        one = fem.Constant(self.domain.mesh, 1.0)
        if q.kind in ("heat_flow", "nusselt"):
            flow = self._heat_flow(q.region)
            if q.kind == "heat_flow":
                return flow
            # Blankenbach's Nu = −∫_top ∂T/∂y dx / ∫_bottom T dx is, for k = ΔT = H = 1, the
            # outflow through `region` per unit length of it.
            region = str(q.region)
            return flow / self._integral(q.name + "/len", lambda: one * self.domain.ds(region))
        dx = self.domain.dx(q.region)
        if q.kind == "vrms":
            num = self._integral(q.name + "/num", lambda: ufl.dot(u, u) * dx)
            return float(np.sqrt(num / self._integral(q.name + "/den", lambda: one * dx)))
        if q.kind == "max_velocity":
            V, dofs = self.spaces[0]
            vals = self.w.x.array[dofs].reshape(-1, self.domain.gdim)
            owned = V.dofmap.index_map.size_local
            local = np.linalg.norm(vals[:owned], axis=1).max(initial=0.0)
            return float(self.domain.mesh.comm.allreduce(local, op=MPI.MAX))
        if q.kind in ("min_temperature", "max_temperature"):
            T_h = self.fields()["temperature"]
            return nodal_extreme(T_h, self.domain, q.region, q.kind == "max_temperature")
        if q.kind == "mean_temperature":
            num = self._integral(q.name + "/num", lambda: T * dx)
            return num / self._integral(q.name + "/den", lambda: one * dx)
        if q.kind == "fraction_below":
            threshold = self.problem.thresholds.get(q.name)
            if threshold is None:
                raise ValueError(f"QoI '{q.name}': fraction_below needs a threshold temperature")
            Tc = self.c(threshold)
            num = self._integral(q.name + "/num", lambda: ufl.conditional(ufl.lt(T, Tc), 1, 0) * dx)
            return num / self._integral(q.name + "/den", lambda: one * dx)
        if q.kind == "advected_heat":
            return self._integral(q.name, lambda: self.rho_cp * ufl.dot(u, ufl.grad(T)) * dx)
        if q.kind == "source_heat":
            return self._integral(q.name, lambda: self.q * dx)
        raise ValueError(f"unknown glass-flow QoI kind '{q.kind}'; expected one of {FLOW_QOIS}")

    def _heat_flow(self, region: str | None) -> float:
        """Heat leaving through a boundary region, consistent with the discrete energy equation."""
        from dolfinx import fem

        if region is None:
            raise ValueError("heat_flow needs a boundary region")
        key = "flow/" + region
        if key not in self._forms:
            c = self.c
            T = self._split[2]
            natural = [
                bc_outflow(bc, T, c) * self.domain.ds(region)
                for bc in self.problem.thermal_bcs
                if bc.region == region and not isinstance(bc, FixedTemperature)
            ]
            if natural:
                form = sum(natural[1:], natural[0])
            elif any(
                isinstance(bc, FixedTemperature) and bc.region == region
                for bc in self.problem.thermal_bcs
            ):
                VT, _ = self.spaces[2]
                w = fem.Function(VT)
                facets = self.domain.facets(region)
                w.x.array[fem.locate_dofs_topological(VT, self.domain.tdim - 1, facets)] = 1.0
                form = -self._energy_residual(w)
            else:
                form = fem.Constant(self.domain.mesh, 0.0) * self.domain.ds(region)
            self._forms[key] = fem.form(form)
        from twinkit.physics.fields import assemble_scalar

        return assemble_scalar(self._forms[key])


def _normal_axis(domain: RegionMesh, region: str) -> int:
    """The coordinate axis normal to a straight, axis-aligned boundary region."""
    from dolfinx import mesh as dmesh

    facets = domain.facets(region)
    x = domain.mesh.geometry.x
    nodes = dmesh.entities_to_geometry(domain.mesh, domain.tdim - 1, facets)
    pts = x[nodes.ravel()] if nodes.size else np.zeros((0, 3))
    comm = domain.mesh.comm  # a rank without facets of the region contributes nothing
    hi = reduce_array(comm, pts.max(axis=0) if len(pts) else np.full(3, -np.inf), MPI.MAX)
    lo = reduce_array(comm, pts.min(axis=0) if len(pts) else np.full(3, np.inf), MPI.MIN)
    spread = hi - lo
    size = float(np.max(spread[: domain.gdim])) if np.isfinite(spread).all() else 1.0
    flat = [i for i in range(domain.gdim) if spread[i] <= 1e-10 * max(size, 1e-300)]
    if len(flat) != 1:
        raise ValueError(f"free slip on '{region}' needs a straight boundary normal to an axis")
    return flat[0]
