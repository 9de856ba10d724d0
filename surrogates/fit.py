"""Fit a :class:`twinkit.surrogates.model.Surrogate` to training data: the best model per code.

QoIs: one head of standardised QoIs (a code per output; round-off-only outputs get no code).
Sensors: POD of the standardised sensor values where it compresses (keeps at most half as many
modes as there are sensors), else standardised one by one like the QoIs. Fields: one POD head
per field. With ``model="auto"`` (the default) every code of a scalar head gets a Gaussian
process (`twinkit.surrogates.gp`, Matérn 5/2 unless ``kernels`` lists more to choose from by
cross-validation) and
a deep ensemble, cross-validated on the ensemble's own folds, and is predicted by
w GP + (1 − w) ensemble with the w in [0, 1] that fits the cross-validated predictions best
(stacking; the ensemble's error is one member's out-of-fold error less the members' spread,
`stacking_weight`, bounded by `ensemble_correction`; w within 0.05 of 0 or 1 is snapped
there, and a code with w = 1 keeps no
networks). A field's codes get GPs alone ("gp"), and so does every code with fewer than
``ensemble_from`` training samples; ``model="mlp"`` gives every head the ensemble alone.
Ensembles are seeded from ``seed`` and their head's position, and the run is deterministic, so
the same seed gives the same surrogate. With ``model="auto"`` the GPs are fitted first and the
ensemble's training stops early, at a check every ``train.check_every`` L-BFGS iterations, once
its blend with them stops improving the cross-validated error by ``ensemble_tol``
(`blend_monitor`), with fewer than ``early_stop_below`` (64) samples: where the GPs do most of
the work, more epochs buy nothing; with more samples the blends gain from the full training.

The std is calibrated per output (one factor per field) on the cross-validation residuals: the
factor that puts 95 % of them inside ± 1.96 std (`calibration_factor`); below ``loo_below``
samples the GPs' residuals, with which the blends are also chosen, are leave-one-out
(`refit_cv`), the ensemble's from its folds. The GP's CV refits its
hyperparameters on each fold, and a POD head adds what its modes miss of a new snapshot
(`twinkit.surrogates.pod.truncation_rms`): with either left out the residuals looked smaller
than the errors on new points (docs/surrogates.md, "Error bars").
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from twinkit.surrogates.data import TrainingData
from twinkit.surrogates.extremes import ENERGY, Extreme, fit_extremes
from twinkit.surrogates.gp import refit_cv
from twinkit.surrogates.head import Head
from twinkit.surrogates.kernels import KERNELS
from twinkit.surrogates.kriging import code_kernels, fit_gps, kriging_codes
from twinkit.surrogates.mlp import set_deterministic
from twinkit.surrogates.model import FORMAT_VERSION, Surrogate, plain
from twinkit.surrogates.normalise import InputScaler, log_by_cv, log_columns, logged
from twinkit.surrogates.pod import LinearCodec, truncation_rms
from twinkit.surrogates.stacking import (
    ambiguity,
    blend_monitor,
    ensemble_correction,
    one_se_rule,
    stacking_weight,
)
from twinkit.surrogates.training import TrainConfig, folds, train_ensemble

MODELS = ("auto", "gp", "mlp")


@dataclass(frozen=True)
class FitConfig:
    """Settings of a fit: the ensembles' training and the POD energy criterion."""

    train: TrainConfig = field(default_factory=TrainConfig)
    energy: float = 0.99999
    max_modes: int | None = None
    coverage_target: float = 0.95
    field_epochs: int | None = None  # L-BFGS iterations of a field's head (None: half of train's)
    model: str = "auto"  # per code: "auto" (GP, ensemble or their blend by CV), "gp", "mlp"
    # "auto" with fewer training samples: GPs alone, no ensemble. Off by default: on the furnace
    # at 32 samples the stacked ensemble made the median error 3 % worse and training 3x longer
    # (48 would give GPs alone there), but on the slab of tests/twinkit/test_api.py at 16 the GP
    # alone was 3-10x less accurate than the ensemble and the calibrated h missed by 12 %
    ensemble_from: int = 0
    # "auto": the ensemble's L-BFGS stops (checked every train.check_every iterations) once its
    # blend with the GPs improves the cross-validated error by less than this fraction (0: all
    # train.epochs). On the furnace at 32 samples the blend's CV error was the same after 500
    # iterations as after 2,000 (median ratio 1.000, range 0.95-1.01) for a third of the time
    ensemble_tol: float = 0.01
    # ... but only below this many training samples: at 128 furnace samples the early stop made
    # the sensors' held-out RMSE worse (median 1.036, up to 1.32x; the blends matter more there),
    # and there is no training-time target to buy with it
    early_stop_below: int = 64
    # "auto" with fewer samples: a code keeps its blend with the ensemble only where the blend's
    # cross-validated gain exceeds one standard error (`one_se_rule`). Furnace, 64 held-out
    # solves: at 32 samples the blends the stacking weights chose were 2-37 % worse than the GP
    # alone on the codes they touched (median over outputs / best peer 0.99 with the rule, 1.00
    # without; worst 1.34 vs 1.46); at 128 they were better (up to 31 %) and the rule would
    # have dropped them (median 1.00 vs 0.91)
    one_se_below: int = 64
    # with fewer samples the GPs' residuals, for the blends' choice and the calibration, are
    # leave-one-out (the GP refitted per left-out sample), not the ensemble's folds
    # (docs/surrogates.md: on 32 bracket solves the mass's 95 % coverage was 0.75 with five
    # folds, 0.89 so; on 32 heatsink solves the folds blended a sensor 19x worse than its GP)
    loo_below: int = 64
    # the GP kernels of a code: the first by default, another only where it halves the code's
    # cross-validated RMSE (`twinkit.surrogates.gp.SWITCH_GAIN`). Matérn 5/2 first: on the
    # furnace's 64 held-out solves, choosing among RBF and both Matérns per code by the CV error
    # alone was worse on the test set than Matérn 5/2 everywhere (GPs alone, median error over
    # outputs / best peer 1.00 vs 0.96 at 32 samples, 1.01 vs 0.95 at 128), and where CV picked
    # the RBF its std shrank near the training points faster than the errors did (batch heat at
    # 32: 95 % coverage 0.55, 0.89 with Matérn 5/2). With the halving rule no furnace code
    # leaves Matérn 5/2; the bracket's mass (a polynomial in the dimensions) takes the RBF at 32
    kernels: tuple[str, ...] = ("matern52", "rbf")
    # a field's POD codes: the equal mixture of a GP per kernel of `kernels`. Furnace, 64 held-out
    # solves, 32 samples: the RBF was the better kernel for velocity (rel. L2 0.99 of POD + GP;
    # Matérn 5/2 1.06), the worse for temperature (1.03 vs 0.89), and every CV score ranked the
    # two fields alike; the mixture 0.99 and 0.95 (128 samples: 0.95, 0.92, better than either).
    # One kernel whose CV RMSE is half the other's is used alone (`fit_gps`; heatsink: RBF)
    field_mixture: bool = True
    # ... with fewer samples only; from this many, the kernel by the halving rule, as scalars. At
    # 128 the mixture doubled the GPs of 1,000 fields' prediction (velocity 74-88 ms against
    # 48-51; 50 is the target) for errors 2-3 % smaller (velocity 0.95 of POD + GP against 0.98
    # and 0.97 on 64 and 192 held-out solves; temperature 0.92 against 0.93 and 0.92)
    field_mixture_below: int = 64
    # from this many samples a scalar code is the equal mixture of a GP per kernel of `kernels`,
    # its std the first kernel's plus their disagreement (`mixture_of`, ``std_first``: the time
    # of 1,000 predictions at 128 furnace samples 21 ms with both GPs' stds, 20 the target);
    # None: never. At 128 samples (64 and 192 held-out solves, furnace and bracket) the worst
    # output / best peer went from 1.33, 1.28, 1.31, 1.24 to 1.16, 1.21, 1.13, 1.01, the median
    # down on three of the four; at 64 and at 32 (every block of both sweeps) the medians were
    # worse than with one kernel (docs/performance.md, Peers, session 19). Sizes between 64 and
    # 128 were not measured: the switch is at the size that was
    scalar_mixture_from: int | None = 128
    # a scalar output positive in every sample whose values span at least this many decades is
    # modelled by its log where its GP cross-validates better so (`log_by_cv`); None: none is
    log_decades: float | None = 1.0
    # an output equal to a field's minimum or maximum may be predicted as that extreme of the
    # field's prediction, where that cross-validates better (`twinkit.surrogates.extremes`)
    extremes: bool = True

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model '{self.model}': expected one of {', '.join(MODELS)}")
        bad = [k for k in self.kernels if k not in KERNELS]
        if bad or not self.kernels:
            raise ValueError(f"kernels {list(self.kernels)}: expected some of {', '.join(KERNELS)}")


def calibration_factor(
    residual: np.ndarray, spread: np.ndarray, target: float, floor: np.ndarray
) -> np.ndarray:
    """Per column c such that a fraction ``target`` of |residual| ≤ q c spread, q the normal
    quantile of that central interval (1.96 for 95 %): c × spread is then a Gaussian std whose
    ± q interval holds ``target`` of the held-out residuals.

    ``residual`` and ``spread`` are (n, p); one factor per column, or one overall for a field
    (pass arrays flattened to one column). ``floor`` (p,) keeps spreads of 0 finite.
    """
    from scipy.stats import norm

    if len(residual) == 0:
        return np.ones(residual.shape[1])
    z = np.abs(residual) / np.maximum(spread, floor)
    level = min(1.0, target * (1 + 1 / len(z)))  # split conformal's finite-sample correction
    c = np.quantile(z, level, axis=0) / norm.ppf(0.5 + target / 2)
    return np.where(np.isfinite(c) & (c > 0), c, 1.0)


def _identity(codec: LinearCodec) -> bool:
    """Whether each code is one output, standardised (nothing is truncated)."""
    m = codec.modes
    one_hot = bool(np.all((m == 0) | (m == 1))) and bool(np.all(m.sum(0) == 1))
    return codec.z_scale == 1.0 and one_hot


def _fit_head(
    x_scaled: np.ndarray,
    y: np.ndarray,
    codec: LinearCodec,
    train: TrainConfig,
    model: str,
    tol: float = 0.0,
    one_se: bool = False,
    kernels: tuple[str, ...] = ("matern52",),
    mixture: bool = False,
    loo: bool = False,
    std_first: bool = False,
) -> tuple[Head, dict[str, Any]]:
    t0 = time.perf_counter()
    z = codec.encode(y)
    fold = folds(len(z), train.members, train.seed)
    if model == "gp":  # no networks to compare: a quick ensemble only for the head's shape
        train = replace(train, epochs=1)
    mask = fold < train.members  # the samples some member holds out
    gps = None
    if model != "mlp" and mask.any():
        gps = fit_gps(x_scaled, z, fold, train.members, kernels, mixture=mixture,
                      std_first=std_first)  # fmt: skip
    monitor = None
    if gps is not None and model == "auto" and tol > 0:
        monitor = blend_monitor(gps.cv[mask], z[mask], mask, tol)
    result = train_ensemble(x_scaled, z, train, monitor)
    head = Head(result.net, codec, np.ones(y.shape[1]), [])
    xs = torch.from_numpy(x_scaled)
    with torch.no_grad():
        members = head.codes(xs[mask]).numpy()  # (m, n_mask, k): the ensemble's spread
    oof = result.oof[mask]
    floor = 1e-12 * codec.scale
    trend = result.trend
    info: dict[str, Any] = {}
    weight = np.zeros(z.shape[1])
    gp_var = np.zeros((int(mask.sum()), y.shape[1]))
    if gps is not None:
        cv, cv_std = gps.cv, gps.cv_std
        if loo and gps.mix is None:  # the GPs' errors at (nearly) the full size: leave-one-out
            cv, cv_std = refit_cv(x_scaled, z, gps, [np.array([i]) for i in range(len(z))])
            info["loo"] = True
        # per code: the GP's cross-validated error against the ensemble's on its folds, and the
        # share w of the GP in the blend w GP + (1 - w) ensemble that fits them best
        ens = np.sqrt(np.mean((oof - z[mask]) ** 2, axis=0))
        gp = np.sqrt(np.mean((cv[mask] - z[mask]) ** 2, axis=0))
        if model == "gp":
            weight = np.ones(z.shape[1])
        else:
            every = kriging_codes(x_scaled, gps, list(range(z.shape[1])))
            members_var, diff = ambiguity(result.net, x_scaled.shape[1], train.seed,
                                          lambda x: every.mean_std(x)[0])  # fmt: skip
            amb = ensemble_correction(members_var, oof, z[mask], train.members, diff, gp**2)
            weight = stacking_weight(oof, cv[mask], z[mask], amb)
            if one_se:
                weight = one_se_rule(oof, cv[mask], z[mask], weight, amb)
            # the members' spread and their mean's squared difference from the GPs', over the
            # box, and what the stacking credited the mean with (`ensemble_correction`)
            info["ensemble_ambiguity"] = [float(v) for v in members_var]
            info["ensemble_gp_disagreement"] = [float(v) for v in diff]
            info["ensemble_gain"] = [float(v) for v in amb]
            info["cv_rmse_ensemble"] = [float(v) for v in ens]
        chosen = [j for j in range(z.shape[1]) if weight[j] > 0]
        if chosen:
            w = weight[chosen]
            head.kriging = kriging_codes(x_scaled, gps, chosen, [float(v) for v in w])
            gp_only = [j for j in chosen if weight[j] == 1.0]
            oof = oof.copy()
            oof[:, chosen] = w * cv[mask][:, chosen] + (1 - w) * oof[:, chosen]
            members[:, :, chosen] *= 1 - w  # the ensemble's share of the spread
            gp_var = head.gp_variance(w * cv_std[mask][:, chosen])
            if train.separate and gp_only:  # keep networks only for the codes that use them
                head.net = head.net.subset([j for j in range(z.shape[1]) if j not in gp_only])
        info["kriging_codes"] = chosen
        info["kriging_weight"] = [float(v) for v in weight]
        info["kriging_kernel"], info["kriging_trend"] = code_kernels(gps)
        info["cv_rmse_blend"] = [float(v) for v in np.sqrt(np.mean((oof - z[mask]) ** 2, axis=0))]
        info["cv_rmse_gp"] = [float(v) for v in gp]
    residual = codec.decode(oof) - y[mask]
    dev = members - members.mean(0)
    ens_var = sum(codec.decode_deviation(d) ** 2 for d in dev) / max(len(dev) - 1, 1)
    if not _identity(codec):  # a POD: new snapshots also hold what its modes miss
        head.std_floor = truncation_rms(y, codec, fold, train.members)
        gp_var = gp_var + head.std_floor**2
    spread = np.sqrt(ens_var + gp_var)
    info |= {
        "model": model,
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
    return head, {"residual": residual, "spread": spread, "floor": floor, "mask": mask} | info


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
    # the caller's setting, restored after the fit (warn_only included)
    prev = (torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled())  # fmt: skip
    set_deterministic(True)
    torch.manual_seed(seed)
    heads: dict[str, Head] = {}
    training: dict[str, Any] = {}
    try:
        jobs: list[tuple[str, np.ndarray, LinearCodec, list[str], tuple[int, ...]]] = []
        logs: dict[str, np.ndarray] = {}
        fold = folds(data.n, config.train.members, seed)  # for the log-or-not choice
        own_cv: dict[str, np.ndarray] = {}  # per head, its out-of-fold residuals (n, p)

        def by_cv(y: np.ndarray) -> np.ndarray:
            candidates = log_columns(y, config.log_decades)
            return log_by_cv(xs, y, candidates, fold, config.train.members, config.kernels)

        if data.qoi_names:
            logs["qoi"] = by_cv(data.qoi)
            y = logged(data.qoi, logs["qoi"])
            jobs.append(("qoi", y, LinearCodec.standardise(y), data.qoi_names, ()))
        if data.sensor_names:
            codec = LinearCodec.pod(data.sensors, config.energy, True, config.max_modes)
            y = data.sensors
            if 2 * codec.n_codes > len(data.sensor_names):  # no compression: a rotation only
                logs["sensors"] = by_cv(data.sensors)
                y = logged(y, logs["sensors"])
                codec = LinearCodec.standardise(y)
            jobs.append(("sensors", y, codec, data.sensor_names, ()))
        for name, f in data.fields.items():
            y = f.reshape(data.n, -1)
            codec = LinearCodec.pod(y, config.energy, False, config.max_modes)
            jobs.append((f"field_{name}", y, codec, [name], f.shape[1:]))
        for i, (key, y, codec, names, shape) in enumerate(jobs):
            train = replace(config.train, seed=seed + 1000 * i)
            if shape:
                epochs = config.field_epochs
                train = replace(train, epochs=train.epochs // 2 if epochs is None else epochs)
            # a field's codes: GPs unless networks are asked for (on the furnace the ensemble took
            # 10x the time and never beat them; blended, 0.5 % on the temperature error)
            few = data.n < config.ensemble_from
            model = "gp" if (shape or few) and config.model == "auto" else config.model
            tol = config.ensemble_tol if data.n < config.early_stop_below else 0.0
            one_se = data.n < config.one_se_below
            mixture = bool(shape) and config.field_mixture and data.n < config.field_mixture_below
            from_n = config.scalar_mixture_from
            scalar_mix = not shape and from_n is not None and data.n >= from_n
            loo = data.n < config.loo_below
            head, info = _fit_head(xs, y, codec, train, model, tol, one_se, config.kernels,
                                   mixture or scalar_mix, loo, scalar_mix)  # fmt: skip
            res, spread, floor = info.pop("residual"), info.pop("spread"), info.pop("floor")
            mask = info.pop("mask")
            if not shape:
                own_cv[key] = np.full(y.shape, np.nan)
                own_cv[key][mask] = res
            if shape:  # one factor per field
                res, spread, floor = res.reshape(-1, 1), spread.reshape(-1, 1), floor[:1]
            head.std_scale = np.broadcast_to(
                calibration_factor(res, spread, config.coverage_target, floor), y.shape[1]
            ).copy()
            head.names, head.shape = names, tuple(int(s) for s in shape)
            if key in logs and logs[key].any():
                head.log = logs[key]
                info["log_outputs"] = [n for n, on in zip(names, logs[key], strict=True) if on]
            heads[key] = head
            factors = head.std_scale[:1] if shape else head.std_scale  # one per field
            training[key] = info | {"std_scale": [float(v) for v in factors]}
        extremes: list[Extreme] = []
        if config.extremes and config.model != "mlp" and data.fields:

            def fit_nodes(sub: np.ndarray, i: int) -> tuple[Head, dict[str, Any]]:
                train = replace(config.train, seed=seed + 1000 * (len(jobs) + i))
                codec = LinearCodec.pod(sub, ENERGY, False, config.max_modes)
                return _fit_head(xs, sub, codec, train, "gp", kernels=config.kernels,
                                 loo=data.n < config.loo_below)  # fmt: skip

            def calibrate(r: np.ndarray, spread: np.ndarray, floor: float) -> float:
                target = config.coverage_target
                return float(calibration_factor(r, spread, target, np.array([floor]))[0])

            extremes, training["extremes"] = fit_extremes(data, own_cv, logs, fit_nodes, calibrate)
    finally:
        set_deterministic(*prev)
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
        extremes=extremes,
    )
