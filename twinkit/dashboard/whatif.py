"""The what-if panel: a slider per design or operating input of the surrogate, and its
prediction (mean ± 2σ) of the case's QoIs there, with the latent parameters at the twin's
latest estimates (the case's nominal values before the first update)."""

from __future__ import annotations

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import Div, Slider

from twinkit.dashboard.charts import Shown
from twinkit.dashboard.context import Context
from twinkit.dashboard.tables import Table

COLUMNS = {"qoi": "QoI", "mean": "mean", "band": "± 2σ", "unit": "unit"}


def _fmt(x: float) -> str:
    return f"{x:.5g}" if np.isfinite(x) else "—"


class WhatIf:
    """Sliders and the prediction table; `refresh` follows the twin's latest estimates."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.latent_seen: dict[str, float] | None = None
        head = Div(text="<h3>What if: the surrogate's prediction at the calibrated state</h3>",
                   sizing_mode="stretch_width")  # fmt: skip
        s = ctx.surrogate
        if s is None:
            self.note = Div(text=f"<i>{ctx.surrogate_note}</i>", name="whatif-note")
            self.layout = column(head, self.note, sizing_mode="stretch_width")
            return
        c = ctx.loaded.case
        self.sliders: dict[str, tuple[Slider, Shown]] = {}
        for n in s.inputs:
            p = c.parameters.get(n)
            if p is None or p.role not in ("design", "operating"):
                continue
            shown = Shown.of(ctx.display, n, ctx.units(n))
            lo, hi = (b * shown.scale + shown.offset for b in p.bounds)
            value = min(max(self._current(n) * shown.scale + shown.offset, lo), hi)
            title = f"{n} [{shown.label}] ({p.role})" if shown.label else f"{n} ({p.role})"
            slider = Slider(start=lo, end=hi, value=value, step=(hi - lo) / 200 or 1.0,
                            title=title, name=f"whatif:{n}", width=320)  # fmt: skip
            slider.on_change("value_throttled", lambda attr, old, new: self.predict())
            self.sliders[n] = (slider, shown)
        self.table = Table(COLUMNS, "whatif", 160, width=520)
        self.note = Div(text="", name="whatif-note", sizing_mode="stretch_width")
        inputs = [sl for sl, _ in self.sliders.values()] or [
            Div(text="<i>no design or operating inputs</i>")
        ]
        self.layout = column(head, row(column(*inputs), column(self.table.div, self.note)),
                             sizing_mode="stretch_width")  # fmt: skip
        self.predict()

    def _current(self, name: str) -> float:
        """The input the twin used last (a measured operating input), else the nominal value."""
        series = self.ctx.source.updates["input"].get(name)
        if series is not None and series.value and series.value[-1] is not None:
            return series.value[-1]
        return self.ctx.loaded.case.parameters[name].si

    def _latent(self) -> dict[str, float]:
        est = self.ctx.source.updates["parameter"]
        return {n: v for n, s in est.items() if s.value and (v := s.value[-1]) is not None}

    def refresh(self) -> None:
        """Predict again when the twin's estimates changed."""
        if self.ctx.surrogate is None:
            return
        latent = self._latent()
        if latent != self.latent_seen:
            self.predict()

    def predict(self) -> None:
        s, c = self.ctx.surrogate, self.ctx.loaded.case
        latent = self._latent()
        self.latent_seen = latent
        x = {n: c.parameters[n].si if n in c.parameters else float("nan") for n in s.inputs}
        x |= {n: v for n, v in latent.items() if n in x}
        for n, (slider, shown) in self.sliders.items():
            x[n] = (slider.value - shown.offset) / shown.scale
        try:
            import warnings

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                pred = s.predict(x)
        except Exception as e:  # an input the surrogate refuses: say so, keep the page
            self.note.text = f"<b>cannot predict:</b> {e}"
            return
        rows: dict[str, list] = {k: [] for k in COLUMNS}
        for o in s.outputs:
            if not o.startswith("qoi_"):
                continue
            name = o[4:]
            shown = Shown.of(self.ctx.display, name, self.ctx.units(name))
            m = float(np.asarray(pred.mean[o]).ravel()[0]) * shown.scale + shown.offset
            σ = float(np.asarray(pred.std[o]).ravel()[0]) * abs(shown.scale)
            rows["qoi"].append(name)
            rows["mean"].append(_fmt(m))
            rows["band"].append(_fmt(2 * σ))
            rows["unit"].append(shown.label)
        self.table.set(rows)
        at = ", ".join(f"{n} = {_fmt(v)}" for n, v in latent.items()) or "nominal values"
        warn = "".join(f"<br><b>warning:</b> {w.message}" for w in caught)
        self.note.text = f"latent parameters at the twin's estimates (SI): {at}{warn}"
