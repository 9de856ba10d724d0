"""Acquisition for adaptive sampling: the ensemble disagrees away from its data; batches spread."""

from __future__ import annotations

import numpy as np
from surrogate_kinds import only

from twinkit.surrogates import FitConfig, TrainConfig, fit_surrogate
from twinkit.surrogates.acquisition import choose_batch, disagreement, length_scale


def test_disagreement_is_larger_where_there_is_no_data(fin_split):
    train, test = (only(d, "scalar_mlp") for d in fin_split)
    low = train.x[:, 0] < 3e3  # power in the lower half of [1e3, 5e3] only
    # the ensemble's spread (networks only: on this smooth function the GP extrapolates well and
    # rightly stays confident)
    cfg = FitConfig(train=TrainConfig(members=5, epochs=200), model="mlp")
    s = fit_surrogate(train.subset(low), cfg)
    score = disagreement(s, test.x, train.subset(low))
    inside, outside = score[test.x[:, 0] < 2.8e3], score[test.x[:, 0] > 3.6e3]
    assert np.all(score >= 0) and np.median(outside) > 3 * np.median(inside)


def test_batch_takes_the_best_then_spreads_out():
    rng = np.random.default_rng(0)
    cand = rng.uniform(-1, 1, (2000, 2))
    score = np.exp(-((cand - 0.5) ** 2).sum(1) / 0.1)  # one uncertain corner
    existing = rng.uniform(-1, 1, (16, 2))
    ell = length_scale(existing)
    score[:10] = -np.inf  # already taken
    picks = choose_batch(cand, score, existing, 5)
    assert len(set(picks)) == 5 and not set(picks) & set(range(10))
    damp0 = np.prod(1 - np.exp(-((cand[:, None] - existing) ** 2).sum(-1) / (2 * ell**2)), 1)
    assert picks[0] == int(np.argmax(np.where(np.isfinite(score), score * damp0, -np.inf)))
    p = cand[picks]
    d = np.sqrt(((p[:, None] - p[None]) ** 2).sum(-1)) + np.eye(5) * 9
    assert d.min() > ell  # greedy picks without damping would sit next to each other
    assert np.all(np.sqrt(((p - 0.5) ** 2).sum(1)) < 0.8)  # ... and still near the uncertain spot


def test_every_output_has_the_same_say_in_the_score():
    """An output's units, or how well it is fitted overall, do not change the score; round-off
    outputs are left out (their ensemble spread is noise)."""
    from types import SimpleNamespace

    from twinkit.surrogates.data import TrainingData

    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (50, 1))
    a, b = 1 + x[:, 0], 2 - x[:, 0]  # two outputs, uncertain at opposite ends

    def score(scale_b: float, noise: np.ndarray) -> np.ndarray:
        std = {"qoi_a": a, "qoi_b": scale_b * b, "qoi_c": noise}
        data = TrainingData(
            inputs=["p"], input_units={"p": ""}, bounds={"p": (0.0, 1.0)}, log_inputs={"p": False},
            x=x, qoi_names=list(std), sensor_names=[], sensors=np.zeros((50, 0)), fields={},
            units={},
            qoi=np.column_stack([x[:, 0], 1e6 * x[:, 0], np.full(50, 3.0) + 1e-14 * x[:, 0]]),
        )  # fmt: skip
        surrogate = SimpleNamespace(predict=lambda _: SimpleNamespace(std=std))
        return disagreement(surrogate, x, data)  # type: ignore[arg-type]

    s = score(1.0, rng.uniform(0, 1, 50))
    assert np.allclose(s, score(1e3, rng.uniform(0, 1e3, 50)))
    # each output's variance over its mean over the points, averaged over the two real outputs
    assert np.allclose(s, (a**2 / (a**2).mean() + b**2 / (b**2).mean()) / 2)
