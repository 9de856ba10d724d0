"""PETSc reads no options file: a `.petscrc` in the folder a case bundle is run from (or in the
home folder) could write files anywhere when PETSc ends, start a debugger, or change the
solvers unrecorded. ``PETSC_OPTIONS``, the user's environment, still reaches it."""

import os
import subprocess
import sys

SOLVE = """\
import twinkit.physics
from petsc4py import PETSc
print(sorted(PETSc.Options().getAll()))
"""


def _run(folder, env=None):
    env = os.environ | {"HOME": str(folder)} | (env or {})
    return subprocess.run([sys.executable, "-c", SOLVE], cwd=folder, env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip


def test_options_files_in_the_working_and_home_folders_are_not_read(tmp_path):
    for name in (".petscrc", "petscrc"):
        (tmp_path / name).write_text(f"-log_view ascii:{tmp_path / name}.log\n-ksp_type cg\n")
    done = _run(tmp_path)
    assert "log_view" not in done.stdout and "ksp_type" not in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [".petscrc", "petscrc"]


def test_petsc_options_from_the_environment_still_apply(tmp_path):
    done = _run(tmp_path, {"PETSC_OPTIONS": f"-log_view ascii:{tmp_path / 'env.log'}"})
    assert "log_view" in done.stdout
    assert (tmp_path / "env.log").exists()
