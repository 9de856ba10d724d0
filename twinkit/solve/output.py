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
            "warnings": list(s.warnings),
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


def write_time_series(path: Path, loaded: Any, result: Any, units: dict[str, str]) -> None:
    """A transient run's probes and QoIs at every step as an xarray Dataset in NetCDF: dimension
    `time` (s, from 0), one variable per output with its SI `units`."""
    import numpy as np
    import xarray as xr

    from twinkit.files import write_netcdf

    h = result.history
    data = {
        name: xr.Variable("time", np.asarray(v, dtype=float), {"units": units.get(name, "")})
        for name, v in h.items()
        if name != "time"
    }
    ds = xr.Dataset(
        data,
        coords={"time": xr.Variable("time", np.asarray(h["time"]), {"units": "s"})},
        attrs={
            "case": loaded.name,
            "case_hash": loaded.hash,
            "twinkit_version": __version__,
            "description": "probe values and QoIs of a transient run at every time step (SI); "
            "summary.json holds the final ones",
        },
    )
    write_netcdf(ds, path)


class FieldSeries:
    """Fields of a transient run every `every` steps (and the last) as `<name>_series.xdmf` (+ .h5):
    a ParaView time series; a `CaseRunner.solve` `on_step` callback."""

    def __init__(self, out: Path, every: int, steps: int):
        self.out, self.every, self.steps = out, every, steps
        self._files: dict[str, Any] = {}

    def __call__(self, step: int, t: float, fields: dict[str, Any]) -> None:
        from dolfinx.io import XDMFFile

        if step % self.every and step != self.steps:
            return
        for name, u in fields.items():
            w = output_function(u)
            w.name = name
            if name not in self._files:
                mesh = w.function_space.mesh
                f = XDMFFile(mesh.comm, self.out / f"{name}_series.xdmf", "w")
                f.write_mesh(mesh)
                self._files[name] = f
            self._files[name].write_function(w, t)

    def close(self) -> list[str]:
        """Close the files; their names."""
        for f in self._files.values():
            f.close()
        return [f"{n}_series{ext}" for n in self._files for ext in (".xdmf", ".h5")]
