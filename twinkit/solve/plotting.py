"""Pictures of fields: PNGs with pyvista, off-screen (no display needed), and matplotlib figures
of 2D fields for notebooks. Values are shown in a display unit: `shown = scale · SI + offset`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def _grid(u: Any):
    import pyvista as pv
    from dolfinx import plot

    from twinkit.solve.output import output_function

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


def _arrows(grid: Any, name: str, span: float, spacing: float = 0.04) -> Any:
    """Glyphs of vector point data `name`, thinned to an even spacing (fraction of the domain)."""
    mag = np.linalg.norm(grid.point_data[name], axis=1)
    grid.point_data[f"|{name}|"] = mag
    factor = 1.5 * spacing * span / mag.max() if mag.max() > 0 else 1.0
    return grid.glyph(orient=name, scale=f"|{name}|", factor=factor, tolerance=spacing)


Display = tuple[str, float, float]  # (unit, scale, offset) of `DisplayUnits.linear`


def plot_field(
    u: Any,
    path: Path,
    title: str = "",
    unit: str = "",
    arrows: Any = None,
    display: Display | None = None,
) -> Path:
    """Render a scalar field coloured; displacement as magnitude on the deformed shape; other
    vector fields (velocity) as magnitude with arrows. `arrows`: a vector field drawn as
    arrows over a scalar one (e.g. velocity over temperature). Long flat 2D domains (a tank
    section) get a wide picture."""
    os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")
    import pyvista as pv

    pv.OFF_SCREEN = True
    import vtk

    vtk.vtkLogger.SetStderrVerbosity(vtk.vtkLogger.VERBOSITY_OFF)  # no "bad X server" noise
    grid, ncomp = _grid(u)
    name = u.name
    if display is not None:
        unit, scale, offset = display
        for data in (grid.point_data, grid.cell_data):
            if name in data:
                data[name] = data[name] * scale + (offset if ncomp == 1 else 0.0)
    unit = pretty_unit(unit)
    extent = np.ptp(grid.points, axis=0)
    span = float(extent.max()) or 1.0
    flat = extent[2] == 0
    wide = flat and extent[1] > 0 and extent[0] / extent[1] > 2.5
    size = (1400, int(np.clip(1200 * extent[1] / extent[0], 250, 600)) + 170) if wide else None
    p = pv.Plotter(off_screen=True, window_size=size or (1000, 700))
    bar = {"title": f"{name} [{unit}]" if unit else name, "fmt": "%.5g"}
    bar |= (
        {"vertical": False, "position_x": 0.3, "position_y": 0.03, "width": 0.4}
        if wide
        else {"vertical": True, "position_x": 0.82, "position_y": 0.1}
    )
    if ncomp > 1 and name != "displacement":
        glyphs = _arrows(grid, name, span)
        p.add_mesh(grid, scalars=f"|{name}|", cmap="viridis", scalar_bar_args=bar)
        p.add_mesh(glyphs, color="black")
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
        if arrows is not None:
            vgrid, _ = _grid(arrows)
            p.add_mesh(_arrows(vgrid, arrows.name, span, 0.015 if wide else 0.04), color="white")
            title = title or f"{name} with {arrows.name} arrows"
    p.add_text(title or name, font_size=12)
    if flat:
        p.view_xy()
        if wide:
            p.camera.tight(padding=0.08, adjust_render_window=False)
    else:
        p.view_isometric()
    p.screenshot(str(path))
    p.close()
    return path


def pretty_unit(unit: str) -> str:
    """degC → °C; '1' → ''."""
    from twinkit.case.display import pretty

    return pretty(unit)


def field_figure(u: Any, display: Display, ax: Any = None) -> Any:
    """A matplotlib figure of a 2D field (its magnitude for vectors) on its mesh's triangles."""
    import matplotlib.pyplot as plt
    from matplotlib.tri import Triangulation

    from twinkit.solve.output import output_function

    w = output_function(u)
    V = w.function_space
    if V.mesh.geometry.dim != 2 or V.mesh.topology.cell_name() != "triangle":
        raise ValueError(f"field_figure draws 2D triangle meshes; open {u.name}.pvd in ParaView")
    ncomp = int(np.prod(w.ufl_shape)) if w.ufl_shape else 1
    values = w.x.array.reshape(-1, ncomp)
    unit, scale, offset = display
    shown = np.linalg.norm(values, axis=1) * abs(scale) if ncomp > 1 else values[:, 0] * scale
    shown = shown + (offset if ncomp == 1 else 0.0)
    xy = V.tabulate_dof_coordinates()[:, :2]
    cells = V.dofmap.list[:, :3]  # the vertices' dofs (P1, or the corners of P2)
    if ax is None:
        extent = np.ptp(xy, axis=0)
        aspect = extent[1] / extent[0] if extent[0] > 0 else 1.0
        fig, ax = plt.subplots(figsize=(10, float(np.clip(10 * aspect, 2.5, 8)) + 1))
    else:
        fig = ax.figure
    art = ax.tripcolor(Triangulation(xy[:, 0], xy[:, 1], cells), shown, shading="gouraud")
    label = f"|{u.name}|" if ncomp > 1 else u.name
    fig.colorbar(art, ax=ax, label=f"{label} [{pretty_unit(unit)}]" if unit else label)
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    return fig
