"""The stages of `twinkit run`: what each one reads (hashed) and how it runs.

Every stage calls the command it stands for in-process (`solve_case`, `run_sweep`, `train_case`,
`run_calibrate`, `optimize_case`, `verify_designs`) with its outputs under the run folder:
`nominal/`, `data/`, `surrogate.pt` + `train_summary.json`, `calibration/`, `optimize/`,
`verify/` and `report.html`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twinkit.files import remove_file, remove_tree
from twinkit.pipeline.job import Job, Stage, file_hash
from twinkit.sweep.design import doe_name
from twinkit.sweep.provenance import code_hash, solver_hash

SWEEP_DESIGN = "sobol"
CALIBRATION = "calibration/summary.json"


def _read(job: Job, relative: str) -> dict[str, Any]:
    return json.loads((job.out / relative).read_text())


# ---- solve: the nominal point ------------------------------------------------------------------
def solve_inputs(job: Job) -> dict[str, Any]:
    return {"physics": job.physics()}


def solve(job: Job) -> tuple[list[str], str]:
    from twinkit.solve.point import solve_case

    result, path = solve_case(job.case_path, {}, job.out / "nominal", plots=True)
    if not result.solver.converged:
        raise RuntimeError(f"the nominal solve did not converge: {result.solver.message}")
    files = [f for f in json.loads(path.read_text())["files"] if f.endswith(".png")]
    s = result.solver
    return ["nominal/summary.json"] + [f"nominal/{f}" for f in files], (
        f"{s.iterations} iterations, {s.seconds:.1f} s solver"
    )


# ---- sample ------------------------------------------------------------------------------------
def sample_inputs(job: Job) -> dict[str, Any]:
    return {"physics": job.physics(), "samples": job.samples, "test": job.test} | (
        {"design_samples": job.design_samples} if job.design_samples else {}
    )


def sample(job: Job) -> tuple[list[str], str]:
    from twinkit.sweep.run import SweepOptions, run_sweep
    from twinkit.sweep.store import sweep_lock

    data = job.out / "data"
    opts = SweepOptions(
        job.samples, SWEEP_DESIGN, job.test, job.workers, design_samples=job.design_samples
    )
    with sweep_lock(data):  # before removing anything another run may be writing
        _start_afresh_if_other(job, data)
        s = run_sweep(job.case_path, data, opts)
    c, t = s["counts"], s["timings"]
    if c["ok"] == 0:
        raise RuntimeError(f"every sample failed (first: {s['failures'][0]['message']})")
    if c["failed"]:
        job.notes.append(f"sample: {c['failed']} of {c['total']} samples failed (see data/)")
    mean = t["mean_solve_seconds"]
    return ["data/dataset.nc", "data/summary.json"], (
        f"{c['ok']} ok, {c['failed']} failed of {c['total']} ({c['reused']} reused); "
        f"{mean:.3g} s per solve"
    )


def _start_afresh_if_other(job: Job, data: Path) -> None:
    """A sweep of another case version or design (or --force) in `data`: remove it; the sweep
    would refuse to mix, and the pipeline owns this folder. The same sweep, killed: resume it."""
    state = data / "sweep.json"
    if job.force and data.exists():
        job.log(f"{data}: --force: sampling afresh")
        remove_tree(data, job.out)
    if not state.is_file():
        return
    try:
        old = json.loads(state.read_text())
    except ValueError:
        old = {}
    this = {
        "case_hash": job.loaded.hash,
        "solver_hash": solver_hash(),
        "samples": job.samples,
        "test_samples": job.test,
    }
    doe = doe_name(SWEEP_DESIGN, job.design_samples)
    if any(old.get(k) != v for k, v in this.items()) or old.get("doe") != doe:
        job.log(f"{data}: an earlier sweep (other case or solver version, or design): afresh")
        remove_tree(data, job.out)


# ---- train -------------------------------------------------------------------------------------
def train_inputs(job: Job) -> dict[str, Any]:
    return {
        "dataset": job.file("data/dataset.nc"),
        "code": code_hash(),
        "seed": job.loaded.case.seed,
        "members": job.members,
        "epochs": job.epochs,
    }


def train(job: Job) -> tuple[list[str], str]:
    from twinkit.training import train_case

    s, _ = train_case(
        job.case_path, job.out / "data", job.out, job.members, job.epochs,
        curve=False, baselines=True, log=job.log,
    )  # fmt: skip
    r2 = sorted(m["r2"] for m in s["surrogate"]["outputs"].values())
    note = f"{s['n_train']} train / {s['n_test']} test samples, {s['training_seconds']:.0f} s"
    if r2:
        good = sum(x >= 0.95 for x in r2)
        note += f"; held-out R² ≥ 0.95 for {good} of {len(r2)} outputs"
    return ["surrogate.pt", "train_summary.json"] + [f for f in s["files"] if f.endswith(".png")], (
        note
    )


# ---- calibrate ---------------------------------------------------------------------------------
def calibrate_inputs(job: Job) -> dict[str, Any] | None:
    if job.sensors is None:
        return None
    return {
        "surrogate": job.file("surrogate.pt"),
        "sensor_file": file_hash(job.sensors),
        "code": code_hash(),
        "case": job.section("seed", "parameters", "probes", "sensors"),
    }


def calibrate(job: Job) -> tuple[list[str], str]:
    from twinkit.case.display import DisplayUnits
    from twinkit.twin.calibrate import Options, run_calibrate

    assert job.sensors is not None
    out = job.out / "calibration"
    s, _ = run_calibrate(job.case_path, job.sensors, job.out / "surrogate.pt", out, Options())
    shown = DisplayUnits.from_case(job.loaded.case)  # in the units the case wrote
    est = ", ".join(
        f"{n} = {shown.format(n, e['value'], e['unit'], e['std'], digits=4)}"
        for n, e in s["estimates"].items()
    )
    return [CALIBRATION] + [f"calibration/{f}" for f in s["files"]], est


# ---- optimize ----------------------------------------------------------------------------------
def optimize_inputs(job: Job) -> dict[str, Any] | None:
    if job.loaded.case.optimization is None:
        return None
    return {
        "surrogate": job.file("surrogate.pt"),
        "calibration": job.file(CALIBRATION),
        "code": code_hash(),
        "case": job.section("seed", "parameters", "probes", "outputs", "optimization"),
        "trials": job.trials,
        "fe_solves": job.fe_solves,
        "tolerance": job.tolerance,
    }


def optimize(job: Job) -> tuple[list[str], str]:
    """Optimize on the surrogate, then spend up to `fe_solves` FE solves chosen by Bayesian
    optimisation with the surrogate as prior (none: the verify stage checks the optimum)."""
    from twinkit.optimization.driver import Options, optimize_case

    out = job.out / "optimize"
    # a new surrogate or problem: a new study, and infill from an old one is not reused
    for old in [out / "study.db", out / "infill.json", *out.glob("surrogate_*.pt")]:
        remove_file(old, job.out)
    opts = Options(
        trials=job.trials,
        surrogate=job.out / "surrogate.pt",
        verify=0,
        tolerance=job.tolerance,
        out=out,
        calibration=job.out / CALIBRATION,
        fe_budget=job.fe_solves,
    )
    s, _ = optimize_case(job.case_path, opts)
    t = s["trials"]
    note = f"{t['complete']} trials, {t['feasible']} feasible on the surrogate"
    if s.get("fe"):
        fe = s["fe"]
        note += f"; {len(fe['solves'])} FE solves, stopped: {fe['stopped']}"
    if not s["best"] or not s["best"][0]["predicted_feasible"]:
        job.notes.append("optimize: no feasible design found on the surrogate")
        note += "; no feasible design"
    return ["optimize/summary.json"] + [f"optimize/{f}" for f in s["files"]], note


# ---- verify ------------------------------------------------------------------------------------
def verify_inputs(job: Job) -> dict[str, Any] | None:
    if job.loaded.case.optimization is None:
        return None
    return {
        "optimize": job.file("optimize/summary.json"),
        "surrogate": job.file("surrogate.pt"),
        "calibration": job.file(CALIBRATION),
        "physics": job.physics(),
        "code": code_hash(),
        "tolerance": job.tolerance,
    }


def verify(job: Job) -> tuple[list[str], str]:
    from twinkit.pipeline.verify import verify_best

    s = verify_best(job.loaded, job.out, job.out / CALIBRATION, job.tolerance)
    if not s["checks"]:
        return ["verify/summary.json"], "no design to verify"
    c = s["checks"][0]
    if not c["verified"]:
        job.notes.append(
            f"verify: the best design is not verified (FE converged {c['fe_converged']}, "
            f"feasible {c['feasible']}, objective error {_pct(c['max_objective_error'])} vs "
            f"tolerance {100 * job.tolerance:g} %)"
        )
    note = f"verified: {c['verified']}; objective error {_pct(c['max_objective_error'])}"
    return ["verify/summary.json"] + [f"verify/{f}" for f in s["files"]], note


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f} %"


# ---- report ------------------------------------------------------------------------------------
REPORTED = (
    "nominal/summary.json",
    "train_summary.json",
    CALIBRATION,
    "optimize/summary.json",
    "verify/summary.json",
)


def report_inputs(job: Job) -> dict[str, Any]:
    from twinkit.pipeline.report import REPORT_VERSION

    return {"case": job.loaded.hash, "version": REPORT_VERSION} | {f: job.file(f) for f in REPORTED}


def report(job: Job) -> tuple[list[str], str]:
    from twinkit.pipeline.report import write_report

    path = write_report(job.loaded, job.out, job.sensors)
    return [path.name], f"{path.stat().st_size / 1e3:.0f} kB"


STAGES = (
    Stage("solve", solve_inputs, solve, renders=True),
    Stage("sample", sample_inputs, sample, live=False),
    Stage("train", train_inputs, train),
    Stage("calibrate", calibrate_inputs, calibrate),
    Stage("optimize", optimize_inputs, optimize),
    Stage("verify", verify_inputs, verify, renders=True),
    Stage("report", report_inputs, report),
)
