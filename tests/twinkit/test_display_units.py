"""What people see is in the units the case file used; the files stay SI.

The furnace case writes temperatures in °C and the pull rate in t/day: the console (`twinkit
validate`, `twinkit solve`) and report.html show them so, converted from the SI files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from twinkit.case import load_case
from twinkit.pipeline.report import write_report

ROOT = Path(__file__).parents[2]
FURNACE = ROOT / "cases" / "furnace.yaml"


def test_validate_shows_the_furnace_parameters_as_written(cli):
    r = cli("validate", FURNACE)
    assert r.returncode == 0, r.output
    rows = {line.split("│")[1].strip(): line for line in r.stdout.splitlines() if "│" in line}
    assert re.search(r"1600\s.*1550 … 1650\s.*°C", rows["crown_peak_temperature"])
    assert re.search(r"200\s.*150 … 250\s.*t/day", rows["pull_rate"])
    assert "1873.15" not in r.stdout and "2.31481" not in r.stdout  # not SI


def test_solve_prints_temperatures_in_degrees_celsius(cli, write_case, base_case, tmp_path):
    r = cli("solve", write_case(base_case), "--out", tmp_path / "o", "--no-plots")
    assert r.returncode == 0, r.output
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    t_a = summary["sensors"]["T_A"]  # SI in the file
    assert summary["units"]["T_A"] == "K" and t_a > 273.15
    line = next(li for li in r.stdout.splitlines() if "T_A" in li)
    assert f"{t_a - 273.15:.6g}" in line and "°C" in line


def test_report_shows_the_furnace_in_its_units(tmp_path):
    loaded = load_case(FURNACE, check_regions=False)
    nominal = tmp_path / "nominal"
    nominal.mkdir()
    summary = {
        "qoi": {"min_temperature": 1400.0, "heat_input": 2.0e5},
        "sensors": {"TC_bottom_1": 1473.15},
        "units": {"min_temperature": "K", "heat_input": "W/m", "TC_bottom_1": "K"},
        "solver": {"iterations": 3, "seconds": 1.0},
        "files": [],
    }
    (nominal / "summary.json").write_text(json.dumps(summary))
    html = write_report(loaded, tmp_path, None).read_text()
    cells = re.findall(r"<tr><td>([^<]*)</td>((?:<td>[^<]*</td>)*)</tr>", html)
    table = {name: re.findall(r"<td>([^<]*)</td>", rest) for name, rest in cells}
    assert table["TC_bottom_1"] == ["1200", "°C"]
    assert table["min_temperature"] == ["1126.85", "°C"]
    assert table["heat_input"] == ["200000", "W/m"]  # the case writes no W/m: SI stays
    assert table["pull_rate"][1:] == ["200", "[150, 250]", "t/day"]
    assert table["crown_peak_temperature"][1:] == ["1600", "[1550, 1650]", "°C"]
