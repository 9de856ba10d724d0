"""Elasticity model: manufactured solutions (convergence rates), thermal strain, reactions, mass,
solver reporting and input validation."""

from __future__ import annotations

import numpy as np
import pytest

from twinkit.physics.domain import box, rectangle
from twinkit.physics.elasticity import (
    Displacement,
    Elasticity,
    ElasticityProblem,
    ElasticMaterial,
    Fixed,
    Force,
    Gravity,
    Traction,
)
from twinkit.physics.params import Param
from twinkit.physics.problem import Probe, QoI, SolverOptions

E, NU = 1000.0, 0.3


# ---- manufactured solutions ---------------------------------------------------------------


def exact_stress(u, plane: str):
    """Hooke's law written independently of the model: λ tr ε I + 2μ ε (λ* in plane stress)."""
    import ufl

    mu = E / (2 * (1 + NU))
    lam = E * NU / ((1 + NU) * (1 - 2 * NU))
    if plane == "stress":
        lam = 2 * lam * mu / (lam + 2 * mu)
    eps = ufl.sym(ufl.grad(u))
    return lam * ufl.tr(eps) * ufl.Identity(len(u)) + 2 * mu * eps


def manufactured_error(domain, u_ex, plane: str, degree: int) -> float:
    """Solve with f = −div σ(u_ex), u = 0 on all but `right`, exact traction on `right`;
    return the L2 error of the displacement."""
    import ufl
    from dolfinx import fem

    from twinkit.physics.fields import assemble_scalar

    sigma = exact_stress(u_ex, plane)
    f = -ufl.div(sigma)
    n = ufl.FacetNormal(domain.mesh)

    def extra(v):
        return ufl.inner(f, v) * ufl.dx + ufl.inner(sigma * n, v) * domain.ds("right")

    fixed = [r for r in domain.facet_regions() if r != "right"]
    problem = ElasticityProblem(
        materials=[ElasticMaterial(E, NU)],
        bcs=[Fixed(r) for r in fixed],
        plane=plane,
        options=SolverOptions(degree=degree),
    )
    model = Elasticity(domain, problem, {}, extra_load=extra)
    assert model.solve().solver.converged
    dx = ufl.dx(metadata={"quadrature_degree": 2 * degree + 4})
    err = fem.form(ufl.inner(model.u - u_ex, model.u - u_ex) * dx)
    return float(np.sqrt(assemble_scalar(err)))


def rates(errors: list[float]) -> np.ndarray:
    e = np.array(errors)
    return np.log2(e[:-1] / e[1:])


@pytest.mark.parametrize(("plane", "degree"), [("strain", 1), ("strain", 2), ("stress", 2)])
def test_manufactured_2d_converges_at_element_rate(plane, degree):
    import ufl

    errors = []
    for n in (8, 16, 32):
        domain = rectangle(1.0, 1.0, n, n)
        x = ufl.SpatialCoordinate(domain.mesh)
        s = ufl.sin(ufl.pi * x[1])
        u_ex = 0.01 * ufl.as_vector([x[0] ** 2 * s, x[0] * ufl.cos(x[0]) * s])
        errors.append(manufactured_error(domain, u_ex, plane, degree))
    r = rates(errors)
    assert r.min() > degree + 0.8, (errors, r)


@pytest.mark.slow
@pytest.mark.parametrize(("degree", "cells"), [(1, (4, 8, 16)), (2, (2, 4, 8))])
def test_manufactured_3d_converges_at_element_rate(degree, cells):
    import ufl

    errors = []
    for n in cells:
        domain = box((1.0, 1.0, 1.0), (n, n, n))
        x = ufl.SpatialCoordinate(domain.mesh)
        s = ufl.sin(ufl.pi * x[1]) * ufl.sin(ufl.pi * x[2])
        u_ex = 0.01 * ufl.as_vector([x[0] ** 2 * s, x[0] * s, x[0] ** 2 * x[1] * s])
        errors.append(manufactured_error(domain, u_ex, "strain", degree))
    r = rates(errors)
    assert r.min() > degree + 0.8, (errors, r)


# ---- thermal strain ------------------------------------------------------------------------

ALPHA, DT, T_REF = 1e-5, 100.0, 293.15


def uniform_temperature(domain, value: float):
    from dolfinx import fem

    T = fem.Function(fem.functionspace(domain.mesh, ("Lagrange", 1)))
    T.x.array[:] = value
    return T


def thermal_model(domain, bcs, plane="stress", qois=()):
    mat = ElasticMaterial(E, NU, thermal_expansion=ALPHA, reference_temperature=T_REF)
    problem = ElasticityProblem(
        [mat],
        bcs=bcs,
        plane=plane,
        qois=(QoI("vm", "max_von_mises"), QoI("u", "max_displacement"), *qois),
        probes=(
            Probe("end", (2.0, 0.25) if domain.gdim == 2 else (2.0, 0.25, 0.25), "displacement_x"),
        ),
    )
    return Elasticity(domain, problem, {}, temperature=uniform_temperature(domain, T_REF + DT))


ROLLERS_2D = [Displacement("left", (0.0, None)), Displacement("bottom", (None, 0.0))]


@pytest.mark.parametrize(("plane", "strain_x"), [("stress", 1.0), ("strain", 1 + NU)])
def test_free_thermal_expansion(plane, strain_x):
    """Rollers only: free expansion, no in-plane stress (plane strain: σzz = −EαΔT)."""
    r = thermal_model(rectangle(2.0, 0.5, 8, 2), ROLLERS_2D, plane).solve()
    assert r.sensors["end"] == pytest.approx(strain_x * ALPHA * DT * 2.0, rel=1e-9)
    vm_expected = 0.0 if plane == "stress" else E * ALPHA * DT
    assert r.qoi["vm"] == pytest.approx(vm_expected, abs=1e-9 * E * ALPHA * DT)


def test_clamped_bar_plane_stress_stress_is_minus_E_alpha_dT():
    bcs = [*ROLLERS_2D, Displacement("right", (0.0, None))]
    qoi = QoI("Rx", "reaction_force", "right", 0)
    model = thermal_model(rectangle(2.0, 0.5, 8, 2), bcs, qois=(qoi,))
    r = model.solve()
    assert r.qoi["vm"] == pytest.approx(E * ALPHA * DT, rel=1e-9)
    # The support pushes the bar's end back: σxx·h with σxx = −EαΔT.
    assert r.qoi["Rx"] == pytest.approx(-E * ALPHA * DT * 0.5, rel=1e-9)
    assert _stress_at(model, (1.0, 0.25))[0, 0] == pytest.approx(-E * ALPHA * DT, rel=1e-9)


def test_confined_plane_strain_is_hydrostatic():
    """All in-plane motion blocked: σ = −EαΔT/(1−2ν) I (σzz too), so von Mises ≈ 0."""
    bcs = [*ROLLERS_2D, Displacement("right", (0.0, None)), Displacement("top", (None, 0.0))]
    model = thermal_model(rectangle(2.0, 0.5, 8, 2), bcs, plane="strain")
    r = model.solve()
    assert r.qoi["vm"] == pytest.approx(0.0, abs=1e-9 * E * ALPHA * DT)
    sigma = _stress_at(model, (1.0, 0.25))
    assert np.allclose(sigma, -E * ALPHA * DT / (1 - 2 * NU) * np.eye(2), rtol=1e-9)


def test_clamped_bar_3d():
    domain = box((2.0, 0.5, 0.5), (8, 2, 2))
    bcs = [
        Displacement("left", (0.0, None, None)),
        Displacement("right", (0.0, None, None)),
        Displacement("front", (None, 0.0, None)),
        Displacement("bottom", (None, None, 0.0)),
    ]
    model = thermal_model(domain, bcs)
    r = model.solve()
    assert r.qoi["vm"] == pytest.approx(E * ALPHA * DT, rel=1e-9)
    assert _stress_at(model, (1.0, 0.25, 0.25))[0, 0] == pytest.approx(-E * ALPHA * DT, rel=1e-9)


def _stress_at(model: Elasticity, point) -> np.ndarray:
    """The model's stress tensor interpolated cell-wise and evaluated at a point."""
    from dolfinx import fem

    from twinkit.physics.probes import PointEvaluator

    gdim = model.domain.gdim
    S = fem.functionspace(model.domain.mesh, ("Discontinuous Lagrange", 0, (gdim, gdim)))
    s = fem.Function(S)
    s.interpolate(fem.Expression(model.stress(), S.element.interpolation_points))
    return PointEvaluator(model.domain.mesh, np.array([point]))(s).reshape(gdim, gdim)


# ---- reactions, mass, gravity, probes ------------------------------------------------------


def cantilever(force=(0.0, -3.0), degree=1, **kw):
    problem = ElasticityProblem(
        materials=[ElasticMaterial(E, NU, density=7.0, yield_strength=50.0)],
        bcs=[Fixed("left")],
        loads=[Force("right", force)],
        qois=[
            QoI("Rx", "reaction_force", "left", 0),
            QoI("Ry", "reaction_force", "left", 1),
            QoI("mass", "mass"),
            QoI("vm", "max_von_mises"),
            QoI("sf", "safety_factor"),
            QoI("umax", "max_displacement"),
        ],
        probes=[Probe("tip", (4.0, 0.5)), Probe("tip_y", (4.0, 0.5), "displacement_y")],
        plane="stress",
        options=SolverOptions(degree=degree, **kw),
    )
    return Elasticity(rectangle(4.0, 1.0, 16, 4), problem, {})


def test_reaction_balances_applied_force_and_mass_is_rho_volume():
    r = cantilever().solve()
    assert r.solver.converged and r.solver.iterations == 1
    # Reaction = force of the support on the body: equal and opposite to the applied force.
    assert r.qoi["Rx"] == pytest.approx(0.0, abs=1e-9)
    assert r.qoi["Ry"] == pytest.approx(3.0, rel=1e-9)
    assert r.qoi["mass"] == pytest.approx(7.0 * 4.0 * 1.0, rel=1e-12)
    assert r.qoi["sf"] == pytest.approx(50.0 / r.qoi["vm"])
    assert r.sensors["tip_y"] < 0 and r.sensors["tip"] == pytest.approx(-r.sensors["tip_y"], 1e-2)
    assert r.qoi["umax"] >= r.sensors["tip"]
    assert r.units == {
        "Rx": "N/m",
        "Ry": "N/m",
        "mass": "kg/m",
        "vm": "Pa",
        "sf": "1",
        "umax": "m",
        "tip": "m",
        "tip_y": "m",
    }
    # Euler–Bernoulli tip deflection F L³/(3 E I) (coarse P1 is stiffer; shear adds a little).
    beam = 3.0 * 4.0**3 / (3 * E * 1.0 / 12)
    assert 0.7 * beam < r.sensors["tip"] < 1.1 * beam


def test_gravity_reaction_equals_weight():
    problem = ElasticityProblem(
        [ElasticMaterial(E, NU, density=7.0)],
        bcs=[Fixed("bottom")],
        loads=[Gravity((0.0, -9.81)), Traction("top", (0.0, -2.0))],
        qois=[QoI("Ry", "reaction_force", "bottom", 1), QoI("m", "mass")],
    )
    r = Elasticity(rectangle(2.0, 1.0, 8, 4), problem, {}).solve()
    assert r.qoi["Ry"] == pytest.approx(r.qoi["m"] * 9.81 + 2.0 * 2.0, rel=1e-9)


def test_parameters_change_without_recompiling():
    problem = ElasticityProblem(
        [ElasticMaterial(Param("E"), NU)],
        bcs=[Fixed("left")],
        loads=[Force("right", (0.0, Param("F")))],
        probes=[Probe("tip", (4.0, 0.5))],
        plane="stress",
    )
    model = Elasticity(rectangle(4.0, 1.0, 8, 2), problem, {"E": 1000.0, "F": -1.0})
    forms = model._problem.a
    d1 = model.solve().sensors["tip"]
    r2 = model.solve({"E": 2000.0, "F": -3.0})
    assert model._problem.a is forms
    assert r2.sensors["tip"] == pytest.approx(1.5 * d1, rel=1e-9)
    assert r2.parameters == {"E": 2000.0, "F": -3.0}


def test_iterative_gamg_matches_direct_and_reports_iterations():
    direct = cantilever(degree=2).solve()
    model = cantilever(degree=2, linear_solver="iterative")
    r = model.solve()
    assert r.solver.converged and r.solver.iterations > 1
    assert r.sensors["tip"] == pytest.approx(direct.sensors["tip"], rel=1e-7)
    assert model.ksp.getPC().getType() == "gamg"


def test_failed_linear_solve_is_reported_not_hidden():
    model = cantilever(degree=2, linear_solver="iterative")
    model.ksp.setTolerances(max_it=2)
    r = model.solve()
    assert not r.solver.converged
    assert "KSP did not converge" in r.solver.message and "DIVERGED_MAX_IT" in r.solver.message


def test_invalid_inputs_are_rejected():
    mat = [ElasticMaterial(E, NU)]
    with pytest.raises(ValueError, match="plane"):
        ElasticityProblem(mat, plane="axisymmetric")
    with pytest.raises(ValueError, match="formulation"):
        ElasticityProblem(mat, formulation="hybrid")
    with pytest.raises(ValueError, match="unknown kind 'stress'"):
        ElasticityProblem(mat, qois=[QoI("s", "stress")])
    with pytest.raises(ValueError, match="needs a region and a component"):
        ElasticityProblem(mat, qois=[QoI("R", "reaction_force", "left")])
    with pytest.raises(ValueError, match="unknown field"):
        ElasticityProblem(mat, probes=[Probe("p", (0.0, 0.0), "temperature")])
    with pytest.raises(ValueError, match="3 components; the mesh is 2D"):
        Elasticity(
            rectangle(1.0, 1.0, 2, 2),
            ElasticityProblem(mat, bcs=[Displacement("left", (0.0, 0.0, 0.0))]),
            {},
        )
