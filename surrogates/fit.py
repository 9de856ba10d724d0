"""Fit a :class:`twinkit.surrogates.model.Surrogate` to training data.

QoIs: one ensemble on the standardised QoIs. Sensors: POD of the standardised sensor values and an
ensemble on the POD coefficients, where the POD compresses (keeps at most half as many modes as
there are sensors); otherwise the sensors standardised one by one, like the QoIs (a full-rank POD
is only a rotation, and with one network per code it would spread each code's error over every
sensor: 1.3-2x the RMSE on the furnace sweep). Fields: one POD + ensemble per field, trained for
``field_epochs`` L-BFGS iterations (a field has tens of codes, each with its own networks). Every
ensemble is seeded from ``seed`` and its head's position, and the run is deterministic, so the
same seed gives the same surrogate. The members' spread is calibrated per output: the factor that
puts 95 % of the out-of-fold residuals (each sample predicted by the member that held it out)
inside ± 2 std. With ``kriging`` (off by default: 1000 predictions of the furnace's 18 scalar
outputs take about twice as long, see the README), each scalar output that is its own code (QoIs,
and sensors without POD) also gets a Gaussian process (`twinkit.surrogates.kriging`),
cross-validated on the ensemble's own folds. The output is then predicted by w GP + (1 − w)
ensemble, mean and std alike, with the w in [0, 1] that fits the cross-validated
predictions best (stacking; the ensemble's error is one member's out-of-fold error less the
members' spread, `stacking_weight`; w within 0.05 of 0 or 1 is snapped there, and a code with
w = 1 keeps no networks); the std is calibrated the same way, on the blend's cross-validation
residuals.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from twinkit.surrogates.data import TrainingData
from twinkit.surrogates.kriging import fit_gps, kriging_codes
from twinkit.surrogates.model import FORMAT_VERSION, Head, Surrogate, plain
from twinkit.surrogates.normalise import InputScaler
from twinkit.surrogates.pod import LinearCodec
from twinkit.surrogates.training import TrainConfig, folds, train_ensemble


@dataclass(frozen=True)
class FitConfig:
    """Settings of a fit: the ensembles' training and the POD energy criterion."""

    train: TrainConfig = field(default_factory=TrainConfig)
    energy: float = 0.99999
    max_modes: int | None = None
    coverage_target: float = 0.95
    field_epochs: int | None = None  # L-BFGS iterations of a field's head (None: half of train's)
    kriging: bool = False  # per scalar output, a GP where its CV error beats the ensemble's


def calibration_factor(
    residual: np.ndarray, spread: np.ndarray, target: float, floor: np.ndarray
) -> np.ndarray:
    """Per column c such that a fraction ``target`` of |residual| ≤ 2 c spread.

    ``residual`` and ``spread`` are (n, p); one factor per column, or one overall for a field
    (pass arrays flattened to one column). ``floor`` (p,) keeps spreads of 0 finite.
    """
    if len(residual) == 0:
        return np.ones(residual.shape[1])
    z = np.abs(residual) / np.maximum(spread, floor)
    c = np.quantile(z, target, axis=0) / 2.0
    return np.where(np.isfinite(c) & (c > 0), c, 1.0)


def stacking_weight(
    ens: np.ndarray,
    gp: np.ndarray,
    z: np.ndarray,
    ambiguity: np.ndarray | float = 0.0,
    snap: float = 0.05,
) -> np.ndarray:
    """Per column the w in [0, 1] that minimises the expected |w gp + (1 - w) ens - z|², from
    cross-validated predictions (n, k) (stacking, Breiman 1996).

    ``ens`` is one member's out-of-fold prediction, but the ensemble predicts with the mean of
    its members, whose squared error is smaller by their spread about it, the ambiguity
    (Krogh & Vedelsby 1995: E = mean member error - mean ambiguity); ``ambiguity`` (k,) corrects
    for it. Within ``snap`` of 0 or 1, w is 0 or 1: a code that one model predicts about as well
    alone keeps that model alone.
    """
    e, g = ens - z, gp - z
    see = np.maximum((e * e).mean(0) - ambiguity, 0.0)
    sgg, sge = (g * g).mean(0), (g * e).mean(0)
    dd = sgg + see - 2 * sge
    w = np.clip((see - sge) / np.where(dd > 0, dd, 1.0), 0.0, 1.0)
    w = np.where(dd > 0, w, 0.0)
    return np.where(w < snap, 0.0, np.where(w > 1 - snap, 1.0, w))


def ambiguity(net: torch.nn.Module, d: int, seed: int, n: int = 1024) -> np.ndarray:
    """Per code the members' variance about their mean, averaged over ``n`` scrambled-Sobol points
    of the scaled box [-1, 1]^d (new points: at the training samples most members saw the data)."""
    from scipy.stats import qmc

    x = 2 * qmc.Sobol(d, scramble=True, seed=seed).random(n) - 1
    with torch.no_grad():
        z = net(torch.from_numpy(x)).numpy()  # (members, n, k)
    return z.var(axis=0).mean(axis=0)


def _identity(codec: LinearCodec) -> bool:
    """Whether each code is one output, standardised (GPs per code are GPs per output)."""
    m = codec.modes
    return (
        codec.z_scale == 1.0 and bool(np.all((m == 0) | (m == 1))) and bool(np.all(m.sum(0) == 1))
    )


def _fit_head(
    x_scaled: np.ndarray, y: np.ndarray, codec: LinearCodec, train: TrainConfig, kriging: bool
) -> tuple[Head, dict[str, Any]]:
    t0 = time.perf_counter()
    z = codec.encode(y)
    result = train_ensemble(x_scaled, z, train)
    head = Head(result.net, codec, np.ones(y.shape[1]), [])
    xs = torch.from_numpy(x_scaled)
    mask = result.oof_mask
    _, spread = head.mean_std(xs[mask])
    residual = codec.decode(result.oof[mask]) - y[mask]
    floor = 1e-12 * codec.scale
    trend = result.trend
    info: dict[str, Any] = {}
    if kriging and _identity(codec) and mask.any():
        # per code: the GP's error against the ensemble's, cross-validated on the same folds,
        # and the share w of the GP in the blend w GP + (1 - w) ensemble that fits them best
        gps = fit_gps(x_scaled, z, folds(len(z), train.members, train.seed), train.members)
        ens = np.sqrt(np.mean((result.oof[mask] - z[mask]) ** 2, axis=0))
        gp = np.sqrt(np.mean((gps.cv[mask] - z[mask]) ** 2, axis=0))
        amb = ambiguity(result.net, x_scaled.shape[1], train.seed)
        weight = stacking_weight(result.oof[mask], gps.cv[mask], z[mask], amb)
        chosen = [j for j in range(z.shape[1]) if weight[j] > 0]
        if chosen:
            w = weight[chosen]
            head.kriging = kriging_codes(x_scaled, gps, chosen, [float(v) for v in w])
            cols, f = head.kriged_columns()
            gp_residual = gps.cv[mask][:, chosen] * f + codec.offset[cols] - y[mask][:, cols]
            residual[:, cols] = w * gp_residual + (1 - w) * residual[:, cols]
            spread[:, cols] = w * gps.cv_std[mask][:, chosen] * f + (1 - w) * spread[:, cols]
            gp_only = [j for j in chosen if weight[j] == 1.0]
            if train.separate and gp_only:  # keep networks only for the codes that use them
                head.net = head.net.subset([j for j in range(z.shape[1]) if j not in gp_only])
        info["kriging_codes"] = chosen
        info["kriging_weight"] = [float(v) for v in weight]
        info["ensemble_ambiguity"] = [float(v) for v in amb]
        blend = weight * gps.cv[mask] + (1 - weight) * result.oof[mask]
        info["cv_rmse_blend"] = [float(v) for v in np.sqrt(np.mean((blend - z[mask]) ** 2, axis=0))]
        info["cv_rmse_ensemble"] = [float(v) for v in ens]
        info["cv_rmse_gp"] = [float(v) for v in gp]
    info |= {
        "seconds": time.perf_counter() - t0,
        "iterations": result.iterations,
        "val_mse": [float(v) for v in result.val_loss],
        "n_codes": codec.n_codes,
        "pod_energy": codec.energy,
        "trend_degree": [int(q) for q in trend.degree],
        # leave-one-out RMSE of the codes with their trend over that of their mean alone
        "trend_loo_ratio": [float(a / b) if b > 0 else 0.0
                            for a, b in zip(trend.loo_rmse, trend.loo_rmse_constant, strict=True)],
    }  # fmt: skip
    return head, {"residual": residual, "spread": spread, "floor": floor} | info


def fit_surrogate(
    data: TrainingData, config: FitConfig | None = None, provenance: dict[str, Any] | None = None
) -> Surrogate:
    """Train every head on ``data``; ``provenance`` (plain values) is stored in the model."""
    config = config or FitConfig()
    seed = config.train.seed
    scaler = InputScaler.from_bounds(
        [data.bounds[n] for n in data.inputs], [data.log_inputs[n] for n in data.inputs]
    )
    xs = scaler.transform(data.x)
    prev = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    heads: dict[str, Head] = {}
    training: dict[str, Any] = {}
    try:
        jobs: list[tuple[str, np.ndarray, LinearCodec, list[str], tuple[int, ...]]] = []
        if data.qoi_names:
            jobs.append(("qoi", data.qoi, LinearCodec.standardise(data.qoi), data.qoi_names, ()))
        if data.sensor_names:
            codec = LinearCodec.pod(data.sensors, config.energy, True, config.max_modes)
            if 2 * codec.n_codes > len(data.sensor_names):  # no compression: a rotation only
                codec = LinearCodec.standardise(data.sensors)
            jobs.append(("sensors", data.sensors, codec, data.sensor_names, ()))
        for name, f in data.fields.items():
            y = f.reshape(data.n, -1)
            codec = LinearCodec.pod(y, config.energy, False, config.max_modes)
            jobs.append((f"field_{name}", y, codec, [name], f.shape[1:]))
        for i, (key, y, codec, names, shape) in enumerate(jobs):
            train = replace(config.train, seed=seed + 1000 * i)
            if shape:
                epochs = config.field_epochs
                train = replace(train, epochs=train.epochs // 2 if epochs is None else epochs)
            head, info = _fit_head(xs, y, codec, train, config.kriging and not shape)
            res, spread, floor = info.pop("residual"), info.pop("spread"), info.pop("floor")
            if shape:  # one factor per field
                res, spread, floor = res.reshape(-1, 1), spread.reshape(-1, 1), floor[:1]
            head.std_scale = np.broadcast_to(
                calibration_factor(res, spread, config.coverage_target, floor), y.shape[1]
            ).copy()
            head.names, head.shape = names, tuple(int(s) for s in shape)
            heads[key] = head
            factors = head.std_scale[:1] if shape else head.std_scale  # one per field
            training[key] = info | {"std_scale": [float(v) for v in factors]}
    finally:
        torch.use_deterministic_algorithms(prev)
    meta = {
        "provenance": dict(provenance or {}),
        "config": plain(asdict(config)),
        "seed": seed,
        "n_train": data.n,
        "training": plain(training),
        "metrics": {},
        "versions": {
            "surrogate_format": FORMAT_VERSION,
            "torch": str(torch.__version__),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    return Surrogate(
        inputs=list(data.inputs),
        input_units=dict(data.input_units),
        scaler=scaler,
        scalar_heads=[heads[k] for k in ("qoi", "sensors") if k in heads],
        field_heads={
            k.removeprefix("field_"): h for k, h in heads.items() if k.startswith("field_")
        },
        units=dict(data.units),
        meta=meta,
        mesh=dict(data.mesh),
    )
