"""The linear-elasticity model: builds the forms and the linear solver once (displacement or
mixed u–p formulation), solves for given parameter values, updates displacement and von Mises."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from twinkit.physics.domain import RegionMesh
from twinkit.physics.elasticity.forms import (
    _Law,
    _vec,
    constitutive_law,
    external_work,
    internal_work,
    strain,
    stress,
    stress_zz,
    von_mises,
)
from twinkit.physics.elasticity.outputs import ElasticityOutputs
from twinkit.physics.elasticity.problem import ElasticityProblem, ElasticMaterial, Fixed
from twinkit.physics.elasticity.recovery import STRAIN_FIELDS, STRESS_FIELDS, Recovery, voigt
from twinkit.physics.elasticity.solver import _reason_name, rigid_body_modes
from twinkit.physics.params import ConstantPool
from twinkit.physics.problem import linear_solver_options, petsc_prefix
from twinkit.physics.result import Result, SolverStatus


class Elasticity(ElasticityOutputs):
    """Linear-elasticity model on a RegionMesh; forms are compiled once, `solve` may be repeated.

    Parameters
    ----------
    domain
        Mesh with named regions (2D: plane strain/stress per ``problem.plane``; 3D).
    problem
        Materials, supports, loads, outputs.
    params
        Initial values (SI) of the parameters the problem refers to.
    temperature
        Optional temperature field (a dolfinx Function on the same mesh, in K), e.g. the heat
        model's; it adds the thermal strain α (T − T_ref) I. Its values are read at every solve.
    extra_load
        For verification only (exact tractions, manufactured body forces): a function of the
        displacement test function returning extra external work as a UFL form.
    """

    primary = "displacement"

    def __init__(
        self,
        domain: RegionMesh,
        problem: ElasticityProblem,
        params: Mapping[str, float],
        temperature=None,
        *,
        extra_load: Callable[[Any], Any] | None = None,
    ):
        import basix.ufl
        import ufl
        from dolfinx import fem
        from dolfinx.fem.petsc import LinearProblem

        self.domain, self.problem = domain, problem
        mesh = domain.mesh
        gdim = domain.gdim
        self.c = c = ConstantPool(mesh, params)
        self.laws = [
            constitutive_law(m, domain, c, problem.plane, temperature) for m in problem.materials
        ]
        mixed = problem.formulation == "mixed"
        degree = problem.options.degree
        cell = mesh.basix_cell()
        if mixed:
            degree = max(2, degree)
            el_u = basix.ufl.element("Lagrange", cell, degree, shape=(gdim,))
            el_p = basix.ufl.element("Lagrange", cell, degree - 1)
            self.W = W = fem.functionspace(mesh, basix.ufl.mixed_element([el_u, el_p]))
            self.V, self._u_in_W = W.sub(0).collapse()
            self.w = fem.Function(W)
            U = W.sub(0)
        else:
            self.W = W = self.V = fem.functionspace(mesh, ("Lagrange", degree, (gdim,)))
            self.w = fem.Function(W)
            U = W
        self.u = fem.Function(self.V, name="displacement")

        def residual(w, v_q):
            """Internal minus external work; w, v_q are (trial or solution, test or weight)."""
            if mixed:
                (u, p), (v, q) = ufl.split(w), ufl.split(v_q)
            else:
                u, p, v, q = w, None, v_q, None
            F = internal_work(self.laws, u, v, p, q)
            ext = external_work(domain, problem.loads, self.laws, v, c, problem.thickness)
            if ext is not None:
                F = F - ext
            if extra_load is not None:
                F = F - extra_load(v)
            return F

        F = residual(ufl.TrialFunction(W), ufl.TestFunction(W))
        a, L = ufl.lhs(F), ufl.rhs(F)
        if L.empty():
            zero = fem.Constant(mesh, np.zeros(gdim))
            v0 = ufl.split(ufl.TestFunction(W))[0] if mixed else ufl.TestFunction(W)
            L = ufl.inner(zero, v0) * ufl.dx
        self._residual = residual
        self.bcs = self._dirichlet(U)

        options = problem.options
        if mixed:
            if options.linear_solver == "iterative":
                raise ValueError("the mixed formulation supports only the direct solver")
            options = dataclasses.replace(options, linear_solver="direct")
        opts = linear_solver_options(options, self.ndofs, symmetric=True, tdim=domain.tdim)
        self.direct = opts["ksp_type"] == "preonly"
        self._problem = LinearProblem(
            a,
            L,
            bcs=self.bcs,
            u=self.w,
            petsc_options_prefix=petsc_prefix(self, "elasticity"),
            petsc_options=opts,
        )
        if not self.direct:
            from petsc4py import PETSc

            self._nullspace, self._ns_storage = rigid_body_modes(self.V)
            self._problem.A.setNearNullSpace(self._nullspace)
            self._problem.A.setOption(PETSc.Mat.Option.SPD, True)

        # von Mises in DG(k-1): the FE stress evaluated exactly at the element's nodes.
        self.S = fem.functionspace(mesh, ("Discontinuous Lagrange", degree - 1))
        self.von_mises = fem.Function(self.S, name="von_mises")
        self._vm_exprs = [
            (fem.Expression(self._von_mises_ufl(law), self.S.element.interpolation_points), law)
            for law in self.laws
        ]
        self._evaluator: Any = None
        self._qoi_forms: dict[str, Any] = {}
        self._field_cache: dict[str, Any] = {}
        self.recovered = self._recoveries(max(1, degree - 1))

    # ---- construction helpers ------------------------------------------------------------
    def _dirichlet(self, U) -> list:
        from dolfinx import fem

        bcs = []
        for bc in self.problem.bcs:
            values: tuple = (0.0,) * self.domain.gdim if isinstance(bc, Fixed) else bc.value
            dim, entities = self.domain.entities(bc.region)  # facets, edges or points
            for i, val in enumerate(_vec(values, self.domain)):
                if val is not None:
                    dofs = fem.locate_dofs_topological(U.sub(i), dim, entities)
                    bcs.append(fem.dirichletbc(self.c(val), dofs, U.sub(i)))
        return bcs

    def _recoveries(self, degree: int) -> dict[str, Recovery]:
        """Recovered stress and strain (`recovery.Recovery`), each only if an output needs it."""
        p = self.problem
        wanted = {q.field for q in p.qois} | {pr.field for pr in p.probes} | set(p.fields)
        needs = {
            "stress": bool(wanted & {*STRESS_FIELDS, "stress", "principal_stress", "tresca"}),
            "strain": bool(wanted & {*STRAIN_FIELDS, "strain"}),
        }
        u, pressure = self._split()
        out = {}
        for name, tensor in (("stress", self._stress_voigt), ("strain", self._strain_voigt)):
            if needs[name]:
                parts = [
                    (tensor(law, u, pressure), law.dxs, _material_cells(self.domain, law.material))
                    for law in self.laws
                ]
                out[name] = Recovery(self.domain, parts, degree, p.stress_recovery, name)
        return out

    def _stress_voigt(self, law: _Law, u, p):
        sigma = stress(law, u, p)
        szz = stress_zz(law, sigma, self.problem.plane) if self.domain.gdim == 2 else 0.0
        return voigt(sigma, szz)

    def _strain_voigt(self, law: _Law, u, p):
        """ε(u); in 2D εzz = 0 (plane strain) or (σzz − ν(σxx + σyy))/E + ε₀_zz (plane stress)."""
        import ufl

        ezz: Any = 0.0
        if self.domain.gdim == 2 and self.problem.plane == "stress":
            sigma = stress(law, u, p)
            ezz = -law.nu * ufl.tr(sigma) / law.E + law.eps0_zz
        return voigt(strain(u), ezz)

    def _split(self):
        import ufl

        if self.problem.formulation == "mixed":
            return ufl.split(self.w)
        return self.w, None

    def stress(self, material: ElasticMaterial | None = None):
        """UFL Cauchy stress of the current solution (in-plane part in 2D) for one material."""
        law = self._law(material)
        u, p = self._split()
        return stress(law, u, p)

    def _law(self, material: ElasticMaterial | None) -> _Law:
        if material is None:
            if len(self.laws) > 1:
                raise ValueError("several materials: say which material's stress is wanted")
            return self.laws[0]
        return next(law for law in self.laws if law.material is material)

    def _von_mises_ufl(self, law: _Law):
        sigma = self.stress(law.material)
        szz = stress_zz(law, sigma, self.problem.plane) if self.domain.gdim == 2 else None
        return von_mises(sigma, szz)

    @property
    def ndofs(self) -> int:
        return int(self.W.dofmap.index_map.size_global * self.W.dofmap.index_map_bs)

    @property
    def ksp(self):
        """The PETSc KSP (for inspection and expert tuning)."""
        return self._problem.solver

    # ---- solve ---------------------------------------------------------------------------
    def solve(self, params: Mapping[str, float] | None = None) -> Result:
        """Solve for the given parameter values (SI); re-assembles, never recompiles."""
        from petsc4py import PETSc

        t0 = time.perf_counter()
        if params:
            self.c.update(params)
        message = ""
        try:
            self._problem.solve()
            reason = self.ksp.getConvergedReason()
            converged = reason > 0
            if not converged:
                message = f"KSP did not converge ({_reason_name(reason)})"
        except PETSc.Error as e:
            converged, message = False, f"linear solver failed (PETSc error {e.ierr})"
        if converged and not np.isfinite(self.w.x.array).all():
            converged, message = False, "solution contains NaN or Inf"
        its = 1 if self.direct else int(self.ksp.getIterationNumber())
        self._update_outputs()
        status = SolverStatus(converged, its, time.perf_counter() - t0, message)
        return Result(
            fields={"displacement": self.u, "von_mises": self.von_mises} | self.extra_fields(),
            qoi=self.qois(),
            sensors=self.sensors(),
            units=self.units(),
            solver=status,
            parameters=self.c.values,
        )

    def _update_outputs(self) -> None:
        if self.problem.formulation == "mixed":
            self.u.x.array[:] = self.w.x.array[self._u_in_W]
        else:
            self.u.x.array[:] = self.w.x.array
        for expr, law in self._vm_exprs:
            cells = _material_cells(self.domain, law.material)
            self.von_mises.interpolate(expr, cells0=cells)
        self.von_mises.x.scatter_forward()
        for r in self.recovered.values():
            r.update()


def _material_cells(domain: RegionMesh, m: ElasticMaterial) -> np.ndarray:
    if not m.regions:
        return domain.cells(None)
    return np.unique(np.concatenate([domain.cells(r) for r in m.regions]))
