"""Optimization benchmark: Optuna on the surrogate against Optuna driving the FE solver directly.

``python benchmarks/optimize.py CASE [--surrogate runs/<case>/surrogate.pt]`` (about the sweep's
time plus a few minutes; ``--quick``: 200 trials and a 120 s FE study):

a. ``--trials`` (2000) surrogate trials through ``twinkit.optimization.driver`` with its default
   storage (a SQLite file) and sampler, in a fresh study: wall and CPU seconds against the 60 s
   target; and ``--baseline`` (300) trials of plain Optuna (``study.optimize`` on SQLite, one
   surrogate call per trial, as the command did before) against as many twinkit trials.
b. The optimum re-solved with FE (``--refine``: with FE infill and retraining, as
   ``twinkit optimize --refine``): FE objective against the surrogate's prediction (1 % target).
c. Optuna on FE solves (same sampler, seed and constraints; in memory, one process) for the wall
   time the surrogate route took *including* its sweep (``data/summary.json``) and training
   (``train_summary.json``): the best FE-feasible objective each route reaches, the FE solves
   each used (sweep + verification + infill for the surrogate), and their ratio (target: equal
   or better objective with at least 10x fewer FE solves).

Without ``--surrogate`` the analytic beam double of the tests stands in for the timing (a);
(b) and (c) need a trained surrogate of the case.
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
    """(a) the trials alone, timed; (b) then FE verification (and refinement) of the optimum."""
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
    opts = Options(
        trials=args.trials, verify=1, out=out, plots=False, study="bench", refine=args.refine
    )
    t0 = time.perf_counter()
    summary, _ = optimize_case(case, opts, surrogate=surrogate)
    name = summary["objectives"][0]["output"]
    best = summary["best"][0]
    fe = best["verification"]["outputs"][name]
    infill = sum(len(rd["designs"]) for rd in summary["rounds"] if rd.get("verify_seconds"))
    return r | {
        "verify_seconds": round(time.perf_counter() - t0, 1),
        "rounds": len(summary["rounds"]),
        "objective": name,
        "predicted": best["predicted"][name]["mean"],
        "fe": fe["fe"],
        "relative_error": fe["relative_error"],
        "fe_feasible": best["verification"]["feasible"],
        "verified": summary["verified"],
        "verification_solves": infill,
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


def fe_route(case: Path, budget: float, sampler: str, seed: int) -> dict:
    """(c) Optuna on FE solves (in memory) until `budget` seconds have passed; the first
    objective is the one compared."""
    import numpy as np
    import optuna

    from twinkit.case import load_case
    from twinkit.optimization.goals import Goals
    from twinkit.optimization.samplers import make_sampler
    from twinkit.optimization.verify import CaseSolver

    loaded = load_case(case)
    goals = Goals.from_case(loaded)
    fixed = loaded.case.parameter_values()
    design = {n: p for n, p in loaded.case.parameters.items() if p.role == "design"}
    solve = CaseSolver(loaded)
    history: list[tuple[int, float]] = []  # (FE solves so far, best feasible objective)
    better = min if goals.directions[0] == "minimize" else max
    solves = [0]  # attempts, failed ones included

    def objective(trial: Any) -> float | list[float]:
        x = {n: trial.suggest_float(n, *p.bounds, log=p.scale == "log") for n, p in design.items()}
        solves[0] += 1
        o = solve(fixed | x)
        if not o.converged:
            raise optuna.TrialPruned(o.message)
        vals = {k: np.array([o.outputs[k]]) for k in goals.outputs}
        f, g = goals.evaluate(vals, {k: np.zeros(1) for k in goals.outputs})
        for b, v in zip(goals.bounds, g[0], strict=True):
            trial.set_constraint(f"{b.output}_{b.kind}", float(v))
        if (g[0] <= 0).all():
            history.append((solves[0], float(better([f[0, 0], *(h[1] for h in history[-1:])]))))
        return float(f[0, 0]) if f.shape[1] == 1 else [float(v) for v in f[0]]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    smp = make_sampler(sampler, seed, len(design), shared=True)  # Optuna's own, one at a time
    study = optuna.create_study(directions=goals.directions, sampler=smp)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    study.optimize(objective, timeout=budget, catch=(Exception,))
    return {
        "budget_seconds": round(budget, 1),
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "direction": goals.directions[0],
        "fe_solves": solves[0],
        "failed": solves[0] - solve.solves,
        "feasible": len(history),
        "objective": history[-1][1] if history else None,
        "history": history,
    }


def _setup_seconds(surrogate_path: Path, data: Path) -> dict[str, float]:
    """Wall seconds of the sweep and of the training that made the surrogate."""
    sweep = json.loads((data / "summary.json").read_text())
    train = json.loads((surrogate_path.parent / "train_summary.json").read_text())
    return {
        "sweep_seconds": float(sweep["timings"]["wall_seconds"]),
        "sweep_solves": int(sweep["counts"]["computed"] + sweep["counts"]["reused"]),
        "training_seconds": float(train["training_seconds"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case", nargs="?", type=Path, help="case file with an optimization section")
    ap.add_argument("--surrogate", type=Path, help="trained surrogate (else the analytic beam)")
    ap.add_argument("--data", type=Path, help="its sweep folder (default runs/<case>/data)")
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--verify", type=int, default=1, help="FE-verify the optimum (0: no)")
    ap.add_argument("--refine", action="store_true", help="FE infill and retraining (b)")
    ap.add_argument("--fe-budget", type=float, help="seconds for the FE study (c); 0: skip it")
    ap.add_argument("--baseline", type=int, default=300, help="trials of plain Optuna (0: no)")
    ap.add_argument("--quick", action="store_true", help="200 trials, 120 s FE study")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.quick:
        args.trials, args.baseline = 200, min(args.baseline, 100)
        args.fe_budget = args.fe_budget if args.fe_budget is not None else 120
    tmp = Path(tempfile.mkdtemp(prefix="twinkit-bench-optimize-"))
    from twinkit.case import load_case

    if args.surrogate:
        from twinkit.training import read_surrogate

        case, surrogate = args.case, read_surrogate(args.surrogate)
        data = args.data or ROOT / "runs" / load_case(case).name / "data"
        setup = _setup_seconds(args.surrogate, data)
    else:
        case, surrogate = _beam_double(tmp)
        args.verify, args.fe_budget, setup = 0, 0, {}
    loaded = load_case(case)
    print(f"(a, b) {args.trials} surrogate trials, SQLite study in {tmp} ...", flush=True)
    s = surrogate_route(case, surrogate, args, tmp / "optimize")
    print(json.dumps(s, indent=1), flush=True)
    result: dict[str, Any] = {"case": loaded.name, "surrogate": s, "setup": setup}
    if args.baseline:
        print(f"(a) baseline: plain Optuna, {args.baseline} trials ...", flush=True)
        result["baseline"] = baseline(case, surrogate, args.baseline, tmp / "baseline")
    spent = sum(setup.get(k, 0.0) for k in ("sweep_seconds", "training_seconds"))
    budget = args.fe_budget if args.fe_budget is not None else spent + s["command_seconds"]
    budget += 0 if args.fe_budget is not None else s.get("verify_seconds", 0.0)
    if budget > 0:
        print(f"(c) FE-driven study, {budget:.0f} s ...", flush=True)
        result["fe"] = fe_route(case, budget, s["sampler"], loaded.case.seed)
    _report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


def _report(r: dict[str, Any]) -> None:
    s, f, setup = r["surrogate"], r.get("fe"), r["setup"]
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
    if not f:
        return
    solves = setup.get("sweep_solves", 0) + s.get("verification_solves", 0)
    mine = s["fe"] if s.get("fe_feasible") else None
    sign = 1 if f["direction"] == "minimize" else -1
    first = next((n for n, v in f["history"] if mine is not None and sign * (v - mine) <= 0), None)
    rows = [
        ("", "surrogate route", "FE-driven Optuna"),
        (
            "wall seconds",
            f"{setup.get('sweep_seconds', 0) + setup.get('training_seconds', 0):.0f} setup + "
            f"{s['command_seconds'] + s.get('verify_seconds', 0):.0f}",
            f"{f['wall_seconds']:.0f} (budget {f['budget_seconds']:.0f})",
        ),
        ("FE solves", f"{solves}", f"{f['fe_solves']}"),
        ("best FE-feasible objective", f"{mine}", f"{f['objective']}"),
    ]
    print(f"{r['case']}: (c)")
    for a, b, c in rows:
        print(f"  {a:28s} {b:>28s} {c:>28s}")
    ratio = f["fe_solves"] / max(solves, 1)
    print(
        f"  FE solves ratio (FE-driven / surrogate route): {ratio:.2f} (target ≥ 10 with an equal"
        f" or better objective); FE-driven reached the surrogate route's objective after "
        f"{first if first is not None else 'no'} solves"
    )


if __name__ == "__main__":
    main()
