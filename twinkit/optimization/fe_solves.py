"""The FE solves of a search (`twinkit.optimization.fe_search`): one solve's record, its
objective and bound violation on FE values, the best of them, and each as a trial of the Optuna
study `<name>-fe` (the design as params, the FE objective as value, the goal outputs, the
prediction made before the solve and the solver's verdict as user attributes)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinkit.optimization.design_space import Problem
from twinkit.optimization.verify import FEOutcome


@dataclass
class Solve:
    """One FE solve of the search: the design (SI), its goal outputs by FE, what the model
    predicted before (mean, std) and whether it was solved in this run."""

    number: int
    design: dict[str, float]
    outputs: dict[str, float]
    converged: bool
    message: str
    seconds: float
    predicted: dict[str, list[float]]
    new: bool = False
    outcome: FEOutcome | None = field(default=None, repr=False)


def objective_of(problem: Problem, s: Solve) -> float | None:
    out = problem.goals.objectives[0][0]
    return s.outputs.get(out) if s.converged else None


def violation(problem: Problem, s: Solve) -> float:
    """Sum of the relative bound violations on FE values, as `Goals.evaluate` scales them (0:
    feasible; inf: no FE result)."""
    goals = problem.goals
    got = [s.outputs.get(o) for o in goals.outputs]
    if not s.converged or any(v is None or not math.isfinite(v) for v in got):
        return math.inf
    values = {o: np.array([v]) for o, v in zip(goals.outputs, got, strict=True)}
    _, g = goals.evaluate(values, {o: np.zeros(1) for o in goals.outputs})
    return float(np.maximum(g, 0.0).sum())


def best_solve(problem: Problem, solves: Sequence[Solve]) -> Solve | None:
    """The best FE-feasible solve, else the least infeasible converged one."""
    sign = 1.0 if problem.goals.objectives[0][1] == "minimize" else -1.0
    ok = [s for s in solves if violation(problem, s) == 0.0]
    if ok:
        return min(ok, key=lambda s: (sign * float(objective_of(problem, s) or 0.0), s.number))
    done = [s for s in solves if math.isfinite(violation(problem, s))]
    return min(done, key=lambda s: (violation(problem, s), s.number)) if done else None


def store(study: Any, problem: Problem, s: Solve) -> None:
    import optuna

    from twinkit.optimization.study import distributions

    value = objective_of(problem, s)
    ok = value is not None and math.isfinite(value)
    trial = optuna.trial.create_trial(
        state=optuna.trial.TrialState.COMPLETE if ok else optuna.trial.TrialState.FAIL,
        value=float(value) if ok else None,  # type: ignore[arg-type]
        params={
            n: min(max(v, problem.space[n].lower), problem.space[n].upper)
            for n, v in s.design.items()
        },  # fmt: skip
        distributions=distributions(problem),
        user_attrs={
            "design": s.design,
            "outputs": s.outputs,
            "converged": s.converged,
            "message": s.message,
            "seconds": round(s.seconds, 3),
            "predicted": s.predicted,
        },
    )
    study.add_trial(trial)


def stored(study: Any, names: list[str]) -> list[Solve]:
    out: list[Solve] = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        a = t.user_attrs
        if "design" not in a:
            continue
        out.append(
            Solve(
                len(out),
                {n: float(a["design"][n]) for n in names},
                {k: float(v) for k, v in a["outputs"].items()},
                bool(a["converged"]),
                str(a["message"]),
                float(a["seconds"]),
                {k: list(v) for k, v in a["predicted"].items()},
            )
        )
    return out


def solve_row(problem: Problem, s: Solve) -> dict[str, Any]:
    """A solve as the summary shows it: design, FE and predicted values, miss in σ."""
    rows = {}
    for o in problem.goals.outputs:
        mean, std = s.predicted.get(o, [math.nan, math.nan])
        fe = s.outputs.get(o)
        miss = (fe - mean) / std if fe is not None and std and std > 0 else None
        rows[o] = {
            "fe": fe,
            "predicted": None if math.isnan(mean) else mean,
            "std": None if math.isnan(std) else std,
            "miss_sigma": None if miss is None or not math.isfinite(miss) else miss,
        }
    return {
        "solve": s.number,
        "design": s.design,
        "outputs": rows,
        "converged": s.converged,
        "feasible": violation(problem, s) == 0.0,
        "seconds": round(s.seconds, 3),
        "this_run": s.new,
    }
