"""Where the files a case names may lie: inside the case file's folder, or (meshes only) inside
the `meshes/` folder beside that folder, the layout of a project (`cases/`, `meshes/`). Paths are
relative to the case file; symbolic links count where they lead, so none leads out."""

from __future__ import annotations

from pathlib import Path

from twinkit.case.base import CaseError
from twinkit.case.units import clip


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def case_file_path(case_path: Path, relative: str, key: str, meshes: bool = False) -> Path:
    """`relative` (from key `key` of the case file at `case_path`) resolved, following symbolic
    links; CaseError naming the key and the value unless it lies inside the case's folder (or,
    with `meshes`, inside the `meshes/` folder beside it)."""
    shown = f"{case_path}: {key}: '{clip(relative, 200)}'"
    if "\x00" in relative:
        raise CaseError(f"{shown}: a path holds no NUL character")
    if Path(relative).is_absolute() or relative.startswith("~"):
        raise CaseError(f"{shown}: give a path relative to the case file, not an absolute one")
    folder = case_path.resolve().parent
    roots = [folder] + ([folder.parent / "meshes"] if meshes else [])
    try:
        path = (folder / relative).resolve()
    except (OSError, RuntimeError) as e:  # a loop of symbolic links, a name too long
        raise CaseError(f"{shown}: cannot resolve it ({e})") from None
    if not any(_inside(path, r) for r in roots):
        where = "the case file's folder" + (" or the meshes/ folder beside it" if meshes else "")
        raise CaseError(
            f"{shown}: leads to {path}, outside {where} ({' or '.join(map(str, roots))})"
        )
    return path


def mesh_file(case_path: Path, relative: str) -> Path:
    """The mesh file `mesh.file` names (`case_file_path` with the meshes/ folder allowed)."""
    return case_file_path(case_path, relative, "mesh.file", meshes=True)


def run_sensor_file(case_path: Path, sensors: str | None) -> Path | None:
    """The sensor file a case's `run.sensors` names (inside its folder, `case_file_path`), None
    without one; CaseError naming the key if it leads out or is not a file."""
    if sensors is None:
        return None
    path = case_file_path(case_path, sensors, "run.sensors")
    if not path.is_file():
        raise CaseError(f"{case_path}: run.sensors: '{clip(sensors)}': no such file ({path})")
    return path
