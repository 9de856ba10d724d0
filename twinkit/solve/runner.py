"""Solve a case for many parameter values, compiling forms once and re-meshing only when needed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinkit.case import LoadedCase
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

    def solve(self, values: Mapping[str, float]):
        key = tuple(values[p] for p in sorted(self._geometry))
        if self.model is None or key != self._key:
            self.domain = build_mesh(self.loaded, values, self.comm)
            self.model = build_model(self.loaded, self.domain, values)
            self._key = key
            if self.anchored and hasattr(self.model, "set_anchor"):
                self._anchor(values)
        return self.model.solve(values)

    def _anchor(self, values: Mapping[str, float]) -> None:
        """Solve at the case's nominal values (on this geometry) and start later solves there."""
        nominal = self.loaded.case.parameter_values() | {k: values[k] for k in self._geometry}
        if self.model.solve(nominal).solver.converged:
            self.model.set_anchor()
