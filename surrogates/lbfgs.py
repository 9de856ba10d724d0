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

`WolfeLBFGS` is the same method for one problem, with a strong-Wolfe line search instead of
backtracking: the ensembles' (`twinkit.surrogates.training`) and the FE search's GP
(`twinkit.optimization.bayes.fit_gp`).
"""

from __future__ import annotations

import math
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


def _cubic_min(t1: float, f1: float, g1: float, t2: float, f2: float, g2: float,
               lo: float, hi: float) -> float:  # fmt: skip
    """The minimiser in [lo, hi] of the cubic through (t1, f1) and (t2, f2) with slopes g1 and
    g2 (Nocedal & Wright 2006, eq. 3.59); the middle of [lo, hi] where it has none."""
    if t1 == t2:
        return 0.5 * (lo + hi)
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (t1 - t2)
    disc = d1 * d1 - g1 * g2
    if disc < 0.0 or not math.isfinite(disc):
        return 0.5 * (lo + hi)
    d2 = math.copysign(math.sqrt(disc), t2 - t1)
    den = g2 - g1 + 2.0 * d2
    if den == 0.0:
        return 0.5 * (lo + hi)
    return min(max(t2 - (t2 - t1) * (g2 + d2 - d1) / den, lo), hi)


# one evaluation: the loss and its gradient at a point (NumPy, float64)
Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


def _finite(fun: Objective, x: np.ndarray) -> tuple[float, np.ndarray]:
    """``fun(x)``, a loss that is not finite taken as +inf (a step too far: the line search
    shrinks it) with a zero gradient."""
    f, g = fun(x)
    if math.isfinite(f) and np.isfinite(g).all():
        return float(f), g
    return math.inf, np.zeros_like(x)


class WolfeLBFGS:
    """L-BFGS with a strong-Wolfe line search for one problem, its vectors in NumPy, that pauses
    after a number of iterations and resumes with its state (point, direction, m most recent
    pairs): a run of 250 and a run of 250 more take the same steps as one of 500 (unless a run
    spends its evaluations, 5/4 of its iterations by default, first: it then stops early).

    The ensembles' optimiser (`twinkit.surrogates.training`), and the FE search's GP's
    (`twinkit.optimization.bayes.fit_gp`). ``torch.optim.LBFGS`` does the
    same but spent most of its time in per-operation overhead (its two-loop recursion over 50
    pairs is 200 torch calls per iteration on vectors of a few thousand values), and its first
    step imports torch's compiler (``torch._dynamo``, 1.4 s CPU in a fresh process).

    Per iteration: the direction by the two-loop recursion (Nocedal & Wright 2006, alg. 7.4;
    H₀ = sᵀy/yᵀy of the newest pair; a pair is stored where sᵀy > 1e-10), the first iteration's
    step min(1, 1/|g|₁) and 1 after; a step satisfying the strong Wolfe conditions (c₁ = 1e-4,
    c₂ = 0.9; alg. 3.5 and 3.6 with cubic interpolation, at most 25 evaluations, a bracket no
    narrower than 1e-9 / max |d|). It stops when
    max |g| ≤ ``tolerance_grad``, the step's largest change or the loss change is below
    ``tolerance_change``, or no descent direction is left."""

    # the strong Wolfe constants, the line search's evaluations and its smallest bracket (the
    # bracket's width times max |d|: below it the search ends at its best point)
    C1, C2, MAX_LS, LS_TOL = 1e-4, 0.9, 25, 1e-9

    def __init__(self, x0: np.ndarray, history: int = 50, tolerance_grad: float = 1e-12,
                 tolerance_change: float = 1e-15):  # fmt: skip
        self.x = np.array(x0, dtype=np.float64)
        self.s = np.zeros((history, len(self.x)))
        self.y = np.zeros((history, len(self.x)))
        self.rho = np.zeros(history)
        self.pairs = 0  # pairs stored in all; the newest in slot (pairs - 1) % history
        self.h0 = 1.0
        self.tol_grad, self.tol_change = tolerance_grad, tolerance_change
        self.n_iter = 0
        self.f: float | None = None
        self.g = np.zeros_like(self.x)
        self.converged = False

    def _direction(self) -> np.ndarray:
        """−H g by the two-loop recursion over the stored pairs, newest first."""
        m = len(self.rho)
        slots = [(self.pairs - 1 - i) % m for i in range(min(self.pairs, m))]
        q = -self.g
        alpha = np.empty(m)
        for j in slots:
            alpha[j] = self.rho[j] * (self.s[j] @ q)
            q -= alpha[j] * self.y[j]
        q *= self.h0
        for j in reversed(slots):
            q += (alpha[j] - self.rho[j] * (self.y[j] @ q)) * self.s[j]
        return q

    def run(self, fun: Objective, max_iter: int, max_eval: int | None = None) -> int:
        """At most ``max_iter`` more iterations, and none begun once ``max_eval`` evaluations of
        ``fun`` are spent (None: 5/4 of ``max_iter``; at least one iteration is made); returns
        the iterations done in all."""
        max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        evals = 0
        if self.f is None:
            self.f, self.g = _finite(fun, self.x)
            evals = 1
            self.converged = bool(
                self.f == math.inf or np.abs(self.g).max(initial=0.0) <= self.tol_grad
            )
        for _ in range(max_iter):
            if self.converged:
                break
            d = self._direction()
            gtd = float(self.g @ d)
            if gtd > -self.tol_change:  # no descent left
                self.converged = True
                break
            t = min(1.0, 1.0 / np.abs(self.g).sum()) if self.n_iter == 0 else 1.0
            f_old, g_old = self.f, self.g
            t, self.f, self.g, used = self._line_search(fun, d, t, gtd)
            evals += used
            self.n_iter += 1
            step = t * d
            self.x = self.x + step
            yv = self.g - g_old
            sy = float(yv @ step)
            if sy > 1e-10:
                slot = self.pairs % len(self.rho)
                self.s[slot], self.y[slot], self.rho[slot] = step, yv, 1.0 / sy
                self.pairs += 1
                self.h0 = sy / float(yv @ yv)
            self.converged = bool(
                np.abs(self.g).max() <= self.tol_grad
                or np.abs(step).max() <= self.tol_change
                or abs(self.f - f_old) < self.tol_change
            )
            if evals >= max_eval:  # after an iteration: a run makes at least one
                break
        return self.n_iter

    def _line_search(
        self, fun: Objective, d: np.ndarray, t: float, gtd: float
    ) -> tuple[float, float, np.ndarray, int]:
        """A step t along d from x with f(x + t d) ≤ f + c₁ t gᵀd and |∇f(x + t d)ᵀd| ≤ c₂ |gᵀd|:
        growing t (cubic extrapolation, at most 10x per try) until such a step or a bracket of
        one is found, then shrinking the bracket (cubic interpolation, kept 10 % of the
        bracket's width inside it). Returns the step, the loss and the gradient there (the best
        point tried, if the evaluations run out), and the evaluations made."""
        f0 = self.f
        assert f0 is not None
        c1, c2 = self.C1, self.C2
        d_max = np.abs(d).max()

        def at(step: float) -> tuple[float, np.ndarray, float]:
            f, g = _finite(fun, self.x + step * d)
            return f, g, float(g @ d)

        prev = (0.0, f0, self.g, gtd)
        f, g, slope = at(t)
        evals = 1
        bracket: list[tuple[float, float, np.ndarray, float]] = []
        while evals < self.MAX_LS:
            if f > f0 + c1 * t * gtd or (evals > 1 and f >= prev[1]):
                bracket = [prev, (t, f, g, slope)]
                break
            if abs(slope) <= -c2 * gtd:
                return t, f, g, evals
            if slope >= 0:
                bracket = [prev, (t, f, g, slope)]
                break
            lo, hi = t + 0.01 * (t - prev[0]), 10.0 * t
            new_t = _cubic_min(prev[0], prev[1], prev[3], t, f, slope, lo, hi)
            prev = (t, f, g, slope)
            t = new_t
            f, g, slope = at(t)
            evals += 1
        if not bracket:  # out of evaluations while growing: the lower of the last two
            bracket = [prev, (t, f, g, slope)]
        # zoom: bracket[low] holds the lower loss of the two ends (as torch's line search)
        low = 0 if bracket[0][1] <= bracket[1][1] else 1
        stuck = False
        while evals < self.MAX_LS:
            (ta, fa, _, sa), (tb, fb, _, sb) = bracket
            a, b = min(ta, tb), max(ta, tb)
            if (b - a) * d_max < self.LS_TOL:
                break
            t = _cubic_min(ta, fa, sa, tb, fb, sb, a, b)
            margin = 0.1 * (b - a)
            if min(b - t, t - a) < margin:  # too close to an end: move inside, or next time
                if stuck or t >= b or t <= a:
                    t = b - margin if abs(t - b) < abs(t - a) else a + margin
                    stuck = False
                else:
                    stuck = True
            else:
                stuck = False
            f, g, slope = at(t)
            evals += 1
            point = (t, f, g, slope)
            if f > f0 + c1 * t * gtd or f >= bracket[low][1]:
                bracket[1 - low] = point
            else:
                if abs(slope) <= -c2 * gtd:
                    return t, f, g, evals
                if slope * (bracket[1 - low][0] - bracket[low][0]) >= 0:
                    bracket[1 - low] = bracket[low]
                bracket[low] = point
            low = 0 if bracket[0][1] <= bracket[1][1] else 1
        t, f, g, _ = bracket[low]
        return t, f, g, evals
