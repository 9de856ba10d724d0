"""FE solves of the search on worker processes: `twinkit optimize --fe-budget N --fe-workers K`.

Each of the K workers is a process of its own ('spawn': fork would copy MPI/PETSc state) with one
`CaseSolver` (one CaseRunner, forms compiled once per worker), so a round of up to K designs
(`fe_search.search(batch=K)`) is solved at once. A worker keeps the physics result of the round's
solves and of the designs the search asks it to `keep` (the best so far), and drops the rest, so
the best design's field can be drawn at the end (`picture`) without solving it again. A worker
that dies (not a solve that fails: that is an outcome like any other) makes its design a failed
solve with the reason, and is replaced for the next round.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from twinkit.case import LoadedCase
from twinkit.optimization.verify import CaseSolver, FEOutcome

_solver: CaseSolver | None = None
_results: dict[int, Any] = {}  # this worker's kept physics results by solve key


def _init(loaded: LoadedCase) -> None:
    global _solver
    from mpi4py import MPI  # noqa: F401 - before dolfinx/petsc4py (PyPI wheels)

    from twinkit.process import worker_process

    worker_process()  # Ctrl-C is the search's, which ends us; so is its end, even by kill -9
    _solver = CaseSolver(loaded)


def _solve(key: int, values: Mapping[str, float], keep: Sequence[int]) -> FEOutcome:
    assert _solver is not None
    for k in [k for k in _results if k not in keep]:
        del _results[k]
    fe = _solver(values)
    _results[key] = fe.result
    return replace(fe, result=None, worker=key)  # a physics result does not pickle


def _picture(key: int, out: str) -> list[str]:
    from twinkit.case.display import DisplayUnits
    from twinkit.optimization.plots import plot_design_field

    assert _solver is not None
    result = _results.get(key)
    if result is None:
        return []
    return plot_design_field(result, Path(out), DisplayUnits.from_case(_solver.loaded.case))


class FEWorkers:
    """K worker processes solving FE designs of one case: `many` solves up to K at once (one per
    worker), and the call solves one. Use as a context manager, or `close()`."""

    def __init__(self, loaded: LoadedCase, workers: int):
        if workers < 1:
            raise ValueError(f"workers {workers}: expected 1 or more")
        self.loaded = loaded
        self._pools: list[ProcessPoolExecutor | None] = [None] * workers
        self._keys = itertools.count()
        self._where: dict[int, int] = {}  # solve key -> worker index

    def _pool(self, i: int) -> ProcessPoolExecutor:
        import multiprocessing

        pool = self._pools[i]
        if pool is None:
            ctx = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(
                1, mp_context=ctx, initializer=_init, initargs=(self.loaded,)
            )
            self._pools[i] = pool
        return pool

    def __call__(self, values: Mapping[str, float]) -> FEOutcome:
        return self.many([values])[0]

    def many(
        self, batch: Sequence[Mapping[str, float]], keep: Sequence[FEOutcome] = ()
    ) -> list[FEOutcome]:
        """FE outcomes of `batch` (at most one design per worker), in its order. Workers drop the
        results of earlier solves but those of `keep`."""
        if len(batch) > len(self._pools):
            raise ValueError(f"{len(batch)} designs for {len(self._pools)} workers")
        kept = [o.worker for o in keep if o.worker is not None]
        jobs: list[tuple[int, int, Future]] = []
        for i, values in enumerate(batch):
            key = next(self._keys)
            jobs.append((i, key, self._pool(i).submit(_solve, key, dict(values), kept)))
        out = []
        for i, key, job in jobs:
            try:
                fe = job.result()
                self._where[key] = i
            except Exception as e:  # noqa: BLE001 - the worker died: this design failed
                self._drop(i)
                values = dict(batch[i])
                fe = FEOutcome(values, {}, False, 0.0, f"FE worker failed: {type(e).__name__}: {e}")
            out.append(fe)
        return out

    def picture(self, outcome: FEOutcome, out: Path) -> list[str]:
        """The field picture of a kept solve (`plots.plot_design_field`), [] if no worker has it."""
        key = outcome.worker
        i = self._where.get(key) if key is not None else None
        if key is None or i is None or self._pools[i] is None:
            return []
        return self._pool(i).submit(_picture, key, str(out)).result()

    def _drop(self, i: int) -> None:
        from twinkit.process import stop_pool

        pool = self._pools[i]
        if pool is not None:  # a solve still running (interrupted) stops with it
            stop_pool(pool)
        self._pools[i] = None
        self._where = {k: w for k, w in self._where.items() if w != i}

    def close(self) -> None:
        for i in range(len(self._pools)):
            self._drop(i)

    def __enter__(self) -> FEWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
