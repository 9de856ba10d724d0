"""Which solver code computed a result: a hash of the sources that turn a case into numbers.

A sweep records it, and a sweep folder computed by other solver code is not resumed: its
finished samples would mix two versions of the physics in one dataset (the version number does
not change while the code is developed). `code_hash` covers the rest (surrogates/, twinkit/):
`twinkit run` reruns its stages after the sweep when it changes.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import cache
from pathlib import Path

# the physics, and the parts of twinkit that read a case and build and run its model
_SOLVER = ("solve/build.py", "solve/runner.py", "sweep/worker.py")


@cache
def solver_hash() -> str:
    """16 hex digits of the SHA-256 of physics/ and the solver parts of twinkit."""
    twinkit = _folder("twinkit")
    solver = [(f"twinkit/{f}", twinkit / f) for f in _SOLVER]
    return _hash(_sources("twinkit.physics", recursive=True) + _sources("twinkit.case") + solver)


@cache
def code_hash() -> str:
    """16 hex digits of the SHA-256 of surrogates/*.py and twinkit/*.py: the code of the stages
    after the sweep (training, calibration, optimisation), whose results it changes without
    changing the solver."""
    return _hash(_sources("twinkit.surrogates") + _sources("twinkit", recursive=True))


def _folder(package: str) -> Path:
    """Where a package's sources are, without importing it (`twinkit.physics` imports MPI)."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations is not None, package
    return Path(next(iter(spec.submodule_search_locations)))


def _sources(package: str, recursive: bool = False) -> list[tuple[str, Path]]:
    """(name as installed, file) of the package's own modules, e.g.
    'twinkit/physics/heat/model.py'."""
    prefix = package.replace(".", "/")
    folder = _folder(package)
    files = sorted(folder.rglob("*.py") if recursive else folder.glob("*.py"))
    return [(f"{prefix}/{f.relative_to(folder).as_posix()}", f) for f in files]


def _hash(files: list[tuple[str, Path]]) -> str:
    h = hashlib.sha256()
    for name, f in files:
        h.update(name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]
