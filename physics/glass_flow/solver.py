"""Solving the glass-flow model: warm-started Newton, parameter continuation along a homotopy,
and the cold start (the steady state without buoyancy, pseudo-transient continuation Ψtc, ramps
in buoyancy and viscosity contrast); mixin of `GlassFlow`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from mpi4py import MPI

from twinkit.physics.fields import reduce_array
from twinkit.physics.glass_flow.forms import viscosity_value
from twinkit.physics.glass_flow.onset import at_rest, perturb
from twinkit.physics.glass_flow.outputs import GlassFlowOutputs
from twinkit.physics.heat import FixedTemperature
from twinkit.physics.params import ConstantPool, value_of
from twinkit.physics.problem import more_mumps_workspace
from twinkit.physics.result import Result, SolverStatus


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


class GlassFlowSolver(GlassFlowOutputs):
    """Newton, continuation and cold start on the state `w`; `GlassFlow` sets the state below
    (the continuation constants `s_buoy`, `theta`, `eta_ref`, `inv_dtau`, `T_prev` enter its
    forms)."""

    _solver: Any
    s_buoy: Any
    theta: Any
    eta_ref: Any
    inv_dtau: Any
    T_prev: Any
    _initialised: bool
    _anchor: tuple[np.ndarray, dict[str, float]] | None
    _scale: float | None

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
        """Newton from the current state; where MUMPS ran out of workspace (its pivoting on this
        saddle point grew the factors beyond the estimate), again from the same state with more
        (`more_mumps_workspace`)."""
        start = self.w.x.array.copy()
        ok, total = self._newton_once()
        while not ok and more_mumps_workspace(self._solver.solver.getKSP()):
            self.w.x.array[:] = start
            ok, its = self._newton_once()
            total += its
        return ok, total

    def _newton_once(self) -> tuple[bool, int]:
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
        warnings = []
        if converged:
            rest, its = self._leave_rest()
            total += its
            warnings += [rest] if rest else []
        self._initialised = converged
        status = SolverStatus(converged, total, time.perf_counter() - t0, warnings=warnings)
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

    def _leave_rest(self) -> tuple[str | None, int]:
        """A converged state at rest far above onset (`onset.at_rest`): perturb it and follow the
        evolution (Ψtc); keep what that reaches if it moves, else the state at rest and why."""
        rest = at_rest(self)
        if rest is None:
            return None, 0
        backup = self.w.x.array.copy()
        perturb(self)
        ok, its = self._pseudo_transient()
        if ok and at_rest(self) is None:
            return None, its
        self.w.x.array[:] = backup
        return rest + "; a perturbed start came back to it too", its

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

    def rayleigh_estimate(self, delta_T: float, eta: float | None = None) -> float:
        """ρ₀ β |g| ΔT H³ / (η κ) with H the smallest extent, κ from `diffusion_time` and η
        given, else η_ref."""
        m, vals = self.problem.melt, self.c.values
        g = np.linalg.norm([value_of(x, vals) for x in self.problem.gravity])
        rho0, beta = value_of(m.density, vals), value_of(m.thermal_expansion, vals)
        H, tau = self._extent(), self.diffusion_time()
        eta = float(self.eta_ref.value) if eta is None else eta
        return float(rho0 * abs(beta) * g * delta_T * H * tau / eta)

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
