"""Polynomial least-squares trend of a head's codes, the part its networks do not have to learn.

Each code z_j is first fitted, by ridge least squares, as

    z_j ≈ P_q(x) c_j,   P_q(x) = all monomials of the scaled inputs x ∈ [-1, 1]^d up to degree q,

and the networks learn the rest, scaled by the trend's leave-one-out RMSE s_j (so their targets
are of unit size). The ridge weight λ (and, with ``degree=None``, q ∈ {0, 1, 2, 3} among the degrees
with fewer terms than samples) is chosen per code by leave-one-out error, in closed form through the
hat matrix. Each member fits its own trend on its own training folds, so the out-of-fold residuals
that calibrate the spread stay honest.

Measured on the furnace sweep (136 and 254 samples), a linear or LOO-chosen trend under the
networks made the held-out errors larger than the networks on the plain mean (degree 0): the
responses are smooth but not polynomial, and a cubic fitted to a hundred samples leaves a residual
that is harder to learn than the response itself. So the default trend is the mean (degree 0, where
the scale s_j is the code's own leave-one-out spread); degrees 1-3 remain a training option.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import torch

DEGREES = (0, 1, 2, 3)
RIDGE = (1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1)  # λ, relative to the number of samples


@functools.cache
def exponents(d: int, degree: int) -> np.ndarray:
    """Monomials as (T, degree) indices into [x, 1] (index d: the constant, for padding); built
    once per (d, degree) and read-only: every prediction of a trend uses it."""
    rows = [
        c + (d,) * (degree - k)
        for k in range(degree + 1)
        for c in itertools.combinations_with_replacement(range(d), k)
    ]
    out = np.array(rows, dtype=np.int64).reshape(len(rows), degree)
    out.setflags(write=False)
    return out


@functools.cache
def _exponents_torch(d: int, degree: int) -> torch.Tensor:
    return torch.tensor(exponents(d, degree))


def trend_degree(terms: int, d: int) -> int:
    """The degree whose monomials in d inputs number ``terms`` (`exponents`)."""
    for q in range(max(DEGREES) + 1):
        if len(exponents(d, q)) == terms:
            return q
    raise ValueError(f"{terms} trend terms: no polynomial degree in {d} inputs has that many")


def features(x: np.ndarray, degree: int) -> np.ndarray:
    """(n, T) monomials of x (n, d) up to ``degree`` (first column: the constant 1)."""
    xa = np.hstack([x, np.ones((len(x), 1))])
    idx = exponents(x.shape[1], degree)
    return xa[:, idx].prod(-1) if degree else np.ones((len(x), 1))


def features_torch(x: torch.Tensor, degree: int) -> torch.Tensor:
    """Differentiable :func:`features` (one gather and a product: exports to ONNX)."""
    if degree == 0:
        return x.new_ones((*x.shape[:-1], 1))
    xa = torch.cat([x, x.new_ones((*x.shape[:-1], 1))], -1)
    idx = _exponents_torch(x.shape[-1], degree)
    return xa[..., idx].prod(-1)


@dataclass(frozen=True)
class TrendChoice:
    """Per code: degree, ridge weight, leave-one-out RMSE of its trend and of its mean alone."""

    degree: np.ndarray  # (k,) int
    ridge: np.ndarray  # (k,)
    loo_rmse: np.ndarray  # (k,)
    loo_rmse_constant: np.ndarray  # (k,) the codes' own leave-one-out spread

    @property
    def max_degree(self) -> int:
        return int(self.degree.max(initial=0))


def _solve(f: np.ndarray, z: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge coefficients (T, k) and leave-one-out residuals (n, k) of z on the features f (n, T)
    whose first column is the constant; the constant is not penalised (centring fits the mean)."""
    n = len(f)
    fm, zm = f[:, 1:].mean(0), z.mean(0)
    zc = z - zm
    if f.shape[1] == 1:
        return zm[None, :], zc * n / (n - 1)
    u, s, vt = np.linalg.svd(f[:, 1:] - fm, full_matrices=False)
    filt = s**2 / (s**2 + lam * n)
    fitted = u @ (filt[:, None] * (u.T @ zc))
    h = np.einsum("ik,k,ik->i", u, filt, u) + 1.0 / n  # hat diagonal, constant included
    loo = (zc - fitted) / np.maximum(1.0 - h, 1e-12)[:, None]
    w = vt.T @ ((s / (s**2 + lam * n))[:, None] * (u.T @ zc))
    return np.vstack([zm - fm @ w, w]), loo


def choose(x: np.ndarray, z: np.ndarray, degree: int | None = None) -> TrendChoice:
    """Per code, the degree (unless given) and ridge weight of least leave-one-out error."""
    n, k = z.shape
    _, loo0 = _solve(np.ones((n, 1)), z, 0.0)
    base = np.sqrt((loo0**2).mean(0))
    best = (np.zeros(k, dtype=np.int64), np.zeros(k), base.copy())
    for q in [degree] if degree is not None else DEGREES:
        f = features(x, q)
        if q == 0 or (degree is None and f.shape[1] >= n):
            continue
        for lam in RIDGE:
            err = np.sqrt((_solve(f, z, lam)[1] ** 2).mean(0))
            better = err < best[2]
            best[0][better], best[1][better], best[2][better] = q, lam, err[better]
    return TrendChoice(best[0], best[1], best[2], base)


def fit(x: np.ndarray, z: np.ndarray, choice: TrendChoice) -> np.ndarray:
    """Coefficients (T, k) of each code's chosen trend fitted to (x, z), T of the highest degree
    (the monomials of a lower degree are the leading ones; the rest of its column is zero)."""
    f = features(x, choice.max_degree)
    coef = np.zeros((f.shape[1], z.shape[1]))
    for q, lam in sorted(set(zip(choice.degree.tolist(), choice.ridge.tolist(), strict=True))):
        cols = (choice.degree == q) & (choice.ridge == lam)
        t = len(exponents(x.shape[1], q))
        coef[:t, cols] = _solve(f[:, :t], z[:, cols], lam)[0]
    return coef
