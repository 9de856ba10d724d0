"""Optuna studies on a surrogate: storage, trials until a total, best designs.

A study is identified by storage URL and name. Rerunning with the same name continues it, and
`trials` is the total of finished trials it should hold, so a rerun with a larger number adds the
difference. A study in a local SQLite file runs in memory and is written back in batches
(`twinkit.optimization.local_study`); several processes on one database server (PostgreSQL)
share the work, each trial going straight to the server. The problem a study was made
for (goals, design space, fixed inputs, sampler, surrogate) is stored in it; a different problem
under the same name is refused rather than mixed in.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinkit.case import CaseError
from twinkit.optimization.design_space import Problem
from twinkit.redaction import redact, redact_text

PENALTY = 1e3  # cmaes ignores constraints: objective + PENALTY·(1 + |f|)·violation
SAVE_EVERY = 1.0  # seconds between writes of a local study to its file


def sampler_name(problem: Problem, requested: str | None) -> str:
    if requested:
        return requested
    return "tpe" if len(problem.goals.objectives) == 1 else "nsga2"


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


@dataclass
class OpenStudy:
    """A study ready to run: `study` (an `optuna.Study`, in memory when `local` mirrors it to a
    SQLite file). Close it (or use `with`) to free the file."""

    study: Any
    sampler: str
    n_params: int
    local: Any = None  # LocalStudy

    def batch(self, done: int) -> int:
        """Trials to ask for at once when `done` have finished."""
        from twinkit.optimization.samplers import batch_size

        return batch_size(self.sampler, self.n_params, self.local is None, done)

    def save(self, every: float = 0.0) -> None:
        if self.local is not None:
            self.local.save(every)

    def close(self) -> None:
        if self.local is not None:
            self.local.close()

    def __enter__(self) -> OpenStudy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_study(
    problem: Problem, storage: str, name: str, sampler: str, seed: int, surrogate_id: str
) -> OpenStudy:
    """Create or load study `name` in `storage`; CaseError if it holds a different problem."""

    from twinkit.optimization.local_study import LocalStudy, sqlite_file
    from twinkit.optimization.samplers import make_sampler

    study, rdb = _checked_study(
        problem,
        storage,
        name,
        lambda: _fingerprint(problem, sampler, surrogate_id),
        "was made for a different problem (goals, ranges, fixed inputs, sampler or surrogate "
        "changed)",
    )
    if [d.name.lower() for d in study.directions] != problem.goals.directions:
        raise CaseError(f"study '{name}' has other directions; give --study NEW_NAME")
    path = sqlite_file(storage)
    local = None if path is None else LocalStudy(rdb, name, path)
    if local is not None:
        study = local.study
    else:  # many workers: each process samples differently
        seed += os.getpid()
    n_before = len(study.get_trials(deepcopy=False))
    d = len(problem.space)
    study.sampler = make_sampler(sampler, (seed + 7919 * n_before) % 2**32, d, local is None)
    return OpenStudy(study, sampler, d, local)


def open_fe_study(problem: Problem, storage: str, name: str) -> Any:
    """The study holding the FE solves of `problem` (its goals, design space and fixed inputs;
    not the surrogate, which an FE result does not depend on); CaseError if `name` holds another
    problem's."""
    return _checked_study(
        problem,
        storage,
        name,
        lambda: _fingerprint(problem, "fe", ""),
        "holds FE solves of a different problem (goals, ranges or fixed inputs changed)",
    )[0]


def _checked_study(
    problem: Problem, storage: str, name: str, key: Callable[[], str], other: str
) -> Any:
    """Create or load study `name` (and its RDB storage); CaseError if it was made for a
    problem other than the one `key()` fingerprints (`other` says how)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        rdb = storage_for(storage)
        study = optuna.create_study(
            storage=rdb,
            study_name=name,
            directions=problem.goals.directions,  # type: ignore[arg-type]
            load_if_exists=True,
        )
    except Exception as e:  # a bad URL, an unreachable server, no driver
        why = redact_text(f"{type(e).__name__}: {e}", storage)
        raise CaseError(f"--storage {redact(storage)}: cannot open ({why})") from None
    stored, fingerprint = study.user_attrs.get("twinkit_problem"), key()
    if stored is None:
        study.set_user_attr("twinkit_problem", fingerprint)
    elif stored != fingerprint:
        raise CaseError(f"study '{name}' in {redact(storage)} {other}; give --study NEW_NAME")
    return study, rdb


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

    from twinkit.extras import require

    if importlib.util.find_spec("psycopg") is None:
        require("psycopg2", "a PostgreSQL study storage")
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


@contextmanager
def redacted_errors(url: str | None) -> Iterator[None]:
    """Errors raised in the block (a lost server during the trials, a failed write) show no
    secret of the storage `url`: one whose message holds one is raised again, redacted, as a
    CaseError if it was one, else as a RuntimeError naming the storage."""
    try:
        yield
    except Exception as e:
        if not url:
            raise
        text = f"{e}"
        clean = redact_text(text, url)
        if clean == text:
            raise
        if isinstance(e, CaseError):
            raise CaseError(clean) from None
        raise RuntimeError(f"study storage {redact(url)}: {type(e).__name__}: {clean}") from None


def complete_trials(study: Any) -> list[Any]:
    import optuna

    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def distributions(problem: Problem) -> dict[str, Any]:
    """The Optuna distribution of each design parameter (its range, log or linear)."""
    from optuna.distributions import FloatDistribution

    return {n: FloatDistribution(d.lower, d.upper, log=d.log) for n, d in problem.space.items()}


def run_trials(opened: OpenStudy, problem: Problem, total: int) -> int:
    """Evaluate trials on the surrogate until the study holds `total` finished ones, asking
    for `opened.batch(done)` at a time with one surrogate prediction per batch.

    Returns the number this process added.
    """
    import optuna

    study = opened.study
    space = distributions(problem)
    names = [f"{b.output}_{b.kind}" for b in problem.goals.bounds]
    added = 0
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Constraints have been set, but CmaEsSampler")
            while (remaining := total - (done := len(complete_trials(study)))) > 0:
                n = min(opened.batch(done), remaining)
                trials = [study.ask(space) for _ in range(n)]
                try:
                    values = _evaluate(problem, [t.params for t in trials], opened.sampler)
                except BaseException:
                    for t in trials:
                        study.tell(t, state=optuna.trial.TrialState.FAIL)
                    raise
                for t, (f, g) in zip(trials, values, strict=True):
                    for name, v in zip(names, g, strict=True):
                        t.set_constraint(name, float(v))
                    study.tell(t, [float(v) for v in f] if len(f) > 1 else float(f[0]))
                added += len(trials)
                opened.save(SAVE_EVERY)
    finally:
        opened.save()
    return added


def _evaluate(
    problem: Problem, designs: list[dict[str, Any]], sampler: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Objective values and constraint values g (feasible ≤ 0) of each design."""
    goals = problem.goals
    f, g = goals.evaluate(*problem.predict(designs))
    if sampler == "cmaes" and g.shape[1]:
        sign = np.array([1.0 if d == "minimize" else -1.0 for d in goals.directions])
        f = f + sign * PENALTY * (1 + np.abs(f)) * np.maximum(g, 0).sum(axis=1, keepdims=True)
    return list(zip(f, g, strict=True))


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
