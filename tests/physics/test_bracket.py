"""The parametric L-bracket: mesh, regions, input validation, a loaded solve and design trends."""

from __future__ import annotations

import numpy as np
import pytest

from twinkit.physics.bracket import bracket
from twinkit.physics.domain import MeshError
from twinkit.physics.elasticity import Elasticity, ElasticityProblem, ElasticMaterial, Fixed, Force
from twinkit.physics.problem import QoI

STEEL = ElasticMaterial(200e9, 0.3, density=7850.0, yield_strength=250e6)
LOAD = -1000.0  # N, downwards on the bolt hole


def bracket_volume(t, r, d, width=0.04, base_length=0.06, height=0.06) -> float:
    profile = base_length * t + (height - t) * t + r * r * (1 - np.pi / 4)
    return profile * width - np.pi * d * d / 4 * t


def solve(thickness: float):
    domain = bracket(thickness, 0.005, 0.008, size=0.005)
    problem = ElasticityProblem(
        [STEEL],
        bcs=[Fixed("base")],
        loads=[Force("hole", (0.0, 0.0, LOAD))],
        qois=[
            QoI("u_max", "max_displacement"),
            QoI("mass", "mass"),
            QoI("vm_max", "max_von_mises"),
            QoI("Rz", "reaction_force", "base", 2),
            QoI("sf", "safety_factor"),
        ],
    )
    return Elasticity(domain, problem, {}).solve()


def test_bracket_mesh_has_named_regions():
    domain = bracket(0.004, 0.005, 0.008, size=0.005)
    assert domain.gdim == 3
    assert set(domain.facet_regions()) == {"base", "hole", "fillet", "top", "end", "surface"}
    assert domain.cell_regions() == ["domain"]
    assert all(domain.facets(r).size > 0 for r in domain.facet_regions())
    coords = domain.mesh.geometry.x
    assert np.allclose(coords.min(axis=0), 0.0, atol=1e-12)
    assert np.allclose(coords.max(axis=0), [0.06, 0.04, 0.06])
    assert "fillet" not in bracket(0.004, 0.0, 0.008, size=0.005).regions


@pytest.mark.slow
def test_bracket_solve_and_design_trends():
    thin, thick = solve(0.004), solve(0.006)
    for r, t in ((thin, 0.004), (thick, 0.006)):
        assert r.solver.converged
        assert r.qoi["Rz"] == pytest.approx(-LOAD, rel=1e-8)
        assert r.qoi["mass"] == pytest.approx(7850.0 * bracket_volume(t, 0.005, 0.008), rel=2e-3)
        assert r.qoi["sf"] == pytest.approx(250e6 / r.qoi["vm_max"])
        assert r.units["mass"] == "kg" and r.units["Rz"] == "N"
    assert thick.qoi["u_max"] < thin.qoi["u_max"]
    assert thick.qoi["mass"] > thin.qoi["mass"]
    assert thick.qoi["vm_max"] < thin.qoi["vm_max"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hole_diameter": 0.05}, "hole_diameter=0.05 too big"),
        ({"fillet_radius": 0.06}, "fillet_radius=0.06 too big"),
        ({"fillet_radius": -0.001}, "fillet_radius=-0.001 must not be negative"),
        ({"thickness": 0.0}, "thickness=0.0 must be positive"),
    ],
)
def test_bracket_rejects_impossible_dimensions(kwargs, match):
    args = {"thickness": 0.004, "fillet_radius": 0.005, "hole_diameter": 0.008, "size": 0.005}
    with pytest.raises(MeshError, match=match):
        bracket(**(args | kwargs))
