"""The layering rules (docs/development.md), checked on the source, and the CLI's lazy imports."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
# folder → (its import name, what it may import from twinkit, modules it must never import)
LAYERS = {
    "physics": ("twinkit.physics", {"twinkit.physics"}, {"torch", "optuna"}),
    "surrogates": (
        "twinkit.surrogates",
        {"twinkit.surrogates"},
        {"dolfinx", "ufl", "basix", "petsc4py"},
    ),
}


def imported_modules(path: Path) -> set[str]:
    """Dotted names of every absolute import in a file, lazy ones inside functions included."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("folder", sorted(LAYERS))
def test_layer_imports(folder):
    _, allowed, forbidden = LAYERS[folder]
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files, f"{folder}/ must exist"
    bad = {}
    for f in files:
        names = imported_modules(f)
        wrong = {n for n in names if n.split(".")[0] in forbidden}
        wrong |= {n for n in names if n.split(".")[0] in {"physics", "surrogates"}}  # old names
        wrong |= {
            n for n in names if _within(n, "twinkit") and not any(_within(n, a) for a in allowed)
        }
        if wrong:
            bad[str(f.relative_to(ROOT))] = sorted(wrong)
    assert not bad


def test_every_package_is_installed():
    """pyproject.toml lists the packages explicitly (the folder mapping needs it): none missing.
    A mapped folder without `__init__.py` holds data (the example bundles)."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {name: ROOT / path for name, path in tool["package-dir"].items()}
    found = set(folders) | {
        ".".join((name, *init.parent.relative_to(folder).parts))
        for name, folder in folders.items()
        for init in folder.rglob("__init__.py")
    }
    assert sorted(tool["packages"]) == sorted(found)


def test_cli_help_imports_nothing_heavy():
    """`twinkit --help` and validation stay fast: no FE, plotting or ML stack at import time."""
    code = (
        "import sys; import twinkit.cli; "
        "heavy = {'dolfinx', 'petsc4py', 'pyvista', 'torch', 'optuna', 'gmsh', 'pint', 'ufl'}; "
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _modules() -> dict[str, Path]:
    """Every module of the installed package, by dotted name, from the folder mapping."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mods = {}
    for name, path in tool["package-dir"].items():
        if not (ROOT / path / "__init__.py").is_file():
            continue  # data
        for f in (ROOT / path).rglob("*.py"):
            parts = f.relative_to(ROOT / path).with_suffix("").parts
            mods[".".join((name, *parts[: -1 if parts[-1] == "__init__" else None]))] = f
    return mods


def _import_graph() -> dict[str, set[str]]:
    """module → the twinkit modules it imports anywhere (lazy and TYPE_CHECKING imports count);
    `from package import module` is an import of the module."""
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in mods}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    deps.add(sub if sub in mods else node.module)
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def test_no_import_cycles():
    graph = _import_graph()
    cycles = []
    done: set[str] = set()

    def visit(m: str, path: list[str]) -> None:
        if m in path:
            cycles.append(path[path.index(m) :] + [m])
            return
        if m in done:
            return
        for d in sorted(graph[m]):
            visit(d, [*path, m])
        done.add(m)

    for m in sorted(graph):
        visit(m, [])
    assert not cycles, " → ".join(cycles[0])


# Each subpackage may import only those below it (and itself); cli and the API sit on top.
LAYER_ORDER = [
    {
        "twinkit.physics",
        "twinkit.surrogates",
        "twinkit.process",
        "twinkit.files",
        "twinkit.redaction",
    },
    {"twinkit.case", "twinkit.extras"},
    {"twinkit.solve"},
    {"twinkit.sweep", "twinkit.sensors"},
    {"twinkit.training", "twinkit.twin", "twinkit.optimization"},
    {"twinkit.pipeline", "twinkit.dashboard"},
]


def _unit(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def test_subpackages_import_downwards():
    rank = {u: i for i, layer in enumerate(LAYER_ORDER) for u in layer}
    upward = sorted(
        f"{m} imports {d}"
        for m, deps in _import_graph().items()
        if _unit(m) in rank
        for d in deps
        if _unit(d) in rank and rank[_unit(d)] > rank[_unit(m)]
    )
    assert not upward


def test_every_import_is_declared():
    """Each third-party module the package imports is a dependency or an optional extra's."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = " ".join(meta["dependencies"] + sum(meta["optional-dependencies"].values(), []))
    # import name → distribution name, where they differ
    dist = {
        "yaml": "pyyaml",
        "sklearn": "scikit-learn",
        "paho": "paho-mqtt",
        "psycopg2": "psycopg2-binary",
        "dolfinx": "dolfinx-solver-real",
        "ufl": "dolfinx-solver-real",
        "basix": "dolfinx-solver-real",
        "petsc4py": "dolfinx-solver-real",
        "mpi4py": "dolfinx-solver-real",
        "distributed": "dask",
        "onnxruntime": "onnxruntime",
    }
    stdlib = set(sys.stdlib_module_names)
    missing = set()
    for f in _modules().values():
        for name in imported_modules(f):
            top = name.split(".")[0]
            if top in stdlib or top in {"twinkit", "__future__"}:
                continue
            if dist.get(top, top).replace("_", "-") not in declared.replace("_", "-"):
                missing.add(top)
    assert not missing


def test_modules_stay_small():
    """One concept per module: none reaches 400 lines (house style: most 50-250)."""
    sizes = {name: len(f.read_text().splitlines()) for name, f in _modules().items()}
    assert not {name: n for name, n in sizes.items() if n >= 400}


def test_pngs_are_drawn_without_pyplot_in_the_default_style():
    """The PNGs the commands write come from a ``matplotlib.figure.Figure`` made inside a
    `default_style` function: pyplot would run the ``figure.hooks`` of a ``matplotlibrc`` in the
    working folder, and that file's style applies otherwise. Only `field_figure`, the notebooks'
    `Result.plot`, uses pyplot (the user's own session)."""
    allowed = {ROOT / "twinkit/solve/plotting.py"}
    for path in sorted(ROOT.glob("[pst]*/**/*.py")):
        if ".venv" in path.parts or path.parts[len(ROOT.parts)] == "tests" or path in allowed:
            continue
        assert "matplotlib.pyplot" not in imported_modules(path), path
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            makes = any(isinstance(c, ast.Call) and getattr(c.func, "id", None) == "Figure"
                        for c in ast.walk(node))  # fmt: skip
            styled = any(getattr(d, "id", None) == "default_style" for d in node.decorator_list)
            assert styled or not makes, f"{path}: {node.name} makes a Figure unstyled"
