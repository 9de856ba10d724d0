"""Field post-processing shared by models: integrals, nodal extremes over regions, projections."""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from twinkit.physics.domain import RegionMesh


def assemble_scalar(form) -> float:
    """Integral of a compiled scalar form (`fem.form`) over the whole distributed mesh."""
    from dolfinx import fem

    local = fem.assemble_scalar(form)
    return float(form.mesh.comm.allreduce(local, op=MPI.SUM))


def reduce_array(comm, a, op) -> np.ndarray:
    """Element-wise MPI reduction of a float array over all ranks (`allreduce` of a NumPy array
    with MIN/MAX compares whole arrays: wrong, and an error on rank 0)."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    out = np.empty_like(a)
    comm.Allreduce(a, out, op=op)
    return out


def region_dofs(V, domain: RegionMesh, region: str | None) -> np.ndarray:
    """Owned dofs of space V belonging to cells of `region` (all cells if None)."""
    cells = domain.cells(region)
    dofs = np.unique(V.dofmap.list[cells].ravel())
    return dofs[dofs < V.dofmap.index_map.size_local]


def nodal_extreme(u, domain: RegionMesh, region: str | None, maximum: bool) -> float:
    """Max (or min) of the nodal values of a scalar function over a region, over all ranks."""
    dofs = region_dofs(u.function_space, domain, region)
    vals = u.x.array[dofs]
    if maximum:
        local = vals.max() if vals.size else -np.inf
        return float(domain.mesh.comm.allreduce(local, op=MPI.MAX))
    local = vals.min() if vals.size else np.inf
    return float(domain.mesh.comm.allreduce(local, op=MPI.MIN))
