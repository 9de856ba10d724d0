"""`twinkit optimize`: known optima on an analytic surrogate, resumable and shared studies, FE
verification, and clear errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from beam_surrogate import BEAM_CASE, T_RANGE, BeamSurrogate, Prediction, optimum

from twinkit.case import CaseError, load_case
from twinkit.optimization.driver import Options, optimize_case

HERE = Path(__file__).parent


def _run(case: Path, tmp: Path, surrogate=None, **kw):
    opts = Options(verify=0, out=tmp / "out", plots=False, **kw)
    return optimize_case(case, opts, surrogate=surrogate or BeamSurrogate())


@pytest.mark.parametrize("error", [RuntimeError, CaseError], ids=["lost server", "CaseError"])
def test_storage_password_is_redacted_in_errors_during_the_trials(
    beam, tmp_path, monkeypatch, error
):
    """Not only at the start: an error raised once the study runs (here by the trials, quoting
    the URL and the password, as a driver's message may) shows neither; a CaseError stays one
    (exit 2)."""
    from contextlib import nullcontext
    from types import SimpleNamespace

    from twinkit.optimization import driver

    url = "postgresql://alice:s3cr3t-pw@db.example:5432/twin?sslpassword=k3y-pw"

    def lost(*args):
        raise error(f"lost {url}: password 's3cr3t-pw' for alice, key k3y-pw")

    monkeypatch.setattr(driver, "open_study", lambda *a: nullcontext(SimpleNamespace(study=None)))
    monkeypatch.setattr(driver, "run_trials", lost)
    with pytest.raises(error) as e:
        _run(beam, tmp_path, trials=10, storage=url)
    text = str(e.value)
    assert "s3cr3t" not in text and "k3y" not in text and "alice:***@db.example" in text
    assert e.value.__context__ is None or e.value.__suppress_context__


@pytest.mark.slow
def test_finds_the_constrained_minimum(beam, tmp_path):
    summary, path = _run(beam, tmp_path, trials=100)
    best = summary["best"][0]
    exact = optimum()
    assert best["predicted_feasible"]
    assert best["predicted"]["mass"]["mean"] == pytest.approx(exact["mass"], rel=0.02)
    assert best["predicted"]["mass"]["mean"] >= exact["mass"] * (1 - 1e-9)  # feasible: not below
    assert best["design"]["thickness"] == pytest.approx(exact["thickness"], rel=0.02)
    assert json.loads(path.read_text())["trials"]["complete"] == 100
    assert summary["storage"].startswith("sqlite:///") and (tmp_path / "out/study.db").exists()


def test_resume_continues_the_same_study(beam, tmp_path):
    first, _ = _run(beam, tmp_path, trials=12)
    assert first["trials"]["complete"] == 12 and first["trials"]["this_run"] == 12
    again, _ = _run(beam, tmp_path, trials=24)
    assert again["trials"] == {"complete": 24, "feasible": again["trials"]["feasible"],
                               "this_run": 12, "requested": 24}  # fmt: skip
    import optuna

    study = optuna.load_study(study_name="beam", storage=again["storage"])
    assert [t.number for t in study.trials] == list(range(24))
    done, _ = _run(beam, tmp_path, trials=10)  # already more than asked: nothing to do
    assert done["trials"]["this_run"] == 0


def test_a_changed_problem_needs_a_new_study(beam, tmp_path):
    _run(beam, tmp_path, trials=3)
    with pytest.raises(CaseError, match="different problem.*--study"):
        _run(beam, tmp_path, trials=3, overrides={"load": "1.5 kN"})
    summary, _ = _run(beam, tmp_path, trials=3, overrides={"load": "1.5 kN"}, study="heavy")
    assert summary["fixed"]["load"] == {"value": 1500.0, "source": "--set"}


def test_robust_design_keeps_a_margin_of_k_std(beam, tmp_path):
    """k = 2 with 1 % std: the deflection limit acts as 0.2 mm / 1.02, the mass rises 2 %."""
    summary, _ = _run(beam, tmp_path, trials=40, robust=2.0)
    best = summary["best"][0]
    d = best["predicted"]["deflection"]
    assert d["mean"] + 2 * d["std"] <= 0.2e-3 * (1 + 1e-9)
    exact = optimum(delta_max=0.2e-3 / 1.02)["mass"]
    assert best["predicted"]["mass"]["mean"] >= exact * (1 - 1e-9)


def test_designs_stay_in_the_surrogate_validity_range(beam, tmp_path):
    s = BeamSurrogate()
    s.bounds = s.bounds | {"thickness": (5e-3, 9e-3)}
    summary, _ = _run(beam, tmp_path, surrogate=s, trials=15)
    assert summary["design_space"]["thickness"] == {"lower": 5e-3, "upper": 9e-3, "scale": "linear"}
    import optuna

    study = optuna.load_study(study_name="beam", storage=summary["storage"])
    t = [tr.params["thickness"] for tr in study.trials]
    assert min(t) >= 5e-3 and max(t) <= 9e-3 and max(t) < T_RANGE[1]


def test_latent_parameters_come_from_the_calibration(beam, tmp_path):
    cal = tmp_path / "runs/beam/calibration/summary.json"
    cal.parent.mkdir(parents=True)
    cal.write_text(json.dumps({"estimates": {"stiffness": {"value": 180e9, "std": 5e9}}}))
    summary, _ = _run(beam, tmp_path, trials=3)
    assert summary["fixed"]["stiffness"]["value"] == 180e9
    assert summary["fixed"]["stiffness"]["source"].startswith("calibration")
    assert summary["fixed"]["load"] == {"value": 1000.0, "source": "nominal"}


def test_two_objectives_give_a_feasible_pareto_front(beam, tmp_path):
    text = BEAM_CASE.replace("    - {output: deflection, max: 0.2 mm}\n", "").replace(
        "    - {output: mass, direction: minimize}\n",
        "    - {output: mass, direction: minimize}\n    - {output: tip, direction: maximize}\n",
    )
    beam.write_text(text)
    summary, _ = _run(beam, tmp_path, trials=60)
    assert summary["sampler"] == "nsga2"
    front = summary["best"]
    assert front and all(d["predicted_feasible"] for d in front)
    assert all(d["predicted"]["stress"]["mean"] <= 150e6 for d in front)
    masses = [d["predicted"]["mass"]["mean"] for d in front]
    tips = [d["predicted"]["tip"]["mean"] for d in front]
    assert masses == sorted(masses)
    assert all(np.diff(tips) >= 0)  # heavier designs on the front deflect less (tip = −δ)


# ---- FE verification on a tiny case ---------------------------------------------------------
ROD_CASE = """\
name: rod
model: heat_conduction
mesh: {generator: interval, length: 0.1 m, cells: 4}
parameters:
  k: {value: 50 W/(m*K), range: [10 W/(m*K), 100 W/(m*K)], role: design}
  q: {value: 1e6 W/m^3, range: [5e5 W/m^3, 2e6 W/m^3], role: operating}
materials:
  rod: {conductivity: $k}
boundary_conditions:
  - {type: temperature, region: left, value: 300 K}
  - {type: temperature, region: right, value: 300 K}
loads:
  - {type: heat_source, value: $q}
outputs:
  qoi:
    T_max: {type: max_temperature}
  plots: false
solver: {degree: 2}
optimization:
  objectives: [{output: k, direction: minimize}]
  constraints: [{output: T_max, max: 350 K}]
"""


class RodSurrogate:
    """T_max = 300 K + bias·qL²/(8k): exact for bias = 1 (P2 elements are exact for it)."""

    inputs = ["k", "q"]
    input_units = {"k": "W/(m*K)", "q": "W/m^3"}
    bounds = {"k": (10.0, 100.0), "q": (5e5, 2e6)}
    outputs = ["qoi_T_max"]
    fields: list[str] = []

    def __init__(self, bias: float = 1.0):
        self.bias = bias

    def predict(self, x, strict: bool = False) -> Prediction:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        t = 300.0 + self.bias * x[:, 1] * 0.1**2 / (8 * x[:, 0])
        return Prediction({"qoi_T_max": t}, {"qoi_T_max": np.full(len(t), 0.1)})

    def torch_scalar(self, x):
        raise NotImplementedError

    def save(self, path) -> None:
        raise NotImplementedError


@pytest.fixture
def rod(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "rod.yaml"
    path.write_text(ROD_CASE)
    return path


@pytest.mark.slow
def test_fe_verifies_the_optimum_and_the_fe_search_repairs_a_biased_surrogate(rod, tmp_path):
    opts = Options(trials=25, verify=1, out=tmp_path / "exact", plots=True)
    summary, _ = optimize_case(rod, opts, surrogate=RodSurrogate())
    check = summary["best"][0]["verification"]
    k = summary["best"][0]["design"]["k"]
    assert k == pytest.approx(25.0, rel=0.05) and k >= 25.0 * (1 - 1e-9)
    t = check["outputs"]["T_max"]
    assert t["fe"] == pytest.approx(300 + 1250 / k, rel=1e-9)  # P2 is exact here
    assert t["relative_error"] < 1e-9
    assert check["verified"] and summary["verified"]
    assert summary["files"] == ["history.png"] and (tmp_path / "exact/history.png").exists()

    # the surrogate under-predicts the temperature rise by 10 %: its optimum is infeasible in FE,
    # and the FE search (the surrogate as prior) finds the true optimum in a few solves
    opts = Options(trials=25, verify=1, out=tmp_path / "biased", plots=False)
    summary, _ = optimize_case(rod, opts, surrogate=RodSurrogate(bias=0.9))
    check = summary["best"][0]["verification"]
    assert not check["feasible"] and check["outputs"]["T_max"]["fe"] > 350
    assert not summary["verified"]
    opts = Options(trials=25, out=tmp_path / "biased", plots=False, fe_budget=6)
    summary, _ = optimize_case(rod, opts, surrogate=RodSurrogate(bias=0.9))
    k = summary["best"][0]["design"]["k"]
    assert summary["verified"] and 25.0 <= k <= 25.0 * 1.005 and len(summary["fe"]["solves"]) <= 6
    assert summary["fe"]["solves"][0]["outputs"]["T_max"]["miss_sigma"] > 3  # shown, not hidden


# ---- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            "    - {output: stress, max: 150 MPa}",
            "    - {output: strain, max: 150 MPa}",
            "optimization.constraints[0].output: 'strain' is no QoI, probe or design parameter",
        ),
        (
            "    - {output: stress, max: 150 MPa}",
            "    - {output: stress, max: 150 mm}",
            "optimization.constraints[0].max: '150 mm' does not have the output's dimension",
        ),
        (
            "    - {output: mass, direction: minimize}",
            "    - {output: mass, direction: smallest}",
            "optimization.objectives[0].direction",
        ),
        (
            "  constraints:",
            "  sampler: cmaes\n  objectives_extra: 1\n  constraints:",
            "optimization.objectives_extra: unknown key",
        ),
    ],
)
def test_bad_optimization_sections_are_case_errors(beam, old, new, message, cli):
    beam.write_text(BEAM_CASE.replace(old, new))
    with pytest.raises(CaseError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_case(beam, check_regions=False)
    r = cli("optimize", beam)
    assert r.returncode == 2 and message in r.output and "Traceback" not in r.output


def test_no_design_parameters_or_no_section_exit_2(beam, cli):
    text = BEAM_CASE.replace("role: design", "role: fixed")
    beam.write_text(text)
    r = cli("optimize", beam)
    assert r.returncode == 2 and "optimization: no parameter has role design" in r.output
    beam.write_text(BEAM_CASE.split("optimization:")[0])
    r = cli("optimize", beam)
    assert r.returncode == 2 and "has no optimization section" in r.output
    beam.write_text(BEAM_CASE)
    r = cli("optimize", beam, "--surrogate", beam.parent / "missing.pt")
    assert r.returncode == 2 and "missing.pt: surrogate file not found" in r.output
    r = cli("optimize", beam, "--set", "width=3 cm")
    assert r.returncode == 2


# ---- many workers on one PostgreSQL study ---------------------------------------------------
WORKER = """
import sys
from pathlib import Path
from beam_surrogate import BeamSurrogate
from twinkit.optimization.driver import Options, optimize_case
case, storage, out, trials = sys.argv[1:]
opts = Options(trials=int(trials), storage=storage, out=Path(out), verify=0, plots=False)
s, _ = optimize_case(Path(case), opts, surrogate=BeamSurrogate())
print(s["trials"]["this_run"], s["best"][0]["trial"], s["best"][0]["predicted"]["mass"]["mean"])
"""


@pytest.mark.slow
def test_two_workers_share_one_postgresql_study(beam, tmp_path, postgres):
    env = os.environ | {"PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, beam, postgres, tmp_path / f"w{i}", "40"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    added = [int(o[0].split()[0]) for o in outs]
    import optuna

    from twinkit.optimization.study import storage_for

    study = optuna.load_study(study_name="beam", storage=storage_for(postgres))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == sum(added)  # every trial either worker ran is in the study once
    assert 40 <= len(complete) <= 41  # the total asked for (a race may add one)
    assert min(added) > 0  # both workers took part
    again, _ = _run(beam, tmp_path, trials=40, storage=postgres)
    assert again["trials"]["this_run"] == 0
    assert again["best"][0]["trial"] == study.best_trial.number


def test_furnace_outputs_have_their_units_in_constraints():
    """Heat flows of the 2D furnace are per metre of tank width, the spring zone a position."""
    from twinkit.case.objectives import output_units

    case = load_case(HERE.parents[1] / "cases" / "furnace.yaml", check_regions=False).case
    want = {"heat_input": "W/m", "wall_losses": "W/m", "batch_heat": "W/m",
            "enthalpy_outflow": "W/m", "energy_imbalance": "1", "spring_zone": "m",
            "min_temperature": "K", "max_velocity": "m/s", "cold_fraction": "1"}  # fmt: skip
    assert {n: output_units(case, n)[0] for n in want} == want
