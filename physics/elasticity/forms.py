"""Constitutive law and weak forms: each material's coefficients in the d-dimensional split
σ = 2μ (dev ε − dev ε₀) + K_d (tr ε − ϑ) I, strain, stress, von Mises, internal and external work.

ε₀ = α ΔT I + ε_init is the eigenstrain (thermal plus initial). With λ, μ the Lamé constants,
σ = C : (ε − ε₀) gives ϑ = tr ε₀ in 3D, ϑ = tr₂ ε₀ in plane stress (ε₀_zz only adds to ε_zz) and
ϑ = tr₂ ε₀ + 2ν ε₀_zz in plane strain (K₂ = λ + μ, so K₂ϑ = μ tr₂ ε₀ + λ tr₃ ε₀)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twinkit.physics.domain import RegionMesh
from twinkit.physics.elasticity.problem import (
    BodyForce,
    ElasticMaterial,
    Force,
    Gravity,
    Pressure,
    Traction,
)
from twinkit.physics.params import ConstantPool


@dataclass
class _Law:
    """One material's coefficients (UFL) in the split form σ = 2μ dev ε + K (tr ε − ϑ) I."""

    material: ElasticMaterial
    E: Any
    nu: Any
    mu: Any
    inv_K: Any
    theta: Any  # volumetric eigenstrain ϑ (0 without temperature or initial strain)
    eps0_zz: Any  # out-of-plane eigenstrain α ΔT + ε_init,zz of a 2D model (in 3D unused)
    dev0: Any  # in-plane deviatoric eigenstrain (None: 0, e.g. a thermal strain alone)
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
    dT: Any = None
    if m.temperature is not None:
        dT = c(m.temperature) - c(m.reference_temperature)
    elif m.temperature_change is not None:
        dT = c(m.temperature_change)
    elif temperature is not None:
        dT = temperature - c(m.reference_temperature)
    alpha_dT: Any = 0.0
    if dT is not None and m.thermal_expansion != 0.0:
        alpha_dT = c(m.thermal_expansion) * dT
    theta, eps0_zz, dev0 = factor * alpha_dT, alpha_dT, None
    if m.initial_strain:
        import ufl

        d = domain.gdim
        e0 = _initial_strain(m, c, d)
        tr_d = sum((e0[i][i] for i in range(d)), 0.0)
        dev0 = ufl.as_matrix([[e0[i][j] for j in range(d)] for i in range(d)])
        dev0 = dev0 - tr_d / d * ufl.Identity(d)
        if d == 3:
            theta = theta + tr_d
        else:
            eps0_zz = eps0_zz + e0[2][2]
            theta = theta + tr_d + (2 * nu * e0[2][2] if plane == "strain" else 0.0)
    dxs = [domain.dx(None)] if not m.regions else [domain.dx(r) for r in m.regions]
    return _Law(m, E, nu, E / (2 * (1 + nu)), inv_K, theta, eps0_zz, dev0, c(m.density), dxs)


def _initial_strain(m: ElasticMaterial, c: ConstantPool, d: int) -> list[list[Any]]:
    """The initial strain as a symmetric 3×3 table of constants (0.0 where not given)."""
    e0: list[list[Any]] = [[0.0] * 3 for _ in range(3)]
    for comp, value in m.initial_strain:
        i, j = ("xyz".index(comp[0]), "xyz".index(comp[1]))
        if d == 2 and comp in ("xz", "yz"):
            raise ValueError(f"initial strain component '{comp}' needs a 3D mesh")
        e0[i][j] = e0[j][i] = c(value)
    return e0


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
    dev = eps - ufl.tr(eps) / d * I
    if law.dev0 is not None:
        dev = dev - law.dev0
    return 2 * law.mu * dev + p * I


def stress_zz(law: _Law, sigma, plane: str):
    """Out-of-plane stress of a 2D model: 0 in plane stress, ν tr σ − E ε₀_zz in plane strain."""
    import ufl

    return 0.0 if plane == "stress" else law.nu * ufl.tr(sigma) - law.E * law.eps0_zz


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


def external_work(
    domain: RegionMesh, loads, laws: Sequence[_Law], v, c: ConstantPool, thickness=None
):
    """∫ t·v ds + ∫ f·v dx of the loads (None if there are none); a `Force` acts on the
    region's area, its length times `thickness` in 2D when one is given."""
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
            if thickness is not None:
                t = t / c(thickness)
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
