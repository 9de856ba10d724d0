"""Where loads and supports go: constraints on gmsh curves and points, each region's dimension
checked at `validate`, and a warning for a boundary region with facets inside the mesh."""

import json
import re
from pathlib import Path

import pytest

# a unit cube (OpenCASCADE numbering: surface 5 is z = 0, 6 is z = 1; curve 9 runs along x at
# y = z = 0, point 2 is the origin)
CUBE_GEO = """SetFactory("OpenCASCADE");
Box(1) = {0, 0, 0, 1, 1, 1};
Physical Volume("solid") = {1};
Physical Surface("bottom") = {5};
Physical Surface("top") = {6};
Physical Curve("x_axis") = {9};
Physical Point("origin") = {2};
"""

# a 2 m × 1 m plate; its corner (0, 0) a point group
PLATE_GEO = """Point(1) = {0, 0, 0}; Point(2) = {2, 0, 0};
Point(3) = {2, 1, 0}; Point(4) = {0, 1, 0};
Line(1) = {1, 2}; Line(2) = {2, 3}; Line(3) = {3, 4}; Line(4) = {4, 1};
Curve Loop(1) = {1, 2, 3, 4}; Plane Surface(1) = {1};
Physical Surface("plate") = {1};
Physical Curve("left") = {4};
Physical Curve("right") = {2};
Physical Point("corner") = {1};
"""

# two squares side by side; 'support' is the outer left edge and the shared edge at x = 1
TWO_SQUARES_GEO = """Point(1) = {0, 0, 0}; Point(2) = {1, 0, 0}; Point(3) = {2, 0, 0};
Point(4) = {2, 1, 0}; Point(5) = {1, 1, 0}; Point(6) = {0, 1, 0};
Line(1) = {1, 2}; Line(2) = {2, 3}; Line(3) = {3, 4}; Line(4) = {4, 5}; Line(5) = {5, 6};
Line(6) = {6, 1}; Line(7) = {2, 5};
Curve Loop(1) = {1, 7, 5, 6}; Plane Surface(1) = {1};
Curve Loop(2) = {2, 3, 4, -7}; Plane Surface(2) = {2};
Physical Surface("plate") = {1, 2};
Physical Curve("support") = {6, 7};
Physical Curve("right") = {3};
"""

E, NU, P = 200e9, 0.3, 10e6

CUBE_CASE = f"""name: cube
model: elasticity
mesh: {{file: cube.geo, size: 0.5 m}}
materials:
  steel: {{youngs_modulus: {E / 1e9:g} GPa, poisson_ratio: {NU}}}
boundary_conditions:
  - {{type: displacement, region: bottom, value: [null, null, 0 m]}}
  - {{type: displacement, region: x_axis, value: [null, 0 m, null]}}
  - {{type: displacement, region: origin, value: [0 m, null, null]}}
  - {{type: traction, region: top, value: [0 Pa, 0 Pa, {P / 1e6:g} MPa]}}
probes:
  ux: {{point: [1 m, 1 m, 1 m], field: displacement_x}}
  uy: {{point: [1 m, 1 m, 1 m], field: displacement_y}}
  uz: {{point: [1 m, 1 m, 1 m], field: displacement_z}}
outputs:
  qoi:
    reaction_origin: {{type: reaction_force, region: origin, component: 0}}
  plots: false
"""


def _write(tmp_path: Path, geo_name: str, geo: str, case: str) -> Path:
    (tmp_path / geo_name).write_text(geo)
    path = tmp_path / "case.yaml"
    path.write_text(case)
    return path


def test_3d_edge_and_point_constraints_hold_a_cube_in_tension(tmp_path, cli):
    """Without the edge and the point the cube could slide and turn (a singular system); held
    there, uniaxial tension is homogeneous: u = (−νpx/E, −νpy/E, pz/E) exactly in P1."""
    path = _write(tmp_path, "cube.geo", CUBE_GEO, CUBE_CASE)
    assert cli("validate", path).returncode == 0
    r = cli("solve", path, "--out", tmp_path / "out")
    assert r.returncode == 0, r.output
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["sensors"]["ux"] == pytest.approx(-NU * P / E, rel=1e-6)
    assert s["sensors"]["uy"] == pytest.approx(-NU * P / E, rel=1e-6)
    assert s["sensors"]["uz"] == pytest.approx(P / E, rel=1e-6)
    # the point carries no load in a homogeneous state: its reaction is round-off
    assert abs(s["qoi"]["reaction_origin"]) < 1e-6 * P
    assert s["solver"]["warnings"] == []


def test_2d_point_constraint_plane_stress(tmp_path, cli):
    case = f"""name: plate
model: elasticity
mesh: {{file: plate.geo, size: 0.25 m}}
materials:
  steel: {{youngs_modulus: {E / 1e9:g} GPa, poisson_ratio: {NU}}}
boundary_conditions:
  - {{type: displacement, region: left, value: [0 m, null]}}
  - {{type: displacement, region: corner, value: [null, 0 m]}}
  - {{type: traction, region: right, value: [{P / 1e6:g} MPa, 0 Pa]}}
probes:
  uy: {{point: [2 m, 1 m], field: displacement_y}}
  ux: {{point: [2 m, 1 m], field: displacement_x}}
outputs: {{plots: false}}
solver: {{plane: stress}}
"""
    path = _write(tmp_path, "plate.geo", PLATE_GEO, case)
    r = cli("solve", path, "--out", tmp_path / "out")
    assert r.returncode == 0, r.output
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["sensors"]["ux"] == pytest.approx(2 * P / E, rel=1e-6)
    assert s["sensors"]["uy"] == pytest.approx(-NU * P / E, rel=1e-6)


def test_heat_temperature_on_a_3d_edge(tmp_path, cli):
    """An insulated cube held at 400 K on one edge only is at 400 K everywhere."""
    case = """name: cube_heat
model: heat_conduction
mesh: {file: cube.geo, size: 0.5 m}
materials:
  steel: {conductivity: 50 W/(m*K)}
boundary_conditions:
  - {type: temperature, region: x_axis, value: 400 K}
probes:
  far: {point: [1 m, 1 m, 1 m]}
outputs: {plots: false}
"""
    path = _write(tmp_path, "cube.geo", CUBE_GEO, case)
    r = cli("solve", path, "--out", tmp_path / "out")
    assert r.returncode == 0, r.output
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["sensors"]["far"] == pytest.approx(400.0, rel=1e-9)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "  - {type: traction, region: x_axis, value: [0 Pa, 0 Pa, 1 MPa]}",
            "boundary_conditions[4].region: region 'x_axis' is a curve (dimension 1) of the 3D "
            "mesh; a load or flux needs a surface (dimension 2) region",
        ),
        (
            "  - {type: pressure, region: origin, value: 1 MPa}",
            "boundary_conditions[4].region: region 'origin' is a point (dimension 0)",
        ),
        (
            "  - {type: fixed, region: solid}",
            "boundary_conditions[4].region: region 'solid' is a volume (dimension 3) of the 3D "
            "mesh; a constraint needs a point (dimension 0) or curve (dimension 1) or surface "
            "(dimension 2) region",
        ),
    ],
)
def test_validate_names_a_region_of_the_wrong_dimension(tmp_path, cli, line, message):
    text = CUBE_CASE.replace("probes:", line + "\nprobes:")
    path = _write(tmp_path, "cube.geo", CUBE_GEO, text)
    r = cli("validate", path)
    assert r.returncode == 2
    assert message in r.output


def test_material_on_a_surface_and_missing_region_are_named(tmp_path, cli):
    text = CUBE_CASE.replace("poisson_ratio: 0.3}", "poisson_ratio: 0.3, regions: [top]}").replace(
        "region: origin, component", "region: nowhere, component"
    )
    path = _write(tmp_path, "cube.geo", CUBE_GEO, text)
    out = cli("validate", path)
    assert out.returncode == 2
    text = out.output
    assert "materials.steel.regions[0]: region 'top' is a surface (dimension 2)" in text
    assert "needs a volume (dimension 3) region" in text
    assert "outputs.qoi.reaction_origin.region: region 'nowhere' is not in the mesh" in text


def test_a_boundary_region_with_interior_facets_warns(tmp_path, cli):
    case = """name: two_squares
model: heat_conduction
mesh: {file: squares.geo, size: 0.25 m}
materials:
  steel: {conductivity: 50 W/(m*K)}
boundary_conditions:
  - {type: temperature, region: support, value: 300 K}
  - {type: temperature, region: right, value: 400 K}
probes:
  mid: {point: [1.5 m, 0.5 m]}
outputs: {plots: false}
"""
    path = _write(tmp_path, "squares.geo", TWO_SQUARES_GEO, case)
    r = cli("solve", path, "--out", tmp_path / "out")
    assert r.returncode == 0, r.output
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    (warning,) = s["solver"]["warnings"]
    found = re.match(
        r"boundary_conditions\[0\]\.region: region 'support' holds (\d+) interior", warning
    )
    assert found and int(found[1]) >= 4  # the shared edge, 1 m at size 0.25 m
    assert "warning: boundary_conditions[0].region" in r.stdout
    # the condition did act on the shared edge: linear from 300 K at x = 1 to 400 K at x = 2
    assert s["sensors"]["mid"] == pytest.approx(350.0, rel=1e-9)
