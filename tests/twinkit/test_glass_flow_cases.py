"""Model glass_flow from case files: schema → physics objects, `twinkit solve`, clear errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from twinkit.case import load_case
from twinkit.case.checks import GLASS_FLOW_QOIS

CASES = Path(__file__).parents[2] / "cases" / "benchmarks"
BLANKENBACH_1A = (CASES / "blankenbach_1a.yaml").read_text()
VISCOSITY = "viscosity: {law: constant, value: 1 Pa*s}"
QOIS = "    vrms: {type: vrms}\n"
SOLVER = "solver:\n"
OUTPUTS = "outputs:\n"

# A melt cavity in SI units: heated left wall, cooled right wall, open (free-slip) surface.
MELT_CAVITY = """\
name: melt_cavity
model: glass_flow
parameters:
  T_hot: {value: 1400 degC, range: [1350 degC, 1450 degC], role: operating}
mesh: {generator: rectangle, length: 0.2 m, height: 0.1 m, cells: [8, 4]}
materials:
  glass:
    viscosity: {law: constant, value: 20 Pa*s}
    conductivity: 1.5 W/(m*K)
    absorption: 100 1/m
    density: 2500 kg/m^3
    specific_heat: 1300 J/(kg*K)
    thermal_expansion: 5e-5 1/K
    reference_temperature: 1350 degC
boundary_conditions:
  - {type: no_slip, region: left}
  - {type: no_slip, region: right}
  - {type: no_slip, region: bottom}
  - {type: free_slip, region: top}
  - {type: temperature, region: left, value: $T_hot}
  - {type: temperature, region: right, value: 1300 degC}
probes:
  T_mid: {point: [0.1 m, 0.05 m]}
  u_surface: {point: [0.1 m, 0.1 m], field: velocity_x}
outputs:
  qoi:
    q_hot: {type: heat_flow, region: left}
    q_cold: {type: heat_flow, region: right}
    cold_fraction: {type: fraction_below, threshold: 1350 degC}
    vrms: {type: vrms}
    advected: {type: advected_heat}
"""


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once"
    return text.replace(old, new)


def test_qoi_kinds_match_the_physics():
    """The schema's list (kept import-light for `twinkit validate`) is the model's list."""
    from twinkit.physics.glass_flow import FLOW_QOIS

    assert GLASS_FLOW_QOIS == FLOW_QOIS


# ---- case → physics objects ----------------------------------------------------------------
def _problem(text: str, write_case):
    from twinkit.solve.build import build_mesh, glass_flow_problem

    loaded = load_case(write_case(text))
    values = loaded.case.parameter_values()
    domain = build_mesh(loaded, values)
    return glass_flow_problem(loaded, domain), domain, values


def test_nondimensional_case_becomes_blankenbach_problem(write_case):
    from dolfinx import fem

    from twinkit.physics import glass_flow as gf
    from twinkit.physics.heat import FixedTemperature
    from twinkit.physics.params import ConstantPool, Param

    p, domain, values = _problem(_edit(BLANKENBACH_1A, "[32, 32]", "[4, 4]"), write_case)
    assert p.melt == gf.Melt(gf.ConstantViscosity(1.0), 1.0, 1.0, 1.0, Param("Ra"), 0.0)
    assert p.gravity == (0.0, -1.0)
    assert p.flow_bcs == [gf.FreeSlip(r) for r in ("left", "right", "bottom", "top")]
    assert p.thermal_bcs == [FixedTemperature("bottom", 1.0), FixedTemperature("top", 0.0)]
    assert not p.supg and p.temperature_degree == 2  # the model's default degree
    # the perturbed conductive start: 1 − y + 0.1 cos(πx) sin(πy)
    V = fem.functionspace(domain.mesh, ("Lagrange", 2))
    T0 = fem.Function(V)
    expr = ConstantPool(domain.mesh, values)(p.initial_temperature)
    T0.interpolate(fem.Expression(expr, V.element.interpolation_points))
    x, y = V.tabulate_dof_coordinates()[:, :2].T
    expected = 1 - y + 0.1 * np.cos(np.pi * x) * np.sin(np.pi * y)
    assert np.allclose(T0.x.array, expected, atol=1e-12)


def test_dimensional_case_becomes_melt_problem(write_case):
    from twinkit.physics import glass_flow as gf

    text = _edit(
        MELT_CAVITY,
        "viscosity: {law: constant, value: 20 Pa*s}",
        "viscosity: {law: vft, A: -2.601, B: 4330.9 K, T_V: 519.25 K}",
    )
    text += "solver: {degree: 1, initial_temperature: 1320 degC}\n"
    p, _, _ = _problem(text, write_case)
    assert p.melt.viscosity == gf.VFTViscosity(-2.601, 4330.9, 519.25)
    assert p.melt.reference_temperature == pytest.approx(1623.15)
    assert (p.melt.absorption, p.melt.refractive_index) == (100.0, 1.5)
    assert p.gravity == (0.0, -9.81)  # default: downwards along the last axis
    assert p.thresholds == {"cold_fraction": pytest.approx(1623.15)}
    assert p.initial_temperature == pytest.approx(1593.15)
    assert p.supg and p.temperature_degree == 1
    assert [type(b) for b in p.flow_bcs] == [gf.NoSlip] * 3 + [gf.FreeSlip]


def test_exponential_law_gravity_and_body_force_in_3d(write_case):
    from twinkit.physics import glass_flow as gf

    text = MELT_CAVITY
    for old, new in (
        (
            "{generator: rectangle, length: 0.2 m, height: 0.1 m, cells: [8, 4]}",
            "{generator: box, length: 0.2 m, width: 0.1 m, height: 0.1 m, cells: [2, 1, 1]}",
        ),
        (
            "viscosity: {law: constant, value: 20 Pa*s}",
            "viscosity: {law: exponential, eta0: 20 Pa*s, gamma: 0.01 1/K, T_ref: 1350 degC}",
        ),
        (
            "{type: free_slip, region: top}",
            "{type: velocity, region: top, value: [1 cm/s, null, 0 m/s]}",
        ),
        ("[0.1 m, 0.05 m]", "[0.1 m, 0.05 m, 0.05 m]"),
        ("[0.1 m, 0.1 m]", "[0.1 m, 0.05 m, 0.1 m]"),
    ):
        text = _edit(text, old, new)
    text += (
        "loads:\n"
        "  - {type: gravity, acceleration: [0 m/s^2, 0 m/s^2, -9.8 m/s^2]}\n"
        "  - {type: body_force, value: [1 N/m^3, 0 N/m^3, 0 N/m^3]}\n"
    )
    p, _, _ = _problem(text, write_case)
    assert p.melt.viscosity == gf.ExponentialViscosity(20.0, 0.01, pytest.approx(1623.15))
    assert p.gravity == (0.0, 0.0, -9.8)
    assert p.body_forces == [gf.BodyForce((1.0, 0.0, 0.0))]
    assert gf.Velocity("top", (0.01, None, 0.0)) in p.flow_bcs


# ---- solving -------------------------------------------------------------------------------
def test_blankenbach_1a_through_the_command_line(tmp_path, write_case, cli, cli_process):
    """Validate, then solve a coarse copy of the case file in a real process: Nu, Vrms within
    2 % (16×16), the energy balance closes, and every field is written as XDMF, VTU and PNG."""
    path = write_case(_edit(BLANKENBACH_1A, "[32, 32]", "[16, 16]"), "blankenbach_1a.yaml")
    r = cli("validate", path)
    assert r.returncode == 0 and "glass_flow" in r.stdout, r.output
    out = tmp_path / "out"
    r = cli_process("solve", path, "--out", out)
    assert r.returncode == 0 and "Traceback" not in r.output, r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["solver"]["converged"]
    # from rest: the anchor solve at the nominal values is this solve's work (it said 1)
    assert summary["solver"]["iterations"] > 5
    q = summary["qoi"]
    assert q["Nu"] == pytest.approx(4.884409, rel=0.02)
    assert q["vrms"] == pytest.approx(42.864947, rel=0.02)
    assert q["Nu_bottom"] == pytest.approx(-q["Nu"], rel=1e-6)  # to the solver's tolerance
    assert summary["parameters"] == {"Ra": 1e4} and summary["units"]["Nu"] == "1"
    for field in ("temperature", "velocity", "pressure"):
        for suffix in (".xdmf", ".pvd", ".png"):
            assert f"{field}{suffix}" in summary["files"]
            assert (out / f"{field}{suffix}").stat().st_size > 0


def test_melt_cavity_in_si_units(tmp_path, write_case):
    """A dimensional run: converged, heat in = heat out, probes and units as documented."""
    from twinkit.solve.point import solve_case

    result, path = solve_case(write_case(MELT_CAVITY), {}, tmp_path, plots=False)
    summary = json.loads(path.read_text())
    assert summary["solver"]["converged"], summary["solver"]
    q, s, units = summary["qoi"], summary["sensors"], summary["units"]
    assert q["q_hot"] < 0 < q["q_cold"]  # heat enters at the hot wall
    # the discrete balance is exact with the advected heat ∫ρc u·∇T, which in a closed cavity
    # is only the weak divergence error of the Taylor–Hood velocity: small
    balance = q["q_hot"] + q["q_cold"] + q["advected"]
    assert balance == pytest.approx(0.0, abs=1e-9 * q["q_cold"])
    assert abs(q["advected"]) < 1e-4 * q["q_cold"]
    assert 0.0 < q["cold_fraction"] < 1.0
    assert 1573.15 < s["T_mid"] < 1673.15
    assert 0.0 < abs(s["u_surface"]) <= q["vrms"] * 10
    assert (units["q_hot"], units["vrms"], units["u_surface"], units["T_mid"]) == (
        "W/m",
        "m/s",
        "m/s",
        "K",
    )
    assert units["cold_fraction"] == "1" and units["T_hot"] == "K"


# ---- bad cases: exit code 2, one message per problem, key path and what was expected ---------
@dataclass(frozen=True)
class Bad:
    """Blankenbach 1a with `edits` (old → new); or, if `heat_bc` is given, the heat-conduction
    base case of conftest with that boundary condition added and then `edits`."""

    id: str
    edits: tuple[tuple[str, str], ...]
    expect: tuple[str, ...]
    lines: int = 1
    heat_bc: str | None = None


BAD = [
    Bad(
        "unknown-viscosity-law",
        ((VISCOSITY, "viscosity: {law: arrhenius, value: 1 Pa*s}"),),
        ("materials.fluid.viscosity.law:", "'arrhenius'", "'constant', 'vft', 'exponential'"),
    ),
    Bad(
        "viscosity-key-typo",
        ((VISCOSITY, "viscosity: {law: constant, valeu: 1 Pa*s}"),),
        ("materials.fluid.viscosity.valeu:", "did you mean 'value'"),
    ),
    Bad(
        "vft-without-B",
        ((VISCOSITY, "viscosity: {law: vft, A: -2.6, T_V: 500 K}"),),
        ("materials.fluid.viscosity.B:", "required key is missing"),
    ),
    Bad(
        "gamma-in-wrong-units",
        ((VISCOSITY, "viscosity: {law: exponential, eta0: 1 Pa*s, gamma: 6.9 K, T_ref: 0 K}"),),
        ("materials.fluid.viscosity.gamma:", "'6.9 K'", "compatible with 1/K"),
    ),
    Bad(
        "free-slip-in-heat-conduction",
        (),
        ("boundary_conditions[3].type:", "'free_slip'", "heat_conduction", "expected one of"),
        heat_bc="{type: free_slip, region: left}",
    ),
    Bad(
        "two-materials",
        ((VISCOSITY, VISCOSITY + "\n  rock:\n    " + VISCOSITY),),
        ("materials:", "exactly one material", "got 2: fluid, rock"),
    ),
    Bad(
        "fraction-below-without-threshold",
        ((QOIS, QOIS + "    cold: {type: fraction_below}\n"),),
        ("outputs.qoi.cold.threshold:", "required by type fraction_below"),
    ),
    Bad(
        "threshold-on-another-qoi",
        ((QOIS, "    vrms: {type: vrms, threshold: 0.5 K}\n"),),
        ("outputs.qoi.vrms.threshold:", "applies only to type fraction_below"),
    ),
    Bad(
        "qoi-of-another-model",
        ((QOIS, QOIS + "    s: {type: max_von_mises}\n"),),
        ("outputs.qoi.s.type:", "'max_von_mises'", "expected one of nusselt, vrms"),
    ),
    Bad(
        "nondimensional-run-with-conductivity",
        ((VISCOSITY, VISCOSITY + "\n    conductivity: 1 W/(m*K)"),),
        ("materials.fluid.conductivity:", "fixed by the nondimensional scaling"),
    ),
    Bad(
        "dimensional-run-without-properties",
        (("nondimensional: {rayleigh: $Ra}\n", ""),),
        ("materials.fluid.conductivity: required by model glass_flow", "reference_temperature"),
        lines=5,
    ),
    Bad(
        "velocity-with-three-components-in-2d",
        ((OUTPUTS, "  - {type: velocity, region: top, value: [1 m/s, null, 0 m/s]}\n" + OUTPUTS),),
        ("boundary_conditions[6].value:", "has 3 components; the mesh is 2D"),
    ),
    Bad(
        "perturbation-without-bottom-temperature",
        (("  - {type: temperature, region: bottom, value: 1 K}\n", ""),),
        ("solver.initial_perturbation:", "none on 'bottom'"),
    ),
    Bad(
        "gravity-in-a-nondimensional-run",
        ((SOLVER, "loads:\n  - {type: gravity, acceleration: [0 m/s^2, -1 m/s^2]}\n" + SOLVER),),
        ("loads[0]:", "a nondimensional run has g = (0, -1)"),
    ),
    Bad(
        "solver-option-of-another-model",
        ((SOLVER, SOLVER + "  plane: stress\n"),),
        ("solver.plane:", "does not apply to model glass_flow"),
    ),
    Bad(
        "glass-flow-option-in-heat-conduction",
        (("probes:", "solver: {stabilization: none}\nprobes:"),),
        ("solver.stabilization:", "applies only to model glass_flow"),
        heat_bc="{type: temperature, region: left, value: 0 degC}",
    ),
    Bad(
        "probe-field-of-another-model",
        ((OUTPUTS, "probes:\n  p: {point: [0.5 m, 0.5 m], field: von_mises}\n" + OUTPUTS),),
        ("probes.p.field:", "'von_mises'", "velocity_x"),
    ),
]


def _assert_clear(r, path: Path, expect: tuple[str, ...], lines: int = 1) -> None:
    assert r.returncode == 2, r.output
    assert "Traceback" not in r.output and r.stdout == ""
    # the progress line `twinkit solve` prints first, then the one error
    msg = "\n".join(x for x in r.stderr.strip().splitlines() if not x.startswith("solving "))
    assert msg.startswith("error: ") and len(msg.splitlines()) == lines, msg
    assert all(path.name in line for line in msg.splitlines()), msg
    for fragment in expect:
        assert fragment in msg, f"{fragment!r} not in:\n{msg}"


@pytest.mark.parametrize("bad", BAD, ids=[b.id for b in BAD])
def test_bad_glass_flow_case(bad: Bad, base_case, write_case, cli):
    text = BLANKENBACH_1A
    if bad.heat_bc is not None:
        text = _edit(base_case, "probes:\n", f"  - {bad.heat_bc}\nprobes:\n")
    for old, new in bad.edits:
        text = _edit(text, old, new)
    path = write_case(text)
    _assert_clear(cli("validate", path), path, bad.expect, bad.lines)


def test_free_slip_on_a_curved_boundary(write_case, cli, tmp_path):
    """Found when the mesh is built: `twinkit solve` refuses it with the key path."""
    text = (
        "model: glass_flow\n"
        "nondimensional: {rayleigh: 1e3}\n"
        "mesh: {generator: quarter_annulus, inner_radius: 1 m, outer_radius: 2 m, size: 0.5 m}\n"
        f"materials:\n  fluid:\n    {VISCOSITY}\n"
        "boundary_conditions:\n"
        "  - {type: no_slip, region: left}\n"
        "  - {type: free_slip, region: inner}\n"
    )
    path = write_case(text)
    r = cli("solve", path, "--no-plots", "--out", tmp_path / "out")
    _assert_clear(r, path, ("boundary_conditions[1]:", "free slip on 'inner'", "straight"))
