"""Fast local studies: batched TPE equals Optuna's TPE, the SQLite file written in batches reads
back as Optuna wrote it, and interrupted or killed runs resume without lost or doubled trials."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from beam_surrogate import BEAM_CASE, BeamSurrogate, optimum
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from twinkit.case import CaseError
from twinkit.optimization.driver import Options, optimize_case
from twinkit.optimization.local_study import append_trials
from twinkit.optimization.samplers import BatchTPESampler
from twinkit.optimization.study import storage_for

HERE = Path(__file__).parent
SPACE = {"a": FloatDistribution(0.0, 1.0), "b": FloatDistribution(1e-3, 10.0, log=True)}


def _trials(db: Path, name: str = "beam") -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{db}").trials


def test_batch_tpe_draws_what_tpe_draws():
    """Asked in batches before telling, both samplers fit the same finished trials."""
    studies = [
        optuna.create_study(sampler=cls(seed=5, multivariate=True, constant_liar=False))
        for cls in (optuna.samplers.TPESampler, BatchTPESampler)
    ]
    for study in studies:
        while len(study.trials) < 60:
            batch = [study.ask(SPACE) for _ in range(7)]
            for t in batch:
                t.set_constraint("c", t.params["a"] - 0.8)
                study.tell(t, (t.params["a"] - 0.3) ** 2 + math.log(t.params["b"]) ** 2)
    plain, batched = ([t.params for t in s.trials] for s in studies)
    assert batched == plain
    assert len({tuple(p.values()) for p in batched}) == 63  # not one draw repeated


def test_trials_written_in_bulk_read_back_as_optuna_wrote_them(tmp_path):
    mem = optuna.create_study(directions=["minimize", "maximize"])
    for i in range(5):
        t = mem.ask(SPACE)
        t.set_constraint("c", 0.5 - i)
        t.set_user_attr("note", {"i": i})
        mem.tell(t, [float(i), math.inf if i == 3 else -0.5 * i])
    mem.tell(mem.ask(SPACE), state=TrialState.FAIL)
    rdb = storage_for(f"sqlite:///{tmp_path / 's.db'}")
    disk = optuna.create_study(storage=rdb, study_name="s", directions=["minimize", "maximize"])
    disk.add_trials(mem.trials[:2])  # through Optuna
    append_trials(rdb, rdb.get_study_id_from_name("s"), mem.trials[2:], first_number=2)
    back = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 's.db'}").trials
    for a, b in zip(mem.trials, back, strict=True):
        assert (a.number, a.state, a.values, a.params) == (b.number, b.state, b.values, b.params)
        assert (a.distributions, a.user_attrs, a.constraints) == (
            b.distributions,
            b.user_attrs,
            b.constraints,
        )
        assert abs((a.datetime_start - b.datetime_start).total_seconds()) < 1e-3
    disk = optuna.load_study(study_name="s", storage=storage_for(f"sqlite:///{tmp_path / 's.db'}"))
    disk.optimize(lambda t: [t.suggest_float("a", 0, 1), 0.0], n_trials=1)  # Optuna goes on
    assert [t.number for t in disk.trials] == list(range(7))
    with pytest.raises(CaseError, match="another process wrote to it"):
        append_trials(rdb, rdb.get_study_id_from_name("s"), mem.trials[:1], first_number=6)


def test_a_trial_left_running_by_an_older_process_keeps_its_number(tmp_path):
    from twinkit.optimization.local_study import LocalStudy

    url = f"sqlite:///{tmp_path / 's.db'}"
    old = optuna.create_study(storage=url, study_name="s")
    old.tell(old.ask(SPACE), 1.0)
    old.ask(SPACE)  # never told: the process died
    local = LocalStudy(storage_for(url), "s", tmp_path / "s.db", optuna.samplers.RandomSampler())
    assert [t.state for t in local.study.trials] == [TrialState.COMPLETE, TrialState.FAIL]
    local.study.tell(local.study.ask(SPACE), 2.0)
    assert local.save() == 1
    local.close()
    back = optuna.load_study(study_name="s", storage=url).trials
    assert [(t.number, t.state) for t in back] == [
        (0, TrialState.COMPLETE),
        (1, TrialState.RUNNING),  # the file keeps what the old process left
        (2, TrialState.COMPLETE),
    ]


class Interrupting(BeamSurrogate):
    """Stops the run (Ctrl-C) at prediction number `stop`."""

    def __init__(self, stop: int):
        super().__init__()
        self.stop = stop

    def predict(self, x, strict: bool = False):
        if self.calls + 1 == self.stop:  # BeamSurrogate counts its calls
            raise KeyboardInterrupt
        return super().predict(x, strict)


def test_an_interrupted_run_keeps_its_trials_and_resumes_to_the_total(beam, tmp_path):
    opts = Options(trials=150, verify=0, out=tmp_path / "out", plots=False)
    with pytest.raises(KeyboardInterrupt):
        optimize_case(beam, opts, surrogate=Interrupting(stop=40))
    before = _trials(tmp_path / "out/study.db")
    done = [t for t in before if t.state == TrialState.COMPLETE]
    assert len(done) >= 39  # the batches before the interrupt: one prediction each
    assert all(t.state == TrialState.FAIL for t in before[len(done) :])  # the batch it stopped
    summary, _ = optimize_case(beam, opts, surrogate=Interrupting(stop=-1))  # same surrogate
    assert summary["trials"]["complete"] == 150
    assert summary["trials"]["this_run"] == 150 - len(done)
    after = _trials(tmp_path / "out/study.db")
    assert [t.number for t in after] == list(range(len(after)))
    assert [t.params for t in after[: len(before)]] == [t.params for t in before]
    complete = [tuple(t.params.values()) for t in after if t.state == TrialState.COMPLETE]
    assert len(complete) == len(set(complete)) == 150


def test_a_second_run_on_the_same_file_is_refused_until_the_first_ends(beam, tmp_path):
    from twinkit.case import load_case
    from twinkit.optimization.design_space import build_problem
    from twinkit.optimization.goals import Goals
    from twinkit.optimization.study import open_study

    loaded = load_case(beam, check_regions=False)
    problem = build_problem(loaded, Goals.from_case(loaded), BeamSurrogate(), {}, Path("none"))
    url = f"sqlite:///{tmp_path / 'study.db'}"
    with open_study(problem, url, "beam", "tpe", 1, "x"):
        with pytest.raises(CaseError, match="another twinkit optimize is running"):
            open_study(problem, url, "beam", "tpe", 1, "x")
    with open_study(problem, url, "beam", "tpe", 1, "x") as s:
        assert s.local is not None and s.study.trials == []


def test_cmaes_finds_the_constrained_minimum_and_resumes(beam, tmp_path):
    beam.write_text(BEAM_CASE.replace("  constraints:", "  sampler: cmaes\n  constraints:"))
    opts = Options(trials=210, verify=0, out=tmp_path / "out", plots=False)
    summary, _ = optimize_case(beam, opts, surrogate=BeamSurrogate())
    assert summary["sampler"] == "cmaes" and summary["trials"]["complete"] == 210
    best = summary["best"][0]
    assert best["predicted_feasible"]
    exact = optimum()["mass"]
    assert exact * (1 - 1e-9) <= best["predicted"]["mass"]["mean"] <= exact * 1.02
    opts = Options(trials=280, verify=0, out=tmp_path / "out", plots=False)
    again, _ = optimize_case(beam, opts, surrogate=BeamSurrogate())
    assert again["trials"]["this_run"] == 70 and again["trials"]["complete"] == 280
    gens = {t.system_attrs.get("cma:generation") for t in _trials(tmp_path / "out/study.db")}
    assert len(gens) > 30  # the resumed run went on with the stored CMA-ES state


WORKER = """
import sys, time
from pathlib import Path
from beam_surrogate import BeamSurrogate
from twinkit.optimization.driver import Options, optimize_case

class Slow(BeamSurrogate):
    def predict(self, x, strict=False):
        time.sleep(0.01)
        return super().predict(x, strict)

opts = Options(trials=int(sys.argv[2]), verify=0, out=Path(sys.argv[1]), plots=False)
optimize_case(Path("beam.yaml"), opts, surrogate=Slow())
"""


def _complete_on_file(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as c:
            return c.execute("SELECT count(*) FROM trials WHERE state='COMPLETE'").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


@pytest.mark.slow
def test_a_killed_run_resumes_without_lost_or_doubled_trials(beam, tmp_path):
    env = os.environ | {"PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    db = tmp_path / "out/study.db"
    proc = subprocess.Popen([sys.executable, "-c", WORKER, "out", "3000"], cwd=tmp_path, env=env)
    try:
        deadline = time.monotonic() + 120
        while _complete_on_file(db) < 300 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = _trials(db)
    assert 300 <= len(before) < 3000  # it ran long enough and was killed before the end
    assert all(t.state == TrialState.COMPLETE for t in before)
    again = [sys.executable, "-c", WORKER, "out", str(len(before) + 50)]
    subprocess.run(again, cwd=tmp_path, env=env, check=True, timeout=120)
    after = _trials(db)
    assert [t.number for t in after] == list(range(len(before) + 50))
    assert [t.params for t in after[: len(before)]] == [t.params for t in before]
    x = np.array([list(t.params.values()) for t in after])
    assert len(np.unique(x, axis=0)) == len(after)
