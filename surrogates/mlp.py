"""Deep ensembles of small MLPs, trained side by side as one batched network.

The members' weights are stacked (member, in, out), so one full-batch step trains every member;
the loss is a sum of the members' independent losses, and Adam updates each weight from its own
gradient, so the members do not interact. Member m holds out fold m of the training samples for
early stopping and keeps the weights of its best validation epoch. The held-out predictions
(out-of-fold) calibrate the ensemble's spread later (:mod:`surrogates.fit`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "silu": torch.nn.functional.silu,
}


class EnsembleMLP(torch.nn.Module):
    """``members`` independent MLPs (n_in → hidden… → n_out), evaluated together, float64."""

    def __init__(
        self,
        members: int,
        n_in: int,
        hidden: Sequence[int],
        n_out: int,
        activation: str = "tanh",
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation '{activation}': expected one of {sorted(ACTIVATIONS)}")
        self.spec = {
            "members": members,
            "n_in": n_in,
            "hidden": [int(h) for h in hidden],
            "n_out": n_out,
            "activation": activation,
        }
        sizes = [n_in, *hidden, n_out]
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            bound = math.sqrt(6.0 / (a + b))  # Glorot uniform, suited to tanh
            w = (
                torch.rand(members, a, b, generator=generator, dtype=torch.float64) * 2 - 1
            ) * bound
            self.weights.append(torch.nn.Parameter(w))
            self.biases.append(torch.nn.Parameter(torch.zeros(members, 1, b, dtype=torch.float64)))
        self._act: Callable[[torch.Tensor], torch.Tensor] = ACTIVATIONS[activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (n, n_in) → (members, n, n_out)."""
        h = x.unsqueeze(0).expand(len(self.weights[0]), *x.shape)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = self._act(h)
        return h

    def state(self) -> dict[str, Any]:
        tensors = {k: v.detach().clone() for k, v in self.state_dict().items()}
        return {"spec": dict(self.spec), "tensors": tensors}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EnsembleMLP:
        net = cls(**state["spec"])
        net.load_state_dict(state["tensors"])
        return net


@dataclass(frozen=True)
class TrainConfig:
    """How an ensemble is trained: full-batch Adam, cosine learning rate, early stopping."""

    members: int = 5
    hidden: tuple[int, ...] = (32, 32, 32)
    activation: str = "tanh"
    epochs: int = 2500
    lr: float = 1e-2
    lr_final: float = 1e-5
    patience: int = 500
    lbfgs: int | None = None  # L-BFGS iterations after Adam (None: epochs // 5; 0: none)
    seed: int = 0


@dataclass
class TrainResult:
    net: EnsembleMLP
    val_loss: np.ndarray  # (members,) best validation MSE of the standardised codes
    best_epoch: np.ndarray  # (members,)
    epochs_run: int
    oof: np.ndarray  # (n, k) out-of-fold prediction of each sample's validating member
    oof_mask: np.ndarray  # (n,) whether the sample was held out by some member
    history: list[float] = field(default_factory=list)  # mean validation loss per epoch


def folds(n: int, members: int, seed: int) -> np.ndarray:
    """Fold index per sample (members ≥ 4 folds; member m validates on fold m)."""
    k = max(members, 4)
    perm = np.random.default_rng(seed).permutation(n)
    out = np.empty(n, dtype=np.int64)
    out[perm] = np.arange(n) % k
    return out


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread: small networks gain nothing from more, and on a busy machine
    OpenMP threads waiting for each other slow training down by an order of magnitude."""
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def train_ensemble(x: np.ndarray, z: np.ndarray, config: TrainConfig) -> TrainResult:
    """Train an ensemble on scaled inputs x (n, d) and standardised codes z (n, k)."""
    with one_thread():
        return _train(x, z, config)


def _train(x: np.ndarray, z: np.ndarray, config: TrainConfig) -> TrainResult:
    n = len(x)
    m = config.members
    if n < 8:
        raise ValueError(f"need at least 8 training samples, got {n}")
    generator = torch.Generator().manual_seed(config.seed)
    net = EnsembleMLP(m, x.shape[1], config.hidden, z.shape[1], config.activation, generator)
    fold = folds(n, m, config.seed)
    val = torch.from_numpy(fold[None, :] == np.arange(m)[:, None]).to(torch.float64)  # (m, n)
    train_w = (1.0 - val) / (1.0 - val).sum(1, keepdim=True)
    val_w = val / val.sum(1, keepdim=True)
    xt, zt = torch.from_numpy(x), torch.from_numpy(z)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.epochs, eta_min=config.lr_final)
    best = torch.full((m,), math.inf, dtype=torch.float64)
    best_epoch = torch.zeros(m, dtype=torch.int64)
    best_params = [p.detach().clone() for p in net.parameters()]
    history = []
    epoch = 0
    for epoch in range(config.epochs):
        opt.zero_grad(set_to_none=True)
        se = ((net(xt) - zt) ** 2).mean(-1)  # (m, n)
        loss = (se * train_w).sum()
        loss.backward()
        with torch.no_grad():
            v = (se * val_w).sum(1)
            better = v < best
            if better.any():
                best = torch.where(better, v, best)
                best_epoch[better] = epoch
                for b, p in zip(best_params, net.parameters(), strict=True):
                    b[better] = p[better]
        history.append(float(v.mean()))
        if int((epoch - best_epoch).min()) > config.patience:
            break
        opt.step()
        sched.step()
    with torch.no_grad():
        for b, p in zip(best_params, net.parameters(), strict=True):
            p.copy_(b)
    lbfgs = config.epochs // 5 if config.lbfgs is None else config.lbfgs
    if lbfgs > 0:
        best = _polish(net, xt, zt, train_w, val_w, best, lbfgs)
    with torch.no_grad():
        pred = net(xt).numpy()
    oof = np.zeros_like(z)
    mask = fold < m
    oof[mask] = pred[fold[mask], np.flatnonzero(mask)]
    return TrainResult(net, best.numpy(), best_epoch.numpy(), epoch + 1, oof, mask, history)


def _polish(
    net: EnsembleMLP,
    x: torch.Tensor,
    z: torch.Tensor,
    train_w: torch.Tensor,
    val_w: torch.Tensor,
    best: torch.Tensor,
    iterations: int,
) -> torch.Tensor:
    """L-BFGS on the training loss after Adam (smooth FE responses reward the second-order
    steps); a member keeps its Adam weights where its validation loss got worse."""
    before = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.LBFGS(
        net.parameters(),
        max_iter=iterations,
        history_size=50,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
    )

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        loss = (((net(x) - z) ** 2).mean(-1) * train_w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        v = (((net(x) - z) ** 2).mean(-1) * val_w).sum(1)
        worse = ~(v < best)  # NaN counts as worse
        for b, p in zip(before, net.parameters(), strict=True):
            p[worse] = b[worse]
        return torch.where(worse, best, v)
