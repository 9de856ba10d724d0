"""The polynomial trend under the networks, and the per-output networks of an ensemble."""

from __future__ import annotations

import numpy as np
import torch

from twinkit.surrogates.mlp import EnsembleMLP
from twinkit.surrogates.training import TrainConfig, train_ensemble
from twinkit.surrogates.trend import choose, exponents, features, features_torch, fit


def test_trend_finds_the_degree_of_a_polynomial_and_not_of_noise():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (60, 3))
    quad = 1 + x[:, 0] - 2 * x[:, 1] * x[:, 2] + 0.5 * x[:, 2] ** 2
    z = np.column_stack([quad, 3 * x[:, 1], rng.normal(size=60)])
    c = choose(x, z)
    assert list(c.degree[:2]) == [2, 1]
    assert c.loo_rmse[0] < 1e-3 * c.loo_rmse_constant[0]
    assert c.loo_rmse[2] > 0.9 * c.loo_rmse_constant[2]  # noise: no trend predicts it
    coef = fit(x, z, c)
    assert coef.shape == (len(exponents(3, 2)), 3)
    np.testing.assert_allclose((features(x, 2) @ coef)[:, :2], z[:, :2], atol=1e-4)
    xt = torch.from_numpy(x)
    np.testing.assert_allclose(features_torch(xt, 2).numpy(), features(x, 2), rtol=1e-14)


def test_separate_networks_do_not_share_weights():
    """With one network per output, an output's prediction depends on its own weights only."""
    net = EnsembleMLP(3, 2, (8,), 4, generator=torch.Generator().manual_seed(0), separate=True)
    x = torch.rand(5, 2, dtype=torch.float64)
    y = net(x)
    assert y.shape == (3, 5, 4)
    y[1, :, 2].sum().backward()
    grads = net.weights[0].grad.abs().sum((1, 2)).reshape(3, 4)  # (member, output)
    assert grads[1, 2] > 0 and (grads.sum() - grads[1, 2]) == 0


def test_files_without_a_trend_still_load():
    """Networks saved before trends existed (no trend buffers, no 'separate') load as before."""
    net = EnsembleMLP(2, 3, (4,), 2, generator=torch.Generator().manual_seed(0))
    state = net.state()
    for key in ("trend_degree", "separate"):
        del state["spec"][key]
    for key in ("trend_coef", "out_scale"):
        del state["tensors"][key]
    old = EnsembleMLP.from_state(state)
    x = torch.rand(4, 3, dtype=torch.float64)
    torch.testing.assert_close(old(x), net.residual(x))


def test_training_beats_the_mean_and_reports_the_trend():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (40, 2))
    z = np.column_stack([np.sin(2 * x[:, 0]) + x[:, 1] ** 2, x[:, 0] * x[:, 1]])
    r = train_ensemble(x, (z - z.mean(0)) / z.std(0), TrainConfig(members=4, epochs=300))
    assert r.iterations > 0 and list(r.trend.degree) == [0, 0]
    assert np.all(r.val_loss < 0.05)  # held-out MSE of unit-variance codes
    assert r.oof_mask.all() and r.oof.shape == z.shape


def test_a_monitor_pauses_training_without_changing_its_steps_and_can_stop_it():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (24, 2))
    z = np.column_stack([np.sin(2 * x[:, 0]) + x[:, 1] ** 2, x[:, 0] * x[:, 1]])
    z = (z - z.mean(0)) / z.std(0)
    cfg = TrainConfig(members=4, epochs=120, check_every=40)
    whole = train_ensemble(x, z, cfg)
    seen: list[int] = []
    paused = train_ensemble(x, z, cfg, lambda oof, it: seen.append(it) or True)
    assert seen == [40, 80] and whole.iterations == paused.iterations == 120
    np.testing.assert_allclose(paused.oof, whole.oof, rtol=1e-9, atol=1e-12)
    stopped = train_ensemble(x, z, cfg, lambda oof, it: False)
    assert stopped.iterations == 40 and stopped.oof.shape == z.shape
