"""`twinkit calibrate`: fit the case's latent parameters to recorded sensor data via a surrogate.

Readings are validated, windowed and averaged per sensor. Parameters that arrive as sensor
streams (pull rate, setpoints) are held at their measured means; other known inputs at the case's
nominal values. The latent parameters get priors from their ranges (`Prior.from_range`) and are
estimated by `twinkit.surrogates.calibrate.Calibration` (MAP, Laplace covariance, optional MCMC).
An estimate outside its prior range, or an input outside the surrogate's training range (a
measured one read in the wrong unit, say), is listed under `out_of_range` in the summary.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinkit.case import CaseError, LoadedCase, load_case
from twinkit.sensors.files import SensorStats, parse_window, read_sensor_file, window_stats
from twinkit.sensors.readings import NanPolicy, SensorValidator, rules_from_case
from twinkit.sensors.timestamps import iso_utc
from twinkit.version import __version__

DEFAULT_NOISE = 0.01  # relative noise of one reading when neither the case nor the data say


@dataclass(frozen=True)
class Options:
    window: str | None = None  # e.g. '1h': the last hour of data; None: all of it
    restarts: int = 4
    mcmc: int = 0  # MCMC samples (0: Laplace only)
    nan_policy: NanPolicy = "hold"
    verify: bool = False  # one FE solve at the calibrated point


def _iso(t: float) -> str | None:
    return iso_utc(t) if math.isfinite(t) else None


def setup(loaded: LoadedCase, surrogate: Any, stats: dict[str, SensorStats]) -> dict[str, Any]:
    """Priors, fixed inputs and observations of a calibration; CaseError if they do not fit."""
    from twinkit.surrogates.calibrate import Observation, Prior

    c, rules = loaded.case, rules_from_case(loaded)
    unknown = [n for n in surrogate.inputs if n not in c.parameters]
    if unknown:
        raise CaseError(
            f"{loaded.path}: the surrogate's inputs {unknown} are not parameters of this case"
        )
    priors, fixed, source = {}, {}, {}
    for n in surrogate.inputs:
        p = c.parameters[n]
        if n in stats:
            fixed[n], source[n] = stats[n].mean, "measured"
        elif p.role == "latent":
            priors[n], source[n] = Prior.from_range(p.si, *p.bounds, p.scale == "log"), "estimated"
        else:
            fixed[n], source[n] = p.si, "nominal"
    obs, noise = {}, {}
    for n, st in stats.items():
        if n not in c.probes or f"sensor_{n}" not in surrogate.outputs:
            continue
        case_noise = rules[n].noise
        if case_noise is not None:
            σ, how = case_noise, "case"
        elif st.n >= 3 and st.std > 0:
            σ, how = st.std, "estimated"
        else:
            σ, how = DEFAULT_NOISE * abs(st.mean), "default (1 %)"
        noise[n] = (σ, how)
        obs[f"sensor_{n}"] = Observation(st.mean, σ / math.sqrt(st.n))
    if not priors:
        raise CaseError(f"{loaded.path}: no latent parameter among the surrogate's inputs")
    if not obs:
        raise CaseError(
            f"{loaded.path}: no readings of a sensor the surrogate predicts "
            f"({', '.join(o for o in surrogate.outputs if o.startswith('sensor_'))})"
        )
    return {"priors": priors, "fixed": fixed, "source": source, "obs": obs, "noise": noise}


def calibrate(
    loaded: LoadedCase,
    readings: list,
    validator: SensorValidator,
    surrogate: Any,
    opts: Options | None = None,
) -> tuple[dict[str, Any], Any]:
    """Calibrate to validated `readings`; returns the summary document and the Posterior."""
    from twinkit.surrogates.calibrate import Calibration

    opts = opts or Options()
    t0 = time.perf_counter()
    stats, (start, end) = window_stats(readings, parse_window(opts.window))
    s = setup(loaded, surrogate, stats)
    post = Calibration(surrogate, s["priors"], s["obs"], s["fixed"]).fit(
        opts.restarts, loaded.case.seed, opts.mcmc
    )
    seconds = time.perf_counter() - t0
    c, out_units = loaded.case, getattr(surrogate, "units", {}) or {}
    est = {}
    for n, pr in s["priors"].items():
        lo, hi = c.parameters[n].bounds
        est[n] = {
            "value": post.map[n],
            "std": post.std[n],
            "interval95": list(post.interval95[n]),
            "prior": {"nominal": c.parameters[n].si, "range": [lo, hi], "log": pr.log},
            "std_ratio": post.std_ratio[n],
            "identifiable": post.std_ratio[n] < 0.5,
            "inside_range": lo <= post.map[n] <= hi,
            "unit": c.parameter_unit(n),
        }
    sensors = {}
    for o, ob in s["obs"].items():
        n, (m, sd) = o.removeprefix("sensor_"), post.predicted[o]
        σ, how = s["noise"][n]
        sensors[n] = {
            "measured": ob.value,
            "fitted": m,
            "fitted_std": sd,
            "residual": ob.value - m,
            "normalized_residual": (ob.value - m) / math.hypot(ob.std, sd),
            "noise": σ,
            "noise_source": how,
            "n": stats[n].n,
            "unit": stats[n].unit,
        }
    inputs = {
        n: {"value": v, "unit": c.parameter_unit(n), "source": s["source"][n]}
        for n, v in (s["fixed"] | post.map).items()
    }
    for n, (lo, hi) in (getattr(surrogate, "bounds", None) or {}).items():
        if n in inputs:
            inputs[n]["training_range"] = [lo, hi]
            inputs[n]["inside_training_range"] = bool(lo <= inputs[n]["value"] <= hi)
    summary: dict[str, Any] = {
        "case": loaded.name,
        "case_file": str(loaded.path),
        "case_hash": loaded.hash,
        "twinkit_version": __version__,
        "window": {"start": _iso(start), "end": _iso(end), "length": opts.window or "all"},
        "estimates": est,
        "correlation": {"names": post.names, "matrix": post.corr.round(6).tolist()},
        "inputs": inputs,
        "out_of_range": {
            "estimates": [n for n, e in est.items() if not e["inside_range"]],
            "inputs": [
                n
                for n, i in inputs.items()
                if i["source"] != "estimated" and i.get("inside_training_range") is False
            ],
        },
        "sensors": sensors,
        "virtual": {
            o.removeprefix("qoi_"): {"value": m, "std": sd, "unit": out_units.get(o, "")}
            for o, (m, sd) in post.predicted.items()
            if o.startswith("qoi_")
        },
        "data_quality": validator.report(),
        "calibration": {
            "restarts": post.restarts,
            "objective": post.objective,
            "hessian_positive_definite": post.hessian_ok,
            "seconds": round(seconds, 4),
        },
    }
    if post.samples is not None:
        summary["calibration"]["mcmc"] = {
            "samples": len(post.samples),
            "acceptance": post.acceptance,
            "mean": dict(zip(post.names, post.samples.mean(0).tolist(), strict=True)),
            "std": dict(zip(post.names, post.samples.std(0).tolist(), strict=True)),
        }
    return summary, post


def run_calibrate(
    case_path: Path,
    sensors_path: Path,
    surrogate_path: Path | None,
    out: Path | None,
    opts: Options | None = None,
    surrogate: Any = None,
) -> tuple[dict[str, Any], Path]:
    """The command: read, calibrate, write summary.json, fit.png and the predicted fields.

    `surrogate` (an object with the Surrogate API) replaces loading `surrogate_path`.
    """
    from twinkit.case.display import DisplayUnits
    from twinkit.files import write_json
    from twinkit.process import single_threaded
    from twinkit.training import default_surrogate, read_surrogate
    from twinkit.twin.calibration_output import verify_fe, write_fields, write_plot

    single_threaded()
    loaded = load_case(case_path, check_regions=False)
    out = out or Path("runs") / loaded.name / "calibration"
    if surrogate is None:
        surrogate_path = surrogate_path or default_surrogate(loaded)
        surrogate = read_surrogate(surrogate_path)
    opts = opts or Options()
    validator = SensorValidator(rules_from_case(loaded), opts.nan_policy)
    readings = read_sensor_file(sensors_path, validator)
    summary, post = calibrate(loaded, readings, validator, surrogate, opts)
    summary["sensor_file"] = str(sensors_path)
    summary["surrogate"] = str(surrogate_path) if surrogate_path else type(surrogate).__name__
    out.mkdir(parents=True, exist_ok=True)
    files = [write_plot(summary, out / "fit.png", DisplayUnits.from_case(loaded.case))]
    if getattr(surrogate, "fields", None):
        summary["virtual"] |= write_fields(surrogate, summary, post, out / "fields.nc")
        files.append("fields.nc")
    if opts.verify:
        summary["verification"] = verify_fe(loaded, summary)
    summary["files"] = files
    path = out / "summary.json"
    write_json(path, summary)
    return summary, path
