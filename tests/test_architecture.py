"""The layering rules of DESIGN.md, checked on the source, and the CLI's lazy imports."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
FORBIDDEN = {
    "physics": {"torch", "optuna", "surrogates", "twinkit"},
    "surrogates": {"dolfinx", "ufl", "basix", "petsc4py", "physics", "twinkit"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports(package):
    files = sorted((ROOT / package).rglob("*.py"))
    if package == "physics":
        assert files, "physics/ must exist"
    bad = {
        str(f.relative_to(ROOT)): sorted(imported_modules(f) & FORBIDDEN[package]) for f in files
    }
    assert not {f: m for f, m in bad.items() if m}


def test_cli_help_imports_nothing_heavy():
    """`twinkit --help` and validation stay fast: no FE, plotting or ML stack at import time."""
    code = (
        "import sys; import twinkit.cli; "
        "heavy = {'dolfinx', 'petsc4py', 'pyvista', 'torch', 'optuna', 'gmsh', 'pint', 'ufl'}; "
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
