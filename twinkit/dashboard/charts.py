"""The dashboard's time charts (Bokeh): a line with its ± 2σ band, measured points beside it,
a forecast crossing; each data source is named (`readings:<sensor>`, `prediction:<sensor>`,
`parameter:<name>`, `qoi:<name>`, `input:<name>`) so a page's script can find it.

A page has many such charts, and each Bokeh model costs the server (building and serialising
the session's document) and the browser (building its view): the charts of a page share one
time axis (`Timeline`: one x range, so they pan and zoom together, one datetime ticker and
formatter), and each glyph is one model (no selection, hover or muted copies); the legend is
the section's heading (`legend_html`).

Values are shown in the case's display units (`twinkit.case.display`); times are plant time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from bokeh.models import (
    AllLabels,
    BasicTicker,
    BasicTickFormatter,
    BoxAnnotation,
    ColumnDataSource,
    DataRange1d,
    DatetimeAxis,
    DatetimeTicker,
    DatetimeTickFormatter,
    Grid,
    Line,
    LinearAxis,
    Scatter,
    Span,
    VArea,
)
from bokeh.plotting import figure

from twinkit.case.display import DisplayUnits, pretty
from twinkit.dashboard.source import MAX_POINTS, Series, thin

EMPTY: dict[str, list] = {"x": [], "y": [], "lower": [], "upper": []}
BAND, POINTS = "#4c72b0", "#dd8452"


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
    pick = (lambda v: [v[k] for k in i]) if len(i) < len(s.t) else list  # not the whole list
    y = np.asarray(pick(s.value), dtype=float) * shown.scale + shown.offset
    σ = np.asarray(pick(s.std), dtype=float) * abs(shown.scale) if s.std else np.zeros(len(i))
    return {"x": np.asarray(pick(s.t)) * 1000.0, "y": y, "lower": y - 2 * σ, "upper": y + 2 * σ}


class Timeline:
    """What the time charts of one document share: the x range (panning or zooming one chart
    moves them all), the tickers and tick formatters of both axes and their label policy."""

    def __init__(self) -> None:
        self.x_range = DataRange1d()
        self.ticker = DatetimeTicker()
        self.formatter = DatetimeTickFormatter()
        self.y_ticker = BasicTicker()
        self.y_formatter = BasicTickFormatter()
        self.labels = AllLabels()


def time_figure(title: str, shown: Shown, timeline: Timeline | None = None) -> Any:
    timeline = timeline or Timeline()
    fig = figure(
        title=f"{title} [{shown.label}]" if shown.label else title,
        x_axis_type=None, y_axis_type=None, x_range=timeline.x_range, height=220,
        sizing_mode="stretch_width", tools="xpan,xwheel_zoom,reset", toolbar_location="right",
    )  # fmt: skip
    t = timeline
    x_axis = DatetimeAxis(ticker=t.ticker, formatter=t.formatter, major_label_policy=t.labels)
    y_axis = LinearAxis(ticker=t.y_ticker, formatter=t.y_formatter, major_label_policy=t.labels,
                        axis_label=shown.label)  # fmt: skip
    fig.add_layout(x_axis, "below")
    fig.add_layout(y_axis, "left")
    fig.add_layout(Grid(dimension=0, ticker=t.ticker))
    fig.add_layout(Grid(dimension=1, ticker=t.y_ticker))
    return fig


def legend_html(*items: tuple[str, str]) -> str:
    """A legend for a section of charts: (kind, label) with kind 'band' or 'points'."""
    swatch = {"band": f"<span style='display:inline-block;width:18px;height:9px;background:"
                      f"{BAND}66;border-top:2px solid {BAND};margin:0 4px'></span>",
              "points": f"<span style='color:{POINTS};margin:0 4px'>&#9679;</span>"}  # fmt: skip
    return "<div style='font-size:9pt'>" + " ".join(swatch[k] + t for k, t in items) + "</div>"


class BandChart:
    """A figure with an estimate ± 2σ (`<prefix>:<name>`) and, optionally, the measured points
    (`readings:<name>`) or a forecast crossing (a vertical line, its interval shaded)."""

    def __init__(self, prefix: str, name: str, shown: Shown, points: bool = False,
                 timeline: Timeline | None = None):  # fmt: skip
        self.name, self.shown = name, shown
        self.fig = time_figure(name, shown, timeline)
        self.band = ColumnDataSource(dict(EMPTY), name=f"{prefix}:{name}")
        self.fig.add_glyph(self.band, VArea(x="x", y1="lower", y2="upper", fill_alpha=0.25,
                                            fill_color=BAND))  # fmt: skip
        self.fig.add_glyph(self.band, Line(x="x", y="y", line_width=2, line_color=BAND))
        self.points = None
        if points:
            self.points = ColumnDataSource({"x": [], "y": []}, name=f"readings:{name}")
            self.fig.add_glyph(self.points, Scatter(x="x", y="y", size=3, fill_alpha=0.5,
                                                    line_alpha=0.5, fill_color=POINTS,
                                                    line_color=POINTS))  # fmt: skip
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
