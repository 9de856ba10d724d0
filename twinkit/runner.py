"""Solve a case for many parameter values, compiling forms once and re-meshing only when needed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinkit.build import build_mesh, build_model
from twinkit.case import LoadedCase


class CaseRunner:
    """Holds the mesh and compiled model of a case; `solve(values)` reuses them.

    Parameters that change the geometry trigger a new mesh and model (the FFCx cache keeps the
    recompilation cheap); all others only update `fem.Constant`s.
    """

    def __init__(self, loaded: LoadedCase, comm: Any = None):
        self.loaded = loaded
        self.comm = comm
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
        return self.model.solve(values)
