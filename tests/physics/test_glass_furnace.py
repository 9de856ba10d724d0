"""The melting-tank model: energy balance, the physics' signs, and symmetry of the flow solver."""

from __future__ import annotations

import numpy as np
import pytest

from twinkit.physics import glass_flow as gf
from twinkit.physics.domain import rectangle
from twinkit.physics.glass_furnace import (
    FURNACE_QOIS,
    Furnace,
    FurnaceGeometry,
    GlassFurnace,
    default_probes,
    furnace_mesh,
    soda_lime_melt,
)
from twinkit.physics.heat import Convection, Radiation
from twinkit.physics.params import Param
from twinkit.physics.probes import PointEvaluator
from twinkit.physics.problem import QoI

NOMINAL = {"boost_power": 4e5, "wall_htc": 2.5, "absorption": 150.0}
pytestmark = pytest.mark.slow
BOTTOM = [f"TC_bottom_{i}" for i in range(1, 7)]


@pytest.fixture(scope="module")
def furnace():
    """A coarse tank whose boost power, wall heat transfer and absorption are parameters."""
    g = FurnaceGeometry(size=0.15)  # the default resolution; coarser meshes are not robust
    f = Furnace(
        boost_power=Param("boost_power"),
        wall_htc=Param("wall_htc"),
        melt=soda_lime_melt(absorption=Param("absorption")),
    )
    qois = [QoI(k, k) for k in FURNACE_QOIS if k not in ("nusselt", "heat_flow")]
    return GlassFurnace(furnace_mesh(g), g, f, NOMINAL, qois, default_probes(g))


@pytest.fixture(scope="module")
def nominal(furnace):
    r = furnace.solve(NOMINAL)
    assert r.solver.converged, r.solver.message
    return r


def test_energy_balance_closes(nominal):
    """Crown radiation + boost = wall losses + batch heat + enthalpy carried by the pull."""
    q = nominal.qoi
    assert q["heat_input"] > 0 and q["wall_losses"] > 0 and q["batch_heat"] > 0
    out = q["wall_losses"] + q["batch_heat"] + q["enthalpy_outflow"]
    assert abs(q["heat_input"] - out) < 0.01 * q["heat_input"]  # the 1 %
    assert abs(q["energy_imbalance"]) < 1e-8  # consistent fluxes: solver precision
    assert q["source_heat"] == pytest.approx(4e5 / 8.0, rel=1e-9)  # W per metre of width


def test_states_are_physical(nominal):
    """Temperatures between the coldest boundary temperature and the crown peak, glass flowing
    at mm/s, the spring zone between the batch edge and the front wall."""
    q, s = nominal.qoi, nominal.sensors
    assert 313.15 < q["min_temperature"] < q["mean_temperature"] < q["max_temperature"] <= 1873.2
    assert 1e-4 < q["max_velocity"] < 2e-2
    assert 2.5 < q["spring_zone"] < 10.0
    assert 0.0 <= q["fraction_below"] <= 1.0
    assert all(1000.0 < s[n] < 1873.15 for n in BOTTOM)


def _bottom(furnace, **changes) -> float:
    r = furnace.solve(NOMINAL | changes)
    assert r.solver.converged, r.solver.message
    return float(np.mean([r.sensors[n] for n in BOTTOM]))


def test_more_boost_raises_the_bottom_temperature(furnace, nominal):
    base = np.mean([nominal.sensors[n] for n in BOTTOM])
    assert _bottom(furnace, boost_power=1.2e6) > base + 1.0
    assert _bottom(furnace, boost_power=0.0) < base - 1.0


def test_higher_wall_heat_transfer_lowers_the_bottom_temperature(furnace, nominal):
    base = np.mean([nominal.sensors[n] for n in BOTTOM])
    assert _bottom(furnace, wall_htc=5.0) < base - 1.0
    assert _bottom(furnace, wall_htc=1.5) > base + 1.0


def test_warm_start_returns_to_the_same_state(furnace, nominal):
    """A solve after others (warm start, possibly continuation) equals the first one."""
    again = furnace.solve(NOMINAL)
    for name, v in nominal.sensors.items():
        assert again.sensors[name] == pytest.approx(v, rel=1e-7, abs=1e-6)


def test_anchored_solves_depend_on_their_parameters_only(furnace, nominal):
    """Anchored, every solve starts from the nominal state: the same parameters give the same
    state bit for bit, whatever was solved before (the box's cold corner has several states)."""
    assert furnace.solve(NOMINAL).solver.converged
    furnace.set_anchor()
    try:
        p = NOMINAL | {"wall_htc": 3.0, "absorption": 200.0}
        first = furnace.solve(p)
        assert furnace.solve(NOMINAL | {"boost_power": 1.2e6}).solver.converged
        second = furnace.solve(p)
        assert first.solver.converged and second.solver.converged
        assert second.sensors == first.sensors and second.qoi == first.qoi
    finally:
        furnace.flow._anchor = None


def test_symmetric_forcing_gives_symmetric_flow():
    """A cavity heated through its surface by a crown profile symmetric about the middle, on a
    mirror-symmetric mesh: T(L − x, y) = T(x, y), u_x(L − x, y) = −u_x(x, y)."""
    L, D = 2.0, 0.5
    domain = rectangle(L, D, 24, 8, "quadrilateral")

    def crown(x, c):
        import ufl

        return 1773.15 - 150.0 * (1 - ufl.exp(-(((x[0] - L / 2) / (0.3 * L)) ** 2)))

    problem = gf.GlassFlowProblem(
        melt=soda_lime_melt(),
        flow_bcs=[gf.FreeSlip("top"), *(gf.NoSlip(r) for r in ("left", "right", "bottom"))],
        thermal_bcs=[
            Radiation("top", 0.9, crown),
            *(Convection(r, 5.0, 313.15) for r in ("left", "right", "bottom")),
        ],
        initial_temperature=1623.15,
        qois=[QoI("umax", "max_velocity")],
    )
    model = gf.GlassFlow(domain, problem, {})
    r = model.solve()
    assert r.solver.converged, r.solver.message
    assert r.qoi["umax"] > 1e-5  # it convects
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(0.05, L / 2, 40), rng.uniform(0.02, D - 0.02, 40)])
    mirrored = np.column_stack([L - pts[:, 0], pts[:, 1]])
    T, u = r.fields["temperature"], r.fields["velocity"]
    a, b = PointEvaluator(domain.mesh, pts), PointEvaluator(domain.mesh, mirrored)
    np.testing.assert_allclose(a(T), b(T), rtol=1e-7)
    ua, ub = a(u), b(u)
    scale = r.qoi["umax"]
    np.testing.assert_allclose(ua[:, 0], -ub[:, 0], atol=1e-6 * scale)
    np.testing.assert_allclose(ua[:, 1], ub[:, 1], atol=1e-6 * scale)


def test_spring_zone_is_where_the_surface_flow_divides():
    from twinkit.physics.glass_furnace import spring_zone_position

    xs = np.linspace(2.5, 10.0, 400)
    main = np.tanh(xs - 6.0)  # backwards left of 6 m, forwards right of it
    assert spring_zone_position(xs, main) == pytest.approx(6.0, abs=1e-4)
    # a weak secondary cell near the front wall: a second, steeper turn that is not the divide
    cell = main - 1.2 * np.exp(-(((xs - 9.0) / 0.15) ** 2))
    assert np.sum((cell[:-1] < 0) & (cell[1:] >= 0)) == 2
    assert spring_zone_position(xs, cell) == pytest.approx(6.0, abs=1e-4)
    assert np.isnan(spring_zone_position(xs, np.ones_like(xs)))
