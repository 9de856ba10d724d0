"""The glass-flow model: the monolithic (u, p, T) space, the forms with their continuation
constants, the Dirichlet conditions (no slip, free slip, velocity, temperature, pressure pin in
a closed container) and the SNES solver, set up once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from mpi4py import MPI

from twinkit.physics.domain import RegionMesh
from twinkit.physics.fields import reduce_array
from twinkit.physics.glass_flow.forms import conductivity, continuity, energy, momentum, viscosity
from twinkit.physics.glass_flow.problem import FreeSlip, GlassFlowProblem, NoSlip
from twinkit.physics.glass_flow.solver import GlassFlowSolver
from twinkit.physics.heat import FixedTemperature, bc_outflow
from twinkit.physics.params import ConstantPool
from twinkit.physics.probes import PointEvaluator
from twinkit.physics.problem import petsc_prefix


class GlassFlow(GlassFlowSolver):
    """Monolithic (u, p, T) model; forms compiled once, `solve` may be repeated (warm start)."""

    primary = "temperature"

    def __init__(self, domain: RegionMesh, problem: GlassFlowProblem, params: Mapping[str, float]):
        import basix.ufl
        import ufl
        from dolfinx import fem

        self.domain, self.problem = domain, problem
        mesh = domain.mesh
        gdim = domain.gdim
        self.c = c = ConstantPool(mesh, params)
        cell = mesh.basix_cell()
        el_u = basix.ufl.element("Lagrange", cell, 2, shape=(gdim,))
        el_p = basix.ufl.element("Lagrange", cell, 1)
        el_T = basix.ufl.element("Lagrange", cell, problem.temperature_degree)
        self.W = W = fem.functionspace(mesh, basix.ufl.mixed_element([el_u, el_p, el_T]))
        self.w = w = fem.Function(W)
        self.spaces = [W.sub(i).collapse() for i in range(3)]
        u, p, T = ufl.split(w)
        v, q, s = ufl.TestFunctions(W)
        self._split = (u, p, T)

        m = problem.melt
        # Continuation knobs: buoyancy scale, and θ blending η(T) with the constant η_ref.
        self.s_buoy: Any = fem.Constant(mesh, 1.0)
        self.theta: Any = fem.Constant(mesh, 1.0)
        self.eta_ref: Any = fem.Constant(mesh, 1.0)
        eta = viscosity(m.viscosity, T, c)
        if m.viscosity_factor is not None:
            eta = eta * c(m.viscosity_factor)
        self.eta = self.eta_ref ** (1 - self.theta) * eta**self.theta
        g = c.vector(tuple(problem.gravity))
        rho0, beta = c(m.density), c(m.thermal_expansion)
        buoy = -self.s_buoy * rho0 * beta * (T - c(m.reference_temperature)) * g
        for f in problem.body_forces:
            x = ufl.SpatialCoordinate(mesh)
            buoy = buoy + (f.value(x) if callable(f.value) else c.vector(tuple(f.value)))
        self.rho_cp = rho0 * c(m.specific_heat)
        self.k = conductivity(m, T, c)
        self.q = sum(
            (c(src.value) * self._indicator(src.region) for src in problem.sources),
            fem.Constant(mesh, 0.0),
        )
        h = ufl.CellDiameter(mesh)
        # UFL's estimate for exp/pow/sqrt coefficients is huge (a 3D SUPG Jacobian took 20 s on
        # 48 cells); 2k+1 keeps the optimal rates (tested) at a fraction of the cost.
        dx = ufl.dx(metadata={"quadrature_degree": problem.quadrature_degree})

        def energy_residual(w_T):
            """Energy equation of the current state tested with w_T (for consistent fluxes)."""
            R = energy(u, T, w_T, self.rho_cp, self.k, self.q, problem.supg, h, dx)
            for bc in problem.thermal_bcs:
                out = bc_outflow(bc, T, c)
                if out is not None:
                    R += out * w_T * domain.ds(bc.region)
            return R

        self._energy_residual = energy_residual
        # pseudo-time term (1/Δτ) ρc (T − T_prev): zero for the steady problem
        self.inv_dtau: Any = fem.Constant(mesh, 0.0)
        self.T_prev = fem.Function(self.spaces[2][0])
        pseudo = self.inv_dtau * self.rho_cp * (T - self.T_prev) * s * dx
        F = (
            momentum(u, p, v, self.eta, buoy, dx)
            + continuity(u, q, dx)
            + energy_residual(s)
            + pseudo
        )
        self.F = F
        self.bcs = self._dirichlet()

        from dolfinx.fem.petsc import NonlinearProblem

        opts = {
            "snes_type": "newtonls",
            "snes_linesearch_type": "bt",
            "snes_rtol": problem.rtol,
            "snes_atol": 1e-12,
            "snes_stol": 0.0,
            "snes_max_it": problem.max_iterations,
            "snes_force_iteration": True,  # one step more takes the residual to round-off
            "ksp_type": "preonly",
            "pc_type": "lu",
            "pc_factor_mat_solver_type": "mumps",
            # saddle-point pivoting outgrows MUMPS's workspace estimate (INFOG(1) = -9)
            "mat_mumps_icntl_14": 200,
        }
        self._solver = NonlinearProblem(
            F, w, bcs=self.bcs, petsc_options_prefix=petsc_prefix(self, "flow"), petsc_options=opts
        )
        self._evaluator: PointEvaluator | None = None
        self._forms: dict[str, Any] = {}
        self._initialised = False
        self._anchor: tuple[np.ndarray, dict[str, float]] | None = None
        self._scale: float | None = None  # first residual norm seen: scales the tolerance

    # ---- set-up helpers ---------------------------------------------------------------------
    def _indicator(self, region: str | None):
        """1 on the cells of `region` (everywhere if None), as a DG0 function."""
        from dolfinx import fem

        if region is None:
            return 1.0
        V0 = fem.functionspace(self.domain.mesh, ("DG", 0))
        chi = fem.Function(V0)
        chi.x.array[self.domain.cells(region)] = 1.0
        chi.x.scatter_forward()
        return chi

    def _dirichlet(self) -> list:
        from dolfinx import fem

        W, domain, c = self.W, self.domain, self.c
        fdim = domain.tdim - 1
        bcs = []
        Wu = W.sub(0)
        for bc in self.problem.flow_bcs:
            facets = domain.facets(bc.region)
            if isinstance(bc, NoSlip):
                values: tuple = (0.0,) * domain.gdim
            elif isinstance(bc, FreeSlip):
                axis = _normal_axis(domain, bc.region)
                values = tuple(0.0 if i == axis else None for i in range(domain.gdim))
            else:
                values = bc.value
            for i, val in enumerate(values):
                if val is None:
                    continue
                Wi = Wu.sub(i)
                dofs = fem.locate_dofs_topological(Wi, fdim, facets)
                bcs.append(fem.dirichletbc(c(val), dofs, Wi))
        WT, _ = self.spaces[2]
        for tbc in self.problem.thermal_bcs:
            if isinstance(tbc, FixedTemperature):
                dofs = fem.locate_dofs_topological(W.sub(2), fdim, domain.facets(tbc.region))
                if callable(tbc.value):
                    VT, _ = self.spaces[2]
                    gT = fem.Function(VT)
                    gT.interpolate(fem.Expression(c(tbc.value), VT.element.interpolation_points))
                    dofs2 = fem.locate_dofs_topological(
                        (W.sub(2), VT), fdim, domain.facets(tbc.region)
                    )
                    bcs.append(fem.dirichletbc(gT, dofs2, W.sub(2)))
                else:
                    bcs.append(fem.dirichletbc(c(tbc.value), dofs, W.sub(2)))
        if self._pressure_is_undetermined():
            bcs.append(self._pin_pressure())
        return bcs

    def _pressure_is_undetermined(self) -> bool:
        """True if every boundary facet has its normal velocity prescribed (closed container)."""
        named = [self.domain.facets(b.region) for b in self.problem.flow_bcs]
        mesh = self.domain.mesh
        from dolfinx import mesh as dmesh

        boundary = dmesh.exterior_facet_indices(mesh.topology)
        covered = np.unique(np.concatenate(named)) if named else np.array([], np.int32)
        local = np.setdiff1d(boundary, covered).size == 0
        return bool(mesh.comm.allreduce(local, op=MPI.LAND))

    def _pin_pressure(self):
        """p = 0 at one vertex: fixes the constant in a closed domain."""
        from dolfinx import fem

        Wp = self.W.sub(1)
        Vp, _ = self.spaces[1]
        x0 = self.domain.mesh.geometry.x.min(axis=0)
        x0 = reduce_array(self.domain.mesh.comm, x0, MPI.MIN)
        dofs = fem.locate_dofs_geometrical(
            (Wp, Vp), lambda x: np.all(np.isclose(x.T, x0[: x.shape[0]], atol=1e-12), axis=1)
        )
        zero = fem.Function(Vp)
        return fem.dirichletbc(zero, dofs, Wp)

    @property
    def ndofs(self) -> int:
        return int(self.W.dofmap.index_map.size_global * self.W.dofmap.index_map_bs)


def _normal_axis(domain: RegionMesh, region: str) -> int:
    """The coordinate axis normal to a straight, axis-aligned boundary region."""
    from dolfinx import mesh as dmesh

    facets = domain.facets(region)
    x = domain.mesh.geometry.x
    nodes = dmesh.entities_to_geometry(domain.mesh, domain.tdim - 1, facets)
    pts = x[nodes.ravel()] if nodes.size else np.zeros((0, 3))
    comm = domain.mesh.comm  # a rank without facets of the region contributes nothing
    hi = reduce_array(comm, pts.max(axis=0) if len(pts) else np.full(3, -np.inf), MPI.MAX)
    lo = reduce_array(comm, pts.min(axis=0) if len(pts) else np.full(3, np.inf), MPI.MIN)
    spread = hi - lo
    size = float(np.max(spread[: domain.gdim])) if np.isfinite(spread).all() else 1.0
    flat = [i for i in range(domain.gdim) if spread[i] <= 1e-10 * max(size, 1e-300)]
    if len(flat) != 1:
        raise ValueError(f"free slip on '{region}' needs a straight boundary normal to an axis")
    return flat[0]
