"""Plane stress with `solver.thickness`: forces, reactions and masses per body (N, kg)."""

import json

import pytest

PLATE = """name: strip
model: elasticity
mesh: {generator: rectangle, length: 2 m, height: 1 m, cells: [8, 4]}
materials:
  steel: {youngs_modulus: 200 GPa, poisson_ratio: 0.3, density: 7800 kg/m^3}
boundary_conditions:
  - {type: displacement, region: left, value: [0 m, null]}
  - {type: displacement, region: bottom, value: [null, 0 m]}
  - {type: force, region: right, value: [1 kN, 0 N]}
probes:
  sxx: {point: [1 m, 0.5 m], field: stress_xx}
outputs:
  qoi:
    reaction: {type: reaction_force, region: left, component: 0}
    m: {type: mass}
  plots: false
solver: {plane: stress, thickness: 10 mm}
"""


def test_forces_and_mass_are_per_body_with_a_thickness(write_case, cli, tmp_path):
    """1 kN on a 1 m × 10 mm end: σxx = F / (H t) = 100 kPa; the support takes −1 kN; the
    plate weighs ρ L H t = 156 kg. Without the thickness the same numbers are per metre."""
    r = cli("solve", write_case(PLATE), "--out", tmp_path / "t")
    assert r.returncode == 0, r.output
    s = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert s["sensors"]["sxx"] == pytest.approx(1e5, rel=1e-8)
    assert s["qoi"]["reaction"] == pytest.approx(-1000.0, rel=1e-8)
    assert s["qoi"]["m"] == pytest.approx(7800 * 2 * 0.01, rel=1e-10)
    assert (s["units"]["reaction"], s["units"]["m"]) == ("N", "kg")
    per_metre = PLATE.replace(", thickness: 10 mm", "").replace("[1 kN, 0 N]", "[10 N, 0 N]")
    r = cli("solve", write_case(per_metre, "per_metre.yaml"), "--out", tmp_path / "m")
    assert r.returncode == 0, r.output
    s = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert s["sensors"]["sxx"] == pytest.approx(10.0, rel=1e-8)  # 10 N/m over 1 m
    assert s["qoi"]["reaction"] == pytest.approx(-10.0, rel=1e-8)
    assert (s["units"]["reaction"], s["units"]["m"]) == ("N/m", "kg/m")


def test_a_thickness_in_a_display_unit_and_an_expression_is_per_body(write_case, cli):
    text = PLATE.replace("  plots: false", "  plots: false\n  display: {reaction: kN}")
    assert cli("validate", write_case(text)).returncode == 0
    text = PLATE.replace("  plots: false", "  plots: false\n  display: {reaction: kN/m}")
    r = cli("validate", write_case(text))
    assert r.returncode == 2 and "outputs.display.reaction" in r.output


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("plane: stress, ", "", "solver.thickness: applies to model elasticity with plane: stress"),
        (
            "{generator: rectangle, length: 2 m, height: 1 m, cells: [8, 4]}",
            "{generator: box, length: 2 m, width: 1 m, height: 1 m, cells: [2, 1, 1]}",
            "solver.thickness: applies to a 2D mesh; the mesh is 3D",
        ),
    ],
)
def test_validate_refuses_a_thickness_where_it_means_nothing(write_case, cli, old, new, message):
    r = cli("validate", write_case(PLATE.replace(old, new)))
    assert r.returncode == 2 and message in r.output, r.output
