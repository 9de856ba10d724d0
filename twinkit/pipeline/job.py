"""What the stages of `twinkit run` share: the job (case, options, folders), a stage's
description, and the hashes that decide whether a stage is up to date."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twinkit.case import LoadedCase

# case sections that only some stages read; everything else is the physics of every FE solve
NOT_PHYSICS = ("description", "sensors", "alerts", "optimization", "run")


class StageError(RuntimeError):
    """A stage failed; `cause` is the original exception (a CaseError is the user's to fix)."""

    def __init__(self, stage: str, cause: BaseException):
        super().__init__(f"stage '{stage}' failed: {cause}")
        self.stage = stage
        self.cause = cause


@dataclass(frozen=True)
class RunOptions:
    """Command-line choices; None takes the case's `run:` section (or its default)."""

    out: Path | None = None
    samples: int | None = None
    test: int | None = None
    workers: int | None = None
    trials: int | None = None
    sensors: Path | None = None
    force: bool = False


@dataclass
class Job:
    """One `twinkit run`: the case, the resolved settings, where things go, what ran."""

    loaded: LoadedCase
    raw: dict[str, Any]
    out: Path
    samples: int
    test: int
    workers: int
    members: int
    epochs: int | None
    trials: int
    sensors: Path | None
    fe_solves: int = 5
    design_samples: int = 0  # training samples of the sweep on the design slice
    tolerance: float = 0.01
    force: bool = False  # rerun every stage, and the sweep's samples too
    console: Any = None
    notes: list[str] = field(default_factory=list)  # warnings for the final summary

    @property
    def case_path(self) -> Path:
        return self.loaded.path

    def section(self, *keys: str) -> str:
        """Hash of some top-level sections of the case file (missing ones count as null)."""
        return digest({k: self.raw.get(k) for k in keys})

    def physics(self) -> str:
        """Hash of the physics: the case's physics sections and the solver code."""
        from twinkit.sweep.provenance import solver_hash

        sections = {k: v for k, v in self.raw.items() if k not in NOT_PHYSICS}
        return digest(sections | {"solver code": solver_hash()})

    def file(self, relative: str) -> str | None:
        """Content hash of an output (None when it does not exist)."""
        return file_hash(self.out / relative)

    def log(self, message: str) -> None:
        self.console.print(f"[dim]    {message}[/dim]", highlight=False)


@dataclass(frozen=True)
class Stage:
    name: str
    inputs: Callable[[Job], dict[str, Any] | None]  # None: the stage does not apply (skip note)
    run: Callable[[Job], tuple[list[str], str]]  # → output files (relative to OUT), one-line note
    live: bool = True  # show a spinner (False: the stage draws its own progress)
    renders: bool = False  # draws pictures with VTK


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_hash(path: Path) -> str | None:
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]
