"""PNG figures of a surrogate: parity plots, error against training size (matplotlib, Agg)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def parity_plot(
    truth: dict[str, np.ndarray],
    mean: dict[str, np.ndarray],
    std: dict[str, np.ndarray],
    units: dict[str, str],
    path: Path,
    baseline: dict[str, np.ndarray] | None = None,
) -> Path:
    """Predicted against true value per output, with ± 2 std bars (and a baseline's points)."""
    plt = _pyplot()
    names = list(truth)
    cols = min(4, len(names)) or 1
    rows = math.ceil(len(names) / cols) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        y, m = truth[name], mean[name]
        if baseline is not None and name in baseline:
            ax.plot(y, baseline[name], "x", ms=3, color="0.6", label="RBF")
        ax.errorbar(y, m, yerr=2 * std[name], fmt="o", ms=2.5, lw=0.6, label="surrogate ± 2σ")
        lo, hi = float(min(y.min(), m.min())), float(max(y.max(), m.max()))
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.7)
        unit = units.get(name, "")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"FE [{unit}]" if unit else "FE", fontsize=8)
        ax.set_ylabel("predicted", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def learning_curve_plot(curve: dict[str, Any], path: Path) -> Path:
    """Held-out error against the number of training samples, surrogate and RBF, log-log."""
    plt = _pyplot()
    keys = list(curve["surrogate"])
    fig, axes = plt.subplots(1, len(keys), figsize=(4.0 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=True):
        for who, style in (("surrogate", "o-"), ("rbf", "s--")):
            ax.loglog(curve["sizes"], curve[who][key], style, label=who)
        ax.set_xlabel("training samples")
        ax.set_ylabel(key)
        ax.grid(True, which="both", lw=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
