"""The live twin's dashboard in the browser: a Bokeh server app reading the twin's history
(`twinkit dashboard`, `twinkit live --dashboard`). It shows each sensor against the twin's
prediction ± 2σ, the latent parameters and their forecast, the virtual-sensor QoIs, the alerts
(with an acknowledge button that publishes on the broker), data-quality counts and a what-if
panel on the surrogate; it polls the history every second and updates the page live."""

from twinkit.dashboard.server import serve, start

__all__ = ["serve", "start"]
