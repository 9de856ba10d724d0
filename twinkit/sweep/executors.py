"""Where sweep samples run: this process, local worker processes ('spawn'), or a Dask cluster.

Each process keeps one `SampleWorker` (one CaseRunner), so forms compile once per worker. A task
that a worker could not finish because the worker itself died (not a failed solve: those come back
as records) is reported as `(index, exception)`; the sample stays pending for the next run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple

from twinkit.case import CaseError
from twinkit.sweep.store import SampleRecord


class WorkerArgs(NamedTuple):
    """What a worker needs to set itself up: the case file (absolute), its hash, field storage."""

    case_path: str
    case_hash: str
    store_fields: bool


Task = tuple[int, Mapping[str, float]]  # sample index, parameter values (SI)
Outcome = SampleRecord | tuple[int, BaseException]


def execute(
    args: WorkerArgs, tasks: Sequence[Task], workers: int = 1, scheduler: str | None = None
) -> Iterator[Outcome]:
    """Records of the `tasks` as they finish (in any order): on the Dask `scheduler` if given,
    else in this process (`workers` = 1) or in `workers` local processes."""
    from twinkit.sweep.worker import run_sample

    if not tasks:
        return
    if scheduler:
        yield from _on_dask(scheduler, args, tasks)
    elif workers == 1:
        for i, values in tasks:  # in this process: no start-up cost
            yield run_sample(*args, i, values)
    else:
        yield from _on_processes(workers, args, tasks)


def _on_processes(workers: int, args: WorkerArgs, tasks: Sequence[Task]) -> Iterator[Outcome]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from twinkit.process import stop_pool
    from twinkit.sweep.worker import init_worker, run_sample

    ctx = multiprocessing.get_context("spawn")  # fork would copy MPI/PETSc state
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_worker, initargs=args)
    try:
        futures = {pool.submit(run_sample, *args, i, values): i for i, values in tasks}
        for f in as_completed(futures):
            try:
                yield f.result()
            except Exception as e:  # noqa: BLE001 - a dead worker process: not the sample's fault
                yield (futures[f], e)
    except BaseException:  # interrupted: stop the samples still running, store none of them
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def _on_dask(address: str, args: WorkerArgs, tasks: Sequence[Task]) -> Iterator[Outcome]:
    from twinkit.extras import require

    require("distributed", f"--scheduler {address}")
    from dask.distributed import Client, as_completed

    from twinkit.process import ignore_sigpipe
    from twinkit.sweep.worker import run_sample

    ignore_sigpipe()  # a scheduler that dies must not take this process with it
    try:
        client = Client(address, timeout=15)
    except (OSError, ValueError) as e:  # unreachable, or not an address
        raise CaseError(
            f"--scheduler {address}: cannot connect to a Dask scheduler ({e})"
        ) from None
    try:
        futures = {client.submit(run_sample, *args, i, v, pure=False): i for i, v in tasks}
        for f in as_completed(futures):
            try:
                yield f.result()
            except Exception as e:  # noqa: BLE001 - e.g. KilledWorker
                yield (futures[f], e)
    finally:
        client.close()
