"""The Python API as a notebook uses it: values in with units, quantities out in the case's units.

A 1D slab heated on one side and cooled by convection on the other has the exact solution
T(x) = T_amb + q/h + q (L − x)/k, so every number the API returns can be checked by hand.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import twinkit as tk

L, K, T_AMB = 0.5, 10.0, 298.15  # m, W/(m K), K (25 °C)

SLAB = """\
name: slab
model: heat_conduction
mesh: {generator: interval, length: 0.5 m, cells: 8}
parameters:
  power: {value: 2 kW/m^2, range: [1 kW/m^2, 3 kW/m^2], role: design}
  h: {value: 50 W/(m^2*K), range: [20 W/(m^2*K), 120 W/(m^2*K)], role: latent}
materials:
  wall: {conductivity: 10 W/(m*K)}
boundary_conditions:
  - {type: heat_flux, region: left, value: $power}
  - {type: convection, region: right, h: $h, ambient: 25 degC}
probes:
  T0: {point: [0 m]}
  T2: {point: [0.25 m]}
  T4: {point: [0.5 m]}
outputs:
  qoi:
    T_max: {type: max_temperature}
  plots: false
sensors:
  T0: {noise: 0.5 K}
  T2: {noise: 0.5 K}
  T4: {noise: 0.5 K}
optimization:
  objectives: [{output: power, direction: maximize}]
  constraints: [{output: T_max, max: 120 degC}]
"""


def exact(x: float, q: float, h: float) -> float:
    return T_AMB + q / h + q * (L - x) / K


@pytest.fixture
def slab(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default outputs go to runs/<case> under the working directory
    (tmp_path / "slab.yaml").write_text(SLAB)
    return tk.load_case(tmp_path / "slab.yaml")


def test_case_shows_parameters_as_written(slab):
    assert slab.name == "slab" and slab.model == "heat_conduction"
    assert str(slab.parameters["power"].units) == "kilowatt / meter ** 2"
    assert slab.parameters["power"].magnitude == pytest.approx(2.0)
    html = slab._repr_html_()
    assert "kW/m^2" in html and "W/(m^2*K)" in html and "design" in html
    assert "1 … 3" in repr(slab)


def test_values_accept_strings_quantities_and_si_numbers(slab):
    from twinkit.case.units import registry

    q = registry().Quantity(1.5, "kW/m^2")
    assert slab.values({"power": "1500 W/m^2"})["power"] == pytest.approx(1500.0)
    assert slab.values({"power": q})["power"] == pytest.approx(1500.0)
    assert slab.values({"power": 1500.0})["power"] == pytest.approx(1500.0)  # plain numbers: SI
    with pytest.raises(tk.CaseError, match=r"slab.yaml: parameters: power=.*5 K.*dimension"):
        slab.values({"power": "5 K"})
    with pytest.raises(tk.CaseError, match="outside the parameter's range"):
        slab.values({"power": "5 kW/m^2"})


def test_solve_returns_quantities_in_the_case_units(slab, tmp_path):
    res = slab.solve(power="1.5 kW/m^2", h="60 W/(m^2*K)")
    assert res.converged
    t0 = res.sensors["T0"]
    assert str(t0.units) == "degree_Celsius"  # the case writes its temperatures in °C
    assert t0.to("K").magnitude == pytest.approx(exact(0.0, 1500.0, 60.0), rel=1e-9)
    assert res.sensors.si("T0") == pytest.approx(exact(0.0, 1500.0, 60.0), rel=1e-9)
    assert "°C" in res._repr_html_() and "°C" in repr(res)
    # the files stay SI, with their unit map
    summary = json.loads((tmp_path / "runs" / "slab" / "summary.json").read_text())
    assert summary["sensors"]["T0"] == pytest.approx(exact(0.0, 1500.0, 60.0), rel=1e-9)
    assert summary["units"]["T0"] == "K"


def test_the_loop_sample_train_predict_calibrate_optimize(slab, tmp_path):
    """Everything a notebook does, on a problem with a known answer."""
    sweep = slab.sample(16, test=4, progress=False)
    assert sweep.counts["ok"] == 20 and sweep.dataset.sizes["sample"] == 20
    assert "kW/m^2" in sweep._repr_html_()

    sur = tk.train(sweep, members=3, epochs=300)
    assert (tmp_path / "runs" / "slab" / "surrogate.pt").is_file()
    p = sur.predict(power="1.5 kW/m^2", h="80 W/(m^2*K)")
    same = sur.predict({"power": 1500.0, "h": 80.0})  # SI numbers give the same prediction
    assert p.sensors.si("T0") == same.sensors.si("T0")
    assert p.qoi["T_max"].to("K").magnitude == pytest.approx(exact(0, 1500, 80), abs=2.0)
    assert str(p.qoi.std("T_max").units) == "delta_degree_Celsius"
    many = sur.predict(power=np.linspace(1000, 3000, 5))  # h at its nominal value
    assert many.qoi.si("T_max").shape == (5,)
    loaded = tk.load_surrogate(tmp_path / "runs" / "slab" / "surrogate.pt", slab)
    assert loaded.summary == sur.summary and "T_max" in repr(loaded)  # its held-out scores
    assert loaded.predict(power="1.5 kW/m^2").sensors.si("T4") == pytest.approx(
        sur.predict(power="1.5 kW/m^2").sensors.si("T4")
    )

    # readings of a plant whose wall cools better than the nominal (h = 80), in °C
    rng = np.random.default_rng(0)
    rows = []
    for minute in range(30):
        for name, x in (("T0", 0.0), ("T2", 0.25), ("T4", 0.5)):
            value = exact(x, 2000.0, 80.0) - 273.15 + 0.3 * rng.standard_normal()
            rows.append([1_714_564_800 + 60 * minute, name, value, "degC", "good"])
    with (tmp_path / "plant.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "sensor", "value", "unit", "quality"])
        w.writerows(rows)
    cal = tk.calibrate(slab, sur, tmp_path / "plant.csv", out=tmp_path / "cal")
    h = cal.estimates["h"]
    assert h.magnitude == pytest.approx(80.0, rel=0.05)
    assert cal.estimates.std("h").magnitude < 5.0 and not cal.outside_range
    assert "W/(m^2*K)" in cal._repr_html_()

    # the most power that keeps the wall at or below 120 °C with the calibrated h
    best = tk.optimize(slab, sur, trials=60, verify=True, calibration=cal)
    assert best.summary["fixed"]["h"]["value"] == pytest.approx(h.magnitude)  # the calibrated h
    q_best = (120 + 273.15 - T_AMB) / (1 / 80.0 + L / K)
    assert best.feasible and best.verified  # FE agrees with the surrogate at the design
    assert best.design.si("power") == pytest.approx(q_best, rel=0.05)
    assert "kW/m^2" in repr(best)


def test_plot_draws_a_2d_field_in_the_case_units(tmp_path, monkeypatch, base_case):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plate.yaml").write_text(base_case)
    res = tk.load_case(tmp_path / "plate.yaml").solve()
    fig = res.plot("temperature")
    label = fig.axes[-1].get_ylabel()
    assert label == "temperature [°C]"
    lo, hi = fig.axes[0].collections[0].get_clim()
    assert 0 <= lo < hi <= 100.0 + 1e-9  # °C between the ambient 0 °C and the 100 °C edge
    with pytest.raises(KeyError, match="no field 'pressure'"):
        res.plot("pressure")


def test_display_units_per_output(tmp_path, base_case):
    text = base_case + "outputs:\n  display: {T_A: degF, temperature: K}\n"
    (tmp_path / "c.yaml").write_text(text)
    case = tk.load_case(tmp_path / "c.yaml")
    assert case.display.unit("T_A", "K") == "degF"
    assert case.display.format("T_A", 373.15, "K", std=1.0) == "212 ± 1.8 °F"
    bad = base_case + "outputs:\n  display: {T_A: kg}\n"
    (tmp_path / "bad.yaml").write_text(bad)
    with pytest.raises(tk.CaseError, match=r"outputs\.display\.T_A.*'kg' is not a unit of K"):
        tk.load_case(tmp_path / "bad.yaml")


def test_example_copies_a_bundle_that_validates(tmp_path):
    path = tk.example("heatsink", tmp_path / "hs")
    assert sorted(p.name for p in path.parent.iterdir()) == ["heatsink.geo", "heatsink.yaml"]
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    case = tk.load_case(path)  # the mesh file sits beside the case in the copy
    assert case.name == "heatsink"
    with pytest.raises(tk.CaseError, match="already there"):
        tk.example("heatsink", tmp_path / "hs")
    with pytest.raises(tk.CaseError, match="no example 'nope'; there are furnace, bracket"):
        tk.example("nope", tmp_path / "x")
    furnace = tk.example("furnace", tmp_path / "f")
    assert (furnace.parent / "furnace_sensors.csv").is_file()


def test_public_names_resolve_lazily():
    import subprocess
    import sys

    code = (
        "import sys, twinkit as tk; heavy = {'torch', 'dolfinx', 'optuna', 'pyvista'}; "
        "print(sorted(heavy & set(sys.modules))); "
        "print(all(callable(getattr(tk, n)) for n in tk.__all__ if n != '__version__'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "True"]
    assert "load_case" in dir(tk)
