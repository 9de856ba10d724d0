"""Pictures of an optimization study: objective history and Pareto front (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from twinkit.optimization.goals import Goals
from twinkit.optimization.study import complete_trials, feasible
from twinkit.surrogates.plots import default_style


def _label(goals: Goals, i: int) -> str:
    out, direction = goals.objectives[i]
    unit = goals.units.get(out, "")
    return f"{out} [{unit}] ({direction})" if unit not in ("", "1") else f"{out} ({direction})"


@default_style
def plot_history(study: Any, goals: Goals, path: Path) -> str:
    """Each trial's first objective (feasible dark, infeasible light) and the best so far."""
    from matplotlib.figure import Figure

    trials = complete_trials(study)
    n = np.array([t.number for t in trials])
    f = np.array([t.values[0] for t in trials])
    ok = np.array([feasible(t) for t in trials], dtype=bool)
    fig = Figure(figsize=(6, 4), dpi=120)
    ax = fig.subplots()
    ax.scatter(n[~ok], f[~ok], s=8, c="0.75", label="infeasible")
    ax.scatter(n[ok], f[ok], s=8, c="tab:blue", label="feasible")
    if ok.any() and len(goals.objectives) == 1:
        best = np.where(ok, f, np.inf if goals.directions[0] == "minimize" else -np.inf)
        acc = np.minimum.accumulate if goals.directions[0] == "minimize" else np.maximum.accumulate
        order = np.argsort(n)
        run = acc(best[order])
        shown = np.isfinite(run)
        ax.step(n[order][shown], run[shown], where="post", c="tab:red", label="best feasible")
    ax.set_xlabel("trial")
    ax.set_ylabel(_label(goals, 0))
    ax.set_title(f"study {study.study_name}: {len(trials)} trials")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path.name


@default_style
def plot_pareto(study: Any, goals: Goals, path: Path) -> str:
    """The first two objectives of every trial, with the feasible Pareto front highlighted."""
    from matplotlib.figure import Figure

    trials = complete_trials(study)
    v = np.array([t.values[:2] for t in trials])
    ok = np.array([feasible(t) for t in trials], dtype=bool)
    front = {t.number for t in study.best_trials}
    on = np.array([t.number in front for t in trials], dtype=bool)
    fig = Figure(figsize=(6, 4.5), dpi=120)
    ax = fig.subplots()
    ax.scatter(v[~ok, 0], v[~ok, 1], s=8, c="0.8", label="infeasible")
    ax.scatter(v[ok & ~on, 0], v[ok & ~on, 1], s=8, c="tab:blue", alpha=0.5, label="feasible")
    order = np.argsort(v[on, 0])
    ax.plot(v[on, 0][order], v[on, 1][order], "o-", c="tab:red", ms=4, label="Pareto front")
    ax.set_xlabel(_label(goals, 0))
    ax.set_ylabel(_label(goals, 1))
    ax.set_title(f"study {study.study_name}: {int(on.sum())} Pareto designs")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path.name


def plot_design_field(result: Any, folder: Path, display: Any) -> list[str]:
    """A picture of a solved design's main field: the temperature (with velocity arrows when
    there is a flow) or else the first field; returns the file names written."""
    from twinkit.solve.plotting import plot_field

    fields = result.fields
    if not fields:
        return []
    name = "temperature" if "temperature" in fields else next(iter(fields))
    unit = result.units.get(name) or ("K" if name == "temperature" else "")
    arrows = fields.get("velocity") if name == "temperature" else None
    shown = display.linear(name, unit) if unit else None
    path = plot_field(fields[name], folder / f"{name}.png", unit=unit, arrows=arrows, display=shown)
    return [path.name]
