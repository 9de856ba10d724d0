"""PNG pictures of fields with pyvista, off-screen (no display needed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def _grid(u: Any):
    import pyvista as pv
    from dolfinx import plot

    from twinkit.output import output_function

    w = output_function(u)
    V = w.function_space
    ncomp = int(np.prod(w.ufl_shape)) if w.ufl_shape else 1
    if V.ufl_element().embedded_superdegree == 0:
        grid = pv.UnstructuredGrid(*plot.vtk_mesh(V.mesh))
        grid.cell_data[u.name] = w.x.array[: grid.n_cells * ncomp].reshape(-1, ncomp).squeeze()
        return grid, ncomp
    grid = pv.UnstructuredGrid(*plot.vtk_mesh(V))
    vals = w.x.array.reshape(-1, ncomp)
    if ncomp > 1:
        vec = np.zeros((vals.shape[0], 3))
        vec[:, :ncomp] = vals
        grid.point_data[u.name] = vec
    else:
        grid.point_data[u.name] = vals[:, 0]
    return grid, ncomp


def plot_field(u: Any, path: Path, title: str = "", unit: str = "") -> Path:
    """Render a scalar field coloured; displacement as magnitude on the deformed shape; other
    vector fields (velocity) as magnitude with arrows."""
    os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")
    import pyvista as pv

    pv.OFF_SCREEN = True
    import vtk

    vtk.vtkLogger.SetStderrVerbosity(vtk.vtkLogger.VERBOSITY_OFF)  # no "bad X server" noise
    grid, ncomp = _grid(u)
    name = u.name
    p = pv.Plotter(off_screen=True, window_size=(1000, 700))
    bar = {
        "title": f"{name} [{unit}]" if unit else name,
        "vertical": True,
        "position_x": 0.82,
        "position_y": 0.1,
    }
    if ncomp > 1 and name != "displacement":
        mag = np.linalg.norm(grid.point_data[name], axis=1)
        grid.point_data[f"|{name}|"] = mag
        p.add_mesh(grid, scalars=f"|{name}|", cmap="viridis", scalar_bar_args=bar)
        span = float(np.ptp(grid.points, axis=0).max()) or 1.0
        factor = 0.05 * span / mag.max() if mag.max() > 0 else 1.0
        # tolerance thins the points to an even spacing of ~4 % of the domain
        arrows = grid.glyph(orient=name, scale=f"|{name}|", factor=factor, tolerance=0.04)
        p.add_mesh(arrows, color="black")
    elif ncomp > 1:
        vec = grid.point_data[name]
        mag = np.linalg.norm(vec, axis=1)
        span = float(np.ptp(grid.points, axis=0).max()) or 1.0
        factor = 0.1 * span / mag.max() if mag.max() > 0 else 1.0
        grid.point_data[f"|{name}|"] = mag
        warped = grid.warp_by_vector(name, factor=factor)
        p.add_mesh(grid, style="wireframe", color="grey", opacity=0.3)
        p.add_mesh(warped, scalars=f"|{name}|", cmap="viridis", scalar_bar_args=bar)
        title = title or f"{name} (deformation x{factor:.3g})"
    else:
        p.add_mesh(grid, scalars=name, cmap="inferno", scalar_bar_args=bar)
    p.add_text(title or name, font_size=12)
    if np.ptp(grid.points[:, 2]) == 0:
        p.view_xy()
    else:
        p.view_isometric()
    p.screenshot(str(path))
    p.close()
    return path
