"""Forecasts of wear: a trend fitted to a latent parameter's estimates predicts when it reaches
its limit, with an interval that holds the true crossing time as often as it says; a `forecast`
alert is raised when the crossing comes within the horizon.

The wear laws are known (linear, exponential) and the estimates carry Gaussian noise of the
stated std, so the true crossing time is exact and the coverage can be counted over seeds.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from analytic_surrogate import SLAB_CASE, SLAB_SENSORS, SlabSurrogate
from analytic_surrogate import SLAB_START as START

from twinkit.case import CaseError, load_case
from twinkit.twin.alerts import Alerts, forecast_check
from twinkit.twin.forecast import (
    MAX_POINTS,
    Forecast,
    Forecaster,
    ForecastSetting,
    describe,
    forecast,
)
from twinkit.twin.live import LiveOptions, LiveTwin
from twinkit.twin.plant import Plant, PlantOptions

DAY = 86400.0
LIMIT = 3.3  # W/(m^2*K): the wall heat-transfer coefficient the refractory may reach
T0 = 1.7e9  # epoch s


def linear(t):
    return 2.0 + 1.0 * (t - T0) / (30 * DAY)  # +1 W/(m^2*K) a month: reaches 3.3 on day 39


def exponential(t):
    return 2.0 * np.exp(math.log(1.5) * (t - T0) / (30 * DAY))  # reaches 3.3 on day 37.05


CROSSING = {
    linear: T0 + 1.3 * 30 * DAY,
    exponential: T0 + math.log(LIMIT / 2.0) / math.log(1.5) * 30 * DAY,
}


def estimates(law, seed: int, n: int = 60, noise: float = 0.03, days: float = 30.0):
    """`n` estimates over `days` days: the law plus Gaussian noise of std `noise`."""
    rng = np.random.default_rng(seed)
    t = T0 + np.linspace(0.0, days * DAY, n)
    return t, law(t) + rng.normal(0.0, noise, n), np.full(n, noise)


@pytest.mark.parametrize(
    "law, trend", [(linear, "linear"), (exponential, "exponential"), (exponential, "auto")]
)
def test_the_interval_holds_the_true_crossing_as_often_as_it_says(law, trend):
    """95 % intervals: at least 90 of 100 seeds hold the true crossing time (measured: 96, 97
    and 94 of 100); the intervals are narrow enough to be useful (median under 3 days, for a
    crossing 7 to 9 days past the last estimate)."""
    hits, widths = 0, []
    for seed in range(100):
        f = forecast("wall_htc", *estimates(law, seed), LIMIT, upwards=True, trend=trend)
        assert f.crossing is not None and f.lower < f.crossing < f.upper
        hits += f.lower <= CROSSING[law] <= f.upper
        widths.append(f.upper - f.lower)
    assert hits >= 90, hits
    assert hits < 100 or trend == "auto"  # an interval that always holds would be too wide
    assert np.median(widths) < 3 * DAY


def test_a_wrong_trend_misses_so_the_choice_matters():
    """A linear trend through exponential wear predicts too late; `auto` picks the exponential
    one on most seeds, where the χ² tells them apart."""
    late = [forecast("h", *estimates(exponential, s), LIMIT, True, "linear").crossing
            for s in range(20)]  # fmt: skip
    assert all(c > CROSSING[exponential] + DAY for c in late)
    picked = [forecast("h", *estimates(exponential, s, noise=0.01), LIMIT, True, "auto").trend
              for s in range(20)]  # fmt: skip
    assert picked.count("exponential") >= 18


def test_no_crossing_without_a_trend_towards_the_limit():
    t, y, σ = estimates(lambda t: 4.0 - linear(t), seed=1)  # wear downwards, limit above
    assert forecast("h", t, y, σ, LIMIT, upwards=True).crossing is None
    flat = [forecast("h", *estimates(lambda t: 2.0 + 0 * t, s), LIMIT, True).crossing
            for s in range(40)]  # fmt: skip
    assert sum(c is not None for c in flat) <= 4  # a significant slope by chance: ~2.5 %
    short = forecast("h", t[:5], y[:5], σ[:5], LIMIT, upwards=True)
    assert short.crossing is None and short.points == 5
    t, y, σ = estimates(linear, seed=2, days=45)  # beyond the limit already
    reached = forecast("h", t, y, σ, LIMIT, upwards=True)
    assert reached.eta == 0 and describe(reached, "3.3 W/(m^2*K)") == "h has reached 3.3 W/(m^2*K)"


def test_a_downward_limit():
    t, y, σ = estimates(lambda t: 4.0 - linear(t), seed=3)  # 2 → 1 over 30 days
    f = forecast("h", t, y, σ, 0.7, upwards=False)
    true = T0 + 1.3 * 30 * DAY
    assert f.lower <= true <= f.upper and f.slope < 0


def test_the_alert_fires_when_the_crossing_comes_within_the_horizon():
    """Daily estimates of linear wear reaching 3.3 on day 39, horizon 20 days: the alert is
    raised on day 19 ± 1, once, and says when, in the case's units."""
    sent = []
    alerts = Alerts("plant/a/alerts", lambda topic, doc, retain: sent.append(doc))
    setting = ForecastSetting(LIMIT, 20 * DAY, upwards=True)
    fc = Forecaster({"wall_htc": setting})
    rng = np.random.default_rng(0)
    for day in range(30):
        t = T0 + day * DAY
        fc.add(t, {"wall_htc": linear(t) + rng.normal(0, 0.02)}, {"wall_htc": 0.02})
        found = fc.forecasts()
        texts = {n: describe(f, "3.3 W/(m²·K)") for n, f in found.items()}
        forecast_check(alerts, t, found, {"wall_htc": 20 * DAY}, texts)
    raised = [d for d in sent if d["state"] == "raised"]
    assert len(raised) == 1 and raised[0]["kind"] == "forecast"
    assert 18 <= (datetime_s(raised[0]["t"]) - T0) / DAY <= 20, raised[0]
    assert raised[0]["message"].startswith("wall_htc reaches 3.3 W/(m²·K) in ")
    assert "± " in raised[0]["message"] and "95%: " in raised[0]["message"]
    assert 19 * DAY <= raised[0]["eta"] <= 20 * DAY


def _alerts_of(etas, clear_after, horizon=30 * DAY, step=3600.0):
    """The forecast alert messages for a series of predicted times to the crossing (s; None:
    no crossing predicted), one an hour of plant time."""
    sent = []
    alerts = Alerts("plant/a/alerts", lambda topic, doc, retain: sent.append(doc))
    for k, eta in enumerate(etas):
        t = T0 + k * step
        crossing = None if eta is None else t + eta
        f = Forecast("wall_htc", LIMIT, t, "linear", 1e-7, crossing, crossing, crossing, 0.95, 99)
        forecast_check(alerts, t, {"wall_htc": f}, {"wall_htc": horizon}, {"wall_htc": "w"},
                       {"wall_htc": clear_after})  # fmt: skip
    return [(d["state"], round((datetime_s(d["t"]) - T0) / 3600)) for d in sent]


def hovering(days: int = 20, seed: int = 4):
    """A young trend's forecast, an estimate an hour: the crossing hovers around the 30-day
    horizon (20 to 45 d) and, as the slope's significance comes and goes, is not predicted at
    all for stretches of 1 to 30 h (the 30-day furnace replay: None for up to 20 h)."""
    rng = np.random.default_rng(seed)
    etas: list[float | None] = []
    while len(etas) < days * 24:
        etas += [float(rng.uniform(20, 45)) * DAY for _ in range(int(rng.integers(1, 30)))]
        etas += [None] * int(rng.integers(1, 30))
    return etas[: days * 24]


def test_a_forecast_hovering_around_the_horizon_alerts_once():
    """ISA-18.2 off-delay: the clear condition (no crossing predicted, or one beyond 1.25
    horizons) must hold for `clear_after` before the alert clears. Without it (0 s, as before)
    the same forecasts raise and clear over and over."""
    etas = hovering()
    assert [state for state, _ in _alerts_of(etas, clear_after=3 * DAY)] == ["raised"]
    chatter = _alerts_of(etas, clear_after=0.0)
    assert sum(state == "raised" for state, _ in chatter) > 10


def test_a_real_crossing_is_raised_at_once_and_a_real_clear_cleared():
    """The off-delay holds back no raise: a crossing coming within the horizon after days of
    none is raised on the first update; once none is predicted for longer than the off-delay
    the alert clears, once, and a crossing after that is a new alert."""
    etas = [None] * 120 + [40 * DAY] * 24 + [29 * DAY] * 48 + [None] * 100 + [25 * DAY] * 5
    got = _alerts_of(etas, clear_after=3 * DAY)
    assert got == [("raised", 144), ("cleared", 192 + 72), ("raised", 292)]
    # the clear condition must hold without a break: a crossing in the deadband (30 to 37.5
    # days) restarts the off-delay, as does one within the horizon
    etas = [20 * DAY] * 10 + [None] * 60 + [33 * DAY] + [None] * 60 + [50 * DAY] * 80
    assert _alerts_of(etas, clear_after=3 * DAY) == [("raised", 0), ("cleared", 71 + 72)]


def test_the_off_delay_comes_from_the_case_with_a_tenth_of_the_horizon_by_default(tmp_path):
    text = SLAB_CASE + SLAB_SENSORS + "alerts:\n  forecast: {h: {limit: 0.085 kW/(m^2*K)%s}}\n"
    cases = [("", 0.1 * 30 * DAY), (", horizon: 2 h", 720.0),
             (", clear_after: 30 min", 1800.0), (", clear_after: 0 s", 0.0)]  # fmt: skip
    for extra, delay in cases:
        (tmp_path / "slab.yaml").write_text(text % extra)
        loaded = load_case(tmp_path / "slab.yaml", check_regions=False)
        assert Forecaster.from_case(loaded.case).settings["h"].off_delay == delay
    (tmp_path / "slab.yaml").write_text(text % ", clear_after: -1 h")
    with pytest.raises(CaseError, match="clear_after"):
        load_case(tmp_path / "slab.yaml", check_regions=False)


def test_the_series_stays_bounded_and_resumes():
    fc = Forecaster({"h": ForecastSetting(LIMIT, DAY, True)})
    for k in range(3 * MAX_POINTS):
        fc.add(T0 + k, {"h": 2.0 + k * 1e-4}, {"h": 0.01})
    pts = fc.series["h"]
    assert len(pts) <= MAX_POINTS and pts[-1][0] == T0 + 3 * MAX_POINTS - 1
    assert pts[0][0] - T0 < 3  # the span is kept, the resolution halves
    other = Forecaster({"h": ForecastSetting(LIMIT, DAY, True)})
    other.load(json.loads(json.dumps(fc.state())))
    assert other.forecasts()["h"] == fc.forecasts()["h"]


def test_the_live_twin_forecasts_the_slab_wear_and_alerts_once(tmp_path):
    """The slab plant's h drifts 60 → 90 W/(m²·K) over 40 min and reaches 85 at 33.3 min;
    horizon 15 min: the twin alerts between 15 and 25 min (the filter lags the truth a little),
    and the interval it then states holds the true crossing."""
    (tmp_path / "slab.yaml").write_text(SLAB_CASE + SLAB_SENSORS + (
        "alerts:\n  forecast: {h: {limit: 0.085 kW/(m^2*K), horizon: 15 min}}\n"))  # fmt: skip
    loaded = load_case(tmp_path / "slab.yaml", check_regions=False)
    sent = []
    opts = LiveOptions(cadence=60.0, process_std=0.3, warmup=5, seed=1, run_dir=tmp_path)
    twin = LiveTwin(loaded, SlabSurrogate(), opts, lambda t, d, r: sent.append((t, d)))
    plant = Plant(loaded, SlabSurrogate(), PlantOptions(
        rate=10.0, speed=60.0, duration=40.0, start=START, drift={"h": 0.5}, seed=3))  # fmt: skip
    t0, crossing = plant.time(0), plant.time(0) + (85 / 60 - 1) / 0.5 * 40 * 60
    for k in range(plant.ticks + 1):
        for topic, payload in plant.tick(k):
            twin.process(topic, payload)
    raised = [d for t, d in sent if t.endswith("/alerts") and d["kind"] == "forecast"
              and d["state"] == "raised"]  # fmt: skip
    assert len(raised) == 1
    a = raised[0]
    at = datetime_s(a["t"])
    assert 15 * 60 <= at - t0 <= 25 * 60 and at < crossing - 5 * 60
    assert a["lower"] <= crossing <= a["upper"]
    assert a["message"].startswith("h reaches 85 W/(m^2*K) in ")  # the parameter's unit
    assert a["severity"] == "warning"
    state = [d for t, d in sent if t.endswith("/twin/state")][-1]
    assert state["forecast"]["h"]["unit"] == "W/(m^2*K)" and state["forecast"]["h"]["eta"] == 0
    assert "forecast:h" in state["alerts"]["active"]


def datetime_s(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()
