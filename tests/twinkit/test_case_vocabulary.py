"""The case vocabulary of issue 17: parameters in solver settings, stress and strain outputs,
derived (expression) outputs, time-dependent boundary values and time series."""

from __future__ import annotations

import json

import numpy as np
import pytest

SLAB = """\
name: slab
model: heat_conduction
parameters:
  t_end: {value: 750 s, range: [100 s, 1000 s]}
  T0: {value: 400 K}
mesh: {generator: interval, length: 10 cm, cells: 40}
materials:
  slab: {conductivity: 1 W/(m*K), density: 1000 kg/m^3, specific_heat: 1000 J/(kg*K)}
boundary_conditions:
  - {type: temperature, region: left, value: 300 K}
  - {type: temperature, region: right, value: 300 K}
probes:
  T_centre: {point: [5 cm]}
solver:
  degree: 2
  time: {end: $t_end, steps: 30, initial_temperature: $T0}
"""


# ---- parameters in solver settings -------------------------------------------------------------
def test_time_end_may_be_a_parameter(tmp_path, write_case, cli):
    """`time.end: $t_end` solves (it used to pass validate, then crash with a TypeError), and
    --set t_end changes the time step: a shorter run leaves the centre hotter."""
    path = write_case(SLAB)
    centre = []
    for setting in (None, "t_end=375 s"):
        out = tmp_path / str(setting)
        r = cli("solve", path, "--no-plots", "--out", out, *(["--set", setting] if setting else []))
        assert r.returncode == 0, r.output
        centre.append(json.loads((out / "summary.json").read_text())["sensors"]["T_centre"])
    assert centre[0] == pytest.approx(360.68, rel=2e-3)  # Fo = 0.3 (docs/validation.md)
    assert centre[1] > centre[0] + 20


def test_time_end_parameter_updates_in_a_sweep():
    """One compiled model, two end times: the second solve equals a fresh model's."""
    from twinkit.physics import domain
    from twinkit.physics.heat import (
        FixedTemperature,
        HeatConduction,
        HeatProblem,
        ThermalMaterial,
        TimeStepping,
    )
    from twinkit.physics.params import Param
    from twinkit.physics.problem import Probe

    problem = HeatProblem(
        materials=[ThermalMaterial(1.0, density=1000.0, specific_heat=1000.0)],
        bcs=[FixedTemperature("left", 300.0), FixedTemperature("right", 300.0)],
        probes=[Probe("c", (0.05,))],
        time=TimeStepping(Param("t_end"), 20, 400.0),
    )
    mesh = domain.interval(0.1, 20)
    model = HeatConduction(mesh, problem, {"t_end": 750.0})
    model.solve()
    again = model.solve({"t_end": 300.0}).sensors["c"]
    fresh = HeatConduction(mesh, problem, {"t_end": 300.0}).solve().sensors["c"]
    assert again == pytest.approx(fresh, rel=1e-12)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("steps: 30", "steps: $n", "solver.time.steps"),
        ("  degree: 2", "  degree: $d", "solver.degree"),
    ],
)
def test_parameter_where_only_a_fixed_value_goes(tmp_path, write_case, cli, old, new, key):
    path = write_case(SLAB.replace(old, new))
    r = cli("validate", path)
    assert r.returncode == 2, r.output
    assert key in r.stderr and "not a parameter" in r.stderr, r.stderr


# ---- stress and strain outputs -----------------------------------------------------------------
def test_field_names_match_the_physics():
    """twinkit.case.fields keeps its own copy of the names (validation imports no FE code)."""
    from twinkit.case import fields
    from twinkit.physics import elasticity as el

    assert fields.ELASTIC_SCALARS == el.SCALAR_FIELDS
    assert fields.ELASTIC_PROBES == el.PROBE_FIELDS
    assert fields.FIELD_QOIS == el.FIELD_QOIS
    assert fields.ELASTIC_QOIS + fields.FIELD_QOIS == el.ELASTICITY_QOIS
    assert set(fields.MODEL_FIELDS["elasticity"]) == {
        "displacement",
        "von_mises",
        *el.TENSOR_FIELDS,
    }


def _lame(size: float, recovery: str = "projection") -> str:
    """cases/benchmarks/lame.yaml at element size `size`, with σ_θθ probed at the bore on both
    symmetry lines (σ_yy at (a, 0), σ_xx at (0, a))."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "cases/benchmarks/lame.yaml").read_text()
    text = text.replace("size: 0.5 m", f"size: {size} m")
    text = text.replace(
        "probes:\n",
        "probes:\n  s_a: {point: [3 m, 0 m], field: stress_yy}\n"
        "  s_a2: {point: [0 m, 3 m], field: stress_xx}\n",
    )
    return text.replace("outputs:\n", f"outputs:\n  stress_recovery: {recovery}\n")


def test_point_stress_converges_monotonically(tmp_path, write_case):
    """Lamé (lame.yaml, ν = 0.4999, mixed u–p): σ_θθ(a) = 1.25 exactly. The recovered (L2
    projected) stress at the bore, on four meshes halving the element size, approaches it
    monotonically and is within 1 % from the first mesh on (measured: −0.90, −0.25, −0.20,
    −0.065 %)."""
    from twinkit.solve.point import solve_case

    errors = []
    for size in (1.0, 0.5, 0.25, 0.125):
        path = write_case(_lame(size), f"lame_{size}.yaml")
        _, summary_path = solve_case(path, {}, tmp_path / str(size), plots=False)
        s = json.loads(summary_path.read_text())
        assert s["solver"]["converged"]
        assert s["units"]["s_a"] == "Pa"
        errors.append([s["sensors"]["s_a"] / 1.25 - 1, s["sensors"]["s_a2"] / 1.25 - 1])
    e = np.abs(np.array(errors))
    assert (e < 0.01).all(), errors
    assert (e[1:] < e[:-1]).all(), errors  # monotone, on both lines
    assert e[-1].max() < 1e-3, errors


BRICK = """\
name: brick
model: elasticity
mesh: {generator: rectangle, length: 1 m, height: 1 m, cells: [2, 2]}
materials:
  steel: {youngs_modulus: 200 GPa, poisson_ratio: 0.3}
boundary_conditions:
  - {type: displacement, region: left, value: [0 m, null]}
  - {type: displacement, region: bottom, value: [null, 0 m]}
  - {type: traction, region: right, value: [1 MPa, 0 MPa]}
probes:
  s: {point: [0.5 m, 0.5 m], field: stress_xx}
outputs:
  qoi:
    top: {type: max, field: principal_1, region: domain}
    at: {type: point, field: strain_xx, point: [0.5 m, 0.5 m]}
  fields: [displacement, stress, principal_stress]
  display: {top: MPa}
solver: {plane: stress}
"""


def test_stress_outputs_through_the_cli(tmp_path, write_case, cli):
    path = write_case(BRICK)
    out = tmp_path / "out"
    r = cli("solve", path, "--no-plots", "--out", out)
    assert r.returncode == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert {k: s["units"][k] for k in ("s", "top", "at")} == {"s": "Pa", "top": "Pa", "at": "1"}
    assert s["sensors"]["s"] == pytest.approx(1e6, rel=1e-8)  # uniaxial: exact
    assert s["qoi"]["top"] == pytest.approx(1e6, rel=1e-8)
    assert s["qoi"]["at"] == pytest.approx(1e6 / 200e9, rel=1e-8)
    for name in ("stress", "principal_stress"):
        assert (out / f"{name}.xdmf").exists() and (out / f"{name}.pvd").exists()


@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [
        ("field: stress_xx}", "field: stress_ww}", ("probes.s.field", "'stress_ww'", "stress_yy")),
        ("field: principal_1, ", "", ("outputs.qoi.top.field", "needs a field")),
        (", point: [0.5 m, 0.5 m]}", "}", ("outputs.qoi.at.point", "required by type point")),
        ("[0.5 m, 0.5 m]}\n  fields", "[0.5 m]}\n  fields", ("outputs.qoi.at.point", "2D")),
        ("type: max,", "type: maximum,", ("outputs.qoi.top.type", "'maximum'", "max, min")),
        ("principal_stress]", "stresses]", ("outputs.fields", "'stresses'", "tresca")),
        ("  fields:", "  stress_recovery: smooth\n  fields:", ("outputs.stress_recovery",)),
        ("display: {top: MPa}", "display: {at: MPa}", ("outputs.display.at",)),
    ],
)
def test_stress_output_errors(write_case, cli, old, new, expect):
    assert BRICK.count(old) == 1
    r = cli("validate", write_case(BRICK.replace(old, new)))
    assert r.returncode == 2, r.output
    for text in expect:
        assert text in r.stderr, r.stderr


def test_stress_recovery_only_for_structural_models(write_case, cli):
    r = cli("validate", write_case(SLAB + "outputs: {stress_recovery: average}\n"))
    assert r.returncode == 2 and "outputs.stress_recovery" in r.stderr, r.output


# ---- derived outputs ---------------------------------------------------------------------------
KT = BRICK.replace(
    "materials:",
    "parameters:\n  load: {value: 10 kN}\n  height: {value: 1 m}\n  thickness: {value: 10 mm}\n"
    "materials:",
).replace(
    "  fields: [displacement, stress, principal_stress]\n",
    '    kt: {type: expression, value: "top / (load / (height * thickness))"}\n'
    '    margin: {type: expression, value: "1 - 1 / (kt * 2)"}\n'
    '    sx_MPa: {type: expression, value: "s / (1 MPa)"}\n',
)


def test_expression_qois(tmp_path, write_case, cli):
    """kt = σ1,max / (F / (h·t)) = 1 for uniaxial tension; an expression may use one above it;
    units are worked out (kt and margin dimensionless)."""
    out = tmp_path / "out"
    r = cli("solve", write_case(KT), "--no-plots", "--out", out)
    assert r.returncode == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["qoi"]["kt"] == pytest.approx(1.0, rel=1e-8)
    assert s["qoi"]["margin"] == pytest.approx(0.5, rel=1e-8)
    assert s["qoi"]["sx_MPa"] == pytest.approx(1.0, rel=1e-8)
    assert s["units"]["kt"] == "1" and s["units"]["margin"] == "1"


@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [
        ("top / (load", "tpo / (load", ("outputs.qoi.kt.value", "unknown name 'tpo'", "'top'")),
        ("1 - 1 / (kt * 2)", "1 - thickness", ("outputs.qoi.margin.value", "'-'", "[length]")),
        ("1 - 1 / (kt * 2)", "sin(load)", ("sin() needs a dimensionless argument",)),
        ("1 - 1 / (kt * 2)", "kt; import os", ("unexpected ';' at position 3",)),
        ("1 - 1 / (kt * 2)", "__import__(1)", ("unknown function", "'__import__'")),
        ("1 - 1 / (kt * 2)", "kt ** kt", ("exponent must be a constant",)),
        ("1 - 1 / (kt * 2)", "margin * 2", ("refers to itself",)),
        ("1 - 1 / (kt * 2)", "2 foos", ("unknown unit 'foos'",)),
        ("1 - 1 / (kt * 2)", "t * 2", ("unknown name 't'", "only where a key allows")),
        ('value: "s / (1 MPa)"', "region: domain", ("outputs.qoi.sx_MPa.value", "required")),
    ],
)
def test_expression_errors(write_case, cli, old, new, expect):
    assert KT.count(old) == 1
    r = cli("validate", write_case(KT.replace(old, new)))
    assert r.returncode == 2, r.output
    for text in expect:
        assert text in r.stderr, r.stderr


# ---- values in time, time series ---------------------------------------------------------------
def _ramp_exact(x, t):
    """Carslaw & Jaeger §2.5 (cases/benchmarks/surface_ramp.yaml): T for a surface at 300 K + t."""
    from scipy.special import erfc

    z = x / (2 * np.sqrt(50 / (7800 * 480) * t))
    return 300 + t * ((1 + 2 * z * z) * erfc(z) - 2 * z * np.exp(-z * z) / np.sqrt(np.pi))


def _ramp_case(edit: tuple[str, str] = ("", "")) -> str:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "cases/benchmarks/surface_ramp.yaml").read_text()
    return text.replace(*edit) if edit[0] else text


@pytest.mark.parametrize("scheme", ["bdf2", "crank_nicolson"])
def test_time_series_of_a_time_dependent_boundary_value(tmp_path, write_case, cli, scheme):
    """A surface temperature rising in time (a formula of t): every probe at every step in
    timeseries.nc matches the exact solution, the expression QoI too; summary.json keeps the
    final values."""
    import xarray as xr

    path = write_case(_ramp_case(("scheme: bdf2", f"scheme: {scheme}")))
    out = tmp_path / "out"
    r = cli("solve", path, "--no-plots", "--out", out)
    assert r.returncode == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert "timeseries.nc" in s["files"]
    with xr.open_dataset(out / "timeseries.nc") as ds:
        assert ds.sizes["time"] == 101 and ds.time.attrs["units"] == "s"
        assert ds["T_10mm"].attrs["units"] == "K" and ds["rise_10mm"].attrs["units"] == "1"
        t = ds.time.values
        assert t[0] == 0.0 and t[-1] == pytest.approx(600.0)
        for name, x in (("T_5mm", 0.005), ("T_10mm", 0.01), ("T_20mm", 0.02)):
            series = ds[name].values
            # the uniform initial state, read at a point through the basis functions (whose
            # sum is 1 to round-off: 300.00000000000006 with the DOLFINx wheel of 2026-12-03)
            assert series[0] == pytest.approx(300.0, rel=1e-14, abs=0)
            late = t >= 60
            err = np.abs(series[late] - _ramp_exact(x, t[late])) / 600  # of the final rise
            assert err.max() < 1e-3, (name, err.max())  # measured 6.5e-5 (bdf2)
            assert s["sensors"][name] == series[-1]
        assert s["qoi"]["rise_10mm"] == ds["rise_10mm"].values[-1]


RAMP_CSV = "time (min),T (degC)\n0,26.85\n10,626.85\n"


@pytest.mark.parametrize(
    "table",
    [
        RAMP_CSV,
        RAMP_CSV.replace("\n", "\r"),  # old Mac line ends (a csv.Error before)
        "# plant log, exported 2026-12-05\n" + RAMP_CSV,  # the header was refused after a comment
        "\ufeff" + RAMP_CSV.split("\n", 1)[1],  # a byte-order mark: the first row was dropped
    ],
    ids=["header", "cr", "comment", "bom"],
)
def test_table_in_time_equals_the_formula(tmp_path, write_case, cli, table):
    """The same ramp as a CSV table (minutes, °C; linear in between) gives the same solution."""
    (tmp_path / "ramp.csv").write_text(table, newline="", encoding="utf-8")
    text = _ramp_case(
        ('value: "300 K + 1 K/s * t"', "value: {table: ramp.csv, time_unit: min, unit: degC}")
    )
    sensors = []
    for name, case in (("formula", _ramp_case()), ("table", text)):
        out = tmp_path / name
        r = cli("solve", write_case(case, f"{name}.yaml"), "--no-plots", "--out", out)
        assert r.returncode == 0, r.output
        sensors.append(json.loads((out / "summary.json").read_text())["sensors"])
    assert sensors[1] == pytest.approx(sensors[0], rel=1e-12)


RAMP_VALUE = 'value: "300 K + 1 K/s * t"'


@pytest.mark.parametrize(
    ("edit", "expect"),
    [
        ((RAMP_VALUE, 'value: "300 K + 1 K * t"'), ("boundary_conditions[0].value", "dimension")),
        ((RAMP_VALUE, 'value: "300 K + 1 K/s * tt"'), ("unknown name 'tt'", "'t'")),
        ((RAMP_VALUE, 'value: "300 K * sin(t)"'), ("sin() needs a dimensionless argument",)),
        (
            ("  time: {end: 600 s, steps: 100, initial_temperature: 300 K, scheme: bdf2}\n", ""),
            (
                "boundary_conditions[0].value",
                "t is known only in a transient run (solver.time) of heat_conduction or",
            ),
        ),
        ((RAMP_VALUE, "value: {table: nowhere.csv, unit: K}"), ("table file not found",)),
        ((RAMP_VALUE, "value: {table: ../x.csv, unit: K}"), ("outside the case file's folder",)),
        ((RAMP_VALUE, "value: {table: bad.csv, unit: K}"), ("bad.csv, line 3", "increase")),
        ((RAMP_VALUE, "value: {table: bad.csv, unit: m}"), ("'m' is not a unit compatible",)),
        ((RAMP_VALUE, "value: {table: bad.csv}"), ("a table is {table: FILE.csv, unit",)),
        # a temperature below 0 K solved "converged" to -320 K; a first row of three numbers was
        # taken for a header
        ((RAMP_VALUE, "value: {table: cold.csv, unit: K}"), ("cold.csv, line 2", "0 K); it is -5")),
        ((RAMP_VALUE, "value: {table: three.csv, unit: K}"), ("three.csv, line 1", "two numbers")),
    ],
)
def test_time_value_errors(tmp_path, write_case, cli, edit, expect):
    (tmp_path / "bad.csv").write_text("0, 300\n10, 310\n5, 320\n")
    (tmp_path / "cold.csv").write_text("0, 300\n10, -5\n")
    (tmp_path / "three.csv").write_text("0, 300, 7\n10, 310, 7\n")
    r = cli("validate", write_case(_ramp_case(edit)))
    assert r.returncode == 2, r.output
    for text in expect:
        assert text in r.stderr, r.stderr


def test_formulas_of_position_in_a_steady_run(tmp_path, write_case, cli):
    """x, y, z are known in a steady run: T = 300 K + 100 K·x/L on the left of a bar whose
    right end is at 300 K (a linear profile: the probe reads the exact mean)."""
    case = SLAB.replace("  time: {end: $t_end, steps: 30, initial_temperature: $T0}\n", "")
    case = case.replace(
        "region: left, value: 300 K", 'region: left, value: "300 K + 100 K * (1 + x / (1 m))"'
    )
    case = case.replace("  t_end: {value: 750 s, range: [100 s, 1000 s]}\n", "")
    out = tmp_path / "out"
    r = cli("solve", write_case(case), "--no-plots", "--out", out)
    assert r.returncode == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["sensors"]["T_centre"] == pytest.approx(350.0, rel=1e-10)
    assert "timeseries.nc" not in s["files"]


def test_a_constant_in_a_time_key_keeps_its_checks(write_case, cli):
    """'-300 degC' where a formula may go is still a temperature below absolute zero."""
    r = cli("validate", write_case(_ramp_case((RAMP_VALUE, "value: -300 degC"))))
    assert r.returncode == 2 and "absolute zero" in r.stderr, r.output


def test_a_sweep_stores_stress_fields_and_expressions(tmp_path, write_case, cli):
    """A sweep keeps the expression QoIs (with units) and a 6-component stress field, whose
    component dimension is its own (displacement keeps `component`)."""
    import xarray as xr

    case = KT.replace("  load: {value: 10 kN}\n", "  load: {value: 10 kN, range: [5 kN, 20 kN]}\n")
    case = case.replace("  display: {top: MPa}\n", "  fields: [displacement, stress]\n")
    out = tmp_path / "sweep"
    r = cli("sample", write_case(case), "--samples", "8", "--out", out)
    assert r.returncode == 0, r.output
    with xr.open_dataset(out / "dataset.nc") as ds:
        assert ds["field_stress"].dims == ("sample", "node", "stress_component")
        assert ds.sizes["stress_component"] == 6 and ds.sizes["component"] == 2
        kt = ds["qoi_kt"]
        assert kt.attrs["units"] == "1"
        # the traction is fixed at 1 MPa: kt = 1 MPa / (load / (1 m · 10 mm)) varies with load
        assert kt.values == pytest.approx(1e6 / (ds["load"].values / 0.01), rel=1e-8)


def test_fields_as_a_paraview_time_series(tmp_path, write_case, cli):
    """outputs.fields_every: 25 of 100 steps writes the temperature at t = 0, 150, ..., 600 s."""
    import re

    case = _ramp_case(("solver:", "  fields_every: 25\nsolver:"))
    out = tmp_path / "out"
    r = cli("solve", write_case(case), "--no-plots", "--out", out)
    assert r.returncode == 0, r.output
    files = json.loads((out / "summary.json").read_text())["files"]
    assert "temperature_series.xdmf" in files and (out / "temperature_series.h5").exists()
    times = re.findall(r'<Time Value="([^"]+)"', (out / "temperature_series.xdmf").read_text())
    assert [float(t) for t in times] == pytest.approx([0, 150, 300, 450, 600])


def test_fields_every_needs_a_transient_run(write_case, cli):
    r = cli("validate", write_case(BRICK.replace("  display:", "  fields_every: 2\n  display:")))
    assert r.returncode == 2 and "outputs.fields_every" in r.stderr, r.output


def test_thermo_elasticity_in_time(tmp_path, write_case, cli):
    """A transient thermo_elasticity run with a boundary temperature in time: the thermal probes
    per step in timeseries.nc; the stress is that of the final temperature."""
    from pathlib import Path

    import xarray as xr

    text = (Path(__file__).parent / "test_thermo_elasticity.py").read_text()
    case = text.split('CASE = """', 1)[1].split('"""', 1)[0]
    case = case.replace("value: $T_hot}", 'value: "20 degC + 1 K/s * t"}')
    case = case.replace(
        "    conductivity: 50 W/(m*K)\n",
        "    conductivity: 50 W/(m*K)\n    density: 7800 kg/m^3\n    specific_heat: 480 J/(kg*K)\n",
    )
    case = case.replace(
        "solver: {plane: stress}",
        "solver:\n  plane: stress\n  time: {end: 100 s, steps: 10, initial_temperature: 20 degC}",
    )
    case = case.replace(
        "  end: {point:", "  sx: {point: [0.5 m, 0.05 m], field: stress_xx}\n  end: {point:"
    )
    out = tmp_path / "out"
    r = cli("solve", write_case(case), "--no-plots", "--out", out)
    assert r.returncode == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    with xr.open_dataset(out / "timeseries.nc") as ds:
        assert ds["T_mid"].values[0] == pytest.approx(293.15)
        assert ds["T_mid"].values[-1] == pytest.approx(s["sensors"]["T_mid"])
        assert np.all(np.diff(ds["T_max"].values) > 0)  # the ends heat up
        assert "sx" not in ds  # mechanical: final state only
    assert s["sensors"]["T_mid"] < s["qoi"]["T_max"] == pytest.approx(393.15)


@pytest.mark.parametrize(
    ("value", "expect"),
    [
        ('"300 K - 1 K/s * t"', "at t = 375 s: expected a temperature at or above absolute zero"),
        ('"1e308 K * 1e308 * (1 + t / (1 s))"', "is not finite at t = 0 s"),
    ],
)
def test_formula_values_are_checked_for_sense(write_case, cli, value, expect):
    """A temperature formula is sampled over the run (t = 0 ... end, nominal parameters)."""
    r = cli("validate", write_case(_ramp_case((RAMP_VALUE, f"value: {value}"))))
    assert r.returncode == 2 and expect in r.stderr, r.output
