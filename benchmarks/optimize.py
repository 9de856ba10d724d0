"""Optimization benchmark: the cost of Optuna trials on the surrogate, and an FE check.

``python benchmarks/optimize.py CASE [--surrogate runs/<case>/surrogate.pt]`` (a few minutes;
``--quick``: 200 trials). How many FE solves the routes to an optimum spend, against BoTorch on FE,
is ``benchmarks/race.py``.

a. ``--trials`` (2000) surrogate trials through ``twinkit.optimization.driver`` with its default
   storage (a SQLite file) and sampler, in a fresh study: wall and CPU seconds against the 60 s
   target; and ``--baseline`` (300) trials of plain Optuna (``study.optimize`` on SQLite, one
   surrogate call per trial, as the command did before) against as many twinkit trials.
b. The optimum re-solved with FE: FE objective against the surrogate's prediction (1 % target).

Without ``--surrogate`` the analytic beam double of the tests stands in for the timing (a);
(b) needs a trained surrogate of the case.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mpi4py import MPI  # noqa: F401  (before petsc4py: the wheel's petsc4py needs libmpi loaded)

ROOT = Path(__file__).parents[1]
TRIALS_TARGET_S = 60.0
TOLERANCE = 0.01


def _beam_double(folder: Path) -> tuple[Path, Any]:
    spec = importlib.util.spec_from_file_location("beam", ROOT / "tests/twinkit/beam_surrogate.py")
    assert spec and spec.loader
    beam = importlib.util.module_from_spec(spec)
    sys.modules["beam"] = beam  # dataclasses look their module up
    spec.loader.exec_module(beam)
    case = folder / "beam.yaml"
    case.write_text(beam.BEAM_CASE)
    return case, beam.BeamSurrogate()


def surrogate_route(case: Path, surrogate: Any, args: argparse.Namespace, out: Path) -> dict:
    """(a) the trials alone, timed; (b) then FE verification of the optimum."""
    from twinkit.optimization.driver import Options, optimize_case

    opts = Options(trials=args.trials, verify=0, out=out, plots=False, study="bench")
    t0, c0 = time.perf_counter(), time.process_time()
    summary, _ = optimize_case(case, opts, surrogate=surrogate)
    r = {
        "trials": summary["trials"]["complete"],
        "trials_seconds": summary["rounds"][0]["optimize_seconds"],
        "command_seconds": round(time.perf_counter() - t0, 2),
        "command_cpu_seconds": round(time.process_time() - c0, 2),
        "sampler": summary["sampler"],
    }
    if not args.verify:
        return r
    opts = Options(trials=args.trials, verify=1, out=out, plots=False, study="bench")
    t0 = time.perf_counter()
    summary, _ = optimize_case(case, opts, surrogate=surrogate)
    name = summary["objectives"][0]["output"]
    best = summary["best"][0]
    fe = best["verification"]["outputs"][name]
    return r | {
        "verify_seconds": round(time.perf_counter() - t0, 1),
        "objective": name,
        "predicted": best["predicted"][name]["mean"],
        "fe": fe["fe"],
        "relative_error": fe["relative_error"],
        "fe_feasible": best["verification"]["feasible"],
        "verified": summary["verified"],
        "design": best["design"],
    }


def baseline(case: Path, surrogate: Any, trials: int, out: Path) -> dict:
    """Plain Optuna as the optimize command used it before: `study.optimize` on the same SQLite
    storage, TPE (multivariate, constant liar) and one surrogate call per trial; against a
    fresh twinkit study of the same size."""
    import optuna

    from twinkit.case import load_case
    from twinkit.optimization.design_space import build_problem
    from twinkit.optimization.driver import Options, optimize_case
    from twinkit.optimization.goals import Goals
    from twinkit.optimization.study import storage_for

    loaded = load_case(case)
    goals = Goals.from_case(loaded)
    problem = build_problem(loaded, goals, surrogate, {}, out / "no-calibration.json")
    out.mkdir(parents=True, exist_ok=True)
    sampler = optuna.samplers.TPESampler(seed=loaded.case.seed, multivariate=True)
    study = optuna.create_study(
        storage=storage_for(f"sqlite:///{out / 'baseline.db'}"),
        directions=goals.directions,  # type: ignore[arg-type]
        sampler=sampler,
    )

    def objective(trial: Any) -> float:
        d = problem.space
        x = {n: trial.suggest_float(n, v.lower, v.upper, log=v.log) for n, v in d.items()}
        f, g = goals.evaluate(*problem.predict([x]))
        for b, v in zip(goals.bounds, g[0], strict=True):
            trial.set_constraint(f"{b.output}_{b.kind}", float(v))
        return float(f[0, 0])

    t0 = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    plain = time.perf_counter() - t0
    opts = Options(trials=trials, verify=0, out=out, plots=False, study="same-size")
    summary, _ = optimize_case(case, opts, surrogate=surrogate)
    mine = summary["rounds"][0]["optimize_seconds"]
    return {"trials": trials, "optuna_seconds": round(plain, 2), "twinkit_seconds": mine}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case", nargs="?", type=Path, help="case file with an optimization section")
    ap.add_argument("--surrogate", type=Path, help="trained surrogate (else the analytic beam)")
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--verify", type=int, default=1, help="FE-verify the optimum (0: no)")
    ap.add_argument("--baseline", type=int, default=300, help="trials of plain Optuna (0: no)")
    ap.add_argument("--quick", action="store_true", help="200 trials, 100 baseline trials")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.quick:
        args.trials, args.baseline = 200, min(args.baseline, 100)
    tmp = Path(tempfile.mkdtemp(prefix="twinkit-bench-optimize-"))
    from twinkit.case import load_case

    if args.surrogate:
        from twinkit.training import read_surrogate

        case, surrogate = args.case, read_surrogate(args.surrogate)
    else:
        case, surrogate = _beam_double(tmp)
        args.verify = 0
    loaded = load_case(case)
    print(f"(a, b) {args.trials} surrogate trials, SQLite study in {tmp} ...", flush=True)
    s = surrogate_route(case, surrogate, args, tmp / "optimize")
    print(json.dumps(s, indent=1), flush=True)
    result: dict[str, Any] = {"case": loaded.name, "surrogate": s}
    if args.baseline:
        print(f"(a) baseline: plain Optuna, {args.baseline} trials ...", flush=True)
        result["baseline"] = baseline(case, surrogate, args.baseline, tmp / "baseline")
    _report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


def _report(r: dict[str, Any]) -> None:
    s = r["surrogate"]
    ok = "met" if s["trials_seconds"] < TRIALS_TARGET_S else "NOT met"
    print(
        f"\n{r['case']}: (a) {s['trials']} trials ({s['sampler']}) in {s['trials_seconds']:.1f} s"
        f" wall, {s['command_cpu_seconds']:.1f} s CPU for the whole command: < 60 s {ok}"
    )
    if "baseline" in r:
        b = r["baseline"]
        x = b["optuna_seconds"] / b["twinkit_seconds"]
        print(
            f"{r['case']}: (a) {b['trials']} trials: plain Optuna {b['optuna_seconds']:.1f} s, "
            f"twinkit {b['twinkit_seconds']:.1f} s: {x:.1f}x"
        )
    if "fe" in s:
        ok = "met" if s["relative_error"] <= TOLERANCE else "NOT met"
        print(
            f"{r['case']}: (b) {s['objective']} predicted {s['predicted']:.6g}, FE {s['fe']:.6g}: "
            f"error {100 * s['relative_error']:.2f} % (1 % {ok}); FE-feasible {s['fe_feasible']}"
        )


if __name__ == "__main__":
    main()
