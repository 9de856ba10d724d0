r"""Heat conduction, steady and transient, with temperature-dependent conductivity and radiation.

.. math::
    \rho c_p \partial_t T - \nabla\cdot(k(T)\nabla T) = f \quad\text{in } \Omega,\qquad
    k(T) = k_0 + k_1 (T - T_\mathrm{ref}),

with, on named boundary regions, a fixed temperature :math:`T = T_D`, an inflowing heat flux
:math:`-k\partial_n T = -q`, convection :math:`-k\partial_n T = h(T - T_\infty)` and radiation
:math:`-k\partial_n T = \sigma\varepsilon(T^4 - T_\infty^4)`. Unmentioned boundaries are insulated.
Nonlinear problems are solved by Newton's method (PETSc SNES, line search); linear ones by one
linear solve. Transient: BDF2 (first step backward Euler) or Crank–Nicolson, fixed step.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from mpi4py import MPI

from twinkit.physics.domain import RegionMesh
from twinkit.physics.params import ConstantPool, Param, Scalar, value_of
from twinkit.physics.probes import PointEvaluator
from twinkit.physics.problem import Probe, QoI, SolverOptions, linear_solver_options, petsc_prefix
from twinkit.physics.result import Result, SolverStatus

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
    end: float
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


def conductivity(m: ThermalMaterial, T, c: ConstantPool):
    """k(T) = k0 + k1 (T − T_ref); just k0 when k1 is a literal 0 (keeps the form linear)."""
    if not isinstance(m.conductivity_slope, Param) and m.conductivity_slope == 0.0:
        return c(m.conductivity)
    return c(m.conductivity) + c(m.conductivity_slope) * (T - c(m.reference_temperature))


def diffusion(domain: RegionMesh, materials, T, v, c: ConstantPool):
    """∫ k(T) ∇T·∇v over each material's regions."""
    import ufl

    terms = []
    for m in materials:
        k = conductivity(m, T, c)
        for dx in _measures(domain, m.regions):
            terms.append(k * ufl.inner(ufl.grad(T), ufl.grad(v)) * dx)
    return sum(terms[1:], terms[0])


def boundary_fluxes(domain: RegionMesh, bcs, T, v, c: ConstantPool):
    """Outflow terms ∫ q_out(T) v ds of the natural boundary conditions (0 if none)."""
    terms = [bc_outflow(bc, T, c) * v * domain.ds(bc.region) for bc in bcs if bc_outflow(bc, T, c)]
    return sum(terms[1:], terms[0]) if terms else None


def bc_outflow(bc: HeatBC, T, c: ConstantPool):
    """Heat flux leaving the body through a natural boundary condition (W/m^2)."""
    if isinstance(bc, HeatFlux):
        return -c(bc.value)
    if isinstance(bc, Convection):
        return c(bc.h) * (T - c(bc.ambient))
    if isinstance(bc, Radiation):
        return STEFAN_BOLTZMANN * c(bc.emissivity) * (T**4 - c(bc.ambient) ** 4)
    return None


def volume_sources(domain: RegionMesh, sources, v, c: ConstantPool):
    terms = [c(s.value) * v * domain.dx(s.region) for s in sources]
    return sum(terms[1:], terms[0]) if terms else None


def _measures(domain: RegionMesh, regions):
    return [domain.dx(None)] if not regions else [domain.dx(r) for r in regions]


class HeatConduction:
    """Heat-conduction model on a RegionMesh; forms are compiled once, `solve` may be repeated.

    Parameters
    ----------
    domain
        Mesh with named regions.
    problem
        Materials, boundary conditions, sources, outputs.
    params
        Initial values (SI) of the parameters the problem refers to.
    """

    primary = "temperature"

    def __init__(self, domain: RegionMesh, problem: HeatProblem, params: Mapping[str, float]):
        import ufl
        from dolfinx import fem
        from dolfinx.fem.petsc import LinearProblem, NonlinearProblem

        self.domain, self.problem = domain, problem
        mesh = domain.mesh
        self.c = c = ConstantPool(mesh, params)
        self.V = V = fem.functionspace(mesh, ("Lagrange", problem.options.degree))
        self.T = T = fem.Function(V, name="temperature")
        v = ufl.TestFunction(V)

        def residual(Tx, v=v):
            """Steady residual: diffusion + boundary outflow − sources, tested with v."""
            R = diffusion(domain, problem.materials, Tx, v, c)
            out = boundary_fluxes(domain, problem.bcs, Tx, v, c)
            src = volume_sources(domain, problem.sources, v, c)
            return R + (out if out is not None else 0) - (src if src is not None else 0)

        ts = problem.time
        if ts is None:
            F = residual(T)
        else:
            self.T_n = fem.Function(V)
            self.T_nn = fem.Function(V)
            self.dt = c(ts.end / ts.steps)
            rho_c = [
                (c(m.density) * c(m.specific_heat), _measures(domain, m.regions))
                for m in problem.materials
            ]
            if ts.scheme == "crank_nicolson":
                dTdt = (T - self.T_n) / self.dt
                F = 0.5 * residual(T) + 0.5 * residual(self.T_n)
            else:
                # BDF2: (a0 T + a1 T_n + a2 T_nn)/dt; a = (1, -1, 0) gives backward Euler.
                self.a = [c(1.0), c(-1.0), c(0.0)]
                dTdt = (self.a[0] * T + self.a[1] * self.T_n + self.a[2] * self.T_nn) / self.dt
                F = residual(T)
            for rc, dxs in rho_c:
                for dx in dxs:
                    F = F + rc * dTdt * v * dx

        self.bcs = []
        tdim = domain.tdim
        for bc in problem.bcs:
            if isinstance(bc, FixedTemperature):
                dofs = fem.locate_dofs_topological(V, tdim - 1, domain.facets(bc.region))
                if callable(bc.value):
                    g = fem.Function(V)
                    g.interpolate(fem.Expression(c(bc.value), V.element.interpolation_points))
                    self.bcs.append(fem.dirichletbc(g, dofs))
                else:
                    self.bcs.append(fem.dirichletbc(c(bc.value), dofs, V))

        ndofs = V.dofmap.index_map.size_global
        opts = linear_solver_options(
            problem.options, ndofs, symmetric=not problem.nonlinear, tdim=domain.tdim
        )
        prefix = petsc_prefix(self, "heat")
        self._solver: Any
        if problem.nonlinear:
            opts |= {
                "snes_type": "newtonls",
                "snes_linesearch_type": "bt",
                "snes_rtol": problem.options.rtol,
                "snes_atol": 1e-10,
                "snes_max_it": problem.options.max_iterations,
            }
            self._solver = NonlinearProblem(
                F, T, bcs=self.bcs, petsc_options_prefix=prefix, petsc_options=opts
            )
        else:
            # affine in T: assemble a(T, s) = L(s) once per solve, like a plain DOLFINx script
            a, L = ufl.system(ufl.replace(F, {T: ufl.TrialFunction(V)}))
            if L.empty():  # no sources or fluxes: only Dirichlet data drives the problem
                L = fem.Constant(mesh, 0.0) * v * ufl.dx
            self._solver = LinearProblem(
                a, L, u=T, bcs=self.bcs, petsc_options_prefix=prefix, petsc_options=opts
            )
        self._residual = residual
        self._evaluator: PointEvaluator | None = None
        self._qoi_forms: dict[str, Any] = {}
        self._initialised = False

    @property
    def ndofs(self) -> int:
        return int(self.V.dofmap.index_map.size_global)

    def _initial_guess(self) -> float:
        """Mean of the prescribed and ambient temperatures: a safe Newton start for radiation."""
        given = [
            getattr(bc, "value", None) or getattr(bc, "ambient", None)
            for bc in self.problem.bcs
            if not isinstance(bc, HeatFlux)
        ]
        vals = [value_of(v, self.c.values) for v in given if v is not None and not callable(v)]
        return float(np.mean(vals)) if vals else 293.15

    def solve(self, params: Mapping[str, float] | None = None) -> Result:
        """Solve for the given parameter values (SI); previous solution is the Newton start."""
        t0 = time.perf_counter()
        if params:
            self.c.update(params)
        ts = self.problem.time
        if ts is None:
            if not self._initialised:
                self.T.x.array[:] = self._initial_guess()
            converged, its = self._newton()
        else:
            converged, its = self._march(ts)
        self._initialised = True
        status = SolverStatus(converged, its, time.perf_counter() - t0)
        if not converged:
            kind = "SNES" if self.problem.nonlinear else "KSP"
            reason = self._solver.solver.getConvergedReason()
            status.message = f"{kind} did not converge (reason {reason})"
        return Result(
            fields={"temperature": self.T},
            qoi=self.qois(),
            sensors=self.sensors(),
            units=self.units(),
            solver=status,
            parameters=self.c.values,
        )

    def _newton(self) -> tuple[bool, int]:
        """One nonlinear (Newton) or linear solve; (converged, iterations)."""
        try:
            self._solver.solve()
        except Exception:  # a PETSc error is a failed solve, reported in the status
            return False, 0
        solver = self._solver.solver
        ok = solver.getConvergedReason() > 0 and bool(np.all(np.isfinite(self.T.x.array)))
        return ok, max(1, int(solver.getIterationNumber()))

    def _march(self, ts: TimeStepping) -> tuple[bool, int]:
        T0 = ts.initial_temperature
        if callable(T0):
            from dolfinx import fem

            self.T.interpolate(fem.Expression(self.c(T0), self.V.element.interpolation_points))
        else:
            self.T.x.array[:] = value_of(T0, self.c.values)
        self.T_n.x.array[:] = self.T.x.array
        total = 0
        for step in range(ts.steps):
            if ts.scheme == "bdf2":
                coeffs = (1.0, -1.0, 0.0) if step == 0 else (1.5, -2.0, 0.5)
            else:
                coeffs = (1.0, -1.0, 0.0)
            if ts.scheme != "crank_nicolson":
                for a, val in zip(self.a, coeffs, strict=True):
                    a.value = val
            ok, its = self._newton()
            total += its
            if not ok:
                return False, total
            self.T_nn.x.array[:] = self.T_n.x.array
            self.T_n.x.array[:] = self.T.x.array
        return True, total

    # ---- outputs -------------------------------------------------------------------------
    def units(self) -> dict[str, str]:
        flow = {1: "W/m^2", 2: "W/m", 3: "W"}[self.domain.tdim]
        u = {q.name: flow if q.kind == "heat_flow" else "K" for q in self.problem.qois}
        return u | {p.name: "K" for p in self.problem.probes}

    def sensors(self) -> dict[str, float]:
        if not self.problem.probes:
            return {}
        if self._evaluator is None:
            self._evaluator = PointEvaluator.for_probes(
                self.domain.mesh, self.problem.probes, self.c.values
            )
        vals = self._evaluator(self.T)
        return {p.name: float(v) for p, v in zip(self.problem.probes, vals, strict=True)}

    def qois(self) -> dict[str, float]:
        return {q.name: self._qoi(q) for q in self.problem.qois}

    def _qoi(self, q: QoI) -> float:
        from dolfinx import fem

        from twinkit.physics.fields import assemble_scalar, nodal_extreme

        if q.kind in ("min_temperature", "max_temperature"):
            return nodal_extreme(self.T, self.domain, q.region, q.kind.startswith("max"))
        if q.kind == "mean_temperature":
            if q.name not in self._qoi_forms:
                self._qoi_forms[q.name] = (
                    fem.form(self.T * self.domain.dx(q.region)),
                    fem.form(fem.Constant(self.domain.mesh, 1.0) * self.domain.dx(q.region)),
                )
            num, den = self._qoi_forms[q.name]
            return assemble_scalar(num) / assemble_scalar(den)
        if q.kind == "heat_flow":
            return self._heat_flow(q)
        raise ValueError(f"unknown heat QoI kind '{q.kind}'; expected one of {HEAT_QOIS}")

    def _heat_flow(self, q: QoI) -> float:
        """Heat leaving through boundary region q.region (W in 3D, W/m in 2D).

        From the boundary condition's flux on natural boundaries; on a fixed-temperature boundary
        from the residual (the consistent 'reaction' flux), which is far more accurate than ∇T·n;
        zero on an insulated boundary. Only a region that partly overlaps boundary conditions of
        its own falls back to integrating −k∇T·n.
        """
        import ufl
        from dolfinx import fem

        from twinkit.physics.fields import assemble_scalar

        if q.name not in self._qoi_forms:
            assert q.region is not None
            natural = [
                bc_outflow(bc, self.T, self.c) * self.domain.ds(q.region)
                for bc in self.problem.bcs
                if bc.region == q.region and not isinstance(bc, FixedTemperature)
            ]
            if natural:
                form = sum(natural[1:], natural[0])
            elif any(
                isinstance(bc, FixedTemperature) and bc.region == q.region
                for bc in self.problem.bcs
            ):
                w = fem.Function(self.V)
                dofs = fem.locate_dofs_topological(
                    self.V, self.domain.tdim - 1, self.domain.facets(q.region)
                )
                w.x.array[dofs] = 1.0
                # The steady residual tested with w vanishes except for ∫_Γ k ∂T/∂n w = inflow.
                form = -self._residual(self.T, w)
            elif not self._touches_bcs(q.region):
                form = fem.Constant(self.domain.mesh, 0.0) * self.domain.ds(q.region)  # insulated
            else:
                n = ufl.FacetNormal(self.domain.mesh)
                k = conductivity(self.problem.materials[0], self.T, self.c)
                form = -k * ufl.dot(ufl.grad(self.T), n) * self.domain.ds(q.region)
            self._qoi_forms[q.name] = fem.form(form)
        return assemble_scalar(self._qoi_forms[q.name])

    def _touches_bcs(self, region: str) -> bool:
        facets = self.domain.facets(region)
        others = [self.domain.facets(bc.region) for bc in self.problem.bcs]
        local = any(np.intersect1d(facets, f).size for f in others)
        return bool(self.domain.mesh.comm.allreduce(local, op=MPI.LOR))
