"""Process-wide settings: signals for code that talks over sockets (MQTT broker, Dask
scheduler), and how a command stops when interrupted (SIGINT, SIGTERM)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

GRACE = 1.0  # s an interrupted command has to unwind before it exits at once

_interrupt: dict[str, Any] = {"signal": None, "said": False}


def interrupted() -> int | None:
    """The signal (SIGINT or SIGTERM) that interrupted this command, or None."""
    return _interrupt["signal"]


def raise_if_interrupted() -> None:
    """KeyboardInterrupt if the command was interrupted. PETSc turns an exception raised in one
    of its Python callbacks into an error code, which the physics reads as a failed solve: the
    half-done solve must not then be reported, or stored, as a result."""
    if _interrupt["signal"] is not None:
        raise KeyboardInterrupt


@contextmanager
def interruptible() -> Iterator[None]:
    """Within the block SIGINT and SIGTERM raise KeyboardInterrupt (`interrupted` says which), so
    that `finally` blocks still keep what is finished. If the process has not ended `GRACE` s
    later (a library swallowed the exception) or a second signal comes, it says "interrupted"
    and exits at once with 128 + the signal's number. PETSc, loaded later, is told to leave the
    signals alone (also in worker processes). Main thread only; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if "petsc4py.PETSc" not in sys.modules:  # else its handler takes SIGTERM: MPI_Abort(59)
        options = os.environ.get("PETSC_OPTIONS", "")
        os.environ["PETSC_OPTIONS"] = f"{options} -no_signal_handler".strip()
    names = (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)
    old = {s: signal.getsignal(s) for s in names}
    _interrupt.update(signal=None, said=False)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        yield
    finally:
        if _interrupt["signal"] is None:  # else the deadline stays: the process is ending
            for s, h in old.items():
                signal.signal(s, h)


def _on_signal(signum: int, frame: Any) -> None:
    if _interrupt["signal"] is not None:
        exit_interrupted()
    _interrupt["signal"] = signum
    signal.signal(signal.SIGALRM, lambda *_: exit_interrupted())
    signal.setitimer(signal.ITIMER_REAL, GRACE)
    raise KeyboardInterrupt


def exit_interrupted(say: bool = True) -> None:
    """Print "error: interrupted" (once, if `say`) and end the process at once with 128 + the
    signal's number: without waiting for threads, worker pools or MPI to wind down."""
    signum = _interrupt["signal"] or signal.SIGINT
    if say and not _interrupt["said"]:
        _interrupt["said"] = True
        sys.stderr.write(f"error: {interrupt_message(signum)}\n")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(128 + signum)


def interrupt_message(signum: int | None) -> str:
    """ "interrupted", naming the signal unless it was SIGINT (Ctrl-C)."""
    if signum in (None, signal.SIGINT):
        return "interrupted"
    return f"interrupted by {signal.Signals(signum).name}"  # type: ignore[arg-type]


def ignore_sigpipe() -> None:
    """Ignore SIGPIPE again, as Python does by default: PETSc's initialisation (importing
    dolfinx) sets it back to "terminate", and then a write to a peer that has just gone away (a
    restarted broker, a dead scheduler) kills the whole process instead of raising an error the
    client handles (seen as a pytest run dying in the broker-restart test). Main thread only."""
    if hasattr(signal, "SIGPIPE") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def sigpipe_ignored() -> bool:
    """Whether the kernel ignores SIGPIPE for this process (not Python's cached handler)."""
    with open("/proc/self/status") as f:
        mask = next(line for line in f if line.startswith("SigIgn:")).split()[1]
    return bool(int(mask, 16) >> (signal.SIGPIPE - 1) & 1)


def single_threaded() -> None:
    """One torch thread: the twin's batches are small, and more threads only contend (measured:
    update p99 217 ms with the default threads vs 12 ms with one, on 2 busy cores)."""
    import torch

    torch.set_num_threads(1)


def stop_pool(pool: Any) -> None:
    """End a `ProcessPoolExecutor` now: its running tasks are terminated (else the shutdown would
    wait for their solves to end), the queued ones cancelled, its semaphores freed."""
    for p in list((getattr(pool, "_processes", None) or {}).values()):
        p.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def worker_process() -> None:
    """For a worker process of a local pool (its initializer): Ctrl-C is left to the parent,
    which ends its workers, and the worker exits when the parent does (a parent killed with -9
    must not leave its workers solving)."""
    import multiprocessing

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(sentinel: int) -> None:
    from multiprocessing.connection import wait

    wait([sentinel])
    os._exit(1)
