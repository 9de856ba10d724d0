"""PETSc side of the linear solve: the rigid-body near-nullspace for GAMG, KSP reason names."""

from __future__ import annotations


def rigid_body_modes(V):
    """PETSc near-nullspace of rigid-body motions (2 + 1 in 2D, 3 + 3 in 3D) for GAMG."""
    from dolfinx import la
    from petsc4py import PETSc

    gdim = V.mesh.geometry.dim
    bs = V.dofmap.index_map_bs
    n_local = V.dofmap.index_map.size_local
    basis = [la.vector(V.dofmap.index_map, bs=bs) for _ in range(3 if gdim == 2 else 6)]
    b = [v.array for v in basis]
    dofs = [V.sub(i).dofmap.list.ravel() for i in range(gdim)]
    for i in range(gdim):
        b[i][dofs[i]] = 1.0
    x = V.tabulate_dof_coordinates()[V.dofmap.list.ravel()]
    if gdim == 2:
        b[2][dofs[0]], b[2][dofs[1]] = -x[:, 1], x[:, 0]
    else:
        b[3][dofs[0]], b[3][dofs[1]] = -x[:, 1], x[:, 0]
        b[4][dofs[0]], b[4][dofs[2]] = x[:, 2], -x[:, 0]
        b[5][dofs[2]], b[5][dofs[1]] = x[:, 1], -x[:, 2]
    la.orthonormalize(basis)
    vecs = [PETSc.Vec().createWithArray(a[: bs * n_local], bsize=bs, comm=V.mesh.comm) for a in b]
    return PETSc.NullSpace().create(vectors=vecs), (basis, vecs)


def _reason_name(reason: int) -> str:
    from petsc4py import PETSc

    names = {v: k for k, v in vars(PETSc.KSP.ConvergedReason).items() if isinstance(v, int)}
    return f"{names.get(reason, 'unknown')}, reason {reason}"
