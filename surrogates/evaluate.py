"""Score predictions on held-out data, and error against the number of training samples."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from twinkit.surrogates.baselines import RBFBaseline
from twinkit.surrogates.data import TrainingData
from twinkit.surrogates.fit import FitConfig, fit_surrogate
from twinkit.surrogates.metrics import field_metrics, scalar_metrics
from twinkit.surrogates.model import Prediction
from twinkit.surrogates.normalise import constant_columns


def evaluate(pred: Prediction, test: TrainingData, train: TrainingData) -> dict[str, Any]:
    """Metrics of ``pred`` (made at ``test.x``) per scalar output and per field.

    Outputs or fields the prediction lacks are skipped; std-based coverage only where given.
    Outputs whose training values are round-off only (``constant_columns``, e.g. a relative energy
    imbalance of ~1e-14) are not scored: an R² of noise means nothing. They are listed under
    ``round_off``.
    """
    y = test.scalars
    flat = dict(zip(train.outputs, constant_columns(train.scalars), strict=True))
    names = [n for n in test.outputs if n in pred.mean and not flat.get(n, False)]
    cols = [test.outputs.index(n) for n in names]
    has_std = bool(names) and all(n in pred.std for n in names)
    out: dict[str, Any] = {"outputs": {}, "fields": {}}
    out["round_off"] = [n for n in test.outputs if flat.get(n, False)]
    if names:
        mean = np.column_stack([pred.mean[n] for n in names])
        std = np.column_stack([pred.std[n] for n in names]) if has_std else None
        out["outputs"] = scalar_metrics(names, y[:, cols], mean, std)
    for name, u in test.fields.items():
        if name in pred.mean:
            ref = train.fields[name].mean(axis=0)
            out["fields"][name] = field_metrics(u, pred.mean[name], pred.std.get(name), ref)
    return out


def headline(metrics: dict[str, Any]) -> dict[str, float]:
    """A few numbers for a learning curve: mean relative RMSE of the outputs, field rel. L2."""
    out = {}
    if metrics["outputs"]:
        out["outputs rel. RMSE"] = float(
            np.mean([m["rel_rmse"] for m in metrics["outputs"].values()])
        )
    for name, m in metrics["fields"].items():
        out[f"{name} rel. L2"] = m["rel_l2"]
    return out


def learning_curve(
    train: TrainingData,
    test: TrainingData,
    sizes: Sequence[int],
    config: FitConfig,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Held-out headline errors of the surrogate and of RBF for nested training subsets.

    The subsets are the first ``size`` training samples in a seeded random order (nested, so the
    curve shows the effect of more data rather than of different data).
    """
    order = np.random.default_rng(config.train.seed).permutation(train.n)
    curve: dict[str, Any] = {"sizes": [], "surrogate": {}, "rbf": {}}
    for size in sizes:
        part = train.subset(np.sort(order[:size]))
        log(f"learning curve: {size} samples")
        model = fit_surrogate(part, replace(config))
        scores = {
            "surrogate": headline(evaluate(model.predict(test.x), test, part)),
            "rbf": headline(evaluate(RBFBaseline(part, config.energy).predict(test.x), test, part)),
        }
        curve["sizes"].append(int(size))
        for who, h in scores.items():
            for key, v in h.items():
                curve[who].setdefault(key, []).append(v)
    return curve


def curve_sizes(n: int, smallest: int = 16) -> list[int]:
    """n/8, n/4, n/2, n (those ≥ ``smallest``), always ending with n."""
    return sorted({s for s in (n // 8, n // 4, n // 2) if s >= smallest} | {n})
