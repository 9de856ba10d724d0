"""Solve a case for many parameter values, compiling forms once and re-meshing only when needed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from twinkit.case import CaseError, LoadedCase
from twinkit.case.checks import FIELD_UNITS, vector_errors
from twinkit.process import raise_if_interrupted
from twinkit.solve.build import build_mesh, build_model


class CaseRunner:
    """Holds the mesh and compiled model of a case; `solve(values)` reuses them.

    Parameters that change the geometry trigger a new mesh and model (the FFCx cache keeps the
    recompilation cheap); all others only update `fem.Constant`s. `anchored`: a nonlinear model
    with several steady states (glass flow) starts every solve from its solution at the case's
    nominal values, so a result depends on its parameters only, not on what was solved before.
    """

    def __init__(self, loaded: LoadedCase, comm: Any = None, anchored: bool = False):
        self.loaded = loaded
        self.comm = comm
        self.anchored = anchored
        self._geometry = loaded.case.mesh_parameters()
        self._key: tuple[float, ...] | None = None
        self.domain: Any = None
        self.model: Any = None
        self._warnings: list[str] = []

    def solve(self, values: Mapping[str, float], on_step: Any = None):
        """The model's Result at `values`; not converged when any number it holds is not finite,
        or a temperature lies below 0 K.
        `on_step(step, t, fields)`: called during a transient run at t = 0 and after each step."""
        key = tuple(values[p] for p in sorted(self._geometry))
        anchor = None
        if self.model is None or key != self._key:
            if self.model is not None:
                self._release()
            self.domain = build_mesh(self.loaded, values, self.comm)
            self._check_dimensions()
            self._warnings = interior_facet_warnings(self.loaded, self.domain)
            try:
                self.model = build_model(self.loaded, self.domain, values)
            except ValueError as e:  # what the physics refuses in the case (a QoI, a field ...)
                if type(e) is not ValueError:
                    raise
                raise CaseError(f"{self.loaded.path}: {e}") from None
            self._key = key
            if self.anchored and hasattr(self.model, "set_anchor"):
                anchor = self._anchor(values)
        if hasattr(self.model, "on_step"):
            self.model.on_step = on_step
        result = self.model.solve(values)
        raise_if_interrupted()  # PETSc made the interrupt a failed solve: not a result
        if anchor is not None:  # this solve needed the anchor's: count its work too
            result.solver.iterations += anchor.iterations
            result.solver.seconds += anchor.seconds
        result.solver.warnings = self._warnings + list(result.solver.warnings)
        result = not_finite_fails(self._derive(result))
        if self.loaded.case.nondimensional is None:  # scaled temperatures may be negative
            result = below_absolute_zero_fails(result)
        return result

    def _release(self) -> None:
        """Drop the old mesh and model now. Their DOLFINx and PETSc objects sit in reference
        cycles that only the cyclic garbage collector frees, and it counts Python objects, not
        the hundreds of MB of matrices and factors behind them: a sweep over the bracket's
        geometry grew by ~250 MB per sample (12 GB after 40) without this."""
        import gc

        self.model = self.domain = None
        gc.collect()

    def _derive(self, result: Any) -> Any:
        """`result` with the case's expression QoIs evaluated and their units added."""
        case = self.loaded.case
        if not any(q.type == "expression" for q in case.outputs.qoi.values()):
            return result
        from twinkit.case.derived import evaluate_expressions, expression_qois
        from twinkit.case.objectives import output_units

        derived = evaluate_expressions(case, result.qoi, result.sensors, result.parameters)
        result.qoi = {n: result.qoi.get(n, derived.get(n)) for n in case.outputs.qoi}
        h = result.history
        if h:  # a transient run: the expressions at every step too
            rows = [{n: h[n][i] for n in h if n != "time"} for i in range(len(h["time"]))]
            steps = [evaluate_expressions(case, r, {}, result.parameters) for r in rows]
            for name in derived:
                h[name] = [row[name] for row in steps]
        result.units = dict(result.units) | {
            n: output_units(case, n)[0] for n in expression_qois(case)
        }
        return result

    def _check_dimensions(self) -> None:
        """Probe points and vectors with one component per dimension of the mesh (a mesh file's
        is known only now)."""
        gdim = self.domain.gdim
        bad = [
            f"probes.{n}.point: has {len(p.point)} coordinates; the mesh is {gdim}D"
            for n, p in self.loaded.case.probes.items()
            if len(p.point) != gdim
        ]
        bad += [f"{key}: {msg}" for key, msg in vector_errors(self.loaded.case, gdim)]
        if bad:
            raise CaseError(f"{self.loaded.path}: " + f"\n{self.loaded.path}: ".join(bad))

    def _anchor(self, values: Mapping[str, float]) -> Any:
        """Solve at the case's nominal values (on this geometry) and start later solves there;
        that solve's status (its iterations and seconds count in the solve that needed it:
        `twinkit solve` of Blankenbach 1b said 1 iteration in 0.09 s, of 3.8 s)."""
        nominal = self.loaded.case.parameter_values() | {k: values[k] for k in self._geometry}
        status = self.model.solve(nominal).solver
        raise_if_interrupted()
        if status.converged:
            self.model.set_anchor()
        return status


def interior_facet_warnings(loaded: LoadedCase, domain: Any) -> list[str]:
    """A warning per boundary condition whose facet region also holds facets inside the mesh
    (between two cells): a support or load meant for an outer face may then act on a layer."""
    out = []
    for i, bc in enumerate(loaded.case.boundary_conditions):
        if bc.region not in domain.facet_regions():
            continue
        n = domain.interior_facets(bc.region)
        if n:
            out.append(
                f"boundary_conditions[{i}].region: region '{bc.region}' holds {n} interior "
                "facets (shared by two cells); the condition acts on them too"
            )
    return out


def not_finite_fails(result: Any) -> Any:
    """`result`, marked as not converged when a QoI, a probe or a field holds NaN or infinity
    (a solver can end its iterations on numbers that mean nothing)."""
    s = result.solver
    if not s.converged:
        return result
    bad = [n for n, v in {**result.qoi, **result.sensors}.items() if not np.isfinite(v)]
    for name, u in result.fields.items():
        x = getattr(getattr(u, "x", None), "array", None)
        if x is not None and not np.isfinite(x).all():
            bad.append(name)
    spaces = [u.function_space for u in result.fields.values() if hasattr(u, "function_space")]
    if spaces and spaces[0].mesh.comm.size > 1:  # every rank says the same
        bad = sorted(set().union(*spaces[0].mesh.comm.allgather(bad)))
    if bad:
        s.converged = False
        s.message = f"the solution is not finite (NaN or infinity in {', '.join(bad[:8])})"
    return result


def below_absolute_zero_fails(result: Any) -> Any:
    """`result`, marked as not converged when a temperature (a field, QoI or probe in K) lies
    below 0 K: a solver can converge to numbers no material can have (e.g. a heat sink larger
    than what the boundaries can supply)."""
    s = result.solver
    if not s.converged:
        return result
    units = result.units or {}
    lows = {n: v for n, v in {**result.qoi, **result.sensors}.items() if units.get(n) == "K"}
    for name, u in result.fields.items():
        x = getattr(getattr(u, "x", None), "array", None)
        if FIELD_UNITS.get(name) == "K" and x is not None:
            lows[name] = float(np.min(x)) if x.size else np.inf
    spaces = [u.function_space for u in result.fields.values() if hasattr(u, "function_space")]
    if spaces and spaces[0].mesh.comm.size > 1:  # every rank says the same
        for name in [n for n in lows if n in result.fields]:
            lows[name] = spaces[0].mesh.comm.allreduce(lows[name], op=_mpi_min())
    bad = {n: v for n, v in lows.items() if v < 0.0}
    if bad:
        s.converged = False
        worst = min(bad.values())
        s.message = (
            f"the result is not physical: temperature below 0 K (lowest {worst:.4g} K, in "
            f"{', '.join(list(bad)[:8])})"
        )
    return result


def _mpi_min() -> Any:
    from mpi4py import MPI

    return MPI.MIN
