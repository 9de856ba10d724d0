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
        lost = np.flatnonzero(cells < 0)
        if lost.size:
            cells[lost] = _nearest_cells(mesh, pts[lost], ncells_local)
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


def _nearest_cells(mesh, pts: np.ndarray, ncells_local: int) -> np.ndarray:
    """For points that no owned cell contains: an owned cell within round-off of each (-1 if
    none). A point on a curved boundary can lie 1e-16 outside every cell, e.g. (0, a) on a hole
    whose vertex gmsh put at x = 4e-16."""
    from dolfinx import geometry

    x = mesh.geometry.x
    tol = 1e-10 * float(np.linalg.norm(x.max(axis=0) - x.min(axis=0)))
    tree = geometry.bb_tree(mesh, mesh.topology.dim, padding=tol)
    candidates = geometry.compute_collisions_points(tree, pts)
    dofmap = mesh.geometry.dofmaps[0]
    found = np.full(len(pts), -1, dtype=np.int32)
    for i, p in enumerate(pts):
        best = tol
        for c in candidates.links(i):
            if c < ncells_local:
                d = np.linalg.norm(geometry.compute_distance_gjk(x[dofmap[c]], p))
                if d <= best:
                    best, found[i] = d, c
    return found
