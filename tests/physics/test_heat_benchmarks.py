"""Validation of the heat-conduction model against the references in docs/validation.md."""

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import erf

from twinkit.physics import domain
from twinkit.physics.heat import (
    STEFAN_BOLTZMANN,
    Convection,
    FixedTemperature,
    HeatConduction,
    HeatProblem,
    Radiation,
    ThermalMaterial,
    TimeStepping,
)
from twinkit.physics.problem import Probe, QoI, SolverOptions


def test_nafems_t4_within_one_percent():
    pb = HeatProblem(
        materials=[ThermalMaterial(52.0)],
        bcs=[
            FixedTemperature("bottom", 373.15),
            Convection("right", 750.0, 273.15),
            Convection("top", 750.0, 273.15),
        ],
        probes=[Probe("A", (0.6, 0.2))],
        qois=[QoI(r, "heat_flow", r) for r in ("bottom", "right", "top")],
        options=SolverOptions(degree=2),
    )
    r = HeatConduction(domain.rectangle(0.6, 1.0, 12, 20), pb, {}).solve()
    T_A = r.sensors["A"] - 273.15
    assert T_A == pytest.approx(18.254, rel=0.01)
    assert sum(r.qoi.values()) == pytest.approx(0.0, abs=1e-6 * abs(r.qoi["bottom"]))


def test_radiation_1d_within_0p1_percent():
    L, k, eps = 0.1, 55.6, 0.98
    exact = brentq(
        lambda T: (T - 1000.0) * k / L + STEFAN_BOLTZMANN * eps * (T**4 - 300.0**4), 300, 1000
    )
    pb = HeatProblem(
        materials=[ThermalMaterial(k)],
        bcs=[FixedTemperature("left", 1000.0), Radiation("right", eps, 300.0)],
        probes=[Probe("end", (L,))],
    )
    r = HeatConduction(domain.interval(L, 10), pb, {}).solve()
    assert r.solver.converged and r.solver.iterations >= 2
    assert r.sensors["end"] == pytest.approx(exact, rel=1e-3)


def slab_exact(x, t, L, alpha, theta_i, terms=200):
    """Incropera: θ/θi = Σ 4(−1)ⁿ/((2n+1)π) cos((2n+1)πx/(2L)) exp(−((2n+1)π/2)² Fo)."""
    n = np.arange(terms)
    lam = (2 * n + 1) * np.pi / 2
    fo = alpha * t / L**2
    return theta_i * np.sum(
        4 * (-1.0) ** n / ((2 * n + 1) * np.pi) * np.cos(lam * x / L) * np.exp(-(lam**2) * fo)
    )


def test_transient_slab_series_solution():
    """Slab of half-thickness L (domain [-L, L] shifted to [0, 2L]), faces held at Ts."""
    L, k, rho, cp = 0.05, 1.0, 1000.0, 1000.0
    alpha = k / (rho * cp)
    Ti, Ts = 400.0, 300.0
    t_end = 0.3 * L**2 / alpha  # Fo = 0.3
    pb = HeatProblem(
        materials=[ThermalMaterial(k, density=rho, specific_heat=cp)],
        bcs=[FixedTemperature("left", Ts), FixedTemperature("right", Ts)],
        probes=[Probe("centre", (L,)), Probe("quarter", (0.5 * L,))],
        time=TimeStepping(t_end, 60, Ti, "bdf2"),
        options=SolverOptions(degree=2),
    )
    r = HeatConduction(domain.interval(2 * L, 80), pb, {}).solve()
    for name, x in (("centre", 0.0), ("quarter", 0.5 * L)):
        theta = slab_exact(x, t_end, L, alpha, Ti - Ts)
        assert r.sensors[name] - Ts == pytest.approx(theta, rel=2e-3)


def test_semi_infinite_solid_erf():
    """Surface step on a long bar: T = Ts + (Ti − Ts) erf(x / (2√(αt)))."""
    k, rho, cp = 50.0, 7800.0, 480.0
    alpha = k / (rho * cp)
    Ti, Ts, t_end = 300.0, 500.0, 600.0
    length = 10 * np.sqrt(alpha * t_end)  # the far end never feels the step
    pb = HeatProblem(
        materials=[ThermalMaterial(k, density=rho, specific_heat=cp)],
        bcs=[FixedTemperature("left", Ts)],
        probes=[Probe(f"x{i}", (x,)) for i, x in enumerate((0.005, 0.01, 0.02))],
        time=TimeStepping(t_end, 100, Ti, "bdf2"),
        options=SolverOptions(degree=2),
    )
    r = HeatConduction(domain.interval(length, 200), pb, {}).solve()
    for i, x in enumerate((0.005, 0.01, 0.02)):
        exact = Ts + (Ti - Ts) * erf(x / (2 * np.sqrt(alpha * t_end)))
        assert r.sensors[f"x{i}"] == pytest.approx(exact, rel=2e-3)
