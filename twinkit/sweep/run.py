"""`twinkit sample`: run a case's design of experiments, resumably, on local workers or Dask.

The folder holds `sweep.json` (the design: method, sizes, seed, case hash, points), one file per
finished sample under `samples/`, and at the end `dataset.nc` and `summary.json`. Rerunning the
same command continues where a killed sweep stopped; a different case or design is refused.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from twinkit.case import CaseError, LoadedCase, load_case
from twinkit.sweep.design import Design, make_design
from twinkit.sweep.executors import WorkerArgs, execute
from twinkit.sweep.provenance import solver_hash
from twinkit.sweep.store import (
    FAILED,
    OK,
    SampleRecord,
    finished_samples,
    read_state,
    remove_temporaries,
    sweep_lock,
    write_sample,
    write_state,
)
from twinkit.version import __version__

# what must match for a folder's samples to belong to this sweep
COMPARED = ("case_hash", "solver_hash", "doe", "samples", "test_samples", "seed", "inputs")


@dataclass(frozen=True)
class SweepOptions:
    samples: int
    method: str = "sobol"
    test_samples: int = 0
    workers: int = 1
    scheduler: str | None = None  # a Dask scheduler address; None: local worker processes
    progress: bool = True
    design_samples: int = 0  # training samples on the design slice (`make_design`)


def run_sweep(case_path: Path, out: Path | None, opts: SweepOptions) -> dict[str, Any]:
    """Run (or continue) the sweep of `case_path` in `out` (default runs/<case>/data).

    Returns the summary (also written to `out/summary.json`). Raises CaseError for bad input or
    a folder another process is sweeping in (`sweep_lock`), and RuntimeError when workers were
    lost (rerun the same command to finish the remaining samples).
    """
    from mpi4py import MPI

    if MPI.COMM_WORLD.size > 1:
        raise CaseError("twinkit sample starts its own workers (--workers); run it without mpirun")
    loaded = load_case(case_path)
    if isinstance(opts.workers, bool) or opts.workers < 1:
        raise CaseError(
            f"--workers: expected a number of worker processes >= 1, got {opts.workers}"
        )
    design = make_design(loaded, opts.samples, opts.method, opts.test_samples, opts.design_samples)
    out = out or Path("runs") / loaded.name / "data"
    with sweep_lock(out):
        return _run_locked(loaded, out, design, opts)


def _run_locked(loaded: LoadedCase, out: Path, design: Design, opts: SweepOptions) -> dict:
    from twinkit.files import write_json
    from twinkit.sweep.dataset import assemble, write_dataset

    out.mkdir(parents=True, exist_ok=True)
    design = _resume_or_start(out, loaded, design)
    (out / "samples").mkdir(exist_ok=True)
    remove_temporaries(out, (".dataset.nc.", ".sweep.json.", ".summary.json."))
    remove_temporaries(out / "samples", (".",), out)
    total = design.n_train + design.n_test
    done = set(finished_samples(out, total))
    pending = [i for i in range(total) if i not in done]

    t0 = time.perf_counter()
    with _Progress(total, len(done), opts.progress) as bar:
        run_tasks(out, loaded, design, pending, opts, bar)
    wall = time.perf_counter() - t0
    ds = assemble(out, design, loaded)
    write_dataset(ds, out / "dataset.nc")
    summary = _summary(loaded, design, ds, opts, wall, computed=len(pending))
    summary["folder"] = str(out)
    write_json(out / "summary.json", summary)
    return summary


def run_tasks(
    out: Path,
    loaded: LoadedCase,
    design: Design,
    indices: list[int],
    opts: SweepOptions,
    bar: _Progress,
) -> None:
    """Solve the samples `indices` of `design` on the sweep's workers; store each as it ends.

    Raises RuntimeError when workers were lost (rerun the same command to finish the rest).
    """
    store_fields = not (loaded.case.mesh_parameters() & set(design.inputs))
    lost: list[tuple[int, BaseException]] = []
    tasks = [(i, design.values(loaded.case, i)) for i in indices]
    worker = WorkerArgs(str(loaded.path.resolve()), loaded.hash, store_fields)
    for outcome in execute(worker, tasks, opts.workers, opts.scheduler):
        if isinstance(outcome, SampleRecord):
            write_sample(out, outcome)
            bar.advance(outcome.status == OK)
        else:
            lost.append(outcome)
    if lost:
        i, e = lost[0]
        raise RuntimeError(
            f"{len(lost)} samples were not run: the workers were lost (sample {i}: "
            f"{type(e).__name__}: {e}); rerun the same command to finish them"
        )


def sweep_identity(
    loaded: LoadedCase, doe: str, samples: int, test_samples: int, seed: int, inputs: Any
) -> dict[str, Any]:
    """What `sweep.json` records about a sweep (the keys of COMPARED, and which case)."""
    return {
        "case": loaded.name,
        "case_file": str(loaded.path),
        "case_hash": loaded.hash,
        "solver_hash": solver_hash(),
        "doe": doe,
        "samples": samples,
        "test_samples": test_samples,
        "seed": seed,
        "inputs": list(inputs),
    }


def read_sweep_state(out: Path) -> dict[str, Any] | None:
    """`out/sweep.json`, or None for a new folder; CaseError for samples without one."""
    old = read_state(out / "sweep.json")
    if old is None and any(out.glob("samples/*.npz")):
        raise CaseError(
            f"{out}: has sample files but no sweep.json saying which design they belong to; "
            "give another --out (or delete the folder to start again)"
        )
    return old


def raise_if_differs(
    out: Path, old: dict[str, Any], state: dict[str, Any], keys: tuple[str, ...]
) -> None:
    """CaseError naming what differs between the sweep in `out` and this one."""
    keys_differ = [k for k in keys if old.get(k) != state[k]]
    if not keys_differ:
        return
    differ = [f"{k}={old.get(k)!r} (this run: {state[k]!r})" for k in keys_differ]
    hint = "; rerun with the same case file and options to continue it, or give another --out"
    if keys_differ == ["solver_hash"]:
        hint = (
            "; the solver code changed since its samples were computed (a dataset must not mix "
            "two versions of the physics): give another --out, or delete the folder"
        )
    raise CaseError(
        f"{out}: holds a sweep of case '{old.get('case')}' that differs from this one: "
        + ", ".join(differ)
        + hint
    )


def _resume_or_start(out: Path, loaded: LoadedCase, design: Design) -> Design:
    """The design recorded in `out/sweep.json` if it is this sweep's; write it if there is none."""
    d = design
    state = sweep_identity(loaded, d.doe, d.n_train, d.n_test, d.seed, d.inputs)
    old = read_sweep_state(out)
    if old is None:
        write_state(out / "sweep.json", state | {"points": design.points.tolist()})
        return design
    raise_if_differs(out, old, state, COMPARED)
    # the recorded points are the truth: the finished samples were computed there
    return replace(design, points=np.array(old["points"], dtype=float))


class _Progress:
    """A rich progress bar with ETA (only on a terminal), counting ok and failed samples."""

    def __init__(self, total: int, done: int, enabled: bool):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console()
        self.ok = self.failed = 0
        self.bar = Progress(
            TextColumn("sampling"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not (enabled and self.console.is_terminal),
        )
        self.task = self.bar.add_task("sample", total=total, completed=done, counts="")

    def __enter__(self) -> _Progress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def advance(self, ok: bool) -> None:
        self.ok += ok
        self.failed += not ok
        counts = f"{self.ok} ok" + (f", {self.failed} failed" if self.failed else "")
        self.bar.update(self.task, advance=1, counts=counts)


def _summary(loaded, design, ds, opts: SweepOptions, wall: float, computed: int) -> dict:
    status = ds["status"].values
    ok = status == OK
    seconds = ds["seconds"].values
    failures = [
        {"sample": int(i), "message": str(ds["message"].values[i])}
        for i in np.flatnonzero(status == FAILED)
    ]
    return {
        "case": loaded.name,
        "case_file": str(loaded.path),
        "case_hash": loaded.hash,
        "twinkit_version": __version__,
        "dataset": "dataset.nc",
        "doe": design.doe,
        "seed": design.seed,
        "inputs": list(design.inputs),
        "samples": {"train": design.n_train, "test": design.n_test}
        | ({"design": design.design_samples} if design.design_samples else {}),
        "counts": {
            "ok": int(ok.sum()),
            "failed": int((~ok).sum()),
            "total": int(status.size),
            "computed": computed,
            "reused": int(status.size) - computed,
        },
        "timings": {
            "wall_seconds": round(wall, 4),
            "mean_solve_seconds": round(float(seconds[ok].mean()), 4) if ok.any() else None,
            "samples_per_second": round(computed / wall, 4) if wall > 0 and computed else None,
        },
        "workers": opts.workers if not opts.scheduler else None,
        "scheduler": opts.scheduler,
        "fields": json.loads(ds.attrs["fields"]),
        "failures": failures[:100],
    }
