"""Point evaluation of fields (sensors / probes), correct in serial and in parallel."""

from __future__ import annotations

import numpy as np
from mpi4py import MPI


class ProbeError(ValueError):
    """A probe point lies outside the mesh."""


class PointEvaluator:
    """Locates points once and evaluates any function on the same mesh at them.

    Each point is evaluated by the lowest rank owning a cell that contains it.
    """

    def __init__(self, mesh, points: np.ndarray, names: list[str] | None = None):
        from dolfinx import geometry

        self.mesh = mesh
        pts = np.zeros((len(points), 3))
        pts[:, : np.asarray(points).shape[1]] = points
        self.points = pts
        tree = geometry.bb_tree(mesh, mesh.topology.dim)
        candidates = geometry.compute_collisions_points(tree, pts)
        colliding = geometry.compute_colliding_cells(mesh, candidates, pts)
        ncells_local = mesh.topology.index_map(mesh.topology.dim).size_local
        cells = np.full(len(pts), -1, dtype=np.int32)
        for i in range(len(pts)):
            links = colliding.links(i)
            owned = links[links < ncells_local]
            if owned.size:
                cells[i] = owned[0]
        comm = mesh.comm
        have = np.where(cells >= 0, comm.rank, comm.size).astype(np.int32)
        owner = np.empty_like(have)
        comm.Allreduce(have, owner, op=MPI.MIN)
        missing = np.flatnonzero(owner == comm.size)
        if missing.size:
            labels = [names[i] if names else str(i) for i in missing]
            bad = ", ".join(
                f"{lab} at {pts[i, : mesh.geometry.dim].tolist()}"
                for lab, i in zip(labels, missing, strict=True)
            )
            raise ProbeError(f"probe point(s) outside the mesh: {bad}")
        self._mine = np.flatnonzero(owner == comm.rank)
        self._cells = cells[self._mine]

    @classmethod
    def for_probes(cls, mesh, probes, params) -> PointEvaluator:
        """An evaluator at the points of `probes` (`twinkit.physics.problem.Probe`), whose
        coordinates may refer to parameters with values in `params`."""
        from twinkit.physics.params import value_of

        pts = np.array([[value_of(x, params) for x in p.point] for p in probes])
        return cls(mesh, pts, [p.name for p in probes])

    def __call__(self, u) -> np.ndarray:
        """Values of `u` at the points, shape (npoints,) for scalars or (npoints, ncomp)."""
        bs = int(np.prod(u.ufl_shape)) if u.ufl_shape else 1
        out = np.zeros((len(self.points), bs))
        if self._mine.size:
            out[self._mine] = u.eval(self.points[self._mine], self._cells).reshape(-1, bs)
        total = np.zeros_like(out)
        self.mesh.comm.Allreduce(out, total, op=MPI.SUM)
        return total[:, 0] if bs == 1 else total
