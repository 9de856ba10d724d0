"""L-BFGS for a batch of independent minimisations: each problem its own history and step.

``fun(theta, rows)`` maps the parameters (R, p) of the problems ``rows`` (R indices of B) to
their R losses, each depending on its own row only (the GPs of `twinkit.surrogates.gp`: one per
column, kernel and start); only the problems still moving are evaluated. One batched evaluation
gives each of them its loss, and the gradient of their sum each its gradient (or ``fun`` returns
the R gradients too, in closed form, as the GPs' likelihood does). Minimising the sum
with one L-BFGS run (``torch.optim.LBFGS``) couples what should be independent: one curvature
history and one line search for all, and a stop when the sum stops moving, so a problem with
small gradients is left far from its optimum (on the bracket at 32 samples the deflection's GP
stopped 7.7 nats of negative log likelihood short of its fit alone, 1.6x the test error).

Here each problem keeps its own m most recent steps and gradient changes (two-loop recursion,
Nocedal & Wright 2006, alg. 7.4), takes the first step of the sequence 1, 1/2, 1/4, ... that
satisfies the Armijo condition (backtracking; a curvature pair is stored only where sᵀy > 0),
and stops alone: when its gradient or its loss change is below tolerance, or no step decreases
it. Problems are evaluated together until the last one stops, at the stopped ones' own points.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

ARMIJO = 1e-4
HALVINGS = 20


# the losses (R,), or the losses and their gradients (R, p) in closed form (else autograd's)
Fun = Callable[[torch.Tensor, torch.Tensor], torch.Tensor | tuple[torch.Tensor, torch.Tensor]]


def _loss_grad(
    fun: Fun, theta: np.ndarray, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Losses (B,) and gradients (B, p) at theta (B, p), evaluated for ``rows`` only (the rest:
    inf and 0); ``fun`` sees torch tensors."""
    b = len(theta)
    rows = np.arange(b) if rows is None else rows
    loss = np.full(b, np.inf)
    grad = np.zeros_like(theta)
    if len(rows):
        t = torch.from_numpy(theta[rows]).requires_grad_()
        with torch.enable_grad():
            out = fun(t, torch.from_numpy(rows))
            val, g = out if isinstance(out, tuple) else (out, torch.autograd.grad(out.sum(), t)[0])
        v, gn = val.detach().numpy(), g.detach().numpy()
        bad = ~np.isfinite(v)
        loss[rows] = np.where(bad, np.inf, v)
        grad[rows] = np.where(bad[:, None], 0.0, gn)
    return loss, grad


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


def minimise(
    fun: Fun,
    theta: torch.Tensor,
    iterations: int,
    history: int = 10,
    tol: float = 1e-5,
) -> torch.Tensor:
    """``theta`` (B, p) after at most ``iterations`` L-BFGS steps per problem; see the module.
    The bookkeeping is NumPy's (in torch, its small operations' overhead was 30 % of the GP
    fits' time at 32 furnace samples)."""
    th = theta.detach().numpy().astype(np.float64, copy=True)
    b, p = th.shape
    s_hist = np.zeros((history, b, p))
    y_hist = np.zeros((history, b, p))
    rho = np.zeros((history, b))  # 0: no pair stored in that slot
    loss, grad = _loss_grad(fun, th)
    active = np.isfinite(loss)
    gamma = 1.0 / np.maximum(np.abs(grad).max(1), 1.0)  # initial Hessian sᵀy/yᵀy; first step ≤ 1
    for it in range(iterations):
        if not active.any():
            break
        # two-loop recursion, newest pair first (slot (it - 1 - i) mod m)
        q = grad.copy()
        order = [(it - 1 - i) % history for i in range(min(it, history))]
        alpha = {}
        for j in order:
            alpha[j] = rho[j] * _rowdot(s_hist[j], q)
            q -= alpha[j][:, None] * y_hist[j]
        r = gamma[:, None] * q
        for j in reversed(order):
            beta = rho[j] * _rowdot(y_hist[j], r)
            r += (alpha[j] - beta)[:, None] * s_hist[j]
        d = -r
        slope = _rowdot(grad, d)
        downhill = slope < 0
        d = np.where(downhill[:, None], d, -grad)  # not a descent direction: steepest descent
        slope = np.where(downhill, slope, -_rowdot(grad, grad))
        d = d * active[:, None]
        step = np.ones(b)
        accepted = ~active
        new_theta, new_loss, new_grad = th, loss, grad
        for _ in range(HALVINGS):
            trial = np.where(accepted[:, None], new_theta, th + step[:, None] * d)
            t_loss, t_grad = _loss_grad(fun, trial, np.flatnonzero(~accepted))
            ok = ~accepted & (t_loss <= loss + ARMIJO * step * slope)
            new_theta = np.where(ok[:, None], trial, new_theta)
            new_loss = np.where(ok, t_loss, new_loss)
            new_grad = np.where(ok[:, None], t_grad, new_grad)
            accepted = accepted | ok
            if accepted.all():
                break
            step = np.where(accepted, step, 0.5 * step)
        moved = accepted & active
        s, yv = new_theta - th, new_grad - grad
        sy = _rowdot(s, yv)
        yy = _rowdot(yv, yv)
        store = moved & (sy > 1e-12 * np.sqrt(_rowdot(s, s)) * np.sqrt(yy))
        slot = it % history
        s_hist[slot] = np.where(store[:, None], s, 0.0)
        y_hist[slot] = np.where(store[:, None], yv, 0.0)
        rho[slot] = np.where(store, 1.0 / np.where(store, sy, 1.0), 0.0)
        gamma = np.where(store, sy / np.where(store, yy, 1.0), gamma)
        with np.errstate(invalid="ignore"):  # inf - inf: a problem without a finite loss
            small = np.abs(loss - new_loss) <= tol * (1.0 + np.abs(new_loss))
        active = moved & ~small & (np.abs(new_grad).max(1) > tol)
        th, loss, grad = new_theta, new_loss, new_grad
    return torch.from_numpy(th)
