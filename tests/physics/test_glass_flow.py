"""Verification and validation of the buoyant-flow solver (Stokes + energy, variable viscosity)."""

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from twinkit.physics import domain
from twinkit.physics.glass_flow import (
    BodyForce,
    ConstantViscosity,
    ExponentialViscosity,
    FreeSlip,
    GlassFlow,
    GlassFlowProblem,
    Melt,
    NoSlip,
)
from twinkit.physics.heat import FixedTemperature, HeatSource
from twinkit.physics.problem import QoI

SIDES = ("left", "right", "bottom", "top")

# Blankenbach et al. (1989): Ra, viscosity law, Nu, Vrms (docs/validation.md; 1c, 2a: the paper)
BLANKENBACH = {
    "1a": (1e4, ConstantViscosity(1.0), 4.884409, 42.864947),
    "1b": (1e5, ConstantViscosity(1.0), 10.534095, 193.21454),
    "1c": (1e6, ConstantViscosity(1.0), 21.972465, 833.98977),
    "2a": (1e4, ExponentialViscosity(1.0, np.log(1000.0)), 10.0660, 480.4334),
}


def blankenbach(case: str, n: int) -> tuple[GlassFlow, dict]:
    ra, law, _, _ = BLANKENBACH[case]
    problem = GlassFlowProblem(
        melt=Melt(law, 1.0, density=1.0, specific_heat=1.0, thermal_expansion=ra),
        flow_bcs=[FreeSlip(r) for r in SIDES],
        thermal_bcs=[FixedTemperature("bottom", 1.0), FixedTemperature("top", 0.0)],
        gravity=(0.0, -1.0),
        qois=[QoI("Nu", "nusselt", "top"), QoI("Nu_in", "nusselt", "bottom"), QoI("vrms", "vrms")],
        initial_temperature=lambda x: (
            1 - x[1] + 0.1 * ufl.cos(np.pi * x[0]) * ufl.sin(np.pi * x[1])
        ),
        supg=False,  # moderate cell Péclet numbers: plain Galerkin is the more accurate choice
    )
    model = GlassFlow(domain.rectangle(1.0, 1.0, n, n), problem, {})
    result = model.solve()
    assert result.solver.converged, result.solver.message
    return model, result.qoi


@pytest.mark.parametrize(
    "case, n",
    [("1a", 16), ("1b", 16), pytest.param("1c", 32, marks=pytest.mark.slow)],
)
def test_blankenbach_constant_viscosity_coarse_mesh(case, n):
    """Coarse CI meshes: Nu and Vrms within 2 % (the resolved runs are in benchmarks/)."""
    _, _, nu, vrms = BLANKENBACH[case]
    _, q = blankenbach(case, n)
    assert q["Nu"] == pytest.approx(nu, rel=0.02)
    assert q["vrms"] == pytest.approx(vrms, rel=0.02)
    # heat in at the bottom = heat out at the top: the discrete energy balance is exact
    assert -q["Nu_in"] == pytest.approx(q["Nu"], rel=1e-10)


@pytest.mark.slow
def test_blankenbach_2a_viscosity_contrast_1e3():
    """η = exp(−ln(1000) T): a viscosity contrast of 10³ across the cell converges."""
    _, _, nu, vrms = BLANKENBACH["2a"]
    _, q = blankenbach("2a", 32)
    assert q["Nu"] == pytest.approx(nu, rel=0.02)
    assert q["vrms"] == pytest.approx(vrms, rel=0.02)


def test_warm_start_reuses_the_solution():
    """A second solve with another Ra starts from the first and needs only a few iterations."""
    model, q = blankenbach("1a", 12)
    r = model.solve({})  # same parameters: already converged
    assert r.solver.iterations <= 1


# ---- manufactured solution -----------------------------------------------------------------
def exact(x):
    psi_y = 2 * np.pi * ufl.sin(np.pi * x[0]) ** 2 * ufl.sin(np.pi * x[1]) * ufl.cos(np.pi * x[1])
    psi_x = 2 * np.pi * ufl.sin(np.pi * x[0]) * ufl.cos(np.pi * x[0]) * ufl.sin(np.pi * x[1]) ** 2
    u = ufl.as_vector((psi_y, -psi_x))  # curl of sin²(πx) sin²(πy): divergence-free, 0 on ∂Ω
    p = ufl.sin(np.pi * x[0]) * ufl.sin(np.pi * x[1])  # 0 at the pinned corner
    T = 1 + x[0] + 0.5 * ufl.sin(np.pi * x[0]) * ufl.sin(np.pi * x[1])
    return u, p, T


RA, K, GAMMA = 50.0, 1.0, 0.5


def mms_problem() -> GlassFlowProblem:
    def eta(T):
        return ufl.exp(-GAMMA * (T - 1))

    def force(x):
        u, p, T = exact(x)
        stress = 2 * eta(T) * ufl.sym(ufl.grad(u))
        return -ufl.div(stress) + ufl.grad(p) - RA * T * ufl.as_vector((0.0, 1.0))

    def source(x):
        u, _, T = exact(x)
        return ufl.div(u * T) - ufl.div(K * ufl.grad(T))

    return GlassFlowProblem(
        melt=Melt(ExponentialViscosity(1.0, GAMMA, 1.0), K, thermal_expansion=RA),
        flow_bcs=[NoSlip(r) for r in SIDES],
        thermal_bcs=[FixedTemperature(r, lambda x: exact(x)[2]) for r in SIDES],
        sources=[HeatSource(source)],
        body_forces=[BodyForce(force)],
        gravity=(0.0, -1.0),
    )


def errors(model: GlassFlow) -> tuple[float, float, float]:
    f = model.fields()
    x = ufl.SpatialCoordinate(model.domain.mesh)
    u, p, T = exact(x)
    out = []
    for h, e in ((f["velocity"], u), (f["pressure"], p), (f["temperature"], T)):
        local = fem.assemble_scalar(fem.form(ufl.inner(h - e, h - e) * ufl.dx))
        out.append(np.sqrt(MPI.COMM_WORLD.allreduce(local, op=MPI.SUM)))
    return tuple(out)


def test_manufactured_solution_rates():
    """Taylor–Hood P2/P1 + P2 temperature, variable viscosity, SUPG on: rates 3, 2, 3."""
    errs = []
    for n in (4, 8, 16):
        model = GlassFlow(domain.rectangle(1.0, 1.0, n, n), mms_problem(), {})
        assert model.solve().solver.converged
        errs.append(errors(model))
    e = np.array(errs)
    rates = np.log2(e[:-1] / e[1:])[-1]
    assert rates[0] == pytest.approx(3.0, abs=0.3), e  # velocity
    assert rates[1] > 1.8, e  # pressure
    assert rates[2] == pytest.approx(3.0, abs=0.3), e  # temperature


@pytest.mark.slow
def test_small_3d_convection_cell():
    """The same code in 3D: a free-slip box heated from below convects (Nu > 1), balanced."""
    problem = GlassFlowProblem(
        melt=Melt(ConstantViscosity(1.0), 1.0, thermal_expansion=1e4),
        flow_bcs=[FreeSlip(r) for r in ("left", "right", "front", "back", "bottom", "top")],
        thermal_bcs=[FixedTemperature("bottom", 1.0), FixedTemperature("top", 0.0)],
        gravity=(0.0, 0.0, -1.0),
        qois=[QoI("Nu", "nusselt", "top"), QoI("Nu_in", "nusselt", "bottom"), QoI("vrms", "vrms")],
        initial_temperature=lambda x: (
            1 - x[2] + 0.1 * ufl.cos(np.pi * x[0]) * ufl.sin(np.pi * x[2])
        ),
    )
    model = GlassFlow(domain.box((1.0, 1.0, 1.0), (5, 5, 5)), problem, {})
    r = model.solve()
    assert r.solver.converged
    assert r.qoi["Nu"] > 2.0 and r.qoi["vrms"] > 10.0
    assert -r.qoi["Nu_in"] == pytest.approx(r.qoi["Nu"], rel=1e-8)


def test_non_convergence_is_reported():
    model = GlassFlow(
        domain.rectangle(1.0, 1.0, 8, 8),
        GlassFlowProblem(
            melt=Melt(ConstantViscosity(1.0), 1.0, thermal_expansion=1e5),
            flow_bcs=[FreeSlip(r) for r in SIDES],
            thermal_bcs=[FixedTemperature("bottom", 1.0), FixedTemperature("top", 0.0)],
            gravity=(0.0, -1.0),
            qois=[QoI("Nu", "nusselt", "top")],
            rtol=1e-30,  # unreachable: Newton and every fallback must fail
            max_iterations=5,
        ),
        {},
    )
    r = model.solve()
    assert not r.solver.converged
    assert "did not converge" in r.solver.message
    assert r.qoi == {}  # no numbers from an unconverged state
