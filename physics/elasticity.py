r"""Linear elasticity: 3D, 2D plane strain and plane stress, with optional thermal strain.

.. math::
    -\nabla\cdot\sigma = f \quad\text{in } \Omega,\qquad
    \sigma = 2\mu\,\operatorname{dev}_d\varepsilon(u) + K_d\,(\operatorname{tr}\varepsilon(u)
    - \vartheta)\,I,\qquad \varepsilon(u) = \tfrac12(\nabla u + \nabla u^\top),

written in the :math:`d`-dimensional split (:math:`d` = geometric dimension,
:math:`\operatorname{dev}_d\varepsilon = \varepsilon - \operatorname{tr}\varepsilon/d\,I`), which is
Hooke's law with the out-of-plane condition eliminated. With :math:`\mu = E/(2(1+\nu))` and
:math:`\Delta T = T - T_\mathrm{ref}`:

========================  ==============================  ==================================
model                     :math:`1/K_d`                   thermal strain :math:`\vartheta`
========================  ==============================  ==================================
3D                        :math:`3(1-2\nu)/E`             :math:`3\alpha\Delta T`
plane strain (εzz = 0)    :math:`2(1+\nu)(1-2\nu)/E`      :math:`2(1+\nu)\alpha\Delta T`
plane stress (σzz = 0)    :math:`2(1-\nu)/E`              :math:`2\alpha\Delta T`
========================  ==============================  ==================================

In plane strain :math:`\sigma_{zz} = \nu\operatorname{tr}\sigma - E\alpha\Delta T` enters the von
Mises stress. Boundary conditions on named regions: fixed or prescribed displacement components
(essential); traction, pressure :math:`t = -p\,n`, total force spread over the region's area
(natural); body force and gravity :math:`\rho g` in the volume. Unmentioned boundaries are free.

The ``"mixed"`` formulation (Taylor–Hood, :math:`P_{k+1}`/:math:`P_k`, k ≥ 1) adds the pressure-like
unknown :math:`p = K_d(\operatorname{tr}\varepsilon - \vartheta)` and the constraint
:math:`\int(\operatorname{tr}\varepsilon(u) - \vartheta - p/K_d)\,q = 0`; it stays accurate as
ν → 0.5 (1/K_d → 0), where the displacement formulation locks.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from mpi4py import MPI

from twinkit.physics.domain import RegionMesh
from twinkit.physics.params import ConstantPool, Scalar
from twinkit.physics.problem import Probe, QoI, SolverOptions, linear_solver_options, petsc_prefix
from twinkit.physics.result import Result, SolverStatus


@dataclass(frozen=True)
class ElasticMaterial:
    youngs_modulus: Scalar
    poisson_ratio: Scalar
    regions: tuple[str, ...] | None = None  # None: every cell
    density: Scalar = 0.0  # kg/m^3
    thermal_expansion: Scalar = 0.0  # 1/K
    reference_temperature: Scalar = 293.15  # K, stress-free temperature
    yield_strength: Scalar = 0.0  # Pa, for the safety factor


@dataclass(frozen=True)
class Fixed:
    region: str


@dataclass(frozen=True)
class Displacement:
    region: str
    value: tuple[Scalar | None, ...]  # None: that component is free


@dataclass(frozen=True)
class Traction:
    region: str
    value: tuple[Scalar, ...]  # force per area (per length in 2D), Pa


@dataclass(frozen=True)
class Pressure:
    region: str
    value: Scalar  # Pa, positive pushes into the surface


@dataclass(frozen=True)
class Force:
    region: str
    value: tuple[Scalar, ...]  # total force, spread uniformly over the region (N, N/m in 2D)


@dataclass(frozen=True)
class BodyForce:
    value: tuple[Scalar, ...]  # N/m^3
    region: str | None = None


@dataclass(frozen=True)
class Gravity:
    acceleration: tuple[Scalar, ...]  # m/s^2, times each material's density


ElasticBC = Fixed | Displacement
ElasticLoad = Traction | Pressure | Force | BodyForce | Gravity

ELASTICITY_QOIS = ("max_von_mises", "max_displacement", "reaction_force", "mass", "safety_factor")
PROBE_FIELDS = (
    "",
    "displacement",
    "von_mises",
    "displacement_x",
    "displacement_y",
    "displacement_z",
)


@dataclass(frozen=True)
class ElasticityProblem:
    materials: Sequence[ElasticMaterial]
    bcs: Sequence[ElasticBC] = ()
    loads: Sequence[ElasticLoad] = ()
    qois: Sequence[QoI] = ()
    probes: Sequence[Probe] = ()
    plane: str = "strain"  # 2D only: "strain" or "stress"
    formulation: str = "displacement"  # or "mixed" (Taylor–Hood u/p, near-incompressible)
    options: SolverOptions = field(default_factory=SolverOptions)

    def __post_init__(self) -> None:
        if not self.materials:
            raise ValueError("elasticity needs at least one material")
        for b in self.bcs:
            if not isinstance(b, Fixed | Displacement):
                raise TypeError(f"{type(b).__name__} is a load: pass it in `loads`, not `bcs`")
        for ld in self.loads:
            if not isinstance(ld, Traction | Pressure | Force | BodyForce | Gravity):
                raise TypeError(f"{type(ld).__name__} is not a load: pass it in `bcs`")
        if self.plane not in ("strain", "stress"):
            raise ValueError(f"plane must be 'strain' or 'stress', not '{self.plane}'")
        if self.formulation not in ("displacement", "mixed"):
            raise ValueError(
                f"formulation must be 'displacement' or 'mixed', not '{self.formulation}'"
            )
        for q in self.qois:
            if q.kind not in ELASTICITY_QOIS:
                raise ValueError(
                    f"QoI '{q.name}': unknown kind '{q.kind}'; expected one of {ELASTICITY_QOIS}"
                )
            if q.kind == "reaction_force" and (q.region is None or q.component is None):
                raise ValueError(f"QoI '{q.name}': reaction_force needs a region and a component")
        for p in self.probes:
            if p.field not in PROBE_FIELDS:
                raise ValueError(
                    f"probe '{p.name}': unknown field '{p.field}'; expected one of {PROBE_FIELDS}"
                )


# ---- constitutive law and weak forms ------------------------------------------------------


@dataclass
class _Law:
    """One material's coefficients (UFL) in the split form σ = 2μ dev ε + K (tr ε − ϑ) I."""

    material: ElasticMaterial
    E: Any
    nu: Any
    mu: Any
    inv_K: Any
    theta: Any  # volumetric thermal strain ϑ (0 without temperature)
    alpha_dT: Any  # α ΔT (0 without temperature)
    rho: Any
    dxs: list


def constitutive_law(
    m: ElasticMaterial, domain: RegionMesh, c: ConstantPool, plane: str, temperature
) -> _Law:
    E, nu = c(m.youngs_modulus), c(m.poisson_ratio)
    if domain.gdim == 3:
        inv_K, factor = 3 * (1 - 2 * nu) / E, 3.0
    elif plane == "strain":
        inv_K, factor = 2 * (1 + nu) * (1 - 2 * nu) / E, 2 * (1 + nu)
    else:
        inv_K, factor = 2 * (1 - nu) / E, 2.0
    alpha_dT = 0.0
    if temperature is not None and m.thermal_expansion != 0.0:
        alpha_dT = c(m.thermal_expansion) * (temperature - c(m.reference_temperature))
    dxs = [domain.dx(None)] if not m.regions else [domain.dx(r) for r in m.regions]
    return _Law(m, E, nu, E / (2 * (1 + nu)), inv_K, factor * alpha_dT, alpha_dT, c(m.density), dxs)


def strain(u):
    import ufl

    return ufl.sym(ufl.grad(u))


def stress(law: _Law, u, p=None):
    """Cauchy stress (in-plane part in 2D); `p` is the mixed formulation's pressure unknown."""
    import ufl

    eps = strain(u)
    d = len(u)
    I = ufl.Identity(d)
    if p is None:
        p = (ufl.tr(eps) - law.theta) / law.inv_K
    return 2 * law.mu * (eps - ufl.tr(eps) / d * I) + p * I


def stress_zz(law: _Law, sigma, plane: str):
    """Out-of-plane stress of a 2D model: 0 in plane stress, ν tr σ − E α ΔT in plane strain."""
    import ufl

    return 0.0 if plane == "stress" else law.nu * ufl.tr(sigma) - law.E * law.alpha_dT


def von_mises(sigma, szz=None):
    """√(3/2 s:s) of the full 3×3 stress (σ in-plane plus σzz in 2D)."""
    import ufl

    if sigma.ufl_shape[0] == 2:
        sigma = ufl.as_matrix(
            [[sigma[0, 0], sigma[0, 1], 0], [sigma[1, 0], sigma[1, 1], 0], [0, 0, szz]]
        )
    s = ufl.dev(sigma)
    return ufl.sqrt(1.5 * ufl.inner(s, s))


def internal_work(laws: Sequence[_Law], u, v, p=None, q=None):
    """∫ σ(u):ε(v) over each material, plus ∫ (tr ε(u) − ϑ − p/K) q for the mixed form."""
    import ufl

    terms = []
    for law in laws:
        for dx in law.dxs:
            terms.append(ufl.inner(stress(law, u, p), strain(v)) * dx)
            if p is not None:
                terms.append((ufl.tr(strain(u)) - law.theta - law.inv_K * p) * q * dx)
    return sum(terms[1:], terms[0])


def external_work(domain: RegionMesh, loads, laws: Sequence[_Law], v, c: ConstantPool):
    """∫ t·v ds + ∫ f·v dx of the loads (None if there are none)."""
    import ufl

    from twinkit.physics.fields import assemble_scalar

    n = ufl.FacetNormal(domain.mesh)
    terms = []
    for ld in loads:
        if isinstance(ld, Traction):
            terms.append(ufl.inner(c.vector(_vec(ld.value, domain)), v) * domain.ds(ld.region))
        elif isinstance(ld, Pressure):
            terms.append(-c(ld.value) * ufl.inner(n, v) * domain.ds(ld.region))
        elif isinstance(ld, Force):
            from dolfinx import fem

            one = fem.Constant(domain.mesh, 1.0)
            area = assemble_scalar(fem.form(one * domain.ds(ld.region)))
            if area <= 0.0:
                raise ValueError(f"force on region '{ld.region}', which has zero area")
            # The area is a Constant, not a literal, so another mesh reuses the compiled form.
            t = c.vector(_vec(ld.value, domain)) / c(area)
            terms.append(ufl.inner(t, v) * domain.ds(ld.region))
        elif isinstance(ld, BodyForce):
            terms.append(ufl.inner(c.vector(_vec(ld.value, domain)), v) * domain.dx(ld.region))
        elif isinstance(ld, Gravity):
            g = c.vector(_vec(ld.acceleration, domain))
            terms += [law.rho * ufl.inner(g, v) * dx for law in laws for dx in law.dxs]
    return sum(terms[1:], terms[0]) if terms else None


def _vec(value: tuple, domain: RegionMesh) -> tuple:
    if len(value) != domain.gdim:
        raise ValueError(f"vector {value} has {len(value)} components; the mesh is {domain.gdim}D")
    return tuple(value)


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


# ---- the model ----------------------------------------------------------------------------


class Elasticity:
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
            ext = external_work(domain, problem.loads, self.laws, v, c)
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

    # ---- construction helpers ------------------------------------------------------------
    def _dirichlet(self, U) -> list:
        from dolfinx import fem

        bcs = []
        fdim = self.domain.tdim - 1
        for bc in self.problem.bcs:
            values: tuple = (0.0,) * self.domain.gdim if isinstance(bc, Fixed) else bc.value
            facets = self.domain.facets(bc.region)
            for i, val in enumerate(_vec(values, self.domain)):
                if val is not None:
                    dofs = fem.locate_dofs_topological(U.sub(i), fdim, facets)
                    bcs.append(fem.dirichletbc(self.c(val), dofs, U.sub(i)))
        return bcs

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
            fields={"displacement": self.u, "von_mises": self.von_mises},
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

    # ---- outputs -------------------------------------------------------------------------
    def units(self) -> dict[str, str]:
        per_len = "" if self.domain.gdim == 3 else "/m"
        kind_units = {
            "max_von_mises": "Pa",
            "max_displacement": "m",
            "reaction_force": "N" + per_len,
            "mass": "kg" + per_len,
            "safety_factor": "1",
        }
        u = {q.name: kind_units[q.kind] for q in self.problem.qois}
        return u | {p.name: "Pa" if p.field == "von_mises" else "m" for p in self.problem.probes}

    def sensors(self) -> dict[str, float]:
        from twinkit.physics.probes import PointEvaluator

        probes = self.problem.probes
        if not probes:
            return {}
        if self._evaluator is None:
            self._evaluator = PointEvaluator.for_probes(self.domain.mesh, probes, self.c.values)
        uvals = self._evaluator(self.u)
        vm = (
            self._evaluator(self.von_mises) if any(p.field == "von_mises" for p in probes) else None
        )
        out = {}
        for i, p in enumerate(probes):
            if p.field == "von_mises":
                out[p.name] = float(vm[i])  # type: ignore[index]
            elif p.field.startswith("displacement_"):
                out[p.name] = float(uvals[i, "xyz".index(p.field[-1])])
            else:
                out[p.name] = float(np.linalg.norm(uvals[i]))
        return out

    def qois(self) -> dict[str, float]:
        return {q.name: self._qoi(q) for q in self.problem.qois}

    def _qoi(self, q: QoI) -> float:
        from twinkit.physics.fields import assemble_scalar, nodal_extreme

        if q.kind == "max_von_mises":
            return nodal_extreme(self.von_mises, self.domain, q.region, True)
        if q.kind == "max_displacement":
            return self._max_displacement(q.region)
        if q.kind == "reaction_force":
            return assemble_scalar(self._reaction_form(q))
        if q.kind == "mass":
            return assemble_scalar(self._mass_form(q))
        return self._safety_factor(q.region)

    def _max_displacement(self, region: str | None) -> float:
        from twinkit.physics.fields import region_dofs

        dofs = region_dofs(self.V, self.domain, region)
        mag = np.linalg.norm(self.u.x.array.reshape(-1, self.domain.gdim)[dofs], axis=1)
        return float(self.domain.mesh.comm.allreduce(mag.max(initial=0.0), op=MPI.MAX))

    def _reaction_form(self, q: QoI):
        """Force that the support on q.region exerts on the body, component q.component.

        The residual tested with the indicator w of the region's dofs of that component:
        R(u_h; w) = ∫ σ(u_h):ε(w) − ℓ(w) = ∫_Γ (σn)·e_i, consistent with the discrete equations.
        """
        from dolfinx import fem

        if q.name not in self._qoi_forms:
            assert q.region is not None and q.component is not None
            if not 0 <= q.component < self.domain.gdim:
                raise ValueError(f"QoI '{q.name}': component {q.component} out of range")
            w = fem.Function(self.W)
            U = self.W.sub(0) if self.problem.formulation == "mixed" else self.W
            dofs = fem.locate_dofs_topological(
                U.sub(q.component), self.domain.tdim - 1, self.domain.facets(q.region)
            )
            w.x.array[dofs] = 1.0
            self._qoi_forms[q.name] = fem.form(self._residual(self.w, w))
        return self._qoi_forms[q.name]

    def _mass_form(self, q: QoI):
        """∫ ρ over the body, or over q.region (materials that cover it)."""
        from dolfinx import fem

        if q.name not in self._qoi_forms:
            terms = []
            for law in self.laws:
                regions = law.material.regions
                if q.region is None:
                    terms += [law.rho * dx for dx in law.dxs]
                elif regions is None or q.region in regions:
                    terms.append(law.rho * self.domain.dx(q.region))
            if not terms:
                raise ValueError(f"QoI '{q.name}': no material covers region '{q.region}'")
            self._qoi_forms[q.name] = fem.form(sum(terms[1:], terms[0]))
        return self._qoi_forms[q.name]

    def _safety_factor(self, region: str | None) -> float:
        """min over materials (in `region`) of yield strength / max von Mises stress."""
        factors = []
        for law in self.laws:
            m = law.material
            if region is not None and m.regions is not None and region not in m.regions:
                continue
            sy = float(self.c(m.yield_strength).value)
            if sy <= 0.0:
                continue
            names: Sequence[str | None] = [region] if region or not m.regions else m.regions
            vm = max(nodal_max(self.von_mises, self.domain, r) for r in names)
            factors.append(sy / vm if vm > 0 else np.inf)
        if not factors:
            raise ValueError("safety_factor needs a material with a positive yield_strength")
        return float(min(factors))


def nodal_max(f, domain: RegionMesh, region: str | None) -> float:
    from twinkit.physics.fields import nodal_extreme

    return nodal_extreme(f, domain, region, True)


def _material_cells(domain: RegionMesh, m: ElasticMaterial) -> np.ndarray:
    if not m.regions:
        return domain.cells(None)
    return np.unique(np.concatenate([domain.cells(r) for r in m.regions]))


def _reason_name(reason: int) -> str:
    from petsc4py import PETSc

    names = {v: k for k, v in vars(PETSc.KSP.ConvergedReason).items() if isinstance(v, int)}
    return f"{names.get(reason, 'unknown')}, reason {reason}"
