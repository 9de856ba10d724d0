"""Exact Gaussian processes in torch: batched maximum-likelihood fits, fold CV.

One GP per column of standardised targets y (n, k) on scaled inputs X (n, d), kernel

    k(x, x') = c κ(r) + w δ,   r = |(x − x')/ℓ|  (anisotropic ℓ, d of them),

κ one of RBF, Matérn 5/2 and Matérn 3/2 (`twinkit.surrogates.kernels`), constant mean (the
column's mean). Every (column, restart) of a kernel is one problem of a batch, its negative log
marginal likelihood minimised by its own L-BFGS (`twinkit.surrogates.lbfgs`: own history, step
and stop), all evaluated together with batched Cholesky factors, which is much faster than one
scikit-learn fit per output and kernel. Per column the restart of lowest likelihood loss is
kept for each kernel, and the first kernel unless another one's fold cross-validation error is
at most ``SWITCH_GAIN`` of it (closed form for fixed hyperparameters: the held-out block's residual
r_f = [K⁻¹]_ff⁻¹ [K⁻¹ y]_f, predictive covariance [K⁻¹]_ff⁻¹).
Hyperparameters are bounded through a sigmoid in log space (ℓ in [0.01, 1000] on the [-1, 1]
box, c in [0.01, 1000], w in [1e-9, 0.1] of the standardised variance). The wide upper bounds
let a GP with a constant mean hold a linear response (long ℓ, large c): with ℓ and c capped at
100 the bracket's maximum temperature (the base temperature) and reaction (the load) came out
54-61x less accurate than SMT's kriging at 32 samples, 1.5-1.8x with these bounds (c up to 1e4
and w down to 1e-12: 1.3-1.5x, but K then so ill-conditioned that two exact formulas for the
same prediction differ by 1e-6 of the spread).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from twinkit.surrogates.kernels import KERNELS, kernel_and_slope, kernel_of_r2, scaled_r2
from twinkit.surrogates.lbfgs import minimise
from twinkit.surrogates.trend import TrendChoice, features
from twinkit.surrogates.trend import fit as fit_trend

BOUNDS = {"lengthscale": (1e-2, 1e3), "amplitude": (1e-2, 1e3), "noise": (1e-9, 1e-1)}
_LOG_SPAN = {name: math.log(hi / lo) for name, (lo, hi) in BOUNDS.items()}  # log hi − log lo
# a code leaves its default model (the first kernel, a constant mean) only for one whose
# cross-validated RMSE is at most this fraction of the default's: on 32 samples smaller CV gains
# were as often losses on new points (furnace and bracket, 64 held-out solves each)
SWITCH_GAIN = 0.5
# the isotropic length scales each GP's likelihood is minimised from (every input on [-1, 1];
# the most likely result is kept). 10, nearly linear, was added to 0.3 and 3 in session 23: the
# bracket's deflection on one block of 32 samples had stopped in a mode that drops an input the
# response depends on (1.5 nats less likely, 1.5x the error on 64 held-out solves); Matérn 5/2
# per output on all blocks of both sweeps: lower minima for 8 of 120 fits, test errors 0.47-0.86
# of before but one (2.9, the bracket's safety factor, fitted by its log by default)
STARTS = (0.3, 3.0, 10.0)
BATCH_ENTRIES = 2e7  # `refit_cv`: at most about this many entries in a batch of Gram matrices


def _bounded(theta: torch.Tensor, name: str) -> torch.Tensor:
    lo, hi = (math.log(v) for v in BOUNDS[name])
    return torch.exp(lo + (hi - lo) * torch.sigmoid(theta))


def _gram(x: torch.Tensor, ls: torch.Tensor, c: torch.Tensor, w: torch.Tensor, kind: int):
    """K (B, n, n) for B GPs of one kernel kind: c κ + w I."""
    a = x / ls[:, None, :]
    k = c[:, None, None] * kernel_of_r2(scaled_r2(a, a), kind)
    return k + w[:, None, None] * torch.eye(x.shape[-2], dtype=x.dtype)


def _cholesky(k: torch.Tensor) -> torch.Tensor:
    chol, info = torch.linalg.cholesky_ex(k)
    if bool((info > 0).any()):  # rare (c/w near the bounds): more jitter where it failed
        bad = (info > 0)[:, None, None]
        eye = torch.eye(k.shape[-1], dtype=k.dtype)
        chol = torch.linalg.cholesky(torch.where(bad, k + 1e-6 * k.diagonal(0, 1, 2).mean(-1)[
            :, None, None] * eye, k))  # fmt: skip
    return chol


@dataclass
class GPFit:
    """Per column: kernel kind, ℓ (d,), c, w, Cholesky factor of K, α = K⁻¹y, CV mean and std
    (standardised units: y = (z − mean) / std per column)."""

    kind: np.ndarray  # (k,) int
    lengthscale: np.ndarray  # (k, d)
    amplitude: np.ndarray  # (k,)
    noise: np.ndarray  # (k,)
    chol: np.ndarray  # (k, n, n)
    alpha: np.ndarray  # (k, n)
    y_mean: np.ndarray  # (k,)
    y_std: np.ndarray  # (k,)
    cv: np.ndarray  # (n, k) out-of-fold prediction, in z units (where no fold: not predicted)
    cv_std: np.ndarray  # (n, k)
    # (T, k) polynomial trend in z units under the GP (`twinkit.surrogates.trend`; the GP then
    # fits z − P(x) β, and y_mean, y_std are that residual's), or None: a constant mean
    trend: np.ndarray | None = None
    # (k, g): the columns are mixtures of g GPs (`twinkit.surrogates.kriging.mixture_of`; the
    # per-GP arrays above then have g entries, cv and cv_std the mixtures'), or None: g = k
    mix: np.ndarray | None = None
    # a mixture's std from the first GP of each column alone, plus its GPs' disagreement
    # (`twinkit.surrogates.kriging.mixture_of`): one variance (a product with L⁻¹) per column,
    # not per GP
    std_first: bool = False
    # degree and ridge weight of each column's trend (degree 0: none), for refitting it per fold
    trend_choice: TrendChoice | None = None


def _fit_kind(x, y, kind, starts, iterations):
    """ML fit of one kernel kind for every column of y (k, n) from each start (ℓ (k, d), c (k,),
    w (k,)); the best start per column: (ℓ (k, d), c (k,), w (k,), loss (k,)). Every (start,
    column) is its own minimisation (`twinkit.surrogates.lbfgs`), evaluated in one batch. The
    inputs x are (n, d), or (k, n, d): each column its own."""
    k, n = y.shape
    d = x.shape[-1]
    xx = x if x.dim() == 2 else x.repeat(len(starts), 1, 1)
    theta = torch.cat([
        torch.cat([torch.logit(_unit(ls, "lengthscale")),
                   torch.logit(_unit(c, "amplitude"))[:, None],
                   torch.logit(_unit(w, "noise"))[:, None]], 1)
        for ls, c, w in starts
    ])  # fmt: skip
    yy = y.repeat(len(starts), 1)

    def losses(t: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return _nll_grad(xx if x.dim() == 2 else xx[rows], yy[rows], t, kind)

    theta = minimise(losses, theta, iterations)
    with torch.no_grad():
        nll = losses(theta, torch.arange(len(theta)))[0].reshape(len(starts), k)
        nll = torch.where(torch.isfinite(nll), nll, torch.inf)
        pick = nll.argmin(0) * k + torch.arange(k)
        t = theta[pick]
        return (_bounded(t[:, :d], "lengthscale"), _bounded(t[:, d], "amplitude"),
                _bounded(t[:, d + 1], "noise"), nll.min(0).values)  # fmt: skip


def _nll_grad(
    x: torch.Tensor, y: torch.Tensor, t: torch.Tensor, kind: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Negative log marginal likelihoods (B,) of B GPs of one kernel kind, parameters t (B, d + 2)
    (`_fit_kind`'s: logits of ℓ, c and w within `BOUNDS`), targets y (B, n), inputs x (n, d) or
    (B, n, d), and their gradients (B, d + 2) in closed form (Rasmussen & Williams 2006, eq. 5.9):
    ∂/∂p = ½ tr(W ∂K/∂p), W = K⁻¹ − ααᵀ, with ∂K/∂log c = c κ, ∂K/∂log w = w I and
    ∂K/∂log ℓ_d = c G (Δ_d/ℓ_d)², G = −2 dκ/dr² (`kernel_and_slope`). The same numbers as
    autograd's backward through the Cholesky factor (to 1e-8 of the largest component) in
    0.35-0.45 of its time: 51 GPs of 32 samples 1.3-1.7 ms against 2.9-4.5 per evaluation, 48 of
    128 31-35 against 64-75 (1 thread)."""
    with torch.no_grad():
        d, n = t.shape[1] - 2, y.shape[1]
        ls = _bounded(t[:, :d], "lengthscale")
        c, w = _bounded(t[:, d], "amplitude"), _bounded(t[:, d + 1], "noise")
        a = x / ls[:, None, :]  # (B, n, d)
        kappa, g = kernel_and_slope(scaled_r2(a, a), kind)
        ck = c[:, None, None] * kappa
        chol = _cholesky(ck + w[:, None, None] * torch.eye(n, dtype=x.dtype))
        alpha = torch.cholesky_solve(y[:, :, None], chol)[:, :, 0]
        logdet = torch.log(chol.diagonal(0, 1, 2)).sum(-1)
        loss = 0.5 * (y * alpha).sum(-1) + logdet + 0.5 * n * math.log(2 * math.pi)
        wm = torch.cholesky_inverse(chol) - alpha[:, :, None] * alpha[:, None, :]  # W (symmetric)
        m = wm * g * c[:, None, None]
        # ½ Σ_ij M_ij (a_id − a_jd)² = Σ_i (M1)_i a_id² − Σ_i a_id (M a)_id, M symmetric
        g_ls = (m.sum(2)[:, :, None] * a * a).sum(1) - (a * (m @ a)).sum(1)
        g_c = 0.5 * (wm * ck).sum((1, 2))
        g_w = 0.5 * w * wm.diagonal(0, 1, 2).sum(-1)
        u = torch.sigmoid(t)  # d log p / dθ = (log hi − log lo) u (1 − u) within the bounds
        span = torch.tensor([_LOG_SPAN["lengthscale"]] * d + [_LOG_SPAN["amplitude"],
                            _LOG_SPAN["noise"]], dtype=t.dtype)  # fmt: skip
        return loss, torch.cat([g_ls, g_c[:, None], g_w[:, None]], 1) * span * u * (1.0 - u)


def _unit(v: torch.Tensor, name: str) -> torch.Tensor:
    """Where v lies between the bounds of ``name`` in log space, in (0, 1)."""
    lo, hi = (math.log(b) for b in BOUNDS[name])
    return ((torch.log(v) - lo) / (hi - lo)).clamp(1e-6, 1 - 1e-6)


def _predict(x, y, x_new, ls, c, w, kind):
    """Mean and std (k, m) at x_new (m, d) of GPs fitted to y (k, n) at x (n, d) with fixed
    hyperparameters; or each GP its own x (k, n, d) and x_new (k, m, d)."""
    chol = _cholesky(_gram(x, ls, c, w, kind))
    alpha = torch.cholesky_solve(y[:, :, None], chol)[:, :, 0]
    ks = c[:, None, None] * kernel_of_r2(scaled_r2(x_new / ls[:, None], x / ls[:, None]), kind)
    mean = (ks @ alpha[:, :, None])[:, :, 0]
    v = torch.linalg.solve_triangular(chol, ks.transpose(1, 2), upper=False)
    var = (c + w)[:, None] - (v * v).sum(1)
    return mean, var.clamp_min(1e-12 * c[:, None]).sqrt()


def fit_gp_columns(
    xs: np.ndarray,
    z: np.ndarray,
    fold: np.ndarray,
    held_out: int,
    kernels: tuple[str, ...] = KERNELS,
    starts: tuple[float, ...] = STARTS,
    iterations: int = 60,
    trend: TrendChoice | None = None,
) -> GPFit:
    """A GP per column of z (n, k) on scaled inputs xs (n, d), the kernel chosen per column by
    the CV error on folds 0 .. held_out − 1 of ``fold`` (n,), for fixed hyperparameters. With
    ``trend`` (a degree and ridge weight per column) each column's polynomial trend is fitted by
    ridge least squares and the GP models what it leaves; the CV refits the trend on each fold.
    Each likelihood is minimised from every isotropic length scale in ``starts``, amplitude 1 and
    noise 1e-4 (`_fit_kind`: the most likely result is kept).

    The returned CV prediction and std refit the hyperparameters on each fold's training part
    (from the full fit's, with the chosen kernel): with the full fit's hyperparameters, which
    saw the held-out samples, the CV errors came out 1.5-3x smaller relative to the std than
    the errors on new points (furnace, 32 samples), so a std calibrated on them is too small.
    """
    x = torch.from_numpy(np.ascontiguousarray(xs, dtype=np.float64))
    z_in, feats, coef = z, None, None
    if trend is not None:
        feats = features(xs, trend.max_degree)
        coef = fit_trend(xs, z, trend) * (trend.degree > 0)  # degree 0: no trend
        z = z - feats @ coef
    mean, std = z.mean(0), z.std(0)
    std = np.where(std > 0, std, 1.0)
    y = torch.from_numpy(((z - mean) / std).T.copy())  # (k, n)
    n, k = z.shape
    d = x.shape[1]
    folds_used = [np.flatnonzero(fold == f) for f in range(held_out)]
    folds_used = [i for i in folds_used if len(i)]
    points = [
        (torch.full((k, d), s, dtype=torch.float64), torch.ones(k, dtype=torch.float64),
         torch.full((k,), 1e-4, dtype=torch.float64))
        for s in starts
    ]  # fmt: skip
    best: dict[str, np.ndarray] = {}
    best_err = np.full(k, np.inf)
    for i, name in enumerate(kernels):
        kind = KERNELS.index(name)
        ls, c, w, _ = _fit_kind(x, y, kind, points, iterations)
        with torch.no_grad():
            chol = _cholesky(_gram(x, ls, c, w, kind))
            alpha = torch.cholesky_solve(y[:, :, None], chol)[:, :, 0]
            k_inv = torch.cholesky_inverse(chol)
            err = np.zeros(k)
            for idx in folds_used:  # closed form: r_f = [K⁻¹]_ff⁻¹ [K⁻¹ y]_f
                t = torch.from_numpy(idx)
                r = torch.linalg.solve(k_inv[:, t][:, :, t], alpha[:, t, None])[:, :, 0]
                err += (r * r).sum(1).numpy()
        # the first kernel is the default; another replaces it only where it is clearly better
        better = err < best_err * (1.0 if i == 0 else SWITCH_GAIN**2)
        best_err = np.where(better, err, best_err)
        cand = {"kind": np.full(k, kind), "lengthscale": ls.numpy(), "amplitude": c.numpy(),
                "noise": w.numpy(), "chol": chol.numpy(), "alpha": alpha.numpy()}  # fmt: skip
        for key, v in cand.items():
            best[key] = v.copy() if key not in best else np.where(
                better.reshape(-1, *[1] * (v.ndim - 1)), v, best[key])  # fmt: skip
    fit = GPFit(
        kind=best["kind"],
        lengthscale=best["lengthscale"],
        amplitude=best["amplitude"],
        noise=best["noise"],
        chol=best["chol"],
        alpha=best["alpha"],
        y_mean=mean,
        y_std=std,
        cv=np.zeros((n, k)),
        cv_std=np.zeros((n, k)),
        trend=coef,
        trend_choice=trend,
    )
    fit.cv, fit.cv_std = refit_cv(xs, z_in, fit, folds_used, iterations // 4)
    return fit


def refit_cv(
    xs: np.ndarray,
    z: np.ndarray,
    fit: GPFit,
    blocks: list[np.ndarray],
    iterations: int = 15,
    columns: list[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-validated mean and std (n, k), in z units, of the GPs of ``fit`` (one per column of
    z (n, k), no mixture): each block of sample indices in ``blocks`` predicted by the GPs fitted
    without it, their hyperparameters refitted from the fit's (``iterations`` L-BFGS steps) and
    their trends (``fit.trend_choice``) by ridge least squares. Samples in no block, and columns
    not in ``columns`` (default: all), are not predicted (std 0)."""
    assert fit.mix is None
    wanted = np.arange(z.shape[1]) if columns is None else np.asarray(columns, dtype=np.int64)
    x = torch.from_numpy(np.ascontiguousarray(xs, dtype=np.float64))
    n, k = z.shape
    trend, mean, std = fit.trend_choice, fit.y_mean, fit.y_std
    feats = None if trend is None else features(xs, trend.max_degree)
    full = 0.0 if feats is None or fit.trend is None else feats @ fit.trend
    y = torch.from_numpy(((z - full - mean) / std).T.copy())  # (k, n), as the GPs were fitted
    cv, cv_std = np.zeros((n, k)), np.zeros((n, k))
    shift = np.zeros((n, k))  # the trend fitted without the held-out block, at that block
    # blocks of one size are one batch of (block, column) problems, up to ~2e7 entries of K
    # (160 MB per batched n x n tensor): all 32 left-out samples of 17 codes at once
    per = max(1, int(BATCH_ENTRIES // (max(len(wanted), 1) * n * n)))
    groups: dict[int, list[np.ndarray]] = {}
    for idx in blocks:
        groups.setdefault(len(idx), []).append(np.asarray(idx))
    batches = [g[i : i + per] for g in groups.values() for i in range(0, len(g), per)]
    for group in batches:
        held = np.stack(group)  # (G, size)
        rest = np.stack([np.setdiff1d(np.arange(n), i) for i in group])  # (G, n - size)
        y_g = y.expand(len(group), -1, -1)  # (G, k, n)
        if trend is not None and feats is not None:
            base = np.stack([feats @ (fit_trend(xs[r], z[r], trend) * (trend.degree > 0))
                             for r in rest])  # fmt: skip
            for g, i in enumerate(group):
                shift[i] = base[g][i]
            y_g = torch.from_numpy(((z - base - mean) / std).transpose(0, 2, 1).copy())
        t_rest = torch.from_numpy(rest)
        for kind in np.unique(fit.kind[wanted]):
            cols = wanted[fit.kind[wanted] == kind]
            ls0, c0, w0 = (torch.from_numpy(getattr(fit, q)[cols])
                           for q in ("lengthscale", "amplitude", "noise"))  # fmt: skip
            p0 = (ls0.repeat(len(group), 1), c0.repeat(len(group)), w0.repeat(len(group)))
            yr = torch.take_along_dim(y_g[:, cols], t_rest[:, None, :], dim=2).flatten(0, 1)
            xr_ = x[t_rest].repeat_interleave(len(cols), 0)  # (G kc, n - size, d)
            xh = x[torch.from_numpy(held)].repeat_interleave(len(cols), 0)
            ls, c, w, _ = _fit_kind(xr_, yr, int(kind), [p0], iterations)
            with torch.no_grad():
                m, s = _predict(xr_, yr, xh, ls, c, w, int(kind))
            m, s = m.reshape(len(group), len(cols), -1), s.reshape(len(group), len(cols), -1)
            for g, i in enumerate(group):
                cv[np.ix_(i, cols)], cv_std[np.ix_(i, cols)] = m[g].numpy().T, s[g].numpy().T
    return cv * std + mean + shift, cv_std * std
