"""The wheel, as a user installs it: one import name, the examples inside, `twinkit run` works.

The wheel is built from the working tree and installed (without its dependencies, which the test
environment already has) into a folder that comes first on PYTHONPATH, so every command below runs
the installed copy, from a folder outside the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the files a clone has (tracked or not ignored), as CI's clean clone."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(out), str(src)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (path,) = out.glob("twinkit-*.whl")
    return path


def test_the_wheel_installs_one_import_name_and_the_examples(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"twinkit"}
    for part in (
        "physics/domain.py",
        "physics/heat/model.py",
        "surrogates/model.py",
        "cli/__main__.py",
        "api/case.py",
    ):
        assert f"twinkit/{part}" in names
    for example in ("furnace.yaml", "furnace_sensors.csv", "bracket.yaml", "meshes/heatsink.geo"):
        assert f"twinkit/examples/{example}" in names


@pytest.mark.slow
def test_twinkit_run_on_an_example_copied_out_of_the_wheel(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), wheel],
        check=True,
        capture_output=True,
        timeout=300,
    )
    work = tmp_path / "work"
    work.mkdir()
    env = os.environ | {"PYTHONPATH": str(site), "MPLBACKEND": "Agg"}

    def twinkit(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "twinkit.cli", *args]
        return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)

    where = subprocess.run(
        [sys.executable, "-c", "import twinkit.physics as p; print(p.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(site))  # the installed copy, not the source tree
    r = twinkit("example", "bracket", "bracket")
    assert r.returncode == 0, r.stderr
    case = work / "bracket" / "bracket.yaml"
    # a coarse variant, so that the whole job fits a test: 8 mm cells, linear elements
    case.write_text(
        case.read_text().replace("size: 4 mm", "size: 8 mm").replace("degree: 2", "degree: 1")
    )
    r = twinkit("run", str(case), "-n", "8", "--test", "2", "--trials", "20", "--workers", "1")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    record = json.loads((work / "runs" / "bracket" / "run.json").read_text())
    assert {s["status"] for s in record["stages"].values()} == {"done"}
    assert (work / "runs" / "bracket" / "report.html").stat().st_mode & 0o777 == 0o644
    assert "mm" in (work / "runs" / "bracket" / "report.html").read_text()  # the case's units
