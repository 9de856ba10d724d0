"""Where to solve next: the ensemble's disagreement over candidates, and a spread-out batch.

``disagreement`` scores a candidate by the members' spread, relative to each output's spread in the
training data and averaged over the scalar outputs (QoIs and sensors), so no output dominates by its
units. ``choose_batch`` takes the best-scoring candidate, then damps the scores around it by

    1 - exp(-|x - x_picked|² / (2 ℓ²))   (inputs scaled to [-1, 1]),

and repeats: a batch spreads out instead of clustering at one uncertain corner (local penalisation,
González et al. 2016). The same damping around every existing sample (failed ones included) keeps
new points off the old ones where the ensemble happens to disagree anyway. ℓ is half the median
distance between an existing sample and its nearest neighbour.
"""

from __future__ import annotations

import numpy as np

from surrogates.data import TrainingData
from surrogates.model import Surrogate
from surrogates.normalise import column_scale


def disagreement(surrogate: Surrogate, x: np.ndarray, data: TrainingData) -> np.ndarray:
    """(n,) mean over the scalar outputs of (ensemble std / the output's training spread)²."""
    pred = surrogate.predict(x)
    y = np.hstack([data.qoi, data.sensors])
    scale = column_scale(y)
    rel = np.column_stack([pred.std[n] / scale[j] for j, n in enumerate(data.outputs)])
    return (rel**2).mean(axis=1)


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
