"""cases/furnace.yaml end to end: the command line and unit invariance (the parameter box's
corners are in benchmarks/furnace.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twinkit.case import CaseError, load_case

CASE = Path(__file__).parents[2] / "cases" / "furnace.yaml"
pytestmark = pytest.mark.slow

# the same tank in other units: K, °F, cm, mm, kg/h, MW, W/(cm²·K), 1/cm, kJ, ...
OTHER_UNITS = [
    (
        "{value: 1600 degC, range: [1550 degC, 1650 degC]",
        "{value: 1873.15 K, range: [1823.15 K, 1923.15 K]",
    ),
    ("{value: 6 m, range: [4.5 m, 7.5 m]", "{value: 600 cm, range: [450 cm, 750 cm]"),
    ("{value: 400 kW, range: [0 kW, 1200 kW]", "{value: 0.4 MW, range: [0 MW, 1.2 MW]"),
    (
        "{value: 200 t/day, range: [150 t/day, 250 t/day]",
        "{value: 8333.3333333333333 kg/h, range: [6250 kg/h, 10416.666666666667 kg/h]",
    ),
    (
        "{value: 2.5 W/(m^2*K), range: [1.5 W/(m^2*K), 3.5 W/(m^2*K)]",
        "{value: 2.5e-4 W/(cm^2*K), range: [1.5e-4 W/(cm^2*K), 3.5e-4 W/(cm^2*K)]",
    ),
    ("{value: 150 1/m, range: [100 1/m, 250 1/m]", "{value: 1.5 1/cm, range: [1 1/cm, 2.5 1/cm]"),
    ("  length: 10 m\n", "  length: 10000 mm\n"),
    ("  depth: 1.2 m\n", "  depth: 120 cm\n"),
    ("  inlet_temperature: 1150 degC", "  inlet_temperature: 2102 degF"),
    ("  ambient_temperature: 40 degC", "  ambient_temperature: 313.15 K"),
    ("    specific_heat: 1300 J/(kg*K)", "    specific_heat: 1.3 kJ/(kg*K)"),
    ("    density: 2350 kg/m^3", "    density: 2.35 g/cm^3"),
]


def test_solve_writes_fields_pictures_and_a_closed_balance(tmp_path, cli_process):
    out = tmp_path / "out"
    r = cli_process("solve", CASE, "--out", out)
    assert r.returncode == 0 and "Traceback" not in r.output, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["solver"]["converged"] and s["case"] == "furnace"
    q = s["qoi"]
    assert abs(q["energy_imbalance"]) < 0.01
    assert len([n for n in s["sensors"] if n.startswith("TC_bottom")]) == 6
    assert s["units"]["spring_zone"] == "m" and s["units"]["heat_input"] == "W/m"
    for field in ("temperature", "velocity"):
        for suffix in (".xdmf", ".pvd", ".png"):
            assert (out / f"{field}{suffix}").stat().st_size > 0


def test_results_do_not_depend_on_the_units_of_the_case_file(tmp_path):
    from twinkit.solve.runner import CaseRunner

    text = CASE.read_text()
    for old, new in OTHER_UNITS:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    other = tmp_path / "furnace_units.yaml"
    other.write_text(text)
    results = []
    for path in (CASE, other):
        loaded = load_case(path)
        r = CaseRunner(loaded).solve(loaded.case.parameter_values())
        assert r.solver.converged, r.solver.message
        results.append(r)
    a, b = results
    for name, v in a.qoi.items():
        assert b.qoi[name] == pytest.approx(v, rel=1e-6, abs=1e-9), name
    for name, v in a.sensors.items():
        assert b.sensors[name] == pytest.approx(v, rel=1e-8), name


def test_a_parameter_cannot_set_the_tank_width(tmp_path):
    text = CASE.read_text().replace("  tank_width: 8 m", "  tank_width: $hot_spot_position")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CaseError, match="furnace.tank_width.*fixed value"):
        load_case(path)


def test_corners_of_the_parameter_box_solve():
    """Eight corners of the six-parameter box, a 2^(6-3) fraction (every parameter at both
    bounds, every pair of parameters at all four combinations of bounds), and two of them with
    the crown flipped, each from the nominal state as sweeps start: converged, the energy balance
    closed, the glass molten and hotter with the hotter crown. All 64 corners:
    `python benchmarks/furnace.py --corners`."""
    from twinkit.solve.runner import CaseRunner
    from twinkit.sweep.design import varied_parameters

    loaded = load_case(CASE)
    c = loaded.case
    names = varied_parameters(loaded)
    assert len(names) == 6
    crown = names.index("crown_peak_temperature")
    corners = []
    for a in range(2):  # columns a, b, c, ab, ac, bc of the 2^3 full factorial
        for b in range(2):
            for d in range(2):
                corners.append((a, b, d, a ^ b, a ^ d, b ^ d))
    flipped = [k[:crown] + (1 - k[crown],) + k[crown + 1 :] for k in corners[:2]]
    runner = CaseRunner(loaded, anchored=True)
    heat = {}
    for bits in corners + flipped:
        values = c.parameter_values() | {
            n: c.parameters[n].bounds[b] for n, b in zip(names, bits, strict=True)
        }
        r = runner.solve(values)
        assert r.solver.converged, (bits, r.solver.message)
        assert abs(r.qoi["energy_imbalance"]) < 0.01, bits
        assert 1173.15 < r.qoi["min_temperature"] < r.qoi["mean_temperature"] < 1923.15, bits
        heat[bits] = r.qoi["heat_input"]
    for k in corners[:2]:  # a hotter crown radiates more heat into the glass
        hot, cold = sorted(
            [k, k[:crown] + (1 - k[crown],) + k[crown + 1 :]], key=lambda x: -x[crown]
        )
        assert heat[hot] > heat[cold], k
