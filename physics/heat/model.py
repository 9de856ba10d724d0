"""The heat-conduction model: builds the forms and the (non)linear solver once, solves steady
or transient (BDF2, Crank–Nicolson, backward Euler) for given parameter values."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from twinkit.physics.domain import RegionMesh
from twinkit.physics.heat.forms import _measures, boundary_fluxes, diffusion, volume_sources
from twinkit.physics.heat.outputs import HeatOutputs
from twinkit.physics.heat.problem import FixedTemperature, HeatFlux, HeatProblem, TimeStepping
from twinkit.physics.params import ConstantPool, TimeSeries, value_of
from twinkit.physics.probes import PointEvaluator
from twinkit.physics.problem import linear_solver_options, petsc_prefix
from twinkit.physics.result import Result, SolverStatus


class HeatConduction(HeatOutputs):
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
            # end may be a parameter: dt is a Constant expression, updated with it per solve
            self.dt = c(ts.end) / ts.steps
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
        # prescribed values that depend on x, t or a table: (function or constant, how to set it)
        self._prescribed: list[tuple[Any, Any]] = []
        for bc in problem.bcs:
            if isinstance(bc, FixedTemperature):
                dofs = fem.locate_dofs_topological(V, *domain.entities(bc.region))
                if callable(bc.value):
                    g = fem.Function(V)
                    expr = fem.Expression(c(bc.value), V.element.interpolation_points)
                    self._prescribed.append((g, expr))
                    self.bcs.append(fem.dirichletbc(g, dofs))
                elif isinstance(bc.value, TimeSeries):
                    g = fem.Constant(mesh, bc.value.at(0.0))  # its own: set at t_{n+1} always
                    self._prescribed.append((g, bc.value))
                    self.bcs.append(fem.dirichletbc(g, dofs, V))
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
        self.history: dict[str, list[float]] = {}  # a transient run's outputs per step
        # called as on_step(step, t, fields) at t = 0 and after each step (e.g. to write fields)
        self.on_step: Callable[[int, float, dict[str, Any]], None] | None = None
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
            self._set_prescribed(0.0)
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
            history=self.history if ts is not None else {},
        )

    def _set_prescribed(self, t: float) -> None:
        """Prescribed temperatures at time t (functions of x and t re-interpolated, tables
        looked up); parameters in them take their current values."""
        self.c.set_time(t)
        for g, how in self._prescribed:
            if isinstance(how, TimeSeries):
                g.value = how.at(t)
            else:
                g.interpolate(how)

    def _record(self, t: float) -> None:
        """Append time t's probe values and QoIs to `history`."""
        self.history.setdefault("time", []).append(t)
        for name, v in (self.sensors() | self.qois()).items():
            self.history.setdefault(name, []).append(v)

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
        """Fixed steps from t = 0 to the end; boundary values and sources that depend on time
        are taken at t_{n+1} (Crank–Nicolson: sources and fluxes at t_{n+1/2})."""
        dt = value_of(ts.end, self.c.values) / ts.steps
        self.history = {}
        self._set_prescribed(0.0)
        T0 = ts.initial_temperature
        if callable(T0):
            from dolfinx import fem

            self.T.interpolate(fem.Expression(self.c(T0), self.V.element.interpolation_points))
        else:
            self.T.x.array[:] = value_of(T0, self.c.values)
        self.T_n.x.array[:] = self.T.x.array
        self._record(0.0)
        if self.on_step is not None:
            self.on_step(0, 0.0, {"temperature": self.T})
        total = 0
        for step in range(ts.steps):
            self._set_prescribed((step + 1) * dt)
            if ts.scheme == "crank_nicolson":
                self.c.set_time((step + 0.5) * dt)
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
            self.c.set_time((step + 1) * dt)
            self._record((step + 1) * dt)
            if self.on_step is not None:
                self.on_step(step + 1, (step + 1) * dt, {"temperature": self.T})
        return True, total
