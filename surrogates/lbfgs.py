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

import torch

ARMIJO = 1e-4
HALVINGS = 20


# the losses (R,), or the losses and their gradients (R, p) in closed form (else autograd's)
Fun = Callable[[torch.Tensor, torch.Tensor], torch.Tensor | tuple[torch.Tensor, torch.Tensor]]


def _loss_grad(fun: Fun, theta: torch.Tensor, rows: torch.Tensor | None = None):
    """Losses (B,) and gradients (B, p) at theta (B, p), evaluated for ``rows`` only (the rest:
    inf and 0)."""
    b = len(theta)
    rows = torch.arange(b) if rows is None else rows
    loss = torch.full((b,), torch.inf, dtype=theta.dtype)
    grad = torch.zeros_like(theta)
    if len(rows):
        t = theta[rows].detach().requires_grad_()
        with torch.enable_grad():
            out = fun(t, rows)
            val, g = out if isinstance(out, tuple) else (out, torch.autograd.grad(out.sum(), t)[0])
        val, g = val.detach(), g.detach()
        bad = ~torch.isfinite(val)
        loss[rows] = val.masked_fill(bad, torch.inf)
        grad[rows] = g.masked_fill(bad[:, None], 0.0)
    return loss, grad


def minimise(
    fun: Fun,
    theta: torch.Tensor,
    iterations: int,
    history: int = 10,
    tol: float = 1e-5,
) -> torch.Tensor:
    """``theta`` (B, p) after at most ``iterations`` L-BFGS steps per problem; see the module."""
    theta = theta.detach().clone()
    b, p = theta.shape
    dt = theta.dtype
    s_hist = torch.zeros((history, b, p), dtype=dt)
    y_hist = torch.zeros((history, b, p), dtype=dt)
    rho = torch.zeros((history, b), dtype=dt)  # 0: no pair stored in that slot
    loss, grad = _loss_grad(fun, theta)
    active = torch.isfinite(loss)
    gamma = 1.0 / grad.abs().amax(1).clamp_min(1.0)  # initial Hessian sᵀy/yᵀy; first step ≤ 1
    for it in range(iterations):
        if not bool(active.any()):
            break
        # two-loop recursion, newest pair first (slot (it - 1 - i) mod m)
        q = grad.clone()
        order = [(it - 1 - i) % history for i in range(min(it, history))]
        alpha = {}
        for j in order:
            alpha[j] = rho[j] * (s_hist[j] * q).sum(1)
            q -= alpha[j][:, None] * y_hist[j]
        r = gamma[:, None] * q
        for j in reversed(order):
            beta = rho[j] * (y_hist[j] * r).sum(1)
            r += (alpha[j] - beta)[:, None] * s_hist[j]
        d = -r
        slope = (grad * d).sum(1)
        downhill = slope < 0
        d = torch.where(downhill[:, None], d, -grad)  # not a descent direction: steepest descent
        slope = torch.where(downhill, slope, -(grad * grad).sum(1))
        d = d * active[:, None]
        step = torch.ones(b, dtype=dt)
        accepted = ~active
        new_theta, new_loss, new_grad = theta, loss, grad
        for _ in range(HALVINGS):
            trial = torch.where(accepted[:, None], new_theta, theta + step[:, None] * d)
            t_loss, t_grad = _loss_grad(fun, trial, torch.nonzero(~accepted)[:, 0])
            ok = ~accepted & (t_loss <= loss + ARMIJO * step * slope)
            new_theta = torch.where(ok[:, None], trial, new_theta)
            new_loss = torch.where(ok, t_loss, new_loss)
            new_grad = torch.where(ok[:, None], t_grad, new_grad)
            accepted = accepted | ok
            if bool(accepted.all()):
                break
            step = torch.where(accepted, step, 0.5 * step)
        moved = accepted & active
        s, yv = new_theta - theta, new_grad - grad
        sy = (s * yv).sum(1)
        store = moved & (sy > 1e-12 * (s * s).sum(1).sqrt() * (yv * yv).sum(1).sqrt())
        slot = it % history
        s_hist[slot] = torch.where(store[:, None], s, 0.0)
        y_hist[slot] = torch.where(store[:, None], yv, 0.0)
        rho[slot] = torch.where(store, 1.0 / sy.where(store, 1.0), 0.0)
        gamma = torch.where(store, sy / (yv * yv).sum(1).where(store, 1.0), gamma)
        small = (loss - new_loss).abs() <= tol * (1.0 + new_loss.abs())
        active = moved & ~small & (new_grad.abs().amax(1) > tol)
        theta, loss, grad = new_theta, new_loss, new_grad
    return theta
