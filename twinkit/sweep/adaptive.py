"""`twinkit sample --adaptive`: FE samples where a surrogate ensemble disagrees most.

The sweep starts with the first `initial` points of the case's Sobol (or LHS) design and the
usual held-out test points. Then, round by round, it trains a small deep ensemble on the finished
training samples (QoIs and sensors), scores a large Sobol pool of candidates by the ensemble's
disagreement, and adds the `batch` best candidates, until there are `samples` training samples
(`twinkit.acquisition` says how the batch is chosen).

The folder is a normal sweep folder: `sweep.json` records the design (doe "adaptive", the points
chosen so far and the round of each), `samples/` one file per finished sample, and at the end
`dataset.nc` (the dataset contract, attrs `doe: adaptive` and `adaptive`: the rounds and the
acquisition) and `summary.json`. New points are recorded before they are solved, so a killed run,
rerun with the same command, solves the recorded points still missing and goes on choosing.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twinkit.case import CaseError, LoadedCase, load_case
from twinkit.sweep.design import Design, make_design, to_si, unit_points
from twinkit.sweep.run import (
    COMPARED,
    SweepOptions,
    _Progress,
    _summary,
    raise_if_differs,
    read_sweep_state,
    run_tasks,
    sweep_identity,
)
from twinkit.sweep.store import (
    OK,
    finished_samples,
    read_sample,
    remove_temporaries,
    sample_path,
    sweep_lock,
    write_state,
)

_COMPARED = (*COMPARED, "adaptive")
_POOL_STREAM = 2  # the candidates' random stream of the case seed (0: training, 1: test)


@dataclass(frozen=True)
class AdaptiveOptions:
    """The adaptive design: `initial` space-filling samples, then `batch` per round."""

    initial: int
    batch: int
    pool: int = 4096  # Sobol candidates
    members: int = 5  # ensemble members of each round's surrogate
    epochs: int = 300  # their L-BFGS iterations


def default_options(samples: int, initial: int | None, batch: int | None) -> AdaptiveOptions:
    """`initial` defaults to a quarter of the samples (at least 8), `batch` to a quarter of it."""
    n0 = max(8, samples // 4) if initial is None else initial
    b = max(1, n0 // 4) if batch is None else batch
    return AdaptiveOptions(n0, b)


def run_adaptive(
    case_path: Path, out: Path | None, opts: SweepOptions, adaptive: AdaptiveOptions
) -> dict[str, Any]:
    """Run (or continue) the adaptive sweep of `case_path` in `out` (default runs/<case>/data)."""
    from mpi4py import MPI

    if MPI.COMM_WORLD.size > 1:
        raise CaseError("twinkit sample starts its own workers (--workers); run it without mpirun")
    loaded = load_case(case_path)
    _check(opts, adaptive)
    out = out or Path("runs") / loaded.name / "data"
    with sweep_lock(out):
        return _run_locked(loaded, out, opts, adaptive)


def _run_locked(
    loaded: LoadedCase, out: Path, opts: SweepOptions, adaptive: AdaptiveOptions
) -> dict[str, Any]:
    from twinkit.files import write_json
    from twinkit.sweep.dataset import assemble, write_dataset

    out.mkdir(parents=True, exist_ok=True)
    state = resume_or_start(out, loaded, opts, adaptive)
    (out / "samples").mkdir(exist_ok=True)
    remove_temporaries(out, (".dataset.nc.", ".sweep.json.", ".summary.json."))
    remove_temporaries(out / "samples", (".",), out)
    n, n_test = opts.samples, opts.test_samples
    inputs = tuple(state["inputs"])
    test_points = np.array(state["test_points"], dtype=float).reshape(n_test, len(inputs))
    t0 = time.perf_counter()
    computed = 0
    while True:
        points = np.array(state["points"], dtype=float).reshape(-1, len(inputs))
        design = _design(inputs, points, test_points, n, loaded)
        indices = [*range(len(points)), *range(n, n + n_test)]
        done = set(finished_samples(out, n + n_test))
        pending = [i for i in indices if i not in done]
        with _Progress(len(indices), len(indices) - len(pending), opts.progress) as bar:
            run_tasks(out, loaded, design, pending, opts, bar)
        computed += len(pending)
        if len(points) >= n:
            break
        k = min(adaptive.batch, n - len(points))
        picks, pool = _next_batch(out, loaded, inputs, points, adaptive, k, state)
        state["points"] = [*state["points"], *pool[picks].tolist()]
        state["pool_picked"] = [*state["pool_picked"], *picks]
        state["rounds"] = [*state["rounds"], list(range(len(points), len(points) + k))]
        write_state(out / "sweep.json", state)  # before solving: a rerun solves these
    wall = time.perf_counter() - t0
    ds = assemble(out, design, loaded)
    record = {k: state[k] for k in ("adaptive", "rounds")} | {"initial_method": opts.method}
    ds.attrs["adaptive"] = json.dumps(record)
    write_dataset(ds, out / "dataset.nc")
    summary = _summary(loaded, design, ds, opts, wall, computed=computed)
    summary |= {"folder": str(out), "adaptive": record}
    write_json(out / "summary.json", summary)
    return summary


def _check(opts: SweepOptions, a: AdaptiveOptions) -> None:
    if isinstance(opts.workers, bool) or opts.workers < 1:
        raise CaseError(
            f"--workers: expected a number of worker processes >= 1, got {opts.workers}"
        )
    if not 8 <= a.initial <= opts.samples:
        raise CaseError(
            f"--initial {a.initial}: the first surrogate needs at least 8 samples, and at most "
            f"-n ({opts.samples})"
        )
    if a.batch < 1:
        raise CaseError(f"--batch {a.batch}: add at least 1 sample per round")
    if opts.samples - a.initial > a.pool:
        raise CaseError(
            f"-n {opts.samples}: at most {a.pool} samples can be added to the initial {a.initial}"
        )


def _design(inputs, points, test_points, n, loaded: LoadedCase) -> Design:
    """The sweep's design with the training points chosen so far (slots beyond them: NaN)."""
    train = np.full((n, len(inputs)), np.nan)
    train[: len(points)] = points
    seed = int(loaded.case.seed)
    return Design(inputs, np.vstack([train, test_points]), n, len(test_points), "adaptive", seed)


def resume_or_start(
    out: Path, loaded: LoadedCase, opts: SweepOptions, a: AdaptiveOptions
) -> dict[str, Any]:
    """The state in `out/sweep.json` if it is this sweep's; a new one (written) if none."""
    first = make_design(loaded, a.initial, opts.method, opts.test_samples)
    state = sweep_identity(
        loaded, "adaptive", opts.samples, opts.test_samples, first.seed, first.inputs
    ) | {"adaptive": asdict(a) | {"initial_method": opts.method}}
    old = read_sweep_state(out)
    if old is None:
        state |= {
            "points": first.points[: a.initial].tolist(),
            "test_points": first.points[a.initial :].tolist(),
            "rounds": [list(range(a.initial))],
            "pool_picked": [],
        }
        write_state(out / "sweep.json", state)
        return state
    raise_if_differs(out, old, state, _COMPARED)
    return old


def _next_batch(
    out: Path,
    loaded: LoadedCase,
    inputs: tuple[str, ...],
    points: np.ndarray,
    a: AdaptiveOptions,
    k: int,
    state: dict[str, Any],
) -> tuple[list[int], np.ndarray]:
    """Train the round's ensemble on the finished samples; the next k (indices into the pool)."""
    from twinkit.surrogates import FitConfig, TrainConfig, fit_surrogate
    from twinkit.surrogates.acquisition import choose_batch, disagreement

    data, failed = training_data(out, loaded, inputs, points)
    if data.n < 8:
        raise CaseError(
            f"{out}: only {data.n} of the {len(points)} training samples so far succeeded; the "
            "adaptive design needs 8 to train its first surrogate (see the failures in samples/)"
        )
    if not data.outputs:
        raise CaseError(f"{loaded.path}: adaptive sampling needs QoIs or sensors to predict")
    seed = int(state["seed"]) + 7919 * len(state["rounds"])  # reproducible on resume
    # the ensemble alone: its members' disagreement is the score this design was measured with
    config = FitConfig(
        train=TrainConfig(members=a.members, epochs=a.epochs, seed=seed), model="mlp"
    )
    surrogate = fit_surrogate(data, config)
    pool = candidate_pool(loaded, inputs, a.pool, int(state["seed"]))
    score = disagreement(surrogate, pool, data)
    score[state["pool_picked"]] = -np.inf
    scaled = surrogate.scaler.transform
    return choose_batch(scaled(pool), score, scaled(np.vstack([data.x, failed])), k), pool


def candidate_pool(loaded: LoadedCase, inputs: tuple[str, ...], n: int, seed: int) -> np.ndarray:
    """The Sobol candidates (SI), from their own random stream of the case seed."""
    stream = np.random.SeedSequence(seed).spawn(_POOL_STREAM + 1)[_POOL_STREAM]
    u = unit_points(n, len(inputs), "sobol", np.random.default_rng(stream))
    return to_si(u, loaded.case, inputs)


def training_data(
    out: Path, loaded: LoadedCase, inputs: tuple[str, ...], points: np.ndarray
) -> tuple[Any, np.ndarray]:
    """The finished training samples as `surrogates.TrainingData` (QoIs and sensors, SI), and
    the inputs of the failed ones."""
    from twinkit.surrogates import TrainingData

    case = loaded.case
    recs = [read_sample(sample_path(out, i)) for i in range(len(points))]
    ok = np.array([r.status == OK for r in recs], dtype=bool)
    good = [r for r in recs if r.status == OK]
    qois = list(dict.fromkeys(q for r in good for q in r.qoi))
    sensors = list(dict.fromkeys(s for r in good for s in r.sensors))
    table = np.array([[r.qoi.get(q, np.nan) for q in qois] for r in good]).reshape(len(good), -1)
    sens = np.array([[r.sensors.get(s, np.nan) for s in sensors] for r in good])
    finite = np.isfinite(table).all(1) & np.isfinite(sens.reshape(len(good), -1)).all(1)
    units = {f"qoi_{q}": good[0].units.get(q, "") for q in qois} if good else {}
    units |= {f"sensor_{s}": good[0].units.get(s, "") for s in sensors} if good else {}
    data = TrainingData(
        inputs=list(inputs),
        input_units={n: case.parameter_unit(n) for n in inputs},
        bounds={n: case.parameters[n].bounds for n in inputs},
        log_inputs={n: case.parameters[n].scale == "log" for n in inputs},
        x=points[ok][finite],
        qoi_names=[f"qoi_{q}" for q in qois],
        qoi=table[finite],
        sensor_names=[f"sensor_{s}" for s in sensors],
        sensors=sens.reshape(len(good), -1)[finite],
        fields={},
        units=units,
    )
    return data, points[~ok]
