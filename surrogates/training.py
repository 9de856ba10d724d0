"""Train a head's ensemble: each member's trend by least squares, then its networks by L-BFGS.

Member m holds out fold m of the training samples (at least 4 folds). On the other folds it fits
its polynomial trend (:mod:`twinkit.surrogates.trend`; degree and ridge weight per code by
leave-one-out)
and then its networks, minimising over their weights W

    Σ_codes mean_samples (N(x) - r)² + α Σ ‖W‖²,    r = (z - trend(x)) / s,

full batch, with L-BFGS. FE responses over a parameter box are smooth and the data are few, so
second-order steps and an L2 penalty (small networks, smooth fits) beat stochastic first-order
training with early stopping by a wide margin on both the furnace and the analytic fin sweeps.
The members' losses are independent (no weight is shared), so one optimiser trains them all.
``s``, per code, is the leave-one-out RMSE of the trend: the networks' targets are of unit size.
The networks start at zero (the last layer's weights), i.e. at the trend.

The held-out fold's predictions (out-of-fold) calibrate the ensemble's spread
(:mod:`twinkit.surrogates.fit`); the fold's loss is reported as the validation loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from twinkit.surrogates.lbfgs import WolfeLBFGS
from twinkit.surrogates.mlp import EnsembleMLP, one_thread
from twinkit.surrogates.trend import TrendChoice, choose, fit


@dataclass(frozen=True)
class TrainConfig:
    """How an ensemble is made: members, network shape, L-BFGS iterations, L2 weight, trend."""

    members: int = 5
    hidden: tuple[int, ...] = (16, 16)
    activation: str = "tanh"
    separate: bool = True  # one network per code (output) and member; else one per member
    epochs: int = 2000  # L-BFGS iterations (full batch)
    l2: float = 1e-6  # α, the weight penalty
    trend: int | None = 0  # polynomial trend degree (None: chosen per code; 0: the mean)
    seed: int = 0
    check_every: int = 250  # with a monitor (`train_ensemble`): iterations between its checks


@dataclass
class TrainResult:
    net: EnsembleMLP
    val_loss: np.ndarray  # (members,) MSE of the codes on each member's held-out fold
    trend: TrendChoice
    iterations: int  # L-BFGS iterations done
    oof: np.ndarray  # (n, k) out-of-fold prediction of each sample's validating member
    oof_mask: np.ndarray  # (n,) whether the sample was held out by some member


def folds(n: int, members: int, seed: int) -> np.ndarray:
    """Fold index per sample (members ≥ 4 folds; member m validates on fold m)."""
    k = max(members, 4)
    perm = np.random.default_rng(seed).permutation(n)
    out = np.empty(n, dtype=np.int64)
    out[perm] = np.arange(n) % k
    return out


# called with the out-of-fold prediction (n, k) and the iterations done: go on training?
Monitor = Callable[[np.ndarray, int], bool]


def train_ensemble(
    x: np.ndarray, z: np.ndarray, config: TrainConfig, monitor: Monitor | None = None
) -> TrainResult:
    """Train an ensemble on scaled inputs x (n, d) and standardised codes z (n, k).

    With a ``monitor``, L-BFGS pauses every ``config.check_every`` iterations (its state, history
    included, carries on: the same steps as one run) and stops before ``config.epochs`` when the
    monitor, given the out-of-fold prediction so far, returns False.
    """
    with one_thread():
        return _train(x, z, config, monitor)


def _train(
    x: np.ndarray, z: np.ndarray, config: TrainConfig, monitor: Monitor | None = None
) -> TrainResult:
    n, k = z.shape
    m = config.members
    if n < 8:
        raise ValueError(f"need at least 8 training samples, got {n}")
    generator = torch.Generator().manual_seed(config.seed)
    choice = choose(x, z, config.trend)
    net = EnsembleMLP(
        m, x.shape[1], config.hidden, k, config.activation, generator, choice.max_degree,
        config.separate,
    )  # fmt: skip
    fold = folds(n, m, config.seed)
    val = torch.from_numpy(fold[None, :] == np.arange(m)[:, None]).to(torch.float64)  # (m, n)
    train_w = ((1.0 - val) / (1.0 - val).sum(1, keepdim=True))[..., None]
    val_w = (val / val.sum(1, keepdim=True))[..., None]
    xt = torch.from_numpy(x)
    r = _set_trend(net, x, z, fold, choice)
    per_net = 1.0 if config.separate else 1.0 / k  # each network's loss: the mean over its codes
    params = list(net.parameters())
    sizes = [p.numel() for p in params]
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    opt = WolfeLBFGS(flat.numpy(), history=50, tolerance_grad=1e-12, tolerance_change=1e-15)

    def set_params(x: np.ndarray) -> None:
        with torch.no_grad():
            for p, v in zip(params, torch.from_numpy(x).split(sizes), strict=True):
                p.copy_(v.view_as(p))

    def loss_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        set_params(x)
        with torch.enable_grad():  # also when the caller is in torch.no_grad()
            se = (net.residual(xt) - r) ** 2
            loss = per_net * (se * train_w).sum() + config.l2 * net.penalty()
            grads = torch.autograd.grad(loss, params)
        return float(loss.detach()), torch.cat([g.reshape(-1) for g in grads]).numpy()

    mask = fold < m

    def out_of_fold() -> tuple[np.ndarray, torch.Tensor]:
        set_params(opt.x)  # the last point tried may not be the one taken
        with torch.no_grad():
            pred = net(xt)
        oof = np.zeros_like(z)
        oof[mask] = pred.numpy()[fold[mask], np.flatnonzero(mask)]
        return oof, pred

    chunk = config.epochs if monitor is None else max(1, config.check_every)
    while opt.n_iter < config.epochs:
        start, step = opt.n_iter, min(chunk, config.epochs - opt.n_iter)
        opt.run(loss_grad, step)
        if opt.n_iter < start + step:  # converged (or out of evaluations)
            break
        if monitor is not None and opt.n_iter < config.epochs:
            if not monitor(out_of_fold()[0], opt.n_iter):
                break
    oof, pred = out_of_fold()
    val_loss = (((pred - torch.from_numpy(z)) ** 2) * val_w).sum((1, 2)) / k
    return TrainResult(net, val_loss.numpy(), choice, opt.n_iter, oof, mask)


def _set_trend(
    net: EnsembleMLP, x: np.ndarray, z: np.ndarray, fold: np.ndarray, choice: TrendChoice
) -> torch.Tensor:
    """Fit each member's trend on its training folds, scale the networks' part to the size of the
    trend's leave-one-out residual, start the networks at zero; the networks' targets (m, n, k)."""
    with torch.no_grad():
        for i in range(len(net.trend_coef)):
            rows = fold != i
            net.trend_coef[i] = torch.from_numpy(fit(x[rows], z[rows], choice))
        scale = choice.loo_rmse
        net.out_scale.copy_(torch.from_numpy(np.where(scale > 0, scale, 1.0)))
        net.weights[-1].zero_()
        return (torch.from_numpy(z) - net.trend(torch.from_numpy(x))) / net.out_scale
