"""Validation (docs/validation.md): Kirsch plate with a hole, Lamé thick cylinder (also ν → 0.5)."""

from __future__ import annotations

import numpy as np
import pytest

from twinkit.physics.elasticity import (
    Displacement,
    Elasticity,
    ElasticityProblem,
    ElasticMaterial,
    Pressure,
)
from twinkit.physics.geometry import plate_with_hole, quarter_annulus
from twinkit.physics.problem import Probe, SolverOptions

E = 1000.0
SYMMETRY = (Displacement("left", (0.0, None)), Displacement("bottom", (None, 0.0)))


def stress_at(model: Elasticity, points) -> np.ndarray:
    """FE stress (interpolated in DG(k-1), k the displacement degree) at points, (n, 2, 2)."""
    from dolfinx import fem

    from twinkit.physics.probes import PointEvaluator

    k = model.V.ufl_element().degree
    S = fem.functionspace(model.domain.mesh, ("Discontinuous Lagrange", k - 1, (2, 2)))
    s = fem.Function(S)
    s.interpolate(fem.Expression(model.stress(), S.element.interpolation_points))
    return PointEvaluator(model.domain.mesh, np.array(points))(s).reshape(-1, 2, 2)


# ---- Kirsch: quarter plate with a hole, uniaxial tension p along x --------------------------

P, A, NU = 1.0, 1.0, 0.3


def kirsch_stress(x):
    """Exact Kirsch stress (docs/validation.md), rotated from polar to Cartesian components."""
    import ufl

    r2 = x[0] ** 2 + x[1] ** 2
    r = ufl.sqrt(r2)
    c, s = x[0] / r, x[1] / r
    cos2, sin2 = c * c - s * s, 2 * s * c
    q = A**2 / r2
    srr = P / 2 * (1 - q) + P / 2 * (1 - 4 * q + 3 * q**2) * cos2
    stt = P / 2 * (1 + q) - P / 2 * (1 + 3 * q**2) * cos2
    srt = -P / 2 * (1 + 2 * q - 3 * q**2) * sin2
    Q = ufl.as_matrix([[c, -s], [s, c]])
    return Q * ufl.as_matrix([[srr, srt], [srt, stt]]) * Q.T


def kirsch_displacement(x):
    """Exact plane-strain displacement (κ = 3 − 4ν); zero normal motion on both symmetry lines."""
    import ufl

    mu, kappa = E / (2 * (1 + NU)), 3 - 4 * NU
    r = ufl.sqrt(x[0] ** 2 + x[1] ** 2)
    c, s = x[0] / r, x[1] / r
    cos3, sin3 = 4 * c**3 - 3 * c, 3 * s - 4 * s**3
    ux = r / A * (kappa + 1) * c + 2 * A / r * ((1 + kappa) * c + cos3) - 2 * A**3 / r**3 * cos3
    uy = r / A * (kappa - 3) * s + 2 * A / r * ((1 - kappa) * s + sin3) - 2 * A**3 / r**3 * sin3
    return P * A / (8 * mu) * ufl.as_vector([ux, uy])


def solve_kirsch(size: float, degree: int) -> tuple[float, np.ndarray]:
    """Relative L2 displacement error and the stress at (0, a), (a, 0)."""
    import ufl
    from dolfinx import fem

    from twinkit.physics.fields import assemble_scalar

    # Quadratic cells for P2, so the polygonal hole does not cap the rate at 2.
    domain = plate_with_hole(4 * A, 4 * A, A, size, order=degree)
    x, n = ufl.SpatialCoordinate(domain.mesh), ufl.FacetNormal(domain.mesh)
    sigma = kirsch_stress(x)

    def exact_traction(v):
        return ufl.inner(sigma * n, v) * (domain.ds("right") + domain.ds("top"))

    problem = ElasticityProblem(
        [ElasticMaterial(E, NU)], bcs=SYMMETRY, options=SolverOptions(degree=degree)
    )
    model = Elasticity(domain, problem, {}, extra_load=exact_traction)
    assert model.solve().solver.converged
    u_ex = kirsch_displacement(x)
    dx = ufl.dx(metadata={"quadrature_degree": 8})
    err = assemble_scalar(fem.form(ufl.inner(model.u - u_ex, model.u - u_ex) * dx))
    norm = assemble_scalar(fem.form(ufl.inner(u_ex, u_ex) * dx))
    return float(np.sqrt(err / norm)), stress_at(model, [[0.0, A], [A, 0.0]])


def test_kirsch_stress_concentration():
    _, sigma = solve_kirsch(size=0.4, degree=2)
    # σθθ at θ = 90° is σxx at (0, a); at θ = 0° it is σyy at (a, 0).
    assert sigma[0, 0, 0] == pytest.approx(3 * P, rel=0.02)
    assert sigma[1, 1, 1] == pytest.approx(-P, rel=0.02)


@pytest.mark.slow
@pytest.mark.parametrize(("degree", "sizes"), [(1, (0.2, 0.1, 0.05)), (2, (0.4, 0.2, 0.1))])
def test_kirsch_displacement_converges_at_element_rate(degree, sizes):
    errors = np.array([solve_kirsch(h, degree)[0] for h in sizes])
    rates = np.log2(errors[:-1] / errors[1:])
    assert rates.min() > degree + 0.8, (errors, rates)


# ---- Lamé: thick cylinder under internal pressure, plane strain ----------------------------

RA, RB, PI = 3.0, 9.0, 1.0


def lame_exact(nu: float) -> tuple[float, float]:
    """u_r(a) and σθ(a)."""
    a2, b2 = RA**2, RB**2
    A_, B_ = PI * a2 / (b2 - a2), PI * a2 * b2 / (b2 - a2)
    return (1 + nu) / E * ((1 - 2 * nu) * A_ * RA + B_ / RA), A_ + B_ / a2


def solve_lame(nu: float, formulation: str, degree: int, size: float = 0.5):
    """u_r and σθ at the inner radius, on both symmetry lines: ((u, u), (σ, σ))."""
    domain = quarter_annulus(RA, RB, size, order=2)
    problem = ElasticityProblem(
        [ElasticMaterial(E, nu)],
        bcs=SYMMETRY,
        loads=[Pressure("inner", PI)],
        probes=[Probe("ux", (RA, 0.0), "displacement_x"), Probe("uy", (0.0, RA), "displacement_y")],
        formulation=formulation,
        options=SolverOptions(degree=degree),
    )
    model = Elasticity(domain, problem, {})
    r = model.solve()
    assert r.solver.converged
    sigma = stress_at(model, [[RA, 0.0], [0.0, RA]])
    return np.array([r.sensors["ux"], r.sensors["uy"]]), np.array([sigma[0, 1, 1], sigma[1, 0, 0]])


def test_lame_compressible():
    u_a, s_a = lame_exact(0.3)
    u, s = solve_lame(0.3, "displacement", degree=2)
    assert u == pytest.approx(u_a, rel=1e-3)
    assert s == pytest.approx(s_a, rel=0.01)


def test_lame_nearly_incompressible_mixed():
    u_a, s_a = lame_exact(0.4999)
    assert (u_a, s_a) == pytest.approx((5.0623e-3, 1.25), rel=1e-4)  # docs/validation.md
    u, s = solve_lame(0.4999, "mixed", degree=1)
    assert u == pytest.approx(u_a, rel=0.01)
    assert s == pytest.approx(s_a, rel=0.01)


def test_lame_p1_displacement_locks():
    """Why the mixed formulation exists: P1 displacements lock as ν → 0.5."""
    u_a, s_a = lame_exact(0.4999)
    u_mixed, _ = solve_lame(0.4999, "mixed", degree=1)
    u_p1, s_p1 = solve_lame(0.4999, "displacement", degree=1)
    err_mixed = np.abs(u_mixed / u_a - 1).max()
    err_p1 = np.abs(u_p1 / u_a - 1).max()
    assert err_p1 > 0.3  # displacements far too small: locking
    assert err_p1 > 100 * err_mixed
    assert np.abs(s_p1 / s_a - 1).max() > 1.0  # and the stress is meaningless
