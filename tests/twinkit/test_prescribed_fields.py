"""Prescribed fields in elasticity: a temperature (rise) per material for the thermal strain, an
initial strain, Young's modulus and the conductivity as formulas of position; each against its
closed form."""

import json

import pytest

E, NU, ALPHA = 200e9, 0.3, 1.2e-5
LAM, MU = E * NU / ((1 + NU) * (1 - 2 * NU)), E / (2 * (1 + NU))

SQUARE = """name: square
model: elasticity
mesh: {{generator: rectangle, length: 1 m, height: 1 m, cells: [2, 2]}}
materials:
  steel:
    youngs_modulus: 200 GPa
    poisson_ratio: 0.3
{material}
boundary_conditions:
{supports}
probes:
{probes}
outputs: {{plots: false}}
solver: {{plane: {plane}, degree: 2}}
"""
CLAMPED = "\n".join(f"  - {{type: fixed, region: {r}}}" for r in ("left", "right", "bottom", "top"))
FREE = """  - {type: displacement, region: left, value: [0 m, null]}
  - {type: displacement, region: bottom, value: [null, 0 m]}"""


def _probes(*fields: str, at: str = "[0.5 m, 0.5 m]") -> str:
    return "\n".join(f"  {f}: {{point: {at}, field: {f}}}" for f in fields)


def _solve(cli, write_case, tmp_path, text: str) -> dict:
    r = cli("solve", write_case(text), "--out", tmp_path / "out")
    assert r.returncode == 0, r.output
    return json.loads((tmp_path / "out" / "summary.json").read_text())


@pytest.mark.parametrize("key", ["temperature: 120 degC", "temperature_change: 100 K"])
def test_clamped_plate_with_a_prescribed_temperature(cli, write_case, tmp_path, key):
    """Held on every edge (plane strain), heated 100 K above the 20 °C reference without a heat
    solve: ε = 0, so σxx = σyy = σzz = −EαΔT / (1 − 2ν)."""
    ref = "    reference_temperature: 20 degC\n" if key.startswith("temperature:") else ""
    material = f"    thermal_expansion: 1.2e-5 1/K\n{ref}    {key}"
    text = SQUARE.format(
        material=material,
        supports=CLAMPED,
        probes=_probes("stress_xx", "stress_zz", "strain_xx"),
        plane="strain",
    )
    s = _solve(cli, write_case, tmp_path, text)["sensors"]
    exact = -E * ALPHA * 100 / (1 - 2 * NU)
    assert s["stress_xx"] == pytest.approx(exact, rel=1e-8)
    assert s["stress_zz"] == pytest.approx(exact, rel=1e-8)
    assert abs(s["strain_xx"]) < 1e-12


@pytest.mark.parametrize(
    "key",
    [
        'temperature_change: "100 K * x / (1 m)"',
        'temperature: "20 degC + 100 K * x / (1 m)"\n    reference_temperature: 20 degC',
    ],
)
def test_a_temperature_linear_in_x(cli, write_case, tmp_path, key):
    """ΔT = 100 K · x / (1 m) in a plate held at y = 0 and y = 1 m (v = 0; plane stress):
    σxx = σxy = 0, σyy = −E α ΔT(x), εxx = (1 + ν) α ΔT(x), u = (1 + ν) α k x² / 2."""
    material = f"    thermal_expansion: 1.2e-5 1/K\n    {key}"
    supports = FREE + "\n  - {type: displacement, region: top, value: [null, 0 m]}"
    probes = _probes("strain_xx", "stress_yy", "stress_xx", at="[0.75 m, 0.25 m]")
    text = SQUARE.format(material=material, supports=supports, probes=probes, plane="stress")
    s = _solve(cli, write_case, tmp_path, text)["sensors"]
    assert s["strain_xx"] == pytest.approx((1 + NU) * ALPHA * 75, rel=1e-8)
    assert s["stress_yy"] == pytest.approx(-E * ALPHA * 75, rel=1e-8)
    assert abs(s["stress_xx"]) < 1e-6 * E * ALPHA * 75


@pytest.mark.parametrize("plane", ["strain", "stress", "mixed"])
def test_clamped_plate_with_an_initial_strain(cli, write_case, tmp_path, plane):
    """ε = 0 everywhere, so σ = −C : ε₀. With ε₀ = (xx 1e-3, zz 2e-3, xy 5e-4): plane strain
    σxx = −(λ + 2μ) 1e-3 − λ 2e-3, σyy = −λ 3e-3, σzz = −λ 1e-3 − (λ + 2μ) 2e-3, σxy = −2μ 5e-4;
    plane stress (σzz = 0, ε₀_zz free) σxx = −E/(1 − ν²) 1e-3, σyy = ν σxx. `mixed`: plane
    strain in the u–p formulation."""
    material = "    initial_strain: {xx: 1e-3, zz: 2e-3, xy: 5e-4}"
    fields = ("stress_xx", "stress_yy", "stress_zz", "stress_xy", "strain_zz")
    mixed = plane == "mixed"
    plane = "strain" if mixed else plane
    text = SQUARE.format(material=material, supports=CLAMPED, probes=_probes(*fields), plane=plane)
    if mixed:
        text = text.replace("degree: 2}", "degree: 2, formulation: mixed}")
    s = _solve(cli, write_case, tmp_path, text)["sensors"]
    if plane == "strain":
        exact = {
            "stress_xx": -(LAM + 2 * MU) * 1e-3 - LAM * 2e-3,
            "stress_yy": -LAM * 3e-3,
            "stress_zz": -LAM * 1e-3 - (LAM + 2 * MU) * 2e-3,
        }
    else:
        sxx = -E / (1 - NU**2) * 1e-3
        exact = {"stress_xx": sxx, "stress_yy": NU * sxx, "stress_zz": 0.0}
        # εzz = ε₀_zz − ν (σxx + σyy) / E
        assert s["strain_zz"] == pytest.approx(2e-3 - NU * (1 + NU) * sxx / E, rel=1e-8)
    exact["stress_xy"] = -2 * MU * 5e-4
    for name, value in exact.items():
        assert s[name] == pytest.approx(value, rel=1e-8, abs=1e-6), name


def test_clamped_cube_with_an_initial_shear_strain(cli, write_case, tmp_path):
    """3D, held on every face, ε₀ = (xx 1e-3, xz 5e-4): σxx = −(λ + 2μ) 1e-3,
    σyy = σzz = −λ 1e-3, σxz = −2μ 5e-4."""
    faces = ("left", "right", "front", "back", "bottom", "top")
    supports = "".join(f"  - {{type: fixed, region: {r}}}\n" for r in faces)
    fields = ("stress_xx", "stress_yy", "stress_zz", "stress_xz", "stress_xy")
    text = f"""name: cube
model: elasticity
mesh: {{generator: box, length: 1 m, width: 1 m, height: 1 m, cells: [1, 1, 1]}}
materials:
  steel: {{youngs_modulus: 200 GPa, poisson_ratio: 0.3, initial_strain: {{xx: 1e-3, xz: 5e-4}}}}
boundary_conditions:
{supports}
probes:
{_probes(*fields, at="[0.5 m, 0.5 m, 0.5 m]")}
outputs: {{plots: false}}
solver: {{degree: 2}}
"""
    s = _solve(cli, write_case, tmp_path, text)["sensors"]
    exact = {
        "stress_xx": -(LAM + 2 * MU) * 1e-3,
        "stress_yy": -LAM * 1e-3,
        "stress_zz": -LAM * 1e-3,
        "stress_xz": -2 * MU * 5e-4,
        "stress_xy": 0.0,
    }
    for name, value in exact.items():
        assert s[name] == pytest.approx(value, rel=1e-8, abs=1e-3), name


def test_free_plate_takes_its_initial_strain(cli, write_case, tmp_path):
    """Unconstrained (but for rigid motions), the plate strains by ε₀ and stays unstressed."""
    material = "    initial_strain: {xx: 1e-3, yy: -4e-4}"
    probes = _probes("strain_xx", "strain_yy", "stress_xx", "stress_yy")
    text = SQUARE.format(material=material, supports=FREE, probes=probes, plane="strain")
    s = _solve(cli, write_case, tmp_path, text)["sensors"]
    assert s["strain_xx"] == pytest.approx(1e-3, rel=1e-8)
    assert s["strain_yy"] == pytest.approx(-4e-4, rel=1e-8)
    assert abs(s["stress_xx"]) + abs(s["stress_yy"]) < 1e-3


def test_graded_youngs_modulus_under_a_uniform_stress(cli, write_case, tmp_path):
    """A bar (ν = 0, plane stress) pulled by σ = 1 MPa with E(x) = 100 GPa (1 + x / (1 m)): the
    stress stays uniform, the strain is σ / E(x), and the end moves by σ/E₀ · ln 2."""
    import math

    text = SQUARE.format(
        material="", supports=FREE, probes=_probes("stress_xx", "strain_xx"), plane="stress"
    )
    text = text.replace("youngs_modulus: 200 GPa", 'youngs_modulus: "100 GPa * (1 + x / (1 m))"')
    text = text.replace("poisson_ratio: 0.3", "poisson_ratio: 0")
    text = text.replace("cells: [2, 2]", "cells: [16, 2]")
    text = text.replace(
        "outputs: {plots: false}",
        "outputs:\n  plots: false\n  qoi:\n"
        "    end: {type: point, field: displacement_x, point: [1 m, 0.5 m]}",
    )
    text += "loads: []\n"
    text = text.replace(
        "boundary_conditions:\n",
        "boundary_conditions:\n  - {type: traction, region: right, value: [1 MPa, 0 MPa]}\n",
    )
    s = _solve(cli, write_case, tmp_path, text)
    assert s["sensors"]["stress_xx"] == pytest.approx(1e6, rel=1e-5)
    assert s["sensors"]["strain_xx"] == pytest.approx(1e6 / 150e9, rel=1e-3)  # P1-recovered
    assert s["qoi"]["end"] == pytest.approx(1e6 / 100e9 * math.log(2), rel=1e-5)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("youngs_modulus", '"100 GPa * (1 - 2 * x / (1 m))"', "expected a positive value"),
        ("youngs_modulus", '"100 GPa * (1 + t / (1 s))"', "t is not known here"),
        ("youngs_modulus", '"100 GPa * (1 + x)"', "dimension"),
        ("temperature_change", '"100 K * x / (1 m)"', "thermal_expansion: required by"),
        ("temperature", "-300 degC", "absolute zero"),
        ("initial_strain", "{xz: 1e-3}", "a 2D mesh has xx, yy, zz, xy only"),
        ("initial_strain", "{xx: 1 mm}", "initial_strain.xx"),
    ],
)
def test_validate_refuses_bad_prescribed_fields(cli, write_case, key, value, message):
    """Exit 2 naming the key: a graded modulus that turns negative inside the mesh's box, a
    formula of t or of the wrong dimension, a temperature without α, a 3D component in 2D."""
    text = SQUARE.format(
        material=f"    {key}: {value}", supports=FREE, probes=_probes("stress_xx"), plane="stress"
    )
    if key == "youngs_modulus":
        text = text.replace("    youngs_modulus: 200 GPa\n", "")
    r = cli("validate", write_case(text))
    assert r.returncode == 2, r.output
    assert message in r.output
    assert key in r.output


def test_thermo_elasticity_refuses_a_prescribed_temperature(cli, write_case):
    text = """name: te
model: thermo_elasticity
mesh: {generator: rectangle, length: 1 m, height: 1 m, cells: [2, 2]}
materials:
  steel: {conductivity: 50 W/(m*K), youngs_modulus: 200 GPa, poisson_ratio: 0.3,
          thermal_expansion: 1.2e-5 1/K, temperature_change: 10 K}
boundary_conditions:
  - {type: temperature, region: left, value: 300 K}
  - {type: fixed, region: left}
"""
    r = cli("validate", write_case(text))
    assert r.returncode == 2
    assert "materials.steel.temperature_change" in r.output
    assert "thermo_elasticity computes the temperature" in r.output


def test_solve_checks_a_formula_of_position_at_a_mesh_files_nodes(cli, write_case, square_geo):
    """`validate` cannot see where a mesh file's nodes lie: the solve checks E(x) there."""
    text = f"""name: graded
model: elasticity
mesh: {{file: {square_geo.name}}}
materials:
  steel: {{youngs_modulus: "100 GPa * (1 - 2 * x / (1 m))", poisson_ratio: 0.3}}
boundary_conditions:
  - {{type: fixed, region: hot}}
"""
    path = write_case(text)
    assert cli("validate", path).returncode == 0
    r = cli("solve", path, "--out", path.parent / "out")
    assert r.returncode == 2, r.output
    assert "materials.steel.youngs_modulus" in r.output
    assert "at the node (1, " in r.output and "expected a positive value" in r.output


def test_graded_conductivity_in_a_bar(cli, write_case, tmp_path):
    """k(x) = 10 W/(m·K) (1 + x / (1 m)), ends at 400 K and 300 K: the flux is uniform,
    q = k₀ ΔT / (L ln 2), and T(x) = 400 K − ΔT ln(1 + x/L) / ln 2 (a constant k₀: 350 K)."""
    import math

    text = """name: bar
model: heat_conduction
mesh: {generator: interval, length: 1 m, cells: 20}
materials:
  bar: {conductivity: "10 W/(m*K) * (1 + x / (1 m))"}
boundary_conditions:
  - {type: temperature, region: left, value: 400 K}
  - {type: temperature, region: right, value: 300 K}
probes:
  T_mid: {point: [0.5 m]}
outputs:
  plots: false
  qoi:
    q_out: {type: heat_flow, region: right}
solver: {degree: 2}
"""
    s = _solve(cli, write_case, tmp_path, text)
    exact = 400 - 100 * math.log(1.5) / math.log(2)
    assert s["sensors"]["T_mid"] == pytest.approx(exact, rel=1e-6)
    assert s["qoi"]["q_out"] == pytest.approx(10 * 100 / math.log(2), rel=1e-6)
