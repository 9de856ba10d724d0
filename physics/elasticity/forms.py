"""Constitutive law and weak forms: each material's coefficients in the d-dimensional split
σ = 2μ dev ε + K_d (tr ε − ϑ) I, strain, stress, von Mises, internal and external work."""

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
