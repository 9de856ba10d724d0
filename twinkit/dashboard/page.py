"""One browser session of the dashboard: a Bokeh document laid out from the case (a chart per
sensor, latent parameter and QoI), the picture of the estimated field, the alerts and
data-quality tables, the acknowledge button and the what-if panel; a periodic callback (1 s)
polls the history and pushes what changed to the page over Bokeh's websocket.

The server builds a session's document before it answers the browser, and the browser builds a
view of every model before it paints: a served page (`lazy`) first holds what a reader sees
without scrolling (the header, the sensor charts, the alerts and data-quality tables), and
adds the rest (latent parameters, QoIs, the field picture, the what-if panel) once the browser
says that document is drawn (Bokeh's `DocumentReady`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bokeh.events import DocumentReady
from bokeh.layouts import column, gridplot, row
from bokeh.models import Button, Div, Select

from twinkit.dashboard.charts import BandChart, Shown, Timeline, legend_html
from twinkit.dashboard.context import Context
from twinkit.dashboard.field import FieldPicture
from twinkit.dashboard.tables import Table
from twinkit.dashboard.whatif import WhatIf

ALERT_COLUMNS = {"time": "time (plant)", "state": "state", "severity": "severity",
                 "kind": "kind", "key": "key", "message": "message"}  # fmt: skip
QUALITY_COLUMNS = {"sensor": "sensor", "accepted": "accepted", "repaired": "repaired",
                   "rejected": "rejected", "reasons": "rejected by reason"}  # fmt: skip
SHOWN_ALERTS = 500  # the newest rows in the table
REST_FALLBACK_MS = 5000  # a lazy page's rest, if the browser has not said it is ready by then


def _time(t: float | None) -> str:
    if t is None:
        return ""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


class Page:
    """The charts and tables of one document, refreshed from `ctx.source` when it has news.

    `lazy`: the panels below the first screen are built once the browser has drawn the rest
    (a served page); otherwise at once (a document built in-process). Without `doc`, the page
    is built ahead, outside any document, and shown later by `attach` (`PagePool`)."""

    def __init__(self, ctx: Context, doc: Any = None, lazy: bool = False):
        self.ctx, self.doc, self.seen, self.lazy = ctx, None, -1, lazy
        c, show = ctx.loaded.case, ctx.display
        probes = list(c.probes)
        measured = [n for n, p in c.parameters.items() if p.role in ("operating", "design")]
        streams = probes + [n for n in [*c.sensors, *measured] if n not in probes]
        streams = list(dict.fromkeys(streams))
        self.timeline = Timeline()
        self.sensors = {n: BandChart("prediction" if n in probes else "input", n,
                                     Shown.of(show, n, ctx.units(n)), points=True,
                                     timeline=self.timeline)
                        for n in streams}  # fmt: skip
        self.params: dict[str, BandChart] = {}
        self.qois: dict[str, BandChart] = {}
        self.whatif: WhatIf | None = None
        self.field: FieldPicture | None = None
        self.header = Div(text=self._header(), sizing_mode="stretch_width", name="header")
        self.alerts = Table(ALERT_COLUMNS, "alerts", 200, ("message",), sizing_mode="stretch_width")
        self.quality = Table(QUALITY_COLUMNS, "quality", 200, ("reasons",),
                             sizing_mode="stretch_width")  # fmt: skip
        self.ack_key = Select(title="open alert", options=[], width=260, name="ack-key")
        ready = ctx.acknowledger is not None
        label = "Acknowledge" if ready else "Acknowledge (needs --broker)"
        self.ack = Button(label=label, button_type="warning", disabled=not ready, name="ack")
        why = "" if ready else "the dashboard was started without --broker: it cannot publish"
        self.ack_note = Div(text=why, name="ack-note", sizing_mode="stretch_width")
        self.ack.on_click(self._acknowledge)
        self.rest = column(Div(text="<i>loading the latent parameters, virtual sensors, field "
                               "and what-if panels…</i>", name="rest-loading"),
                           sizing_mode="stretch_width")  # fmt: skip
        self.root = self._layout()
        self.refresh()
        if not lazy:
            self.build_rest()
        if doc is not None:
            self.attach(doc)

    def attach(self, doc: Any, drawn: Callable[[], None] | None = None) -> None:
        """Show the page in `doc` (a session's document), with what came since it was built;
        `drawn()` once a lazy page's rest is built."""
        self.doc = doc
        doc.add_root(self.root)
        doc.title = f"twinkit: {self.ctx.loaded.case.name}"
        self.refresh()
        if self.lazy:

            def rest() -> None:
                if self.field is None:
                    self.build_rest()
                    if drawn is not None:
                        drawn()

            doc.on_event(DocumentReady, lambda event: rest())
            doc.add_timeout_callback(rest, REST_FALLBACK_MS)
        doc.add_periodic_callback(self.refresh, 1000)

    def build_rest(self) -> None:
        """The panels below the first screen: latent parameters, QoIs, field, what-if (once)."""
        if self.field is not None:
            return
        ctx, c, show = self.ctx, self.ctx.loaded.case, self.ctx.display
        latent = [n for n, p in c.parameters.items() if p.role == "latent"]
        self.params = {n: BandChart("parameter", n, Shown.of(show, n, ctx.units(n)),
                                    timeline=self.timeline) for n in latent}  # fmt: skip
        self.qois = {n: BandChart("qoi", n, Shown.of(show, n, ctx.units(n)),
                                  timeline=self.timeline) for n in ctx.qois()}  # fmt: skip
        self.whatif = WhatIf(ctx)
        self.field = FieldPicture(ctx)
        self._draw_rest()
        self.rest.children = [
            row(self._section("Latent parameters: estimate ± 2σ and forecast", self.params,
                              legend_html(("band", "estimate ± 2σ")) + "<div style='font-size:"
                              "9pt'>dashed red: the forecast reaches its limit</div>"),
                self._section("Virtual sensors (QoIs) ± 2σ", self.qois,
                              legend_html(("band", "virtual sensor ± 2σ"))),
                sizing_mode="stretch_width"),
            self.field.layout,
            self.whatif.layout,
        ]  # fmt: skip

    def _section(self, title: str, charts: dict[str, BandChart], note: str = "") -> Any:
        head = Div(text=f"<h3>{title}</h3>{note}", sizing_mode="stretch_width")
        if not charts:
            return column(head, Div(text="<i>none in this case</i>"), sizing_mode="stretch_width")
        grid = gridplot([ch.fig for ch in charts.values()], ncols=2, sizing_mode="stretch_width",
                        toolbar_location="right")  # fmt: skip
        return column(head, grid, sizing_mode="stretch_width")

    def _layout(self) -> Any:
        side = column(
            Div(text="<h3>Alerts</h3>"), self.alerts.div,
            row(self.ack_key, column(Div(text="&nbsp;"), self.ack)), self.ack_note,
            Div(text="<h3>Data quality (readings per sensor)</h3>"), self.quality.div,
            width=620,
        )  # fmt: skip
        legend = legend_html(("band", "the twin's prediction ± 2σ (an input: the value used)"),
                             ("points", "readings"))  # fmt: skip
        sensors = self._section("Sensors: readings and the twin's prediction ± 2σ", self.sensors,
                                legend)  # fmt: skip
        return column(self.header, row(sensors, side, sizing_mode="stretch_width"), self.rest,
                      sizing_mode="stretch_width")  # fmt: skip

    def _header(self) -> str:
        s, c = self.ctx.source, self.ctx.loaded.case
        if s.error:
            state = f"<b style='color:#c44e52'>history not readable yet: {s.error}</b>"
        elif s.last_update is None:
            state = "no update in the history yet"
        else:
            n, t = s.last_update
            state = f"update {n} at {_time(t)} UTC (plant time)"
        return (f"<h2 style='margin:4px 0'>twinkit dashboard: {c.name} (asset "
                f"{self.ctx.asset})</h2><div>history {s.where()} · {state} · "
                f"{len(s.alerts)} alert messages</div>")  # fmt: skip

    def refresh(self) -> None:
        """Poll the history (shared by all sessions) and redraw what it brought."""
        s = self.ctx.source
        version = s.poll()
        self.header.text = self._header()
        if version == self.seen:
            return
        self.seen = version
        for n, ch in self.sensors.items():
            ch.set(s.updates["sensor"].get(n) or s.updates["input"].get(n), s.readings.get(n))
        self._tables()
        self._draw_rest()

    def _draw_rest(self) -> None:
        s = self.ctx.source
        for n, ch in self.params.items():
            ch.set(s.updates["parameter"].get(n))
            if n in s.forecast:
                ch.forecast(s.forecast[n])
        for n, ch in self.qois.items():
            ch.set(s.updates["qoi"].get(n))
        if self.field is not None:
            self.field.refresh()
        if self.whatif is not None:
            self.whatif.refresh()

    def _tables(self) -> None:
        s = self.ctx.source
        shown = s.alerts[-SHOWN_ALERTS:][::-1]  # newest first
        self.alerts.set({
            "time": [_time(a["t"]) for a in shown],
            **{c: [a[c] or "" for a in shown] for c in list(ALERT_COLUMNS)[1:]},
        })  # fmt: skip
        rows: dict[str, list] = {c: [] for c in QUALITY_COLUMNS}
        for sensor, counts in sorted(s.quality.items()):
            reasons = {k.split(": ", 1)[1]: v for k, v in counts.items() if ":" in k}
            rows["sensor"].append(sensor)
            rows["accepted"].append(counts["accepted"])
            rows["repaired"].append(counts["repaired"])
            rows["rejected"].append(sum(reasons.values()))
            rows["reasons"].append(", ".join(f"{k}: {v}" for k, v in sorted(reasons.items())))
        self.quality.set(rows)
        keys = s.open_alerts()
        self.ack_key.options = keys
        if self.ack_key.value not in keys:
            self.ack_key.value = keys[0] if keys else ""

    def _acknowledge(self) -> None:
        key = self.ack_key.value
        if not key or self.ctx.acknowledger is None:
            self.ack_note.text = "no open alert to acknowledge"
            return
        self.ack_note.text = self.ctx.acknowledger.ack(key)
