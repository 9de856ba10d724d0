"""Process-wide settings for code that talks over sockets (MQTT broker, Dask scheduler)."""

from __future__ import annotations

import signal
import threading


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
