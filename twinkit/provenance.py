"""Which solver code computed a result: a hash of the sources that turn a case into numbers.

A sweep records it, and a sweep folder computed by other solver code is not resumed: its
finished samples would mix two versions of the physics in one dataset (the version number does
not change while the code is developed). `code_hash` covers the rest (surrogates/, twinkit/):
`twinkit run` reruns its stages after the sweep when it changes.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
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
    return _hash(
        sorted((_ROOT / "physics").glob("*.py")) + [_ROOT / "twinkit" / f for f in _SOLVER]
    )


@cache
def code_hash() -> str:
    """16 hex digits of the SHA-256 of surrogates/*.py and twinkit/*.py: the code of the stages
    after the sweep (training, calibration, optimisation), whose results it changes without
    changing the solver."""
    return _hash(
        sorted((_ROOT / "surrogates").glob("*.py")) + sorted((_ROOT / "twinkit").glob("*.py"))
    )


def _hash(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(_ROOT).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]
