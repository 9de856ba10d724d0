"""Notebooks (jupytext percent scripts) run as real notebooks and assert their key numbers.

Each `notebooks/*.py` is converted to `.ipynb` and executed top to bottom through the "python3"
Jupyter kernel, as a user runs it: the kernel starts in `notebooks/`, and the outputs go to one
fresh folder per test session (`TWINKIT_NOTEBOOK_RUNS`), shared by the notebooks, so notebook 3
reuses the sweep and the surrogate of notebook 1 as it does for a user. The kernel is a process
of its own, which also keeps a notebook's state (VTK, PETSc, torch) out of the test process.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.py"))
IDS = [p.stem for p in NOTEBOOKS]
CELL_TIMEOUT = 900  # seconds per cell: a sweep cell is the longest (~1-2 min on 2 busy cores)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # IPython colours its tracebacks


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("notebook_runs")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs(path, runs, tmp_path, monkeypatch):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    ipynb = tmp_path / f"{path.stem}.ipynb"
    jupytext.write(jupytext.read(path), ipynb, fmt="ipynb")
    nb = nbformat.read(ipynb, as_version=4)
    monkeypatch.setenv("TWINKIT_NOTEBOOK_RUNS", str(runs))  # the kernel inherits the environment
    monkeypatch.setenv("MPLBACKEND", "Agg")
    before = sorted(NOTEBOOKS_DIR.rglob("*"))
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},  # the kernel's working directory
    )
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as e:
        pytest.fail(f"{path.name} failed:\n{ANSI.sub('', str(e))}", pytrace=False)
    finally:
        nbformat.write(nb, tmp_path / f"{path.stem}.executed.ipynb")  # with outputs, to look at
    # every output went to TWINKIT_NOTEBOOK_RUNS, none to the kernel's working directory
    assert sorted(NOTEBOOKS_DIR.rglob("*")) == before


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_converts_to_ipynb(path):
    jupytext = pytest.importorskip("jupytext")
    nb = jupytext.read(path)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds[0] == "markdown" and "code" in kinds, kinds
    assert '"cells"' in jupytext.writes(nb, fmt="ipynb")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_uses_the_public_api_only(path):
    """No command lines, no `__file__` (undefined in a kernel), twinkit only as `tk.<public>`."""
    import twinkit

    tree = ast.parse(path.read_text(), filename=str(path))
    problems = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == "subprocess":
                    problems.append(f"{where}: imports subprocess")
                elif top == "twinkit" and (alias.name, alias.asname) != ("twinkit", "tk"):
                    problems.append(f"{where}: 'import {alias.name}'; use 'import twinkit as tk'")
        elif isinstance(node, ast.ImportFrom):
            top = (node.module or "").split(".")[0]
            if top in ("twinkit", "subprocess"):
                problems.append(f"{where}: 'from {node.module} import ...'")
        elif isinstance(node, ast.Name) and node.id == "__file__":
            problems.append(f"{where}: uses __file__")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "tk" and node.attr not in twinkit.__all__:
                problems.append(f"{where}: tk.{node.attr} is not a public name of twinkit")
            if (node.value.id, node.attr) == ("os", "system"):
                problems.append(f"{where}: os.system")
    assert not problems, "\n".join(problems)
