"""Mutants of the shipped cases for the fuzz test of tests/twinkit/test_hostile_input.py.

hypothesis draws a shipped case and one to three mutations: delete a key, swap a value for a
hostile one (NaN, -1, huge strings, exponent towers, ../ paths, deep or aliased lists, wrong
types), add a key, append raw YAML (python tags, tabs, duplicate keys, alias bombs), or put a
gmsh command into the mesh script. Each mutant is validated in-process (typer's CliRunner on
`twinkit.cli.app`). Derandomised: every run tries the same mutants.
"""

from __future__ import annotations

import copy
import math
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
SHIPPED = sorted((ROOT / "cases").glob("*.yaml")) + sorted(
    (ROOT / "cases" / "benchmarks").glob("*.yaml")
)
MESHES = sorted((ROOT / "cases" / "benchmarks").glob("*.geo"))  # beside the cases that use them


def _settings(examples: int) -> Any:
    """Hypothesis settings of both fuzzers: derandomised (the same mutants every run), no example
    database, no deadline (the bound is asserted per example), no health checks."""
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


def _nested(depth: int) -> list:
    v: list = []
    for _ in range(depth):
        v = [v]
    return v


def _bomb(levels: int = 9) -> list:
    """Nine lists of nine of the same list ...: safe_dump writes it as anchors and aliases."""
    v: list = ["lol"] * 9
    for _ in range(levels - 1):
        v = [v] * 9
    return v


HOSTILE: list[Any] = [
    math.nan, math.inf, -math.inf, -1, 0, -1.0, 1e308, 2**70, -(2**70), 10**12, True, None, "",
    "nan K", "inf m", "-1 m", "0 m", "-1 K", "-300 degC", "1e999 m", "1e-300 m", "1e-9 m",
    "100 K**9**9**9", "1 m**99", "1 ((m**2)**2)**2", "1 m^-11", "x" * 100_000,
    "1 " + "m*" * 3000 + "m", "../../etc/passwd", "/etc/passwd", "../meshes/../../etc/hosts",
    "~/x.geo", "$nosuch", "-$x", "${}", "a/b", "..", "a\x00b", "1 m; import os", "1 W/(m^2*K)",
    "300 K", "1 m", "5 kg", [], {}, [None], ["1 m"] * 5, _nested(5), _nested(40), _bomb(),
    {"generator": "box"}, {"file": "../../etc/hosts"},
]  # fmt: skip
KEYS = [
    "name", "size", "steps", "end", "limits", "max_cells", "file", "point", "cells", "value",
    "range", "role", "regions", "conductivity", "density", "h", "ambient", "type", "generator",
    "<<", "extra", "x" * 5000,
]  # fmt: skip
RAW = [
    "evil: !!python/object/apply:os.system ['touch {sentinel}']\n",
    "evil: !!python/name:os.system\n",
    "model: heat_conduction\n",
    "\tmodel: x\n",
    "a: &a [1, *a]\n",
    "b: *nowhere\n",
    "c: [" * 200 + "]" * 200 + "\n",
    "d: &d [x,x,x,x,x,x,x,x,x]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n",
    "%YAML 1.1\n---\n",
    "--- !!binary aGVsbG8=\n",
    "i: 0x1F\nj: 1_000\nk: 0o17\n",
]
GEO_LINES = [
    'SystemCall "touch {sentinel}";',
    'System "touch {sentinel}";',
    'Save "{sentinel}";',
    'Printf("x") > "{sentinel}";',
    'Include "/etc/hosts";',
    "General.SaveOptions = 1;",
    "Exit;",
    "Sleep 100;",
    'CreateDir "{sentinel}";',
    "// a comment: SystemCall is fine here",
]


def _paths(doc: Any, at: tuple = (), seen: set[int] | None = None) -> list[tuple]:
    """Key paths into `doc`, entering each list or mapping once (an alias bomb put in by an
    earlier mutation is one object, not 9⁹)."""
    seen = set() if seen is None else seen
    out = [at]
    if isinstance(doc, dict | list) and id(doc) not in seen and len(at) < 8:
        seen.add(id(doc))
        items = doc.items() if isinstance(doc, dict) else enumerate(doc)
        for k, v in items:
            out += _paths(v, (*at, k), seen)
    return out


def _get(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _mutate(data: Any, st: Any, doc: dict, tail: list[str], geo: list[str], mesh: bool) -> dict:
    op = data.draw(st.sampled_from(["delete", "replace", "replace", "insert", "raw", "geo"]))
    paths = _paths(doc)
    if op in ("delete", "replace") and len(paths) > 1:
        path = data.draw(st.sampled_from(paths[1:]))
        parent = _get(doc, path[:-1])
        if op == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(data.draw(st.sampled_from(HOSTILE)))
    elif op == "insert":
        maps = [p for p in paths if isinstance(_get(doc, p), dict)]
        target = _get(doc, data.draw(st.sampled_from(maps)))
        target[data.draw(st.sampled_from(KEYS))] = copy.deepcopy(
            data.draw(st.sampled_from(HOSTILE))
        )
    elif op == "raw":
        tail.append(data.draw(st.sampled_from(RAW)))
    elif op == "geo" and mesh:
        geo.append(data.draw(st.sampled_from(GEO_LINES)))
    return doc


def run_fuzz(tmp: Path, examples: int = 1000) -> dict[str, Any]:
    """Validate `examples` mutants; returns {examples, codes, max_seconds, written}; raises
    AssertionError on an exit code other than 0/2, a traceback, or a sentinel file written."""
    import os

    from hypothesis import given
    from hypothesis import strategies as st
    from typer.testing import CliRunner

    from twinkit.cli import app

    work, outside = tmp / "work", tmp / "outside"
    (work / "cases" / "benchmarks").mkdir(parents=True)
    (work / "meshes").mkdir()
    (work / "run").mkdir()
    outside.mkdir()
    sentinel = outside / "written"
    geo_text = (ROOT / "meshes" / "heatsink.geo").read_text()

    def place(p: Path) -> Path:
        return work / "cases" / p.relative_to(ROOT / "cases")

    for f in [*(ROOT / "cases").iterdir(), *SHIPPED, *MESHES]:
        if f.is_file():
            shutil.copy(f, place(f))
    originals = {p: yaml.safe_load(p.read_text()) for p in SHIPPED}
    runner = CliRunner()
    stats: dict[str, Any] = {"examples": 0, "codes": Counter(), "max_seconds": 0.0}

    cwd = Path.cwd()
    os.chdir(work / "run")
    try:
        for p in SHIPPED:  # warm up (imports, unit registry, gmsh) and check the originals
            (work / "meshes" / "heatsink.geo").write_text(geo_text)
            r = runner.invoke(app, ["validate", str(place(p))])
            assert r.exit_code == 0, (p, r.output)

        @_settings(examples)
        @given(st.data())
        def one(data: Any) -> None:
            source = data.draw(st.sampled_from(SHIPPED))
            doc = yaml.safe_load(yaml.safe_dump(originals[source]))
            tail: list[str] = []
            geo: list[str] = []
            mesh = "file" in (doc.get("mesh") or {})
            for _ in range(data.draw(st.integers(1, 3))):
                doc = _mutate(data, st, doc, tail, geo, mesh)
            text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=200)
            text += "".join(t.format(sentinel=sentinel) for t in tail)
            lines = geo_text.splitlines()
            for g in geo:
                at = data.draw(st.integers(0, len(lines)))
                lines.insert(at, g.format(sentinel=sentinel))
            (work / "meshes" / "heatsink.geo").write_text("\n".join(lines) + "\n")
            path = place(source)
            path.write_text(text)
            t0 = time.perf_counter()
            r = runner.invoke(app, ["validate", str(path)])
            seconds = time.perf_counter() - t0
            stats["examples"] += 1
            stats["codes"][r.exit_code] += 1
            stats["max_seconds"] = max(stats["max_seconds"], seconds)
            assert r.exit_code in (0, 2), (r.exit_code, r.output[-2000:], text[:2000])
            assert "Traceback" not in r.output, r.output[-2000:]
            assert not sentinel.exists(), (text[:2000], geo)

        one()
    finally:
        os.chdir(cwd)
    expected = {work / "cases" / f.name for f in (ROOT / "cases").iterdir() if f.is_file()}
    expected |= {work / "meshes" / "heatsink.geo", work / "run", work / "cases" / "benchmarks"}
    expected |= {place(p) for p in [*SHIPPED, *MESHES]} | {work / "cases", work / "meshes"}
    stats["written"] = sorted(
        str(p) for p in [*work.rglob("*"), *outside.rglob("*")] if p not in expected
    )
    stats["codes"] = dict(stats["codes"])
    return stats


# ---- solve-level fuzz: mutants of the two cheapest shipped cases through `twinkit solve` --------
SOLVED = [ROOT / "cases" / "benchmarks" / n for n in ("radiation_1d.yaml", "transient_slab.yaml")]
FACTORS = [0.0, -1.0, 1e-9, 1e-3, 0.5, 2.0, 1e3, 1e9, 1e300]
SMALL_INTS = [-1, 0, 1, 2, 3]
FIXED = {"degree", "scheme", "generator", "type", "region", "model", "name"}  # new forms: JIT


def _scalable(doc: Any) -> tuple[list[tuple], list[tuple]]:
    """Paths to quantities ("1000 K") and to integers (cells, steps) that may be changed."""
    quantities, ints = [], []
    for path in _paths(doc):
        if path and (path[-1] in FIXED or any(p in FIXED for p in path if isinstance(p, str))):
            continue
        v = _get(doc, path)
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            ints.append(path)
        elif isinstance(v, float) or (isinstance(v, str) and v[:1].isdigit()):
            quantities.append(path)
    return quantities, ints


def _mutate_values(data: Any, st: Any, doc: dict) -> dict:
    """Scale a quantity (0, −1, 1e-9 ... 1e300 times), set an integer to a small one, delete a
    key, or put in a hostile value: inputs that validation may pass and the solver must meet."""
    quantities, ints = _scalable(doc)
    op = data.draw(st.sampled_from(["scale", "scale", "scale", "int", "delete", "hostile"]))
    if op == "scale" and quantities:
        path = data.draw(st.sampled_from(quantities))
        v, f = _get(doc, path), data.draw(st.sampled_from(FACTORS))
        number, _, unit = str(v).partition(" ")
        _get(doc, path[:-1])[path[-1]] = f"{float(number) * f:g} {unit}".strip()
    elif op == "int" and ints:
        path = data.draw(st.sampled_from(ints))
        _get(doc, path[:-1])[path[-1]] = data.draw(st.sampled_from(SMALL_INTS))
    elif op in ("delete", "hostile"):
        paths = [p for p in _paths(doc)[1:] if not any(k in FIXED for k in p if isinstance(k, str))]
        path = data.draw(st.sampled_from(paths))
        if op == "delete":
            del _get(doc, path[:-1])[path[-1]]
        else:
            value = data.draw(st.sampled_from(HOSTILE[:26]))  # numbers and short strings
            _get(doc, path[:-1])[path[-1]] = copy.deepcopy(value)
    return doc


def run_solve_fuzz(tmp: Path, examples: int = 30) -> dict[str, Any]:
    """Solve `examples` mutants of radiation_1d and transient_slab in-process; returns
    {examples, codes, max_seconds, written}. Raises AssertionError on an exit code other than
    0/1/2, a traceback, an exit 1 that is not an honest failed solve (`converged: false` in
    summary.json), or an unconverged result claimed as converged."""
    import json
    import os

    from hypothesis import given
    from hypothesis import strategies as st
    from typer.testing import CliRunner

    from twinkit.cli import app

    run, out = tmp / "run", tmp / "run" / "out"
    run.mkdir()
    originals = {p: yaml.safe_load(p.read_text()) for p in SOLVED}
    runner = CliRunner()
    stats: dict[str, Any] = {"examples": 0, "codes": Counter(), "max_seconds": 0.0}
    cwd = Path.cwd()
    os.chdir(run)
    try:

        @_settings(examples)
        @given(st.data())
        def one(data: Any) -> None:
            source = data.draw(st.sampled_from(SOLVED))
            doc = copy.deepcopy(originals[source])
            for _ in range(data.draw(st.integers(1, 2))):
                doc = _mutate_values(data, st, doc)
            text = yaml.safe_dump(doc, sort_keys=False)
            path = run / source.name
            path.write_text(text)
            shutil.rmtree(out, ignore_errors=True)
            t0 = time.perf_counter()
            r = runner.invoke(app, ["solve", str(path), "--out", str(out), "--no-plots"])
            seconds = time.perf_counter() - t0
            stats["examples"] += 1
            stats["codes"][r.exit_code] += 1
            stats["max_seconds"] = max(stats["max_seconds"], seconds)
            assert r.exit_code in (0, 1, 2), (r.exit_code, r.output[-2000:], text)
            assert "Traceback" not in r.output and "--debug" not in r.output, (r.output, text)
            if r.exit_code in (0, 1):
                solver = json.loads((out / "summary.json").read_text())["solver"]
                assert solver["converged"] is (r.exit_code == 0), (solver, text)
            if r.exit_code == 1:
                assert "the solve failed: " in r.output and solver["message"], (r.output, text)
            assert seconds < 60, (seconds, text)

        one()
    finally:
        os.chdir(cwd)
    allowed = {run, out, *(run / p.name for p in SOLVED)}
    stats["written"] = sorted(
        str(p) for p in tmp.rglob("*") if p not in allowed and out not in p.parents
    )
    stats["codes"] = dict(stats["codes"])
    return stats
