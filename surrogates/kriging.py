"""Gaussian processes (kriging) for some outputs of a head, alone or blended with the ensemble.

For a few hundred samples of a smooth response, a Gaussian process is often more accurate than
any network. `fit_gps` fits one GP per code (scikit-learn: constant × anisotropic RBF kernel +
white noise, maximum likelihood, y standardised) and gives its cross-validated prediction on the
ensemble's own folds (closed form for fixed hyperparameters: r_f = [K⁻¹]_ff⁻¹ [K⁻¹ y]_f), so the
two are compared on the same held-out samples with the same training sizes. What a head keeps
is plain tensors, so prediction is torch (differentiable, no scikit-learn) and the file loads
with ``weights_only=True``:

    mean = μ + σ_y k(x)ᵀ α,  var = σ_y² (c + w − |L⁻¹ k(x)|²),  k(x)_i = c exp(−½|(x − X_i)/ℓ|²)

with K = L Lᵀ (K is ill-conditioned for smooth responses: no explicit inverse). The variance
costs n² per point and output (a triangular solve): it dominates the inference time of a
surrogate with many kriged outputs. (The ensemble's spread is no substitute: calibrated on the
GP's residuals it came out 14x the GP's actual error on the fin test data, large where the GP is
sure.) A code's ``weight`` w makes its prediction w GP + (1 − w) ensemble
(`twinkit.surrogates.fit`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

# Kernel values below e^-200 of the amplitude (1e-87) are raised to it: far below round-off, and it
# keeps subnormal numbers (from e^-708 on), slow on CPUs, out of the triangular solve.
LOG_TINY = -200.0
# Up to this many points all GPs are evaluated together (`KrigingCodes.mean_std`). Furnace, 17
# GPs, 1 thread, torch_scalar: 4.2 ms batched vs 9.0 one GP at a time for 1 point, 11.4 vs 12.3
# for 64 (the live twin's ensemble update), 28.6 vs 17.6 for 128.
BATCHED_POINTS = 64


@dataclass
class KrigingCodes:
    """GP means on the scaled inputs X (n, d) for the codes `index` of a head (g of them)."""

    index: list[int]  # which codes of the head these GPs predict
    x: torch.Tensor  # (n, d) training inputs, scaled
    lengthscale: torch.Tensor  # (g, d)
    amplitude: torch.Tensor  # (g,) c
    noise: torch.Tensor  # (g,) w
    alpha: torch.Tensor  # (g, n) K⁻¹ (y - μ) / σ_y
    chol: torch.Tensor  # (g, n, n) lower Cholesky factor of K
    y_mean: torch.Tensor  # (g,)
    y_std: torch.Tensor  # (g,)
    weight: torch.Tensor  # (g,) the GP's share of the code's mean (1: the GP alone)
    # L⁻¹ (g, n, n), for an ONNX graph only (ONNX has no triangular solve): `for_onnx`
    chol_inv: torch.Tensor | None = field(default=None, repr=False)

    def for_onnx(self) -> None:
        """Form L⁻¹ so that the variance is a matrix product in an exported graph."""
        eye = torch.eye(len(self.x), dtype=self.chol.dtype).expand_as(self.chol)
        self.chol_inv = torch.linalg.solve_triangular(self.chol, eye, upper=False)

    def gp_only(self) -> list[int]:
        """The codes the GP predicts alone (weight 1): no network is kept for them."""
        return [c for c, w in zip(self.index, self.weight.tolist(), strict=True) if w == 1.0]

    def mean_std(self, xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes' mean and std (n_points, g) at scaled inputs xs (n_points, d).

        One GP at a time: log k = log c − ½|a|² − ½|b|² + a·b (a = x/ℓ, b = X/ℓ) is one GEMM,
        [a, 1, −½|a|²] [b, log c − ½|b|², 1]ᵀ, and k an in-place exp: no (g, m, n, d) or
        (g, m, n) temporaries (for 17 GPs and 1000 points those were 35 MB each, and the page
        faults of allocating them cost more than the arithmetic). k is (m, n) row-major, so kᵀ
        is the column-major right-hand side the triangular solve takes without a copy. A small
        batch (≤ ``BATCHED_POINTS``) goes through all GPs at once instead: there the per-GP
        Python overhead, not the arithmetic, is the cost.
        """
        if len(xs) <= BATCHED_POINTS and not torch.onnx.is_in_onnx_export():
            return self._mean_std_batched(xs)
        means, stds = [], []
        for j in range(len(self.index)):
            log_c = float(self.amplitude[j].log())
            a1, b1 = _log_kernel_factors(xs, self.x, self.lengthscale[j], log_c)
            k = (a1 @ b1.T).clamp_(log_c + LOG_TINY, log_c).exp_()  # (m, n)
            means.append(k @ self.alpha[j])
            if torch.onnx.is_in_onnx_export() and self.chol_inv is not None:
                v = self.chol_inv[j] @ k.T
            elif torch.is_grad_enabled() and k.requires_grad:
                v = torch.linalg.solve_triangular(self.chol[j], k.T, upper=False)  # (n, m)
            else:  # k is spent: solve in its place (saves a copy, ~20 % of the solve)
                v = torch.linalg.solve_triangular(self.chol[j], k.T, upper=False, out=k.T)
            stds.append(_std(self.amplitude[j] + self.noise[j], torch.linalg.vector_norm(v, dim=0)))
        mean = torch.stack(means, 1) * self.y_std + self.y_mean
        return mean, torch.stack(stds, 1) * self.y_std

    def _mean_std_batched(self, xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`mean_std` for every GP in one batched product and solve: (g, m, n) temporaries."""
        log_c = self.amplitude.log()[:, None, None]
        a1, b1 = _log_kernel_factors(xs, self.x, self.lengthscale.unsqueeze(1), log_c)
        k = torch.clamp(a1 @ b1.transpose(1, 2), log_c + LOG_TINY, log_c).exp()  # (g, m, n)
        mean = (k @ self.alpha.unsqueeze(-1)).squeeze(-1)  # (g, m)
        v = torch.linalg.solve_triangular(self.chol, k.transpose(1, 2), upper=False)  # (g, n, m)
        std = _std((self.amplitude + self.noise)[:, None], torch.linalg.vector_norm(v, dim=1))
        return (mean * self.y_std[:, None] + self.y_mean[:, None]).T, (std * self.y_std[:, None]).T

    def state(self) -> dict[str, Any]:
        names = ("x", "lengthscale", "amplitude", "noise", "alpha", "chol", "y_mean", "y_std",
                 "weight")  # fmt: skip
        return {"index": list(self.index)} | {n: getattr(self, n).clone() for n in names}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> KrigingCodes:
        alone = torch.ones(len(s["index"]), dtype=torch.float64)  # files from before the blend
        return cls(**({"weight": alone} | s))


def _log_kernel_factors(
    xs: torch.Tensor, x: torch.Tensor, lengthscale: torch.Tensor, log_c: float | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """[a, 1, −½|a|²] and [b, log c − ½|b|², 1] (a = xs/ℓ, b = x/ℓ, last axis), whose product
    is log k; ℓ (d,) for one GP, or (g, 1, d) with log c (g, 1, 1) for g GPs at once."""
    a, b = xs / lengthscale, x / lengthscale
    a1 = torch.cat([a, torch.ones_like(a[..., :1]), -0.5 * (a * a).sum(-1, keepdim=True)], -1)
    b0 = log_c - 0.5 * (b * b).sum(-1, keepdim=True)
    return a1, torch.cat([b, b0, torch.ones_like(b[..., :1])], -1)


def _std(c: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """GP std √(c − q²) from the prior variance c and q = |L⁻¹k|, kept ≥ 1e-6 √c."""
    return (c - q * q).clamp_min(0.0).add(1e-12 * c).sqrt()


@dataclass
class KrigingFit:
    """One GP per code, its cross-validated prediction and std (n, k) on the given folds."""

    params: list[dict[str, Any]]
    cv: np.ndarray
    cv_std: np.ndarray


def fit_gps(xs: np.ndarray, z: np.ndarray, fold: np.ndarray, held_out: int) -> KrigingFit:
    """A GP per column of codes z (n, k) on scaled inputs xs (n, d); cross-validated on the
    folds 0 .. held_out - 1 of `fold` (n,) (other samples: no CV prediction, left 0)."""
    from scipy.linalg import cho_solve
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    from threadpoolctl import threadpool_limits

    n, d = xs.shape
    params, cv, cv_std = [], np.zeros_like(z), np.zeros_like(z)
    for j in range(z.shape[1]):
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(d), (1e-2, 1e2)) + WhiteKernel(
            1e-6, (1e-12, 1e-1)
        )
        gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=0)
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(xs, z[:, j])
        k = gp.kernel_
        y_mean, y_std = float(gp._y_train_mean), float(gp._y_train_std)
        alpha = gp.alpha_.ravel()  # K⁻¹ y (normalised), from the fit's Cholesky factor
        k_inv = cho_solve((gp.L_, True), np.eye(n))
        for f in range(held_out):
            idx = np.flatnonzero(fold == f)
            block = k_inv[np.ix_(idx, idx)]  # its inverse: the fold's predictive covariance
            r = np.linalg.solve(block, alpha[idx])
            cv[idx, j] = z[idx, j] - r * y_std
            cv_std[idx, j] = y_std * np.sqrt(np.diag(np.linalg.inv(block)))
        params.append(
            {"lengthscale": np.broadcast_to(np.atleast_1d(k.k1.k2.length_scale), d).astype(float),
             "amplitude": k.k1.k1.constant_value, "noise": k.k2.noise_level, "alpha": alpha,
             "chol": gp.L_, "y_mean": y_mean, "y_std": y_std}
        )  # fmt: skip
    return KrigingFit(params, cv, cv_std)


def kriging_codes(
    xs: np.ndarray, fit: KrigingFit, index: list[int], weight: list[float] | None = None
) -> KrigingCodes:
    """The GPs of the codes `index` as tensors; ``weight``: each GP's share (default 1)."""
    p = [fit.params[j] for j in index]

    def stack(name: str) -> torch.Tensor:
        return torch.from_numpy(np.array([q[name] for q in p], dtype=np.float64))

    return KrigingCodes(
        index=list(index),
        x=torch.from_numpy(np.ascontiguousarray(xs, dtype=np.float64)),
        lengthscale=stack("lengthscale"),
        amplitude=stack("amplitude"),
        noise=stack("noise"),
        alpha=stack("alpha"),
        chol=stack("chol"),
        y_mean=stack("y_mean"),
        y_std=stack("y_std"),
        weight=torch.tensor([1.0] * len(index) if weight is None else weight, dtype=torch.float64),
    )
