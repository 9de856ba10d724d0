"""Measurement helpers shared by the benchmarks: timings, PETSc log events, tables, subprocesses."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Timing:
    """One timed solve: seconds spent assembling and in the linear solver, and its iterations."""

    assemble_s: float
    solve_s: float
    iterations: int
    other_s: float = 0.0  # the rest of the solve call (twinkit: outputs, bookkeeping)

    @property
    def total_s(self) -> float:
        return self.assemble_s + self.solve_s + self.other_s


@dataclass
class Row:
    """One line of a results table: an implementation of a problem at one size."""

    problem: str
    impl: str
    ndofs: int
    solver: str
    setup_s: float | None = None
    assemble_s: float | None = None
    solve_s: float | None = None
    other_s: float | None = None
    iterations: int | None = None
    check: float | None = None
    runs: int = 0
    first_s: float | None = None  # total of the first run (includes one-off solver setup)
    ratio: float | None = None  # twinkit / bare, total
    note: str = ""

    @property
    def total_s(self) -> float | None:
        if self.assemble_s is None or self.solve_s is None:
            return None
        return self.assemble_s + self.solve_s + (self.other_s or 0.0)

    @property
    def dofs_per_s(self) -> float | None:
        t = self.total_s
        return self.ndofs / t if t else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"total_s": self.total_s, "dofs_per_s": self.dofs_per_s}


def best(timings: Sequence[Timing]) -> Timing:
    """The fastest run (by assemble + solve): the least disturbed by other load on the machine."""
    return min(timings, key=lambda t: t.total_s)


def seconds(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


@dataclass
class PetscEvents:
    """Inclusive times of PETSc log events between two snapshots (needs `PETSc.Log.begin()`)."""

    names: tuple[str, ...] = ("SNESSolve", "SNESFunctionEval", "SNESJacobianEval")
    _t0: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self._t0 = self._now()

    def stop(self) -> dict[str, float]:
        now = self._now()
        return {k: now[k] - self._t0[k] for k in self.names}

    def _now(self) -> dict[str, float]:
        from petsc4py import PETSc

        return {k: PETSc.Log.Event(k).getPerfInfo()["time"] for k in self.names}


class TimedKSP:
    """Stands in for a `PETSc.KSP` and adds up the wall time of its `solve` calls."""

    def __init__(self, ksp):
        self._ksp = ksp
        self.seconds = 0.0

    def solve(self, b, x) -> None:
        t0 = time.perf_counter()
        self._ksp.solve(b, x)
        self.seconds += time.perf_counter() - t0

    def __getattr__(self, name: str):
        return getattr(self._ksp, name)


def run_seconds(
    cmd: Sequence[str], repeats: int, env: Mapping[str, str] | None = None
) -> list[float]:
    """Wall times of a command run `repeats` times in fresh processes (output discarded)."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(
            cmd,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ) | dict(env or {}),
        )
        out.append(time.perf_counter() - t0)
    return out


def _fmt(v: Any, spec: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and spec:
        return format(v, spec)
    return str(v)


def table(rows: Sequence[Row], check_label: str) -> str:
    """Plain-text table of rows; columns are explained in benchmarks/README.md."""
    cols = [
        ("impl", "impl", ""),
        ("ndofs", "DOFs", ""),
        ("solver", "solver", ""),
        ("setup_s", "setup s", ".3f"),
        ("assemble_s", "assemble s", ".3f"),
        ("solve_s", "solve s", ".3f"),
        ("other_s", "other s", ".3f"),
        ("total_s", "total s", ".3f"),
        ("dofs_per_s", "DOFs/s", ".3g"),
        ("first_s", "1st s", ".3f"),
        ("iterations", "its", ""),
        ("runs", "runs", ""),
        ("ratio", "tw/bare", ".2f"),
        ("check", check_label, ".6g"),
    ]
    cells = [[h for _, h, _ in cols]]
    for r in rows:
        d = r.as_dict()
        cells.append([_fmt(d[k], spec) for k, _, spec in cols])
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  note ({r.impl}, {r.ndofs} DOFs): {r.note}" for r in rows if r.note]
    return "\n".join(lines + notes)
