"""Train, score on held-out data, compare with the baselines, time inference: one call.

Shared by ``twinkit train`` and ``benchmarks/surrogates.py`` so both report the same numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from twinkit.surrogates.baselines import fit_baselines
from twinkit.surrogates.data import TrainingData
from twinkit.surrogates.evaluate import curve_sizes, evaluate, learning_curve
from twinkit.surrogates.fit import FitConfig, fit_surrogate
from twinkit.surrogates.mlp import one_thread_inference
from twinkit.surrogates.model import Prediction, Surrogate


@dataclass
class Study:
    """A trained surrogate, its held-out predictions and the summary of every number."""

    surrogate: Surrogate
    test: TrainingData
    prediction: Prediction
    baselines: dict[str, Prediction]
    summary: dict[str, Any]
    curve: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def inference_seconds(surrogate: Surrogate, x: np.ndarray, repeat: int = 15) -> dict[str, float]:
    """Best-of-``repeat`` wall time of one batch: scalar outputs alone, and all with fields
    (:meth:`Surrogate.predict`, means and stds; best of 7, it takes ~0.5 s), on one thread, as
    ``predict`` runs. (The best of many: on a shared machine the same product takes up to 2x as
    long for seconds at a time.)"""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))

    def best(fn: Callable[[], object], repeat: int = repeat) -> float:
        fn()
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    def scalars() -> object:
        with torch.no_grad():
            return surrogate.torch_scalar(xt)

    with one_thread_inference():
        out = {"batch": len(x), "threads": 1, "scalars_s": best(scalars)}
    if surrogate.fields:
        out["all_with_fields_s"] = best(lambda: surrogate.predict(x), min(repeat, 7))
    return out


def comparison(sur: dict[str, Any], base: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per output (and field): the surrogate's error over the best baseline's (≤ 1.1 is the bar)."""
    out: dict[str, Any] = {}
    for kind, key in (("outputs", "rmse"), ("fields", "rel_l2")):
        for name, m in sur[kind].items():
            errs = {b: r[kind][name][key] for b, r in base.items() if name in r[kind]}
            if not errs:
                continue
            best = min(errs, key=lambda b: errs[b])
            ratio = m[key] / errs[best] if errs[best] > 0 else float("inf") if m[key] > 0 else 1.0
            out[name] = {
                "metric": key,
                "surrogate": m[key],
                "best_baseline": best,
                "baseline": errs[best],
                "ratio": ratio,
            }
    return out


def run_study(
    train: TrainingData,
    test: TrainingData,
    config: FitConfig,
    provenance: dict[str, Any] | None = None,
    baselines: bool = True,
    curve: bool = True,
    log: Callable[[str], None] = lambda _: None,
) -> Study:
    """Fit on ``train``, score on ``test``; baselines and learning curve on request."""
    log(f"training on {train.n} samples ({config.train.members} members)")
    t0 = time.perf_counter()
    surrogate = fit_surrogate(train, config, provenance)
    train_s = time.perf_counter() - t0
    pred = surrogate.predict(test.x)
    metrics = evaluate(pred, test, train)
    base_preds, base_metrics = {}, {}
    if baselines:
        log("fitting baselines (RBF, GP)")
        for b in fit_baselines(train, config.train.seed, config.energy):
            t0 = time.perf_counter()
            base_preds[b.name] = b.predict(test.x)
            base_metrics[b.name] = evaluate(base_preds[b.name], test, train)
            base_metrics[b.name]["predict_seconds"] = time.perf_counter() - t0
    lc = None
    if curve:
        sizes = curve_sizes(train.n)
        lc = learning_curve(train, test, sizes, config, log) if len(sizes) > 1 else None
    batch = np.resize(test.x, (1000, test.x.shape[1])) if test.n else train.x[:1]
    timing = inference_seconds(surrogate, batch)
    fe = float(np.mean(train.seconds)) if train.seconds is not None and train.n else None
    if fe:
        timing["fe_solve_mean_s"] = fe
        timing["speedup_scalars"] = fe / (timing["scalars_s"] / timing["batch"])
        if "all_with_fields_s" in timing:
            timing["speedup_fields"] = fe / (timing["all_with_fields_s"] / timing["batch"])
    surrogate.meta["metrics"] = metrics
    summary = {
        "n_train": train.n,
        "n_test": test.n,
        "inputs": surrogate.inputs,
        "units": surrogate.units,
        "training_seconds": train_s,
        "training": surrogate.meta["training"],
        "surrogate": metrics,
        "baselines": base_metrics,
        "comparison": comparison(metrics, base_metrics) if base_metrics else {},
        "inference": timing,
        "learning_curve": lc,
    }
    return Study(surrogate, test, pred, base_preds, summary, lc)
