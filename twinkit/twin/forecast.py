"""Forecasts of wear: when will a latent parameter's trend reach its limit, and how sure is that.

From the series of a parameter's estimates (time t_k, mean y_k, std σ_k) a trend

    linear:       y(t) = a + b (t − t₀)
    exponential:  log y(t) = a + b (t − t₀)    (σ_k becomes σ_k / y_k)

is fitted by weighted least squares (weights 1/σ_k²; t₀ the latest time). `auto` takes the one
with the smaller χ² in y (both have two parameters, so this is also the smaller AIC). The
covariance C = (XᵀWX)⁻¹ is widened by the scatter the stated σ_k do not explain
(× max(1, χ²/(n − 2))) and by the serial correlation of the residuals, ρ their lag-1
autocorrelation (× (1 + ρ)/(1 − ρ), the AR(1) effective-sample-size correction; the live twin's
successive estimates share most of their information, so n of them say less than n independent
measurements).

The crossing time t* solves a + b (t* − t₀) = g(limit) (g: identity or log). Its interval is
Fieller's: the times at which the trend is not distinguishable from the limit,

    (a + b τ − g)² ≤ q² (C_aa + 2 τ C_ab + τ² C_bb),    τ = t − t₀,

q the Student-t quantile of the confidence level at n − 2 degrees of freedom. It is bounded
only when the slope is significant (b² > q² C_bb); otherwise no crossing is predicted. Unlike
t* ± q·std(t*) from the delta method it is asymmetric, as the uncertainty of a ratio is.

A limit above the parameter's nominal value is crossed upwards (wear that raises it), one below
downwards. A trend away from the limit predicts no crossing; a fitted level already beyond it
predicts a crossing now.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

MIN_POINTS = 10  # estimates before a trend is fitted
CLEAR_AFTER = 0.1  # a forecast alert's default off-delay, in horizons
MAX_POINTS = 1000  # kept per parameter; beyond, every other one is dropped (the span stays)
Trend = Literal["linear", "exponential", "auto"]


@dataclass(frozen=True)
class Forecast:
    """When `parameter` reaches `limit` (SI; times in epoch s); `crossing` None: not predicted."""

    parameter: str
    limit: float
    t: float  # the time the forecast was made (the latest estimate's)
    trend: str  # linear or exponential
    slope: float  # of the fitted value, per second, at t
    crossing: float | None
    lower: float | None  # the interval of the crossing time at `level`
    upper: float | None
    level: float
    points: int

    @property
    def eta(self) -> float | None:
        """Seconds from `t` to the predicted crossing (0 if already reached)."""
        return None if self.crossing is None else max(0.0, self.crossing - self.t)

    def doc(self) -> dict[str, Any]:
        return asdict(self) | {"eta": self.eta}


def fit_trend(
    t: np.ndarray, y: np.ndarray, σ: np.ndarray, trend: Literal["linear", "exponential"]
) -> tuple[np.ndarray, np.ndarray, float]:
    """(a, b), their covariance (widened as the module says) and the χ² in y, times relative
    to the latest; ValueError for an exponential trend of non-positive values."""
    τ = t - t[-1]
    if trend == "exponential":
        if np.any(y <= 0):
            raise ValueError("an exponential trend needs positive values")
        z, s = np.log(y), σ / y
    else:
        z, s = y, σ
    X = np.column_stack([np.ones_like(τ), τ])
    w = 1.0 / s**2
    C = np.linalg.inv(X.T @ (w[:, None] * X))
    p = C @ (X.T @ (w * z))
    fit = X @ p
    r = (z - fit) / s  # standardised residuals
    n = len(t)
    scatter = max(1.0, float(r @ r) / (n - 2)) if n > 2 else 1.0
    ρ = float(np.clip(np.corrcoef(r[:-1], r[1:])[0, 1], 0.0, 0.9)) if n > 3 else 0.0
    if not math.isfinite(ρ):
        ρ = 0.0
    C = C * scatter * (1 + ρ) / (1 - ρ)
    y_fit = np.exp(fit) if trend == "exponential" else fit
    χ2 = float(np.sum(((y - y_fit) / σ) ** 2))
    return p, C, χ2


def crossing_interval(
    p: np.ndarray, C: np.ndarray, g: float, q: float
) -> tuple[float, float, float] | None:
    """(τ*, lower, upper) at which a + b τ reaches g, with Fieller's interval; None if the slope
    is not significant at quantile q."""
    a, b = p
    A = b * b - q * q * C[1, 1]
    if A <= 0:
        return None
    d = a - g
    B = 2 * (d * b - q * q * C[0, 1])
    c = d * d - q * q * C[0, 0]
    disc = max(B * B - 4 * A * c, 0.0)
    r1, r2 = (-B - math.sqrt(disc)) / (2 * A), (-B + math.sqrt(disc)) / (2 * A)
    return -d / b, min(r1, r2), max(r1, r2)


def forecast(
    name: str,
    t: np.ndarray,
    y: np.ndarray,
    σ: np.ndarray,
    limit: float,
    upwards: bool,
    trend: Trend = "linear",
    level: float = 0.95,
) -> Forecast:
    """The crossing forecast of one parameter's series (see the module's docstring)."""
    from scipy.stats import t as student

    t, y, σ = (np.asarray(v, dtype=float) for v in (t, y, σ))
    σ = np.maximum(σ, 1e-12 * np.maximum(np.abs(y), 1e-300))
    n = len(t)
    none = Forecast(name, limit, float(t[-1]) if n else math.nan, "linear", 0.0, None, None,
                    None, level, n)  # fmt: skip
    if n < MIN_POINTS or t[-1] - t[0] <= 0:
        return none
    tried = ["linear", "exponential"] if trend == "auto" else [trend]
    fits = {}
    for kind in tried:
        if kind == "exponential" and (np.any(y <= 0) or limit <= 0):
            continue
        fits[kind] = fit_trend(t, y, σ, kind)  # type: ignore[arg-type]
    if not fits:
        return none
    kind = min(fits, key=lambda k: fits[k][2])
    p, C, _ = fits[kind]
    g = math.log(limit) if kind == "exponential" else limit
    level_now = math.exp(p[0]) if kind == "exponential" else p[0]
    slope = p[1] * level_now if kind == "exponential" else p[1]
    base = Forecast(name, limit, float(t[-1]), kind, float(slope), None, None, None, level, n)
    if (level_now >= limit) if upwards else (level_now <= limit):
        return _with(base, t[-1], t[-1], t[-1])  # already reached
    q = float(student.ppf(0.5 + level / 2, n - 2))
    found = crossing_interval(p, C, g, q)
    if found is None or (p[1] > 0) != upwards:
        return base
    τ, lo, hi = found
    return _with(base, t[-1] + τ, t[-1] + lo, t[-1] + hi)


def _with(f: Forecast, crossing: float, lower: float, upper: float) -> Forecast:
    return Forecast(f.parameter, f.limit, f.t, f.trend, f.slope, float(crossing), float(lower),
                    float(upper), f.level, f.points)  # fmt: skip


@dataclass(frozen=True)
class ForecastSetting:
    """One parameter's forecast settings, in SI (from the case's `alerts.forecast`)."""

    limit: float
    horizon: float
    upwards: bool
    trend: Trend = "linear"
    window: float | None = None
    level: float = 0.95
    clear_after: float | None = None  # the alert's off-delay; None: CLEAR_AFTER × horizon

    @property
    def off_delay(self) -> float:
        """Plant seconds the forecast alert's clear condition must hold before it clears."""
        return CLEAR_AFTER * self.horizon if self.clear_after is None else self.clear_after


class Forecaster:
    """The series of estimates of each forecast parameter, and their forecasts."""

    def __init__(self, settings: Mapping[str, ForecastSetting]):
        self.settings = dict(settings)
        self.series: dict[str, list[list[float]]] = {n: [] for n in settings}  # [t, mean, std]

    @classmethod
    def from_case(cls, case: Any) -> Forecaster:
        from twinkit.case import units

        settings = {}
        for name, f in case.alerts.forecast.items():
            limit = units.si_value(f.limit)
            settings[name] = ForecastSetting(
                limit, f.horizon.si, limit > case.parameters[name].si, f.trend,
                f.window.si if f.window is not None else None, f.level,
                f.clear_after.si if f.clear_after is not None else None,
            )  # fmt: skip
        return cls(settings)

    def add(self, t: float, est: Mapping[str, float], std: Mapping[str, float]) -> None:
        """Record one update's estimates."""
        for name, pts in self.series.items():
            if name in est and math.isfinite(est[name]) and math.isfinite(std[name]):
                pts.append([t, float(est[name]), float(std[name])])
                if len(pts) > MAX_POINTS:
                    pts[:] = pts[(len(pts) - 1) % 2 :: 2]  # the latest stays

    def forecasts(self) -> dict[str, Forecast]:
        out = {}
        for name, s in self.settings.items():
            pts = np.array(self.series[name], dtype=float).reshape(-1, 3)
            if s.window is not None and len(pts):
                pts = pts[pts[:, 0] >= pts[-1, 0] - s.window]
            out[name] = forecast(name, pts[:, 0], pts[:, 1], pts[:, 2], s.limit, s.upwards,
                                 s.trend, s.level)  # fmt: skip
        return out

    def state(self) -> dict[str, Any]:
        return {"series": self.series}

    def load(self, s: dict[str, Any] | None) -> None:
        for name, pts in (s or {}).get("series", {}).items():
            if name in self.series:
                self.series[name] = [list(map(float, p)) for p in pts][-MAX_POINTS:]


def duration_text(seconds: float) -> str:
    """'41 d', '5.2 h', '12 min'."""
    for unit, s in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if abs(seconds) >= 2 * s or unit == "min":
            return (
                f"{seconds / s:.2g} {unit}"
                if abs(seconds) < 10 * s
                else f"{seconds / s:.0f} {unit}"
            )
    return ""  # unreachable


def describe(f: Forecast, limit_text: str) -> str:
    """'wall_htc reaches 3.3 W/(m^2*K) in 41 ± 9 d (95 %: 33 to 52 d)', in words for people;
    `limit_text` is the limit as the case shows it."""
    if f.crossing is None:
        return f"{f.parameter}: no {f.trend} trend towards {limit_text} ({f.points} estimates)"
    if f.eta == 0:
        return f"{f.parameter} has reached {limit_text}"
    lo, hi = max(0.0, f.lower - f.t), f.upper - f.t  # type: ignore[operator]
    return (
        f"{f.parameter} reaches {limit_text} in {duration_text(f.eta)} ± "  # type: ignore[arg-type]
        f"{duration_text((hi - lo) / 2)} ({f.level:.0%}: {duration_text(lo)} to "
        f"{duration_text(hi)}, {f.trend} trend)"
    )
