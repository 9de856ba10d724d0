"""Held-out error metrics of scalar outputs and fields, and uncertainty calibration.

Definitions (per output, over the held-out samples):

* ``r2``: 1 - SSE / SST (SST about the held-out mean).
* ``rmse``: root mean square error, in the output's units.
* ``rel_rmse``: RMSE divided by the range (max - min) of the held-out truths.
* ``max_error``: largest absolute error, in the output's units.
* ``coverage``: fraction of truths inside mean ± 2 std (0.95 for calibrated Gaussian errors).

Fields: ``rel_l2`` per sample is ||u_pred - u||₂ / ||u||₂ over the nodal values (all components);
``rel_l2_variation`` divides by ||u - ū_train||₂ instead, the part a surrogate has to learn.
"""

from __future__ import annotations

import numpy as np


def r2(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column (1 for a perfect fit)."""
    sst = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    sse = ((y - pred) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sst > 0, 1.0 - sse / sst, np.where(sse == 0, 1.0, -np.inf))


def rmse(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return np.sqrt(((y - pred) ** 2).mean(axis=0))


def rel_rmse(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """RMSE over the range of the truths (0 range: over max |y|, else 1)."""
    span = y.max(axis=0) - y.min(axis=0)
    ref = np.where(span > 0, span, np.abs(y).max(axis=0))
    return rmse(y, pred) / np.where(ref > 0, ref, 1.0)


def below_by_one_se(d: np.ndarray) -> np.ndarray:
    """Per column of per-sample differences d (n, k) (one model's squared error less another's),
    whether their mean is below minus one standard error of it: the first model is better by
    more than noise (the one-standard-error rule; never with fewer than two samples)."""
    n = len(d)
    se = d.std(0, ddof=1) / np.sqrt(n) if n > 1 else np.full(d.shape[1], np.inf)
    return d.mean(0) < -se


def max_error(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return np.abs(y - pred).max(axis=0)


def coverage(y: np.ndarray, mean: np.ndarray, std: np.ndarray, k: float = 2.0) -> np.ndarray:
    """Fraction of truths inside mean ± k std, per column."""
    return (np.abs(y - mean) <= k * std).mean(axis=0)


def scalar_metrics(
    names: list[str], y: np.ndarray, mean: np.ndarray, std: np.ndarray | None = None
) -> dict[str, dict[str, float]]:
    """All scalar metrics for outputs ``names`` (columns of the (n, p) arrays)."""
    cols = {
        "r2": r2(y, mean),
        "rmse": rmse(y, mean),
        "rel_rmse": rel_rmse(y, mean),
        "max_error": max_error(y, mean),
    }
    if std is not None:
        cols["coverage"] = coverage(y, mean, std)
    return {n: {k: float(v[j]) for k, v in cols.items()} for j, n in enumerate(names)}


def field_rel_l2(
    u: np.ndarray, pred: np.ndarray, reference: np.ndarray | None = None
) -> np.ndarray:
    """Relative L2 error per sample of fields (n, ...), against ``u`` or ``u - reference``."""
    n = len(u)
    err = np.linalg.norm((pred - u).reshape(n, -1), axis=1)
    base = u if reference is None else u - reference
    norm = np.linalg.norm(base.reshape(n, -1), axis=1)
    return err / np.where(norm > 0, norm, 1.0)


def field_metrics(
    u: np.ndarray, mean: np.ndarray, std: np.ndarray | None, train_mean: np.ndarray
) -> dict[str, float]:
    """Mean and max relative L2 error over samples, relative to the variation, and coverage."""
    e = field_rel_l2(u, mean)
    ev = field_rel_l2(u, mean, train_mean)
    out = {
        "rel_l2": float(e.mean()),
        "rel_l2_max": float(e.max()),
        "rel_l2_variation": float(ev.mean()),
        "rmse": float(np.sqrt(((u - mean) ** 2).mean())),
        "max_error": float(np.abs(u - mean).max()),
    }
    if std is not None:
        out["coverage"] = float((np.abs(u - mean) <= 2 * std).mean())
    return out
