"""Optimization benchmark: Optuna on the surrogate against Optuna driving the FE solver directly.

1. ``--trials`` (default 2000) surrogate trials through ``twinkit.optimize`` with its default
   storage (SQLite) and sampler: wall time, best predicted objective, and (``--verify``) the FE
   value of that optimum and its relative error.
2. Optuna on the FE solver, same sampler and constraints, in memory, for the same wall-time
   budget as step 1 plus the FE time the surrogate cost (its training samples' solve time, when
   the surrogate records it) or ``--fe-budget`` seconds: best feasible objective and FE solves.

``python benchmarks/optimize.py CASE --surrogate runs/<case>/surrogate.pt``. Without a surrogate
file the analytic beam double of the tests stands in (``tests/twinkit/beam_surrogate.py``, with
its case); its FE comparison then only exercises the code (beam theory is not the FE model).
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


def _beam_double(folder: Path) -> tuple[Path, Any]:
    spec = importlib.util.spec_from_file_location("beam", ROOT / "tests/twinkit/beam_surrogate.py")
    assert spec and spec.loader
    beam = importlib.util.module_from_spec(spec)
    sys.modules["beam"] = beam  # dataclasses look their module up
    spec.loader.exec_module(beam)
    case = folder / "beam.yaml"
    case.write_text(beam.BEAM_CASE)
    return case, beam.BeamSurrogate()


def surrogate_run(case: Path, surrogate: Any, trials: int, verify: int, out: Path) -> dict:
    from twinkit.optimize import Options, optimize_case

    t0 = time.perf_counter()
    opts = Options(trials=trials, verify=verify, out=out, plots=False, study=f"bench-{trials}")
    summary, _ = optimize_case(case, opts, surrogate=surrogate)
    wall = time.perf_counter() - t0
    best = summary["best"][0]
    name = summary["objectives"][0]["output"]
    check = best.get("verification") or {}
    fe = check.get("outputs", {}).get(name, {})
    meta = getattr(surrogate, "meta", {}) or {}
    return {
        "trials": summary["trials"]["complete"],
        "optimize_seconds": summary["rounds"][-1]["optimize_seconds"],
        "verify_seconds": summary["rounds"][-1].get("verify_seconds", 0.0),
        "wall_seconds": round(wall, 3),
        "objective": name,
        "predicted": best["predicted"][name]["mean"],
        "fe": fe.get("fe"),
        "relative_error": fe.get("relative_error"),
        "verified": check.get("verified"),
        "training_samples": meta.get("n_train"),
        "design": best["design"],
    }


def fe_run(case: Path, budget: float, sampler: str, seed: int) -> dict:
    """Optuna on FE solves (in memory) until `budget` seconds have passed."""
    import numpy as np
    import optuna

    from twinkit.case import load_case
    from twinkit.design_space import Dimension
    from twinkit.objectives import Goals
    from twinkit.study import _sampler
    from twinkit.verify import CaseSolver

    loaded = load_case(case)
    goals = Goals.from_case(loaded)
    fixed = loaded.case.parameter_values()
    space = {
        n: Dimension(*p.bounds, p.scale == "log")
        for n, p in loaded.case.parameters.items()
        if p.role == "design"
    }
    solve = CaseSolver(loaded)

    def objective(trial: Any) -> float | list[float]:
        design = {n: trial.suggest_float(n, d.lower, d.upper, log=d.log) for n, d in space.items()}
        o = solve(fixed | design)
        if not o.converged:
            raise optuna.TrialPruned(o.message)
        vals = {k: np.array([o.outputs[k]]) for k in goals.outputs}
        f, g = goals.evaluate(vals, {k: np.zeros(1) for k in goals.outputs})
        for b, v in zip(goals.bounds, g[0], strict=True):
            trial.set_constraint(f"{b.output}_{b.kind}", float(v))
        return float(f[0, 0]) if f.shape[1] == 1 else [float(v) for v in f[0]]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=goals.directions, sampler=_sampler(sampler, seed))
    t0 = time.perf_counter()
    study.optimize(objective, timeout=budget)
    ok = [t for t in study.trials if t.state.name == "COMPLETE" and t.constraints]
    ok = [t for t in ok if all(v <= 0 for v in t.constraints.values())]
    best = None
    if ok:
        pick = min if goals.directions[0] == "minimize" else max
        best = pick(ok, key=lambda t: t.values[0])
    return {
        "budget_seconds": round(budget, 1),
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "fe_solves": solve.solves,
        "feasible": len(ok),
        "objective": None if best is None else best.values[0],
        "design": None if best is None else best.params,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case", nargs="?", type=Path, help="case file with an optimization section")
    ap.add_argument("--surrogate", type=Path, help="surrogate file (else the analytic beam)")
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--verify", type=int, default=1, help="FE-verify the optimum (0: no)")
    ap.add_argument("--fe-budget", type=float, help="seconds for the FE-driven study")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="twinkit-bench-optimize-"))
    if args.surrogate:
        from twinkit.optimize import load_surrogate_file

        case, surrogate = args.case, load_surrogate_file(args.surrogate)
    else:
        case, surrogate = _beam_double(tmp)
        args.verify = 0
    from twinkit.case import load_case

    loaded = load_case(case)
    spec = loaded.case.optimization
    assert spec is not None, f"{case}: no optimization section"
    sampler = spec.sampler or ("tpe" if len(spec.objectives) == 1 else "nsga2")
    print(f"surrogate study: {args.trials} trials ({sampler}, SQLite) ...", flush=True)
    s = surrogate_run(case, surrogate, args.trials, args.verify, tmp / "optimize")
    print(json.dumps(s, indent=1), flush=True)
    train_fe = (getattr(surrogate, "meta", {}) or {}).get("provenance", {}).get("fe_seconds", 0.0)
    budget = args.fe_budget or s["wall_seconds"] + float(train_fe or 0.0)
    print(f"FE-driven study: {budget:.0f} s budget ...", flush=True)
    f = fe_run(case, budget, sampler, loaded.case.seed)
    print(json.dumps(f, indent=1), flush=True)
    fe_used = (s["training_samples"] or 0) + args.verify
    print(
        f"\nsurrogate: {s['trials']} trials in {s['optimize_seconds']:.1f} s "
        f"({1e3 * s['optimize_seconds'] / max(s['trials'], 1):.1f} ms/trial); best "
        f"{s['objective']} = {s['predicted']:.6g} predicted, FE {s['fe']}, error "
        f"{s['relative_error']}; FE solves {fe_used} (training + verification)\n"
        f"FE-driven: {f['fe_solves']} solves in {f['wall_seconds']} s; best feasible "
        f"{s['objective']} = {f['objective']}"
    )
    if args.json:
        args.json.write_text(json.dumps({"surrogate": s, "fe": f, "sampler": sampler}, indent=1))


if __name__ == "__main__":
    main()
