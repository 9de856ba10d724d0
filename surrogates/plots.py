"""PNG figures of a surrogate: parity plots, error against training size (matplotlib, Agg)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def default_style[**P, R](draw: Callable[P, R]) -> Callable[P, R]:
    """``draw`` (which makes a ``matplotlib.figure.Figure`` and saves it) run in matplotlib's
    default style. Not the style of a ``matplotlibrc`` in the working folder, often a case
    bundle's, which matplotlib reads at import: one could set ``figure.hooks`` (a function of
    any module called on every pyplot figure: ``sys:exit`` ended the command), ``text.usetex``
    (runs LaTeX) or a huge ``savefig.dpi``. A ``Figure``, not pyplot's: no backend is chosen (a
    notebook's stays as it was) and no figure manager keeps it."""

    @functools.wraps(draw)
    def drawn(*args: P.args, **kwargs: P.kwargs) -> R:
        import matplotlib.style

        with matplotlib.style.context("default"):
            return draw(*args, **kwargs)

    return drawn


@default_style
def parity_plot(
    truth: dict[str, np.ndarray],
    mean: dict[str, np.ndarray],
    std: dict[str, np.ndarray],
    units: dict[str, str],
    path: Path,
    baseline: dict[str, np.ndarray] | None = None,
) -> Path:
    """Predicted against true value per output, with ± 2 std bars (and a baseline's points)."""
    from matplotlib.figure import Figure

    names = list(truth)
    cols = min(4, len(names)) or 1
    rows = math.ceil(len(names) / cols) or 1
    fig = Figure(figsize=(3.2 * cols, 3.0 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
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
    return path


@default_style
def learning_curve_plot(curve: dict[str, Any], path: Path) -> Path:
    """Held-out error against the number of training samples, surrogate and RBF, log-log."""
    from matplotlib.figure import Figure

    keys = list(curve["surrogate"])
    fig = Figure(figsize=(4.0 * len(keys), 3.4))
    axes = fig.subplots(1, len(keys), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=True):
        for who, style in (("surrogate", "o-"), ("rbf", "s--")):
            ax.loglog(curve["sizes"], curve[who][key], style, label=who)
        ax.set_xlabel("training samples")
        ax.set_ylabel(key)
        ax.grid(True, which="both", lw=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
