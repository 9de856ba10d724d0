"""`twinkit optimize`: design optimization on the surrogate, checked or searched with FE.

Reads the case's `optimization` section and runs an Optuna study over the design parameters on
the surrogate (SQLite `runs/<case>/optimize/study.db` by default, run in memory and saved in
batches; resumable). Then either re-solves the best design (or up to `verify` Pareto designs)
with FE, or, with `fe_budget` N, spends up to N FE solves chosen by constrained Bayesian
optimisation (`twinkit.optimization.fe_search`) with the surrogate as prior (the study's best
trials seed the acquisition) or, with `use_surrogate=False`, from nothing; its answer is the best
FE-feasible design solved, verified when the expected improvement left is below
`ei_tolerance`. Writes `summary.json`, `history.png`, (several objectives) `pareto.png` and
(FE search) a picture of the best design's main field.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twinkit.case import CaseError, LoadedCase, load_case
from twinkit.optimization.design_space import Problem, build_problem
from twinkit.optimization.goals import Goals
from twinkit.optimization.study import (
    best_trials,
    complete_trials,
    feasible,
    open_study,
    redacted_errors,
    run_trials,
    sampler_name,
)
from twinkit.optimization.verify import FESolve, verify_designs
from twinkit.training import read_surrogate


@dataclass(frozen=True)
class Options:
    """What `twinkit optimize` does; see the command's help for each option."""

    trials: int = 200
    storage: str | None = None
    study: str | None = None
    surrogate: Path | None = None
    verify: int = 1
    robust: float = 0.0
    tolerance: float = 0.01
    out: Path | None = None
    plots: bool = True
    overrides: Mapping[str, str] = field(default_factory=dict)
    seed: int | None = None
    calibration: Path | None = None  # latent values (default runs/<case>/calibration/summary.json)
    fe_budget: int = 0  # FE solves the study may hold, chosen by Bayesian optimisation (0: off)
    use_surrogate: bool = True  # False: the FE search starts from nothing (no sweep needed)
    ei_tolerance: float = 1e-4  # stop when the expected improvement left is below this × |best|
    fe_workers: int = 1  # FE search: designs per round, solved on this many worker processes


def _check(opts: Options) -> None:
    if opts.trials < 1:
        raise CaseError(f"--trials {opts.trials}: expected at least 1")
    if opts.verify < 0:
        raise CaseError("--verify: expected 0 or more")
    if not 0 < opts.tolerance < 1:
        raise CaseError(f"--tolerance {opts.tolerance}: expected a fraction in (0, 1)")
    if opts.fe_budget < 0:
        raise CaseError(f"--fe-budget {opts.fe_budget}: expected 0 or more FE solves")
    if opts.fe_budget and opts.robust:
        raise CaseError("--fe-budget: not with --robust (the FE search judges designs by FE)")
    if not 0 < opts.ei_tolerance < 1:
        raise CaseError(f"--ei-tolerance {opts.ei_tolerance}: expected a fraction in (0, 1)")
    if opts.fe_workers < 1:
        raise CaseError(f"--fe-workers {opts.fe_workers}: expected 1 or more")
    if opts.fe_workers > 1 and not opts.fe_budget:
        raise CaseError("--fe-workers: only with --fe-budget N (the FE search's rounds)")
    if not opts.use_surrogate and not opts.fe_budget:
        raise CaseError("--no-surrogate needs --fe-budget N (the FE solves to spend)")


@dataclass
class _Setup:
    """What both modes start from: the case, the problem, where the studies go."""

    loaded: LoadedCase
    problem: Problem
    out: Path
    storage: str
    name: str
    sampler: str
    seed: int
    source: str  # the surrogate's file, type name, or "none"
    surrogate_id: str


def _setup(case_path: Path, opts: Options, surrogate: Any) -> _Setup:
    _check(opts)
    loaded = load_case(case_path, check_regions=opts.verify > 0 or opts.fe_budget > 0)
    goals = Goals.from_case(loaded, opts.robust)
    runs = Path("runs") / loaded.name
    path = opts.surrogate or runs / "surrogate.pt"
    source = type(surrogate).__name__ if opts.use_surrogate else "none"
    if surrogate is None and opts.use_surrogate:
        surrogate, source = read_surrogate(path), str(path)
    calibration = opts.calibration or runs / "calibration" / "summary.json"
    model = surrogate if opts.use_surrogate else None
    problem = build_problem(loaded, goals, model, opts.overrides, calibration)
    out = opts.out or runs / "optimize"
    out.mkdir(parents=True, exist_ok=True)
    return _Setup(
        loaded,
        problem,
        out,
        opts.storage or f"sqlite:///{(out / 'study.db').resolve()}",
        opts.study or loaded.name,
        sampler_name(problem, loaded.case.optimization.sampler),  # type: ignore[union-attr]
        loaded.case.seed if opts.seed is None else opts.seed,
        source,
        _file_id(path) if source == str(path) else source,
    )


def optimize_case(
    case_path: Path,
    opts: Options,
    surrogate: Any = None,
    solve: FESolve | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any], Path]:
    """Run the command; returns the summary and the path of summary.json.

    `surrogate` (an object with the Surrogate API) and `solve` (FE) replace the defaults: the
    surrogate file and `CaseSolver`. `progress` gets each FE solve of the FE search as it is
    done (a row of summary["fe"]["solves"]). No error it raises shows the password of
    `opts.storage` (`redacted_errors`), at the start or during the trials.
    """
    with redacted_errors(opts.storage):
        t0 = time.perf_counter()
        setup = _setup(case_path, opts, surrogate)
        if opts.fe_budget:
            summary = _fe_search(setup, opts, solve, progress)
        else:
            summary = _on_surrogate(setup, opts, solve)
        summary["seconds"] = round(time.perf_counter() - t0, 3)
        from twinkit.files import write_json

        path = setup.out / "summary.json"
        write_json(path, summary)
        return summary, path


def _trials(setup: _Setup, opts: Options, k: int) -> tuple[Any, dict[str, Any], list[Any]]:
    """The study on the surrogate run to `opts.trials`: the study, its round, its `k` best."""
    problem = setup.problem
    with open_study(
        problem, setup.storage, setup.name, setup.sampler, setup.seed, setup.surrogate_id
    ) as opened:
        study = opened.study
        ts = time.perf_counter()
        added = run_trials(opened, problem, opts.trials)
        seconds = time.perf_counter() - ts
    picks = best_trials(study, k)
    return study, _round(study, problem, picks, added, seconds, setup.name), picks


def _on_surrogate(setup: _Setup, opts: Options, solve: FESolve | None) -> dict[str, Any]:
    """Trials on the surrogate; the best design(s) re-solved with FE when `opts.verify`."""
    from twinkit.optimization.verify import CaseSolver

    problem = setup.problem
    study, round_, picks = _trials(setup, opts, max(opts.verify, 1))
    if opts.verify and picks:
        tv = time.perf_counter()
        solve = solve or CaseSolver(setup.loaded)
        checks, _ = verify_designs(problem, [p.params for p in picks], solve, opts.tolerance)
        for d, c in zip(round_["designs"], checks, strict=True):
            d["verification"] = c
        round_["verify_seconds"] = round(time.perf_counter() - tv, 3)
    files = _plots(study, problem, setup.out) if opts.plots else []
    return _summary(setup, opts, [round_], files)


def _fe_search(
    setup: _Setup,
    opts: Options,
    solve: FESolve | None,
    progress: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    """Trials on the surrogate (if any) for hints, then the FE search; its best as `best`."""
    from twinkit.optimization.fe_search import search
    from twinkit.optimization.fe_solves import solve_row
    from twinkit.optimization.fe_workers import FEWorkers
    from twinkit.optimization.study import open_fe_study
    from twinkit.optimization.verify import CaseSolver, FEOutcome, check_design

    problem, goals, name = setup.problem, setup.problem.goals, setup.name
    rounds: list[dict[str, Any]] = []
    hints: list[dict[str, float]] = []
    study = None
    if opts.use_surrogate:  # cheap trials on the surrogate: where the acquisition looks first
        study, round_, _ = _trials(setup, opts, 1)
        rounds.append(round_)
        done = sorted(
            (t for t in complete_trials(study) if feasible(t)),
            key=lambda t: t.values[0] * (1 if goals.directions[0] == "minimize" else -1),
        )
        hints = [dict(t.params) for t in done[:5]]
    with ExitStack() as stack:
        if solve is None and opts.fe_workers > 1:
            solve = stack.enter_context(FEWorkers(setup.loaded, opts.fe_workers))
        solve = solve or CaseSolver(setup.loaded)
        fe_study = open_fe_study(problem, setup.storage, f"{name}-fe")

        def report(s: Any) -> None:
            if progress is not None:
                progress(solve_row(problem, s))

        ts = time.perf_counter()
        found = search(
            problem, solve, fe_study, opts.fe_budget, opts.ei_tolerance, setup.seed,
            opts.use_surrogate, hints, report, opts.fe_workers,
        )  # fmt: skip
        fe_seconds = time.perf_counter() - ts
        best = found.best
        designs: list[dict[str, Any]] = []
        files: list[str] = []
        if best is not None:
            outcome = best.outcome or FEOutcome(
                problem.values(best.design),
                best.outputs,
                best.converged,
                best.seconds,
                best.message,
            )
            check = check_design(problem, best.design, outcome, opts.tolerance, best.predicted)
            check["verified"] = bool(found.converged and check["feasible"])
            design = {n: best.design[n] for n in problem.space}
            designs.append(
                {
                    "trial": best.number,
                    "design": design,
                    "predicted": {
                        o: {"mean": r["predicted"], "std": r["std"]}
                        for o, r in check["outputs"].items()
                    },  # fmt: skip
                    "predicted_feasible": check["feasible"],
                    "verification": check,
                }
            )
            if opts.plots and outcome.result is not None:
                files += _field_picture(setup.loaded, outcome.result, setup.out)
            elif opts.plots and isinstance(solve, FEWorkers):  # the worker that solved it draws it
                files += solve.picture(outcome, setup.out)
    fe_rows = [solve_row(problem, s) for s in found.solves]
    on_surrogate = rounds[0]["trials"] if rounds else {"complete": 0, "feasible": 0, "this_run": 0}
    rounds.append(
        {
            "study": f"{name}-fe",
            "trials": on_surrogate,  # the summary's trials: those on the surrogate
            "optimize_seconds": round(fe_seconds, 3),
            "designs": designs,
        }
    )
    if opts.plots and study is not None:
        files = _plots(study, problem, setup.out) + files
    summary = _summary(setup, opts, rounds, files)
    summary["fe"] = {
        "mode": found.mode,
        "budget": opts.fe_budget,
        "workers": opts.fe_workers,
        "solves": fe_rows,
        "this_run": sum(s.new for s in found.solves),
        "best": None if best is None else best.number,
        "stopped": found.stopped,
        "converged": found.converged,
        "expected_improvement": found.expected_improvement,
        "noise_floor": found.noise_floor,
        "widened": found.widened,
        "ei_tolerance": opts.ei_tolerance,
        "repeated_designs": len(fe_rows) - len({json.dumps(r["design"]) for r in fe_rows}),
    }
    return summary


def _field_picture(loaded: LoadedCase, result: Any, out: Path) -> list[str]:
    from twinkit.case.display import DisplayUnits
    from twinkit.optimization.plots import plot_design_field

    return plot_design_field(result, out, DisplayUnits.from_case(loaded.case))


def _file_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _round(
    study: Any, problem: Problem, picks: list[Any], added: int, seconds: float, name: str
) -> dict[str, Any]:
    """One study's outcome: trial counts and the chosen designs with their predictions."""
    done = complete_trials(study)
    designs = []
    if picks:
        mean, std = problem.predict([p.params for p in picks])
        for i, p in enumerate(picks):
            designs.append(
                {
                    "trial": p.number,
                    "design": dict(p.params),
                    "predicted": {
                        o: {"mean": float(mean[o][i]), "std": float(std[o][i])} for o in mean
                    },
                    "predicted_feasible": feasible(p),
                }
            )
    return {
        "study": name,
        "trials": {
            "complete": len(done),
            "feasible": sum(feasible(t) for t in done),
            "this_run": added,
        },
        "optimize_seconds": round(seconds, 3),
        "designs": designs,
    }


def _plots(study: Any, problem: Problem, out: Path) -> list[str]:
    from twinkit.optimization.plots import plot_history, plot_pareto

    files = [plot_history(study, problem.goals, out / "history.png")]
    if len(problem.goals.objectives) > 1:
        files.append(plot_pareto(study, problem.goals, out / "pareto.png"))
    return files


def _summary(
    setup: _Setup, opts: Options, rounds: list[dict[str, Any]], files: list[str]
) -> dict[str, Any]:
    from twinkit.optimization.study import redact
    from twinkit.version import __version__

    loaded, problem = setup.loaded, setup.problem
    g = problem.goals
    last = rounds[-1]
    verified = [d.get("verification", {}).get("verified") for d in last["designs"]]
    return {
        "case": loaded.name,
        "case_file": str(loaded.path),
        "case_hash": loaded.hash,
        "twinkit_version": __version__,
        "surrogate": setup.source,
        "storage": redact(setup.storage),
        "study": last["study"],
        "sampler": setup.sampler,
        "objectives": [{"output": o, "direction": d, "unit": g.units[o]} for o, d in g.objectives],
        "constraints": [{"output": b.output, b.kind: b.value, "unit": b.unit} for b in g.bounds],
        "robust": g.robust,
        "design_space": {
            n: {"lower": d.lower, "upper": d.upper, "scale": "log" if d.log else "linear"}
            for n, d in problem.space.items()
        },
        "fixed": {n: {"value": v, "source": problem.sources[n]} for n, v in problem.fixed.items()},
        "trials": last["trials"] | {"requested": opts.trials},
        "best": last["designs"],
        "verified": bool(verified) and all(v is True for v in verified),
        "tolerance": opts.tolerance,
        "rounds": rounds,
        "files": files,
    }
