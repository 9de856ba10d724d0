"""Verification of the heat-conduction model: manufactured solutions and time order."""

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from twinkit.physics import domain
from twinkit.physics.heat import (
    STEFAN_BOLTZMANN,
    Convection,
    FixedTemperature,
    HeatConduction,
    HeatFlux,
    HeatProblem,
    HeatSource,
    Radiation,
    ThermalMaterial,
    TimeStepping,
)
from twinkit.physics.params import Param
from twinkit.physics.problem import QoI, SolverOptions


def l2_error(u_h, exact) -> float:
    x = ufl.SpatialCoordinate(u_h.function_space.mesh)
    e = fem.form((u_h - exact(x)) ** 2 * ufl.dx)
    return float(np.sqrt(MPI.COMM_WORLD.allreduce(fem.assemble_scalar(e), op=MPI.SUM)))


def rates(errors: list[float]) -> np.ndarray:
    e = np.asarray(errors)
    return np.log2(e[:-1] / e[1:])


def exact_2d(x):
    return 300.0 + 50.0 * ufl.sin(np.pi * x[0]) * ufl.cos(0.5 * np.pi * x[1]) + 20.0 * x[0] * x[1]


K0, K1, TREF = 2.0, 0.01, 300.0
H, TINF, EPS = 15.0, 280.0, 0.8


def k_of(T):
    return K0 + K1 * (T - TREF)


def mms_problem(degree: int) -> HeatProblem:
    """Nonlinear k(T) in the volume; convection + radiation + extra flux on the top edge.

    On 'top' (n = +y) the exact outflow -k dT/dy must equal h(T-T∞) + σε(T⁴-T∞⁴) - q, so q is the
    heat flux that makes the exact field satisfy the boundary condition.
    """

    def source(x):
        T = exact_2d(x)
        return -ufl.div(k_of(T) * ufl.grad(T))

    def top_flux(x):
        T = exact_2d(x)
        outflow = H * (T - TINF) + STEFAN_BOLTZMANN * EPS * (T**4 - TINF**4)
        return outflow + k_of(T) * ufl.grad(T)[1]

    return HeatProblem(
        materials=[ThermalMaterial(K0, conductivity_slope=K1, reference_temperature=TREF)],
        bcs=[
            FixedTemperature("left", exact_2d),
            FixedTemperature("right", exact_2d),
            FixedTemperature("bottom", exact_2d),
            Convection("top", H, TINF),
            Radiation("top", EPS, TINF),
            HeatFlux("top", top_flux),
        ],
        sources=[HeatSource(source)],
        options=SolverOptions(degree=degree),
    )


@pytest.mark.parametrize("degree, expected", [(1, 2.0), (2, 3.0)])
def test_manufactured_nonlinear_2d_converges_at_optimal_rate(degree, expected):
    errors = []
    for n in (4, 8, 16):
        model = HeatConduction(domain.rectangle(1.0, 1.0, n, n), mms_problem(degree), {})
        result = model.solve()
        assert result.solver.converged
        assert result.solver.iterations > 1  # really nonlinear (Newton)
        errors.append(l2_error(model.T, exact_2d))
    r = rates(errors)
    assert r[-1] == pytest.approx(expected, abs=0.2), (errors, r)


def test_manufactured_linear_3d_p1():
    def exact(x):
        return 1.0 + x[0] ** 2 + 0.5 * ufl.sin(np.pi * x[1]) * x[2]

    errors = []
    for n in (2, 4, 8):
        pb = HeatProblem(
            materials=[ThermalMaterial(3.0)],
            bcs=[FixedTemperature(r, exact) for r in ("left", "right", "front", "back")],
            sources=[HeatSource(lambda x: -ufl.div(3.0 * ufl.grad(exact(x))))] + [],
            options=SolverOptions(degree=1),
        )
        # bottom/top: Neumann data from the exact solution (n = ∓z)
        pb = HeatProblem(
            materials=pb.materials,
            bcs=[
                *pb.bcs,
                HeatFlux("bottom", lambda x: -3.0 * ufl.grad(exact(x))[2]),
                HeatFlux("top", lambda x: 3.0 * ufl.grad(exact(x))[2]),
            ],
            sources=pb.sources,
            options=pb.options,
        )
        model = HeatConduction(domain.box((1.0, 1.0, 1.0), (n, n, n)), pb, {})
        assert model.solve().solver.converged
        errors.append(l2_error(model.T, exact))
    assert rates(errors)[-1] > 1.8, errors


def slab_problem(scheme: str, steps: int, alpha: float, t_end: float) -> HeatProblem:
    """1D bar [0, 1], T = 0 at both ends, T0 = sin(πx): T = exp(-π²αt) sin(πx)."""
    return HeatProblem(
        materials=[ThermalMaterial(alpha, density=1.0, specific_heat=1.0)],
        bcs=[FixedTemperature("left", 0.0), FixedTemperature("right", 0.0)],
        time=TimeStepping(t_end, steps, lambda x: ufl.sin(np.pi * x[0]), scheme),
        options=SolverOptions(degree=2),
    )


@pytest.mark.parametrize(
    "scheme, order", [("bdf2", 2), ("crank_nicolson", 2), ("backward_euler", 1)]
)
def test_time_integrator_order(scheme, order):
    alpha, t_end = 0.1, 1.0
    mesh = domain.interval(1.0, 200)
    errors = []
    for steps in (8, 16, 32):
        model = HeatConduction(mesh, slab_problem(scheme, steps, alpha, t_end), {})
        assert model.solve().solver.converged
        decay = np.exp(-(np.pi**2) * alpha * t_end)
        errors.append(l2_error(model.T, lambda x, d=decay: d * ufl.sin(np.pi * x[0])))
    r = rates(errors)
    assert r[-1] == pytest.approx(order, abs=0.15), (errors, r)


def test_parameter_update_matches_fresh_model():
    """A sweep updates fem.Constants: solving again with new values equals a new model."""
    pb = HeatProblem(
        materials=[ThermalMaterial(Param("k"))],
        bcs=[FixedTemperature("bottom", 373.15), Convection("top", Param("h"), 293.15)],
        qois=[QoI("q", "heat_flow", "top")],
    )
    mesh = domain.rectangle(1.0, 1.0, 6, 6)
    model = HeatConduction(mesh, pb, {"k": 1.0, "h": 10.0})
    first = model.solve().qoi["q"]
    again = model.solve({"k": 5.0, "h": 50.0}).qoi["q"]
    fresh = HeatConduction(mesh, pb, {"k": 5.0, "h": 50.0}).solve().qoi["q"]
    assert again == pytest.approx(fresh, rel=1e-12)
    assert abs(again - first) > 0.1 * abs(first)


def test_energy_balance_with_source():
    """Heat generated inside equals heat leaving through all boundaries."""
    q = 1.0e4
    pb = HeatProblem(
        materials=[ThermalMaterial(10.0)],
        bcs=[
            FixedTemperature("left", 300.0),
            Convection("right", 50.0, 290.0),
            Radiation("top", 0.9, 350.0),
        ],
        sources=[HeatSource(q)],
        qois=[QoI(r, "heat_flow", r) for r in ("left", "right", "top", "bottom")],
        options=SolverOptions(degree=2),
    )
    r = HeatConduction(domain.rectangle(0.5, 0.3, 10, 6), pb, {}).solve()
    total_out = sum(r.qoi.values())
    assert total_out == pytest.approx(q * 0.5 * 0.3, rel=1e-8)
    assert r.qoi["bottom"] == pytest.approx(0.0, abs=1e-9)  # insulated
