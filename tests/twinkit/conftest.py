"""Fixtures for the CLI tests: write a case file, run `twinkit` in-process or as a real process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from postgres import postgres, postgres_server  # noqa: F401 (fixtures: PostgreSQL)

# A small valid heat-conduction case (NAFEMS T4 geometry on a coarse mesh); tests edit its text.
BASE_CASE = """\
name: small
model: heat_conduction
mesh:
  generator: rectangle
  length: 0.6 m
  height: 1.0 m
  cells: [6, 10]
materials:
  plate:
    conductivity: 52 W/(m*K)
boundary_conditions:
  - {type: temperature, region: bottom, value: 100 degC}
  - {type: convection, region: right, h: 750 W/(m^2*K), ambient: 0 degC}
  - {type: convection, region: top, h: 750 W/(m^2*K), ambient: 0 degC}
probes:
  T_A: {point: [0.6 m, 0.2 m]}
"""

# A unit square whose sides and surface are gmsh physical groups.
SQUARE_GEO = """\
Point(1) = {0, 0, 0, 0.5}; Point(2) = {1, 0, 0, 0.5};
Point(3) = {1, 1, 0, 0.5}; Point(4) = {0, 1, 0, 0.5};
Line(1) = {1, 2}; Line(2) = {2, 3}; Line(3) = {3, 4}; Line(4) = {4, 1};
Curve Loop(1) = {1, 2, 3, 4}; Plane Surface(1) = {1};
Physical Curve("hot") = {4}; Physical Curve("cold") = {2}; Physical Surface("plate") = {1};
"""


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def base_case() -> str:
    """The text of a small valid case (edit it to make a bad one)."""
    return BASE_CASE


@pytest.fixture
def beam(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cantilever beam's case file (`beam_surrogate.BEAM_CASE`), run from `tmp_path` so that
    `runs/beam/...` defaults land there."""
    from beam_surrogate import BEAM_CASE

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "beam.yaml"
    path.write_text(BEAM_CASE)
    return path


@pytest.fixture
def write_case(tmp_path: Path) -> Callable[..., Path]:
    """Write case text to `tmp_path / name` and return the path."""

    def write(text: str, name: str = "case.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture
def square_geo(tmp_path: Path) -> Path:
    path = tmp_path / "square.geo"
    path.write_text(SQUARE_GEO)
    return path


def run_processes(
    *commands: Sequence[str | Path], cwd: Path | None = None, timeout: float = 120
) -> list[CliResult]:
    """`python -m twinkit.cli ARGS` for each command, as separate processes run side by side.

    What a user's shell sees; start-up (imports, unit registry) dominates, hence in parallel.
    """
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "twinkit.cli", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        for args in commands
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        results.append(CliResult(proc.returncode, out, err))
    return results


def run_process(*args: str | Path, cwd: Path | None = None, timeout: float = 120) -> CliResult:
    """`python -m twinkit.cli ARGS` as a separate process."""
    return run_processes(args, cwd=cwd, timeout=timeout)[0]


def run_inprocess(*args: str | Path) -> CliResult:
    """The same command through typer's CliRunner: the same code path, without process start-up."""
    from typer.testing import CliRunner

    from twinkit.cli import app

    r = CliRunner().invoke(app, [str(a) for a in args])
    return CliResult(r.exit_code, r.stdout, r.stderr)


@pytest.fixture
def cli_process() -> Callable[..., CliResult]:
    return run_process


@pytest.fixture
def cli_processes() -> Callable[..., list[CliResult]]:
    return run_processes


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    return run_inprocess
