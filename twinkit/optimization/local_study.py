"""A study in a local SQLite file, run in memory and written back to the file in batches.

Through Optuna's RDB storage a trial on SQLite costs tens of milliseconds (queries on every
suggest, a commit on every update), more than the surrogate and the sampler together. Here the
study's trials are read from the file once into an in-memory study the sampler works on; new
finished trials are appended to the file in one transaction at most every `every` seconds and
when the run stops, however it stops, so an interrupted run keeps all but its last seconds of
trials and rerunning continues from them. The file stays an ordinary Optuna RDB study, with the
same trial numbers (optuna-dashboard, `optuna.load_study`). One process at a time uses a file
(a lock next to it says so); several workers need a database server (PostgreSQL).
"""

from __future__ import annotations

import copy
import fcntl
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twinkit.case import CaseError


def sqlite_file(url: str) -> Path | None:
    """The database file of an SQLite URL; None for other URLs and in-memory SQLite."""
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    db = make_url(url).database
    return Path(db) if db and db != ":memory:" else None


class LocalStudy:
    """The trials of study `name` in `rdb` (an RDBStorage on `path`), in memory.

    `study` is the in-memory `optuna.Study` to run; `save` writes its new finished trials to
    the file; `close` releases the file.
    """

    def __init__(self, rdb: Any, name: str, path: Path, sampler: Any = None) -> None:
        import optuna

        self._lock = path.with_name(path.name + ".lock").open("a")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise CaseError(
                f"{path}: another twinkit optimize is running on this study file; wait for it, "
                "or run many workers on a database server (--storage postgresql://...)"
            ) from None
        self._rdb = rdb
        self._study_id = rdb.get_study_id_from_name(name)
        on_file = rdb.get_all_trials(self._study_id, deepcopy=False)
        self.study = optuna.create_study(
            directions=rdb.get_study_directions(self._study_id), sampler=sampler
        )
        self.study.add_trials([_as_finished(t) for t in on_file])
        self.written = len(on_file)
        self._saved_at = time.monotonic()

    def save(self, every: float = 0.0) -> int:
        """Append the finished trials not yet in the file (unless it was saved less than
        `every` seconds ago); returns how many were written."""
        if time.monotonic() - self._saved_at < every:
            return 0
        new = []
        for t in self.study.get_trials(deepcopy=False)[self.written :]:
            if not t.state.is_finished():
                break  # keep the numbers: write in order, up to the first trial still running
            new.append(t)
        if new:
            append_trials(self._rdb, self._study_id, new, first_number=self.written)
            self.written += len(new)
        self._saved_at = time.monotonic()
        return len(new)

    def close(self) -> None:
        self._lock.close()  # releases the lock


def _as_finished(trial: Any) -> Any:
    """A trial left running or waiting in the file by an older process, as a failed one (it
    keeps its number; nothing will finish it)."""
    from optuna.trial import TrialState

    if trial.state.is_finished():
        return trial
    t = copy.copy(trial)
    t.state, t.values = TrialState.FAIL, None
    t.datetime_start = t.datetime_start or datetime.now()
    t.datetime_complete = t.datetime_start
    return t


def append_trials(rdb: Any, study_id: int, trials: list[Any], first_number: int) -> None:
    """Write finished `trials` to study `study_id` as numbers `first_number`, ... in one
    transaction; CaseError if the study in the file no longer has `first_number` trials."""
    from optuna.distributions import distribution_to_json
    from optuna.storages._rdb import models as m
    from sqlalchemy import func, insert, select

    with rdb.engine.begin() as conn:
        n = conn.scalar(select(func.count()).select_from(m.TrialModel).filter_by(study_id=study_id))
        if n != first_number:
            raise CaseError(
                f"the study file changed while this run was using it ({n} trials, expected "
                f"{first_number}): another process wrote to it"
            )
        first_id = (conn.scalar(select(func.max(m.TrialModel.trial_id))) or 0) + 1
        rows: dict[Any, list[dict[str, Any]]] = {
            m.TrialModel: [],
            m.TrialParamModel: [],
            m.TrialValueModel: [],
            m.TrialSystemAttributeModel: [],
            m.TrialUserAttributeModel: [],
        }
        for i, t in enumerate(trials):
            tid = first_id + i
            rows[m.TrialModel].append(
                {
                    "trial_id": tid,
                    "number": first_number + i,
                    "study_id": study_id,
                    "state": t.state,
                    "datetime_start": _utc(t.datetime_start),
                    "datetime_complete": _utc(t.datetime_complete),
                }
            )
            for k, v in t.params.items():
                dist = t.distributions[k]
                rows[m.TrialParamModel].append(
                    {
                        "trial_id": tid,
                        "param_name": k,
                        "param_value": dist.to_internal_repr(v),
                        "distribution_json": distribution_to_json(dist),
                    }
                )
            for j, v in enumerate(t.values or []):
                value, kind = m.TrialValueModel.value_to_stored_repr(v)
                rows[m.TrialValueModel].append(
                    {"trial_id": tid, "objective": j, "value": value, "value_type": kind}
                )
            model: Any
            attrs: Any
            for model, attrs in (
                (m.TrialSystemAttributeModel, t.system_attrs),
                (m.TrialUserAttributeModel, t.user_attrs),
            ):
                rows[model] += [
                    {"trial_id": tid, "key": k, "value_json": json.dumps(v)}
                    for k, v in attrs.items()
                ]
        for table, values in rows.items():
            if values:
                conn.execute(insert(table.__table__), values)


def _utc(t: datetime | None) -> datetime | None:
    """Naive local time (FrozenTrial) as the naive UTC the RDB schema stores."""
    return None if t is None else t.astimezone(UTC).replace(tzinfo=None)
