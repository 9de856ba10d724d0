"""The dashboard's time charts (Bokeh): a line with its ± 2σ band, measured points beside it,
a forecast crossing; each data source is named (`readings:<sensor>`, `prediction:<sensor>`,
`parameter:<name>`, `qoi:<name>`, `input:<name>`) so a page's script can find it.

Values are shown in the case's display units (`twinkit.case.display`); times are plant time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from bokeh.models import BoxAnnotation, ColumnDataSource, Span
from bokeh.plotting import figure

from twinkit.case.display import DisplayUnits, pretty
from twinkit.dashboard.source import MAX_POINTS, Series, thin

EMPTY: dict[str, list] = {"x": [], "y": [], "lower": [], "upper": []}


@dataclass(frozen=True)
class Shown:
    """How one quantity is shown: shown = scale · SI + offset, in `unit`."""

    unit: str
    scale: float = 1.0
    offset: float = 0.0

    @classmethod
    def of(cls, display: DisplayUnits, name: str, si_unit: str) -> Shown:
        try:
            return cls(*display.linear(name, si_unit))
        except Exception:  # a unit pint does not know: show SI as it is
            return cls(si_unit)

    @property
    def label(self) -> str:
        return "" if self.unit in ("", "1") else pretty(self.unit)


def line_data(s: Series, shown: Shown, max_points: int = MAX_POINTS) -> dict[str, Any]:
    """Columns x (ms since the epoch, as Bokeh's datetime axes want), y, lower, upper (y ± 2σ),
    at most `max_points` rows."""
    if not s.t:
        return dict(EMPTY)
    i = thin(len(s.t), max_points)
    y = np.asarray(s.value, dtype=float)[i] * shown.scale + shown.offset
    σ = np.asarray(s.std, dtype=float)[i] * abs(shown.scale) if s.std else np.zeros(len(i))
    return {"x": np.asarray(s.t)[i] * 1000.0, "y": y, "lower": y - 2 * σ, "upper": y + 2 * σ}


def time_figure(title: str, shown: Shown) -> Any:
    fig = figure(
        title=f"{title} [{shown.label}]" if shown.label else title,
        x_axis_type="datetime", height=220, sizing_mode="stretch_width",
        tools="pan,wheel_zoom,box_zoom,reset,save", toolbar_location="right",
    )  # fmt: skip
    fig.yaxis.axis_label = shown.label
    return fig


class BandChart:
    """A figure with an estimate ± 2σ (`<prefix>:<name>`) and, optionally, the measured points
    (`readings:<name>`) or a forecast crossing (a vertical line, its interval shaded)."""

    def __init__(self, prefix: str, name: str, shown: Shown, points: bool = False,
                 legend: str = "twin ± 2σ"):  # fmt: skip
        self.name, self.shown = name, shown
        self.fig = time_figure(name, shown)
        self.band = ColumnDataSource(dict(EMPTY), name=f"{prefix}:{name}")
        self.fig.varea("x", "lower", "upper", source=self.band, fill_alpha=0.25,
                       fill_color="#4c72b0", legend_label=legend)  # fmt: skip
        self.fig.line("x", "y", source=self.band, line_width=2, color="#4c72b0",
                      legend_label=legend)  # fmt: skip
        self.points = None
        if points:
            self.points = ColumnDataSource({"x": [], "y": []}, name=f"readings:{name}")
            self.fig.scatter("x", "y", source=self.points, size=3, alpha=0.5, color="#dd8452",
                             legend_label="readings")  # fmt: skip
        self.fig.legend.location = "top_left"
        self.fig.legend.click_policy = "hide"
        self.fig.legend.label_text_font_size = "8pt"
        self.crossing: Span | None = None

    def set(self, band: Series | None, points: Series | None = None) -> None:
        if band is not None:
            self.band.data = line_data(band, self.shown)
        if self.points is not None and points is not None:
            d = line_data(points, self.shown)
            self.points.data = {"x": d["x"], "y": d["y"]}

    def forecast(self, f: dict[str, float], limit_text: str = "") -> None:
        """Mark the forecast crossing time (epoch s) and its interval, and name it in the title."""
        from datetime import UTC, datetime

        t = f.get("crossing")
        if t is None or not np.isfinite(t):
            return
        if self.crossing is None:
            self.crossing = Span(dimension="height", line_color="#c44e52", line_dash="dashed",
                                 line_width=2)  # fmt: skip
            self.interval = BoxAnnotation(fill_color="#c44e52", fill_alpha=0.1)
            self.fig.add_layout(self.crossing)
            self.fig.add_layout(self.interval)
        self.crossing.location = t * 1000.0
        lo, hi = f.get("lower"), f.get("upper")
        self.interval.left = None if lo is None else lo * 1000.0
        self.interval.right = None if hi is None else hi * 1000.0

        def day(x: float | None) -> str:
            return "?" if x is None else datetime.fromtimestamp(x, UTC).strftime("%Y-%m-%d %H:%M")

        span = f" (between {day(lo)} and {day(hi)})" if lo is not None or hi is not None else ""
        base = f"{self.name} [{self.shown.label}]" if self.shown.label else self.name
        self.fig.title.text = f"{base}: forecast reaches its limit {day(t)} UTC{span}"
