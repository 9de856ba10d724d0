"""Scalar outputs that are the extreme of a stored field, predicted as that field's extreme.

The furnace's coldest glass temperature is the minimum of the temperature field over the mesh.
As a function of the inputs it has a kink wherever the coldest place moves from one node to
another, which one GP over the inputs smooths over; the field's values at the nodes near the
coldest place are each smooth. So an output that equals a field's minimum or maximum over the
nodes (of its magnitude, for a vector field) on at least ``MATCH_SHARE`` of the training samples
(the rest may differ where the solver's extreme lies between the stored nodes) gets a candidate
model: POD + GPs of the field at the nodes that come within ``NEAR`` of the output's standard
deviation of the extreme in some training sample (a head of a few nodes, its POD codes' GPs
those of a scalar output below 128 samples), the output being the extreme of its prediction,
with the std at that node. The candidate replaces the output's own model where its
cross-validated RMSE is lower; its std is calibrated on its own out-of-fold residuals, as every
output's is (`fit.calibration_factor`).

Measured on the furnace's 64 held-out solves (docs/performance.md, Peers, session 21): the
minimum temperature's RMSE over the best peer's fell from 0.92-2.12 to 0.26-0.46 on four
training sets of 32 solves, and from 0.67 to 0.20 at 128.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from twinkit.surrogates.data import TrainingData
from twinkit.surrogates.head import Head

MATCH_SHARE = 0.75  # the output equals the field's extreme on at least this share of samples
MATCH_TOL = 1e-6  # ... to within this fraction of the output's range over the samples
NEAR = 0.5  # nodes within NEAR × std(output) of the extreme in some sample are modelled
KINDS = ("min", "max")
# POD energy of the nodes' values: 3-6 modes for the furnace's 11-22 nodes (0.99999: 6-12,
# the same accuracy, twice the GPs to evaluate per prediction; 0.99: 3 modes, the minimum
# temperature's held-out RMSE 1.21-1.28x on four blocks of 32 and 1.86x at 128, for 0.3-0.9 ms
# of 1,000 scalar predictions at 32 and 7 ms at 128)
ENERGY = 0.999


@dataclass
class Extreme:
    """The output ``output`` as the ``kind`` ("min" or "max") over some nodes of ``field``
    (its magnitude for a vector field), from a head of the field at those nodes."""

    output: str
    field: str
    kind: str
    nodes: np.ndarray  # (s,) the field's node indices the head predicts
    head: Head  # the field at ``nodes``: shape (s,) or (s, components)
    std_scale: float = 1.0  # calibration of the std at the extreme's node

    def mean_std(self, xs: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std (n,) at scaled inputs xs (n, d)."""
        return self._picked(*self.head.mean_std(xs))

    def mean_std_torch(self, xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Differentiable mean and std (n,): the gradient of the extreme's node."""
        return self._picked(*self.head.mean_std_torch(xs))

    def _picked(self, m: Any, s: Any) -> tuple[Any, Any]:
        shape = (-1, *self.head.shape)  # -1, not n: an ONNX graph keeps its batch size free
        mean, std = pick(m.reshape(shape), s.reshape(shape), self.kind)
        return mean, std * self.std_scale

    def state(self) -> dict[str, Any]:
        return {"output": self.output, "field": self.field, "kind": self.kind,
                "nodes": torch.from_numpy(np.asarray(self.nodes, dtype=np.int64)),
                "head": self.head.state(), "std_scale": float(self.std_scale)}  # fmt: skip

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> Extreme:
        if s["kind"] not in KINDS:
            raise ValueError(f"extreme kind '{s['kind']}': expected one of {KINDS}")
        return cls(str(s["output"]), str(s["field"]), s["kind"], s["nodes"].numpy(),
                   Head.from_state(s["head"]), float(s["std_scale"]))  # fmt: skip


def pick(values: Any, std: Any, kind: str) -> tuple[Any, Any]:
    """The extreme (n,) of the nodes' values (n, s[, c]), numpy or torch, and the std (n,) at
    its node (a vector field's: of the magnitude, and the components' stds in quadrature)."""
    if isinstance(values, torch.Tensor):
        if values.dim() == 3:
            values, std = torch.linalg.vector_norm(values, dim=2), (std * std).sum(2).sqrt()
        best, i = values.min(1) if kind == "min" else values.max(1)
        return best, std.gather(1, i[:, None])[:, 0]
    if values.ndim == 3:
        values, std = np.linalg.norm(values, axis=2), np.sqrt((std * std).sum(2))
    i = values.argmin(1) if kind == "min" else values.argmax(1)
    rows = np.arange(len(values))
    return values[rows, i], std[rows, i]


def magnitude(f: np.ndarray) -> np.ndarray:
    """(n, node) values of a field (n, node) or the magnitudes of a vector field (n, node, c)."""
    return np.linalg.norm(f, axis=2) if f.ndim == 3 else f


def extreme_of(values: np.ndarray, kind: str) -> np.ndarray:
    return values.min(1) if kind == "min" else values.max(1)


def candidates(
    names: list[str], y: np.ndarray, fields: dict[str, np.ndarray]
) -> list[tuple[int, str, str]]:
    """(column, field, kind) for each column of y (n, p) that is a field's extreme on at least
    ``MATCH_SHARE`` of the samples (the first such field and kind; constant columns: none)."""
    found = []
    # each field's extremes once, in the order the candidates are tried (field, then kind)
    extremes = [(name, k, extreme_of(magnitude(f), k)) for name, f in fields.items()
                for k in KINDS]  # fmt: skip
    for j, _ in enumerate(names):
        o = y[:, j]
        tol = MATCH_TOL * np.ptp(o)
        if tol == 0:
            continue
        match = next(((name, k) for name, k, e in extremes
                      if np.mean(np.abs(e - o) <= tol) >= MATCH_SHARE), None)  # fmt: skip
        if match is not None:
            found.append((j, *match))
    return found


def near_nodes(f: np.ndarray, o: np.ndarray, kind: str) -> np.ndarray:
    """The nodes whose value (magnitude) is within ``NEAR`` std(o) of the extreme in some
    sample of the field f (n, node[, c])."""
    values = magnitude(f)
    gap = np.abs(values - extreme_of(values, kind)[:, None])
    return np.flatnonzero((gap <= NEAR * np.std(o)).any(0))


def assess(
    o: np.ndarray,
    own: np.ndarray,
    sub: np.ndarray,
    fitted: dict[str, Any],
    shape: tuple[int, ...],
    kind: str,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The candidate against the output's own model, cross-validated on the samples both held
    out: o (n,) the output, own (n,) its own model's out-of-fold residuals (nan: not held out),
    sub (n, s·c) the field at the nodes (per sample ``shape``: (s,) or (s, c)) and ``fitted``
    their head's fit (``residual``, ``spread``, ``mask``). Returns the RMSEs and whether the
    candidate is kept, its residuals and its std at the extreme's node (the held-out samples of
    its fit)."""
    mask = fitted["mask"]
    rows = (int(mask.sum()), *shape)
    values, spread = pick(
        (fitted["residual"] + sub[mask]).reshape(rows), fitted["spread"].reshape(rows), kind
    )
    oof = np.full(len(o), np.nan)
    oof[mask] = values
    both = np.isfinite(oof) & np.isfinite(own)
    rmse = [float(np.sqrt(np.mean(r[both] ** 2))) for r in (oof - o, own)]
    kept = bool(both.any() and rmse[0] < rmse[1])
    info = {"nodes": shape[0], "cv_rmse_extreme": rmse[0], "cv_rmse_own": rmse[1], "kept": kept}
    return info, (oof - o)[mask], spread


def fit_extremes(
    data: TrainingData,
    own_cv: dict[str, np.ndarray],
    logs: dict[str, np.ndarray],
    fit_nodes: Callable[[np.ndarray, int], tuple[Head, dict[str, Any]]],
    calibrate: Callable[[np.ndarray, np.ndarray, float], float],
) -> tuple[list[Extreme], list[dict[str, Any]]]:
    """The outputs of ``data`` that are a field's extreme and cross-validate better as such: their
    models, and what was compared for every candidate. ``own_cv`` holds each scalar head's
    out-of-fold residuals (n, p) ("qoi", "sensors"), ``logs`` its outputs modelled by their log
    (not candidates); ``fit_nodes(values (n, s·c), i)`` fits the i-th candidate's head (a head's
    fit, `fit._fit_head`), ``calibrate(residual, spread, floor)`` (m, 1) its std factor."""
    kept: list[Extreme] = []
    info: list[dict[str, Any]] = []
    for key, names, y in (("qoi", data.qoi_names, data.qoi),
                          ("sensors", data.sensor_names, data.sensors)):  # fmt: skip
        if key not in own_cv:
            continue
        for j, name, kind in candidates(names, y, data.fields):
            if key in logs and logs[key][j]:
                continue
            f, o = data.fields[name], y[:, j]
            nodes = near_nodes(f, o, kind)
            sub = f[:, nodes].reshape(data.n, -1)
            head, fitted = fit_nodes(sub, len(info))
            shape = (len(nodes), *f.shape[2:])
            entry, r, spread = assess(o, own_cv[key][:, j], sub, fitted, shape, kind)
            info.append({"output": names[j], "field": name, "kind": kind} | entry)
            if entry["kept"]:
                head.names, head.shape = [names[j]], shape
                scale = calibrate(r[:, None], spread[:, None], 1e-12 * float(np.ptp(o)))
                kept.append(Extreme(names[j], name, kind, nodes, head, scale))
    return kept, info
