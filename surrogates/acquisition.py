"""Where to solve next: the ensemble's disagreement over candidates, and a spread-out batch.

``disagreement`` scores a candidate by the members' variance of each scalar output (QoIs and
sensors) relative to that output's mean variance over the candidates, averaged over the outputs:
every output has the same say, whatever its units or how well it is fitted overall. (Scoring by
the variance relative to the output's training spread instead weights the outputs by how badly
they are fitted; on the furnace the adaptive design then gained nothing over Sobol at 96 solves,
median held-out error x1.05, against x0.97 with equal say: `benchmarks/adaptive.py`, README.)
Round-off-only outputs (an energy imbalance of 1e-13) are left out.

``choose_batch`` takes the best-scoring candidate, then damps the scores around it by

    1 - exp(-|x - x_picked|² / (2 ℓ²))   (inputs scaled to [-1, 1]),

and repeats: a batch spreads out instead of clustering at one uncertain corner (local penalisation,
González et al. 2016). The same damping around every existing sample (failed ones included) keeps
new points off the old ones where the ensemble happens to disagree anyway. ℓ is half the median
distance between an existing sample and its nearest neighbour.
"""

from __future__ import annotations

import numpy as np

from twinkit.surrogates.data import TrainingData
from twinkit.surrogates.model import Surrogate
from twinkit.surrogates.normalise import constant_columns


def disagreement(surrogate: Surrogate, x: np.ndarray, data: TrainingData) -> np.ndarray:
    """(n,) mean over the scalar outputs of ensemble variance / its mean over the n points."""
    pred = surrogate.predict(x)
    real = ~constant_columns(data.scalars)
    names = [n for n, keep in zip(data.outputs, real, strict=True) if keep]
    if not names:
        return np.zeros(len(x))
    var = np.column_stack([pred.std[n] ** 2 for n in names])
    mean = var.mean(axis=0)
    return (var / np.where(mean > 0, mean, 1.0)).mean(axis=1)


def length_scale(existing: np.ndarray) -> float:
    """Half the median nearest-neighbour distance of the (scaled) existing points."""
    if len(existing) < 2:
        return 0.5
    d = np.sqrt(((existing[:, None, :] - existing[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return 0.5 * float(np.median(d.min(axis=1)))


def _damping(candidates: np.ndarray, points: np.ndarray, ell: float) -> np.ndarray:
    d2 = (candidates**2).sum(1)[:, None] + (points**2).sum(1)[None, :] - 2 * candidates @ points.T
    return np.prod(1.0 - np.exp(-d2 / (2 * ell**2)), axis=1)


def choose_batch(
    candidates: np.ndarray, score: np.ndarray, existing: np.ndarray, k: int
) -> list[int]:
    """Indices of ``k`` candidates (scaled inputs) chosen greedily by damped score.

    Candidates with score -inf are never chosen (unless nothing else is left).
    """
    ell = length_scale(existing)
    allowed = np.isfinite(score)
    value = np.where(allowed, score, 0.0)
    damp = _damping(candidates, existing, ell) if len(existing) else np.ones(len(candidates))
    picks: list[int] = []
    for _ in range(min(k, len(candidates))):
        total = np.where(allowed, value * damp, -np.inf)
        total[picks] = -np.inf
        i = int(np.argmax(total))
        picks.append(i)
        damp = damp * _damping(candidates, candidates[i : i + 1], ell)
    return picks
