"""The dashboard's picture of the estimated field: the twin's latest virtual field
(`twinkit.twin.virtual_field`, read from the history's `fields` table) drawn on the surrogate's
mesh, mean and std side by side, each coloured by value with its colour bar.

A mesh with cells is drawn cell by cell (`patches`, a cell coloured by the mean of its nodes'
values), one without as its nodes (`scatter`); x and y only (a 3-D mesh is seen from above). A
vector field is shown as its magnitude: |mean| and the root sum of squares of its components'
std. The data sources are named `field` (cells: xs, ys, mean, std) and `field-nodes` (x, y,
mean, std); the figures `field-mean` and `field-std`; the field chosen in the `field-name` list.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    Div,
    LinearColorMapper,
    Patches,
    Scatter,
    Select,
)
from bokeh.palettes import Magma256, Viridis256
from bokeh.plotting import figure

from twinkit.dashboard.charts import Shown
from twinkit.twin.virtual_field import MESH

CELLS: dict[str, list] = {"xs": [], "ys": [], "mean": [], "std": []}
NODES: dict[str, list] = {"x": [], "y": [], "mean": [], "std": []}


def picture_values(doc: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Per node: a scalar field's mean and std, or a vector field's |mean| and √Σ std²."""
    shape = tuple(doc.get("shape") or [-1])
    mean = np.asarray(doc["mean"], dtype=float).reshape(shape)
    std = np.asarray(doc["std"], dtype=float).reshape(shape)
    if mean.ndim == 1:
        return mean, std
    flat = mean.reshape(len(mean), -1), std.reshape(len(std), -1)
    return np.linalg.norm(flat[0], axis=1), np.linalg.norm(flat[1], axis=1)


class FieldPicture:
    """Two figures (mean, std) of the field chosen in a list, redrawn when the history brings a
    new one."""

    def __init__(self, ctx: Any):
        self.ctx = ctx
        self.cells = ColumnDataSource(dict(CELLS), name="field")
        self.nodes = ColumnDataSource(dict(NODES), name="field-nodes")
        self.maps = {"mean": LinearColorMapper(palette=Viridis256),
                     "std": LinearColorMapper(palette=Magma256)}  # fmt: skip
        self.figs = {k: self._figure(k) for k in self.maps}
        self.pick = Select(title="field", options=[], width=200, name="field-name")
        self.pick.on_change("value", lambda attr, old, new: self.draw(force=True))
        self.note = Div(text="no field in the history yet", name="field-note",
                        sizing_mode="stretch_width")  # fmt: skip
        head = Div(text="<h3>Estimated field (virtual sensor): mean and std over the posterior "
                   "ensemble</h3>", sizing_mode="stretch_width")  # fmt: skip
        self.layout = column(head, row(self.pick, column(Div(text="&nbsp;"), self.note)),
                             row(*self.figs.values(), sizing_mode="stretch_width"),
                             sizing_mode="stretch_width")  # fmt: skip
        self.shown: tuple[str, float] | None = None  # (name, when saved) of what is drawn

    def _figure(self, which: str) -> Any:
        fig = figure(title=which, height=340, sizing_mode="stretch_width", match_aspect=True,
                     tools="pan,wheel_zoom,box_zoom,reset,hover,save", name=f"field-{which}",
                     tooltips=[(which, f"@{which}{{0.000 a}}")])  # fmt: skip
        color = {"field": which, "transform": self.maps[which]}
        fig.add_glyph(self.cells, Patches(xs="xs", ys="ys", fill_color=color, line_color=color))
        fig.add_glyph(self.nodes, Scatter(x="x", y="y", size=7, fill_color=color,
                                          line_color=color))  # fmt: skip
        fig.add_layout(ColorBar(color_mapper=self.maps[which], width=10), "right")
        return fig

    def refresh(self) -> None:
        """Offer the fields the history holds; draw the chosen one if it changed."""
        names = sorted(n for n in self.ctx.source.fields if n != MESH)
        if names != list(self.pick.options):
            self.pick.options = names
        if names and self.pick.value not in names:
            self.pick.value = "temperature" if "temperature" in names else names[0]  # draws
            return
        self.draw()

    def draw(self, force: bool = False) -> None:
        fields = self.ctx.source.fields
        name = self.pick.value
        doc, mesh = fields.get(name), fields.get(MESH, {})
        if doc is None or "node_x" not in mesh:
            return
        if not force and self.shown == (name, doc["saved"]):
            return
        mean, std = picture_values(doc)
        x = np.asarray(mesh["node_x"], dtype=float)
        y = np.asarray(mesh["node_y"], dtype=float) if "node_y" in mesh else np.zeros_like(x)
        if len(x) != len(mean):
            self.note.text = f"{name}: {len(mean)} values, but the mesh has {len(x)} nodes"
            return
        shown = Shown.of(self.ctx.display, name, doc.get("unit", ""))
        mean, std = mean * shown.scale + shown.offset, std * abs(shown.scale)
        cells = mesh.get("cells")
        if cells:
            c = np.asarray(cells)
            self.cells.data = {"xs": x[c].tolist(), "ys": y[c].tolist(),
                               "mean": mean[c].mean(1), "std": std[c].mean(1)}  # fmt: skip
            self.nodes.data = dict(NODES)
        else:
            self.nodes.data = {"x": x, "y": y, "mean": mean, "std": std}
            self.cells.data = dict(CELLS)
        for which, v in (("mean", mean), ("std", std)):
            lo, hi = float(np.min(v)), float(np.max(v))
            self.maps[which].update(low=lo, high=hi if hi > lo else lo + 1e-12)
            unit = f" [{shown.label}]" if shown.label else ""
            label = "|" + name + "|" if doc.get("shape", [0])[1:] else name
            self.figs[which].title.text = f"{label}: {which}{unit}"
        self.note.text = f"update {doc['update']} at {doc['t']} (plant time)"
        self.shown = (name, doc["saved"])
