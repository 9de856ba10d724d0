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
_SOLVER = (
    "build.py",
    "case.py",
    "case_base.py",
    "case_checks.py",
    "case_mesh.py",
    "case_physics.py",
    "case_sections.py",
    "runner.py",
    "sample_worker.py",
    "units.py",
)


@cache
def solver_hash() -> str:
    """16 hex digits of the SHA-256 of physics/*.py and the solver parts of twinkit."""
    twinkit = _folder("twinkit")
    return _hash(_sources("twinkit.physics") + [(f"twinkit/{f}", twinkit / f) for f in _SOLVER])


@cache
def code_hash() -> str:
    """16 hex digits of the SHA-256 of surrogates/*.py and twinkit/*.py: the code of the stages
    after the sweep (training, calibration, optimisation), whose results it changes without
    changing the solver."""
    return _hash(_sources("twinkit.surrogates") + _sources("twinkit"))


def _folder(package: str) -> Path:
    """Where a package's sources are, without importing it (`twinkit.physics` imports MPI)."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations is not None, package
    return Path(next(iter(spec.submodule_search_locations)))


def _sources(package: str) -> list[tuple[str, Path]]:
    """(name as installed, file) of the package's own modules, e.g. 'twinkit/physics/heat.py'."""
    prefix = package.replace(".", "/")
    return [(f"{prefix}/{f.name}", f) for f in sorted(_folder(package).glob("*.py"))]


def _hash(files: list[tuple[str, Path]]) -> str:
    h = hashlib.sha256()
    for name, f in files:
        h.update(name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]
