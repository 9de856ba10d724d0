"""Notebooks (jupytext percent scripts) run top to bottom and assert their key numbers.

Each runs in its own Python process, as `python notebooks/NAME.py`, with its outputs in one fresh
folder per test session (notebook 3 reuses the sweep of notebook 1 there, as it does for a user).
A fresh process also keeps a notebook's state (VTK, PETSc, torch) out of the test process.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("notebooks")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, runs):
    env = os.environ | {"TWINKIT_NOTEBOOK_RUNS": str(runs), "MPLBACKEND": "Agg"}
    run = subprocess.run(
        [sys.executable, str(path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, f"{path.name} failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_converts_to_ipynb(path):
    jupytext = pytest.importorskip("jupytext")
    nb = jupytext.read(path)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds[0] == "markdown" and "code" in kinds, kinds
    assert '"cells"' in jupytext.writes(nb, fmt="ipynb")
