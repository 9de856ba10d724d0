"""The case vocabulary of issue 17: parameters in solver settings, stress and strain outputs,
derived (expression) outputs, time-dependent boundary values and time series."""

from __future__ import annotations

import json

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
