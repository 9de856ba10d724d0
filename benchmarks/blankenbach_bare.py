"""Blankenbach 1a with plain DOLFINx: the same discretisation as twinkit's glass_flow (Taylor–Hood
P2/P1, P2 temperature, no stabilisation, quadrature degree 5, one monolithic Newton with MUMPS,
free slip by component, the perturbed start T₀ = 1 − y + 0.1 cos(πx) sin(πy)), for the timing
comparison in benchmarks/furnace.py. Newton alone from T₀ lands on the conductive state (Nu = 1),
so the first solve takes implicit-Euler steps of growing size first, as a hand-written script
would; later solves start from the previous solution with Newton alone."""

from __future__ import annotations

import time

import numpy as np
from mpi4py import MPI  # noqa: F401  (loads libmpi before dolfinx)


def solve(n: int = 32, ra_values: tuple[float, ...] = (1e4,)) -> list[dict]:
    """Solve at each Rayleigh number in turn (the later ones warm-started); per solve: seconds,
    Newton iterations, Nu (top heat flux through the residual) and Vrms."""
    import basix.ufl
    import ufl
    from dolfinx import fem, mesh
    from dolfinx.fem.petsc import NonlinearProblem

    msh = mesh.create_unit_square(MPI.COMM_WORLD, n, n)
    cell = msh.basix_cell()
    el = basix.ufl.mixed_element(
        [
            basix.ufl.element("Lagrange", cell, 2, shape=(2,)),
            basix.ufl.element("Lagrange", cell, 1),
            basix.ufl.element("Lagrange", cell, 2),
        ]
    )
    W = fem.functionspace(msh, el)
    w = fem.Function(W)
    u, p, T = ufl.split(w)
    v, q, s = ufl.TestFunctions(W)
    Ra = fem.Constant(msh, 1e4)
    dx = ufl.dx(metadata={"quadrature_degree": 5})
    eps = ufl.sym(ufl.grad(u))
    F_flow = (
        2 * ufl.inner(eps, ufl.sym(ufl.grad(v))) - p * ufl.div(v) - Ra * T * v[1] - q * ufl.div(u)
    ) * dx
    F_heat = (ufl.dot(u, ufl.grad(T)) * s + ufl.inner(ufl.grad(T), ufl.grad(s))) * dx
    inv_dt = fem.Constant(msh, 0.0)
    VT, T_dofs = W.sub(2).collapse()
    T_old = fem.Function(VT)
    F = F_flow + F_heat + inv_dt * (T - T_old) * s * dx

    fdim = msh.topology.dim - 1
    sides = {
        "left": lambda x: np.isclose(x[0], 0.0),
        "right": lambda x: np.isclose(x[0], 1.0),
        "bottom": lambda x: np.isclose(x[1], 0.0),
        "top": lambda x: np.isclose(x[1], 1.0),
    }
    facets = {k: mesh.locate_entities_boundary(msh, fdim, f) for k, f in sides.items()}
    bcs = []
    for side, comp in (("left", 0), ("right", 0), ("bottom", 1), ("top", 1)):
        Vc, _ = W.sub(0).sub(comp).collapse()
        dofs = fem.locate_dofs_topological((W.sub(0).sub(comp), Vc), fdim, facets[side])
        zero = fem.Function(Vc)
        bcs.append(fem.dirichletbc(zero, dofs, W.sub(0).sub(comp)))
    for side, value in (("bottom", 1.0), ("top", 0.0)):
        dofs = fem.locate_dofs_topological((W.sub(2), VT), fdim, facets[side])
        g = fem.Function(VT)
        g.x.array[:] = value
        bcs.append(fem.dirichletbc(g, dofs, W.sub(2)))
    Q, _ = W.sub(1).collapse()  # pin the pressure at the origin (free slip leaves a constant)
    corner = fem.locate_dofs_geometrical(
        (W.sub(1), Q), lambda x: np.isclose(x[0], 0.0) & np.isclose(x[1], 0.0)
    )
    bcs.append(fem.dirichletbc(fem.Function(Q), corner, W.sub(1)))

    T0 = fem.Function(VT)
    T0.interpolate(lambda x: 1 - x[1] + 0.1 * np.cos(np.pi * x[0]) * np.sin(np.pi * x[1]))
    w.x.array[T_dofs] = T0.x.array
    opts = {
        "snes_type": "newtonls",
        "snes_linesearch_type": "bt",
        "snes_rtol": 1e-11,
        "snes_max_it": 50,
        "ksp_type": "preonly",
        "pc_type": "lu",
        "pc_factor_mat_solver_type": "mumps",
        "mat_mumps_icntl_14": 200,
    }
    problem = NonlinearProblem(F, w, bcs=bcs, petsc_options_prefix="bare_bb_", petsc_options=opts)

    # consistent top heat flux: the heat residual tested with a function that is 1 on the top
    chi = fem.Function(VT)
    chi.x.array[fem.locate_dofs_topological(VT, fdim, facets["top"])] = 1.0
    flux = fem.form(ufl.replace(F_heat, {s: chi}))
    vrms = fem.form(ufl.dot(u, u) * dx)
    out = []
    for i, ra in enumerate(ra_values):
        Ra.value = ra
        t0 = time.perf_counter()
        snes = problem.solver
        its = 0
        if i == 0:  # time steps dt = 1e-4 · 1.5^k up to t ≈ 1 (≈ 25 steps), then steady Newton
            dt = 1e-4
            while dt < 0.5:
                T_old.x.array[:] = w.x.array[T_dofs]
                inv_dt.value = 1.0 / dt
                problem.solve()
                its += snes.getIterationNumber()
                dt *= 1.5
            inv_dt.value = 0.0
        problem.solve()
        seconds = time.perf_counter() - t0
        out.append(
            {
                "Ra": ra,
                "seconds": seconds,
                "iterations": its + snes.getIterationNumber(),
                "converged": snes.getConvergedReason() > 0,
                "Nu": -fem.assemble_scalar(flux),
                "vrms": float(np.sqrt(fem.assemble_scalar(vrms))),
                "ndofs": W.dofmap.index_map.size_global * W.dofmap.index_map_bs,
            }
        )
    return out


if __name__ == "__main__":
    for row in solve(32, (1e4, 1.05e4)):
        print(row)
