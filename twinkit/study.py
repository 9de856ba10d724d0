"""Optuna studies on a surrogate: storage, sampler, trials until a total, best designs.

A study is identified by storage URL and name. Rerunning with the same name continues it, and
`trials` is the total of finished trials it should hold, so a rerun with a larger number adds the
difference. Several processes on one RDB storage (PostgreSQL) share the work. The problem a
study was made for (goals, design space, fixed inputs, sampler, surrogate) is stored in it; a
different problem under the same name is refused rather than mixed in.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from twinkit.case import CaseError
from twinkit.design_space import Problem

PENALTY = 1e3  # cmaes ignores constraints: objective + PENALTY·(1 + |f|)·violation


def sampler_name(problem: Problem, requested: str | None) -> str:
    if requested:
        return requested
    return "tpe" if len(problem.goals.objectives) == 1 else "nsga2"


def _sampler(name: str, seed: int) -> Any:
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    try:
        import cmaes  # noqa: F401
    except ImportError:
        raise CaseError("sampler cmaes needs the cmaes package (pip install cmaes)") from None
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


def _fingerprint(problem: Problem, sampler: str, surrogate_id: str) -> str:
    g = problem.goals
    return json.dumps(
        {
            "objectives": g.objectives,
            "bounds": [(b.output, b.kind, b.value) for b in g.bounds],
            "robust": g.robust,
            "space": {n: (d.lower, d.upper, d.log) for n, d in problem.space.items()},
            "fixed": problem.fixed,
            "sampler": sampler,
            "surrogate": surrogate_id,
        },
        sort_keys=True,
    )


def open_study(
    problem: Problem, storage: str, name: str, sampler: str, seed: int, surrogate_id: str
) -> Any:
    """Create or load study `name` in `storage`; CaseError if it holds a different problem."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            storage=storage_for(storage),
            study_name=name,
            directions=problem.goals.directions,  # type: ignore[arg-type]
            load_if_exists=True,
        )
    except Exception as e:  # a bad URL, an unreachable server, no driver
        why = f"{type(e).__name__}: {e}"
        raise CaseError(f"--storage {redact(storage)}: cannot open ({why})") from None
    key = _fingerprint(problem, sampler, surrogate_id)
    stored = study.user_attrs.get("twinkit_problem")
    if stored is None:
        study.set_user_attr("twinkit_problem", key)
    elif stored != key:
        raise CaseError(
            f"study '{name}' in {redact(storage)} was made for a different problem (goals, "
            "ranges, fixed inputs, sampler or surrogate changed); give --study NEW_NAME"
        )
    if [d.name.lower() for d in study.directions] != problem.goals.directions:
        raise CaseError(f"study '{name}' has other directions; give --study NEW_NAME")
    n_before = len(study.get_trials(deepcopy=False))
    if not storage.startswith("sqlite"):  # many workers: each process samples differently
        seed += os.getpid()
    study.sampler = _sampler(sampler, (seed + 7919 * n_before) % 2**32)
    return study


def storage_for(url: str) -> Any:
    """Optuna storage for `url`; SQLite in WAL mode without a sync per commit (an interrupted
    process loses nothing; a power cut may lose the last trials) and waiting on locks held by
    other processes."""
    import optuna

    if not url.startswith("sqlite"):
        return _shared_rdb(_postgres_driver(url) if url.startswith("postgresql://") else url)
    from sqlalchemy import event

    rdb = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})

    @event.listens_for(rdb.engine, "connect")
    def _pragmas(conn: Any, _: Any) -> None:
        cur = conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    rdb.engine.dispose()
    return rdb


def _shared_rdb(url: str, attempts: int = 5) -> Any:
    """RDBStorage for a database that several workers may be initialising at the same moment
    (the losers of the race to create the schema retry and find it made)."""
    import optuna
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for i in range(attempts):
        try:
            return optuna.storages.RDBStorage(url)
        except (IntegrityError, ProgrammingError):
            if i == attempts - 1:
                raise
            time.sleep(0.5 * (i + 1))
    raise AssertionError


def _postgres_driver(url: str) -> str:
    """SQLAlchemy ≥ 2.1 reads postgresql:// as psycopg 3; use psycopg2 when only it is there."""
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def redact(url: str) -> str:
    """The URL without its password."""
    head, at, tail = url.rpartition("@")
    if not at or "://" not in head:
        return url
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':')[0]}:***@{tail}"


def complete_trials(study: Any) -> list[Any]:
    import optuna

    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def run_trials(study: Any, problem: Problem, total: int, sampler: str) -> int:
    """Evaluate trials on the surrogate until the study holds `total` finished ones.

    Returns the number this process added.
    """
    import optuna

    remaining = total - len(complete_trials(study))
    if remaining <= 0:
        return 0
    space = problem.space
    goals = problem.goals
    names = [f"{b.output}_{b.kind}" for b in goals.bounds]
    sign = np.array([1.0 if d == "minimize" else -1.0 for d in goals.directions])

    ran = [0]

    def objective(trial: Any) -> Sequence[float] | float:
        ran[0] += 1
        design = {n: trial.suggest_float(n, d.lower, d.upper, log=d.log) for n, d in space.items()}
        mean, std = problem.predict([design])
        f, g = goals.evaluate(mean, std)
        f, g = f[0], g[0]
        for name, value in zip(names, g, strict=True):
            trial.set_constraint(name, float(value))
        if sampler == "cmaes" and g.size:
            f = f + sign * PENALTY * (1 + np.abs(f)) * np.maximum(g, 0).sum()
        return [float(v) for v in f] if len(f) > 1 else float(f[0])

    stop = optuna.study.MaxTrialsCallback(total, states=(optuna.trial.TrialState.COMPLETE,))
    study.optimize(objective, n_trials=remaining, callbacks=[stop], catch=())
    return ran[0]


def feasible(trial: Any) -> bool:
    return all(v <= 0 for v in trial.constraints.values())


def best_trials(study: Any, k: int) -> list[Any]:
    """The best feasible trial (one objective) or up to `k` Pareto trials spread along the front
    (several); the least infeasible trial when no trial is feasible."""
    done = complete_trials(study)
    if not done:
        return []
    ok = [t for t in done if feasible(t)]
    if not ok:
        return [min(done, key=lambda t: sum(max(v, 0) for v in t.constraints.values()))]
    if len(study.directions) == 1:
        return [study.best_trial]
    front = sorted(study.best_trials, key=lambda t: (t.values[0], t.number))
    if len(front) <= k:
        return front
    pick = np.unique(np.round(np.linspace(0, len(front) - 1, max(k, 1))).astype(int))
    return [front[i] for i in pick]
