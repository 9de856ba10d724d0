"""What a solve produced: the summary.json document, and the fields as XDMF and VTU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twinkit.version import __version__


def summary(loaded: Any, result: Any, units: dict[str, str], extra: dict[str, Any]) -> dict:
    """The `summary.json` document (SI units; docs/cli.md describes it)."""
    s = result.solver
    return {
        "case": loaded.name,
        "case_file": str(loaded.path),
        "case_hash": loaded.hash,
        "twinkit_version": __version__,
        "parameters": result.parameters,
        "qoi": result.qoi,
        "sensors": result.sensors,
        "units": units,
        "solver": {
            "converged": s.converged,
            "iterations": s.iterations,
            "seconds": round(s.seconds, 4),
            "message": s.message,
        },
        **extra,
    }


def output_function(u: Any) -> Any:
    """`u` if XDMF/VTK can store it (DG0, or continuous Lagrange of the mesh's geometry degree),
    else its interpolant in that Lagrange space (P1 on straight cells, P2 on curved ones)."""
    from dolfinx import fem

    mesh = u.function_space.mesh
    el = u.function_space.ufl_element()
    deg = el.embedded_superdegree
    geometry_degree = mesh.geometry.cmaps[0].degree
    if deg == 0 or (deg == geometry_degree and not el.discontinuous):
        return u
    V = fem.functionspace(mesh, ("Lagrange", geometry_degree, u.ufl_shape))
    w = fem.Function(V, name=u.name)
    w.interpolate(u)
    return w


def write_fields(out: Path, fields: dict[str, Any]) -> list[str]:
    """Each field as `<name>.xdmf` (+ .h5) and `<name>.pvd` (+ .vtu); returns the file names."""
    from dolfinx.io import VTKFile, XDMFFile

    written = []
    for name, u in fields.items():
        w = output_function(u)
        w.name = name
        mesh = w.function_space.mesh
        with XDMFFile(mesh.comm, out / f"{name}.xdmf", "w") as f:
            f.write_mesh(mesh)
            f.write_function(w)
        with VTKFile(mesh.comm, out / f"{name}.pvd", "w") as f:
            f.write_function(w)
        written += [f"{name}.xdmf", f"{name}.pvd"]
    return written
