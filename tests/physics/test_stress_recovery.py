"""Stress and strain outputs: components, principal stresses, von Mises, Tresca, and the three
recoveries (L2 projection, nodal averaging, none) of the discontinuous FE stress."""

from __future__ import annotations

import numpy as np
import pytest

from twinkit.physics.domain import box, rectangle
from twinkit.physics.elasticity import (
    RECOVERY,
    Displacement,
    Elasticity,
    ElasticityProblem,
    ElasticMaterial,
    Traction,
)
from twinkit.physics.elasticity.recovery import COMPONENTS, derived
from twinkit.physics.problem import Probe, QoI, SolverOptions

E, NU, P = 200e9, 0.3, 50e6


def test_derived_scalars_of_a_known_tensor():
    """σ = diag(3, 1, −2) rotated by 30° about z: principal values, von Mises, Tresca."""
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    Q = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    t = Q @ np.diag([3.0, 1.0, -2.0]) @ Q.T
    v = np.array([[t[0, 0], t[1, 1], t[2, 2], t[0, 1], t[1, 2], t[0, 2]]])
    assert [derived(f"principal_{i}", v)[0] for i in (1, 2, 3)] == pytest.approx([3, 1, -2])
    assert derived("tresca", v)[0] == pytest.approx(5.0)
    assert derived("von_mises", v)[0] == pytest.approx(np.sqrt(0.5 * (4 + 9 + 25)))
    assert derived("stress_xy", v)[0] == pytest.approx(t[0, 1])


def _tension(mesh, plane: str, method: str, extra_probes=()):
    """Uniaxial tension σ_xx = P along x, symmetry on left and bottom: a uniform state."""
    gdim = mesh.gdim
    zero = (0.0,) + (None,) * (gdim - 1)
    names = [f"stress_{c}" for c in COMPONENTS] + [f"strain_{c}" for c in COMPONENTS]
    names += ["principal_1", "principal_3", "von_mises", "tresca"]
    point = (0.3, 0.7, 0.2)[:gdim]
    problem = ElasticityProblem(
        [ElasticMaterial(E, NU)],
        bcs=[Displacement("left", zero)]
        + (
            [Displacement("front", (None, 0.0, None)), Displacement("bottom", (None, None, 0.0))]
            if gdim == 3
            else [Displacement("bottom", (None, 0.0))]
        ),
        loads=[Traction("right", (P,) + (0.0,) * (gdim - 1))],
        probes=[Probe(n, point, n) for n in names] + list(extra_probes),
        qois=[
            QoI("max_syy", "max", field="stress_yy"),
            QoI("mean_sxx", "mean", field="stress_xx"),
            QoI("point_exx", "point", field="strain_xx", point=point),
            QoI("min_uy", "min", field="displacement_y"),
        ],
        plane=plane,
        stress_recovery=method,
        options=SolverOptions(degree=2),
        fields=("stress", "strain", "principal_stress", "tresca"),
    )
    r = Elasticity(mesh, problem, {}).solve()
    assert r.solver.converged
    return r


@pytest.mark.parametrize("method", RECOVERY)
@pytest.mark.parametrize("plane", ["stress", "strain"])
def test_uniform_tension_2d(method, plane):
    """Every output of a uniform state is exact, whatever the recovery; εzz (plane stress) and
    σzz (plane strain) are the out-of-plane parts."""
    r = _tension(rectangle(1.0, 1.0, 4, 4), plane, method)
    s = r.sensors
    nu_ = NU if plane == "stress" else NU / (1 - NU)  # the in-plane Poisson effect
    E_ = E if plane == "stress" else E / (1 - NU**2)
    szz = 0.0 if plane == "stress" else NU * P
    ezz = -NU * P / E if plane == "stress" else 0.0
    expect = {
        "stress_xx": P,
        "stress_yy": 0.0,
        "stress_zz": szz,
        "stress_xy": 0.0,
        "strain_xx": P / E_,
        "strain_yy": -nu_ * P / E_,
        "strain_zz": ezz,
        "principal_1": P,
        "principal_3": min(0.0, szz),
        "tresca": P,
        "von_mises": np.sqrt(P**2 + szz**2 - P * szz),
    }
    for name, value in expect.items():
        scale = P / E if name.startswith("strain") else P
        assert s[name] == pytest.approx(value, abs=1e-8 * scale), name
    assert r.qoi["max_syy"] == pytest.approx(0.0, abs=1e-8 * P)
    assert r.qoi["mean_sxx"] == pytest.approx(P, rel=1e-8)
    assert r.qoi["point_exx"] == pytest.approx(P / E_, rel=1e-8)
    assert r.qoi["min_uy"] == pytest.approx(-nu_ * P / E_, rel=1e-6)
    assert r.units["max_syy"] == "Pa" and r.units["point_exx"] == "1"
    assert r.fields["stress"].x.array.reshape(-1, 6)[:, 0] == pytest.approx(P, rel=1e-8)
    assert r.fields["principal_stress"].x.array.reshape(-1, 3)[:, 0] == pytest.approx(P, rel=1e-8)


def test_uniform_tension_3d():
    r = _tension(box((1.0, 1.0, 1.0), (2, 2, 2)), "strain", "projection")
    assert r.sensors["stress_xx"] == pytest.approx(P, rel=1e-8)
    for name in ("stress_yy", "stress_zz", "stress_xy", "stress_yz", "stress_xz"):
        assert r.sensors[name] == pytest.approx(0.0, abs=1e-8 * P), name
    assert r.sensors["strain_zz"] == pytest.approx(-NU * P / E, rel=1e-8)
    assert r.sensors["von_mises"] == pytest.approx(P, rel=1e-8)


def test_average_is_the_mean_of_the_elements_at_a_node():
    """P1: the FE stress is constant per cell; `average` gives each vertex the mean of its cells'
    values, `none` one cell's value (which differs from it on a non-uniform state)."""
    from dolfinx import fem

    mesh = rectangle(1.0, 1.0, 3, 3)
    problem = ElasticityProblem(
        [ElasticMaterial(E, NU)],
        bcs=[Displacement("left", (0.0, 0.0))],
        loads=[Traction("top", (P, 0.0))],  # shear and bending: stress varies cell to cell
        probes=[Probe("s", (1 / 3, 1 / 3), "stress_xx")],
        options=SolverOptions(degree=1),
        stress_recovery="average",
    )
    model = Elasticity(mesh, problem, {})
    averaged = model.solve().sensors["s"]
    S = fem.functionspace(mesh.mesh, ("Discontinuous Lagrange", 0))
    sxx = fem.Function(S)
    sxx.interpolate(fem.Expression(model.stress()[0, 0], S.element.interpolation_points))
    x = mesh.mesh.geometry.x
    vertex = int(np.argmin(np.linalg.norm(x[:, :2] - [1 / 3, 1 / 3], axis=1)))
    cells = [c for c, nodes in enumerate(mesh.mesh.geometry.dofmaps[0]) if vertex in nodes]
    values = sxx.x.array[cells]
    assert len(cells) == 6 and np.ptp(values) > 0.05 * P
    assert averaged == pytest.approx(values.mean(), rel=1e-10)
    raw = Elasticity(mesh, _with(problem, "none"), {}).solve().sensors["s"]
    assert np.isclose(values, raw, rtol=1e-10).any()
    assert not np.isclose(raw, averaged, rtol=1e-3)


def _with(problem: ElasticityProblem, method: str) -> ElasticityProblem:
    import dataclasses

    return dataclasses.replace(problem, stress_recovery=method)


def test_bad_requests_are_refused():
    base = dict(materials=[ElasticMaterial(E, NU)])
    with pytest.raises(ValueError, match="needs a field"):
        ElasticityProblem(**base, qois=[QoI("q", "max", field="temperature")])
    with pytest.raises(ValueError, match="point"):
        ElasticityProblem(**base, qois=[QoI("q", "point", field="stress_xx")])
    with pytest.raises(ValueError, match="stress_recovery"):
        ElasticityProblem(**base, stress_recovery="smooth")
    with pytest.raises(ValueError, match="unknown field"):
        ElasticityProblem(**base, fields=("stresses",))


@pytest.mark.parametrize("plane", ["stress", "strain"])
def test_free_thermal_expansion(plane):
    """A uniform rise ΔT, free to expand in plane: σxx = σyy = 0; plane stress εxx = εzz = αΔT;
    plane strain εzz = 0, εxx = (1 + ν)αΔT, σzz = −EαΔT (von Mises EαΔT)."""
    from dolfinx import fem

    alpha, dT = 1.2e-5, 100.0
    mesh = rectangle(1.0, 1.0, 2, 2)
    T = fem.Function(fem.functionspace(mesh.mesh, ("Lagrange", 1)))
    T.x.array[:] = 293.15 + dT
    names = ["stress_xx", "stress_yy", "stress_zz", "strain_xx", "strain_zz", "von_mises"]
    problem = ElasticityProblem(
        [ElasticMaterial(E, NU, thermal_expansion=alpha)],
        bcs=[Displacement("left", (0.0, None)), Displacement("bottom", (None, 0.0))],
        probes=[Probe(n, (0.5, 0.5), n) for n in names],
        plane=plane,
        options=SolverOptions(degree=2),
    )
    s = Elasticity(mesh, problem, {}, temperature=T).solve().sensors
    e = alpha * dT
    expect = (
        {"strain_xx": e, "strain_zz": e, "stress_zz": 0.0, "von_mises": 0.0}
        if plane == "stress"
        else {"strain_xx": (1 + NU) * e, "strain_zz": 0.0, "stress_zz": -E * e, "von_mises": E * e}
    )
    assert s["stress_xx"] == pytest.approx(0.0, abs=1e-6 * E * e)
    assert s["stress_yy"] == pytest.approx(0.0, abs=1e-6 * E * e)
    for name, v in expect.items():
        scale = e if name.startswith("strain") else E * e
        assert s[name] == pytest.approx(v, abs=1e-8 * scale), name
