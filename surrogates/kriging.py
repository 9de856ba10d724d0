"""Gaussian processes (kriging) for some codes of a head, alone or blended with the ensemble.

For a few hundred samples of a smooth response a Gaussian process is often more accurate than
any network. `fit_gps` fits one GP per code (`twinkit.surrogates.gp`: Matérn 5/2 unless the RBF
or a polynomial trend under the GP halves the code's cross-validated error; anisotropic;
maximum likelihood, codes standardised) and gives its cross-validated prediction on the
ensemble's own folds, so the two are compared on the same held-out samples and training sizes.
What a head keeps is plain tensors, so prediction is torch (differentiable, no scikit-learn) and
the file loads with ``weights_only=True``:

    mean = P(x) β + μ + σ_y k(x)ᵀ α,   var = σ_y² (c + w − |L⁻¹ k(x)|²),
    k(x)_i = c κ(|(x − X_i)/ℓ|)

(P(x) β a polynomial trend, or none) with K = L Lᵀ and α = K⁻¹ y precomputed at fit time (K is
ill-conditioned for smooth responses: no explicit K⁻¹). The variance costs n² per point and code
(a product with L⁻¹, formed once per GP): it dominates the inference time of a surrogate with many
kriged codes.
A code's ``weight`` w makes its prediction w GP + (1 − w) ensemble (`twinkit.surrogates.fit`).
A code may also be the equal mixture of a GP per kernel (``mix``; `fit_gps` with ``mixture``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from scipy.linalg.blas import dtrmm

from twinkit.surrogates.gp import SWITCH_GAIN, GPFit, fit_gp_columns
from twinkit.surrogates.kernels import (
    KERNELS,
    cross_kernel,
    gp_std,
    kernel_of_r2,
    point_side,
    scaled_r2,
    training_side,
)
from twinkit.surrogates.metrics import below_by_one_se
from twinkit.surrogates.mlp import blas_controller
from twinkit.surrogates.trend import TrendChoice, choose, exponents, features_torch, trend_degree

# `fit_gps` with ``mixture``: one kernel's GPs alone where their CV RMSE over all the codes is at
# most this fraction of every other kernel's (the halving rule, `SWITCH_GAIN`, for a whole head)
ALONE_GAIN = SWITCH_GAIN
# Up to this many points all GPs are evaluated together (`KrigingCodes.mean_std`): there the
# per-GP Python overhead, not the arithmetic, is the cost (furnace, 17 GPs, 1 thread: 4.2 ms
# batched vs 9.0 one GP at a time for 1 point, 28.6 vs 17.6 for 128).
BATCHED_POINTS = 64


@dataclass
class KrigingCodes:
    """GP means on the scaled inputs X (n, d) for the codes `index` of a head (u of them), by g
    GPs: one per code (g = u), or a mixture of several per code (``mix``)."""

    index: list[int]  # which codes of the head these GPs predict
    x: torch.Tensor  # (n, d) training inputs, scaled
    lengthscale: torch.Tensor  # (g, d)
    amplitude: torch.Tensor  # (g,) c
    noise: torch.Tensor  # (g,) w
    alpha: torch.Tensor  # (g, n) K⁻¹ (y - μ) / σ_y
    chol: torch.Tensor  # (g, n, n) lower Cholesky factor of K
    y_mean: torch.Tensor  # (g,)
    y_std: torch.Tensor  # (g,)
    weight: torch.Tensor  # (u,) the GPs' share of the code's mean (1: the GPs alone)
    kind: torch.Tensor  # (g,) kernel, an index into `twinkit.surrogates.kernels.KERNELS`
    # (g, T) polynomial trends under the GPs, in code units (`fit_gps`); None: constant means
    trend: torch.Tensor | None = None
    # (u, g): code i is the mixture Σ_j mix_ij GP_j of its GPs (shares summing to 1); None: g = u
    mix: torch.Tensor | None = None
    # each code's std from its first GP, the others' means only (`mixture_of`)
    std_first: bool = False
    # L⁻¹ (g, n, n), for an ONNX graph only (ONNX has no triangular solve): `for_onnx`
    chol_inv: torch.Tensor | None = field(default=None, repr=False)
    # per GP, what prediction needs of the training side: `_per_gp`
    _gps: list[tuple[Any, ...]] | None = field(default=None, repr=False, compare=False)

    def for_onnx(self) -> None:
        """Form L⁻¹ so that the variance is a matrix product in an exported graph."""
        self.chol_inv = chol_inverse(self.chol)

    def gp_only(self) -> list[int]:
        """The codes the GP predicts alone (weight 1): no network is kept for them."""
        return [c for c, w in zip(self.index, self.weight.tolist(), strict=True) if w == 1.0]

    def kernels(self) -> list[str]:
        """Per code its GPs' kernels ("matern52", or "matern52+rbf" for a mixture)."""
        return kernel_names(self.kind.numpy(), None if self.mix is None else self.mix.numpy())

    def mean_std(
        self, xs: torch.Tensor, skip: frozenset[int] = frozenset()
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes' mean and std (n_points, u) at scaled inputs xs (n_points, d): each GP's
        (`gp_mean_std`), or their mixtures' (``mix``); the GPs ``skip`` as there (a code whose
        GPs are all skipped gets mean and std 0)."""
        mean, std = self.gp_mean_std(xs, skip)
        if self.mix is None:
            return mean, std
        return mixture(mean, std[:, self._first()] if self.std_first else std, self.mix)

    def _first(self) -> torch.Tensor:
        """Per GP (g,), the first GP of its code's mixture."""
        assert self.mix is not None
        rows = (self.mix > 0).to(torch.int64).argmax(0)  # each GP's code
        return (self.mix[rows] > 0).to(torch.int64).argmax(1)

    def gp_mean_std(
        self, xs: torch.Tensor, skip: frozenset[int] = frozenset()
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each GP's mean and std (n_points, g) at scaled inputs xs (n_points, d) (with
        ``std_first`` a GP that takes its std from another may get none: 0). The GPs ``skip``
        (indices) are not needed: on the large-batch path they are not evaluated (mean and std 0).

        One GP at a time, in NumPy (its float64 ``sqrt`` and GEMMs are faster than torch's on
        one thread, and its calls cheaper: 1,000 furnace scalars 10.8 → 7.5 ms at 32 samples,
        48 → 31 at 128, with L⁻¹; the ``exp`` is torch's on a CPU without AVX-512, `exp_`):
        k (m, n) from one GEMM and a few passes in
        place (`cross_kernel`; 6 % less time than forming r² first), then L⁻¹k by BLAS's
        triangular product with L⁻¹ (``dtrmm``, `_per_gp`), in place of the spent k: 0.040 and
        0.39 ms per GP at 32 and 128 samples, against 0.116 and 0.85 for the triangular solve
        and 0.053 and 0.67 for a full GEMM. Against an extended-precision solve, its std is off
        by at most 5e-8 of the GP's prior std √c (the solve's: 3e-10), over every GP of the
        heatsink (32 samples), the bracket and the furnace (32 and 128; K's condition number up
        to 6e13), at points near and far from the training inputs: relative errors of up to 3 %
        arise only where the std is ~1e-6 √c, next to a training input. A small batch
        (≤ ``BATCHED_POINTS``) goes through all GPs at once instead; with gradients, or into an
        ONNX graph, the plain formula (`_mean_std_traced`). BLAS runs on one thread here: NumPy's
        GEMMs and SciPy's ``dtrmm`` use two OpenBLAS libraries whose threads, spinning against
        each other, made 1,000 predictions 6-11x slower (2 cores, 2 threads each; 128 samples).
        """
        if len(xs) <= BATCHED_POINTS and not torch.onnx.is_in_onnx_export():
            return self._mean_std_batched(xs)
        if torch.onnx.is_in_onnx_export() or (torch.is_grad_enabled() and xs.requires_grad):
            return self._mean_std_traced(xs)
        gps, f = self._per_gp(), point_side(xs.detach().numpy())  # f: [x, x², 1] for every GP
        mean, std = np.zeros((len(f), len(gps))), np.zeros((len(f), len(gps)))
        work = tuple(np.empty((len(f), len(self.x))) for _ in range(3))  # (m, n), row-major
        with blas_controller().limit(limits=1, user_api="blas"):  # see the docstring
            for j, (side, kind, log_c, cw, alpha, inv_f, own) in enumerate(gps):
                if j in skip:  # not wanted: mean and std 0
                    continue
                k = cross_kernel(f, side, kind, log_c, work)
                np.matmul(k, alpha, out=mean[:, j])
                if not own:  # its std is another GP's (`std_first`)
                    continue
                # L⁻¹ kᵀ in place of the spent k (kᵀ is column-major): a triangular product
                v = dtrmm(1.0, inv_f, k.T, side=0, lower=1, overwrite_b=1).T  # rows (L⁻¹k)ᵀ
                std[:, j] = gp_std(cw, np.einsum("ij,ij->i", v, v))
        mean_t = torch.from_numpy(mean) * self.y_std + self.y_mean
        return self._add_trend(xs, mean_t), torch.from_numpy(std) * self.y_std

    def _add_trend(self, xs: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """mean (m, g) plus each GP's polynomial trend at xs (m, d)."""
        if self.trend is None:
            return mean
        degree = trend_degree(self.trend.shape[1], xs.shape[1])
        return mean + features_torch(xs, degree) @ self.trend.T

    def _per_gp(self) -> list[tuple[Any, ...]]:
        """Per GP, once: the training side of its cross-kernel's GEMM (`training_side`),
        the kernel kind, log c and c + w (floats), α, L⁻¹ (NumPy arrays; L⁻¹ column-major, for
        BLAS's triangular product) and whether its std is needed: the loop of `gp_mean_std` then
        does no indexing and no work on the training side (a fifth of its time for 1,000
        points)."""
        if self._gps is None:
            inv = 1.0 / self.lengthscale
            kinds, c, w = self.kind.tolist(), self.amplitude.tolist(), self.noise.tolist()
            g = len(self.kind)
            own = (self._first() == torch.arange(g)).tolist() if self.std_first else [True] * g
            owned = iter(chol_inverse(self.chol[torch.tensor(own)]).numpy())
            inv_f = [np.asfortranarray(next(owned)) if own[j] else None for j in range(g)]
            self._gps = [(training_side(self.x, inv[j], kinds[j], c[j]).numpy(), int(kinds[j]),
                          math.log(c[j]), c[j] + w[j], self.alpha[j].numpy(), inv_f[j], own[j])
                         for j in range(g)]  # fmt: skip
        return self._gps

    def _mean_std_traced(self, xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`mean_std` by the plain formula, differentiable; for an ONNX graph, tensors only and
        L⁻¹ by a product (`for_onnx`)."""
        means, stds = [], []
        for j in range(len(self.kind)):
            ls = self.lengthscale[j]
            k = kernel_of_r2(scaled_r2(xs / ls, self.x / ls), int(self.kind[j]))
            k = k * self.amplitude[j]
            means.append(k @ self.alpha[j])
            if self.chol_inv is not None:
                v = self.chol_inv[j] @ k.T
            else:
                v = torch.linalg.solve_triangular(self.chol[j], k.T, upper=False)
            stds.append(
                gp_std(self.amplitude[j] + self.noise[j], torch.linalg.vector_norm(v, dim=0) ** 2)
            )
        mean = torch.stack(means, 1) * self.y_std + self.y_mean
        return self._add_trend(xs, mean), torch.stack(stds, 1) * self.y_std

    def _mean_std_batched(self, xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`mean_std` for every GP in one batched product and solve: (g, m, n) temporaries."""
        ls = self.lengthscale.unsqueeze(1)
        r2 = scaled_r2(xs / ls, self.x / ls)  # (g, m, n)
        kinds = [int(v) for v in torch.unique(self.kind)]
        k = kernel_of_r2(r2, kinds[0])
        for kind in kinds[1:]:
            k = torch.where((self.kind == kind)[:, None, None], kernel_of_r2(r2, kind), k)
        k = k * self.amplitude[:, None, None]
        mean = (k @ self.alpha.unsqueeze(-1)).squeeze(-1)  # (g, m)
        v = torch.linalg.solve_triangular(self.chol, k.transpose(1, 2), upper=False)  # (g, n, m)
        q2 = torch.linalg.vector_norm(v, dim=1) ** 2
        std = gp_std((self.amplitude + self.noise)[:, None], q2)
        mean = self._add_trend(xs, (mean * self.y_std[:, None] + self.y_mean[:, None]).T)
        return mean, (std * self.y_std[:, None]).T

    def state(self) -> dict[str, Any]:
        names = ("x", "lengthscale", "amplitude", "noise", "alpha", "chol", "y_mean", "y_std",
                 "weight", "kind")  # fmt: skip
        extra: dict[str, Any] = {n: getattr(self, n).clone() for n in ("trend", "mix")
                                 if getattr(self, n) is not None}  # fmt: skip
        if self.std_first:
            extra["std_first"] = True
        return {"index": list(self.index)} | {n: getattr(self, n).clone() for n in names} | extra

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> KrigingCodes:
        return cls(**s)


def chol_inverse(chol: torch.Tensor) -> torch.Tensor:
    """L⁻¹ (g, n, n) of lower Cholesky factors L (g, n, n)."""
    eye = torch.eye(chol.shape[-1], dtype=chol.dtype).expand_as(chol)
    return torch.linalg.solve_triangular(chol, eye, upper=False)


def mixture(mean: Any, std: Any, mix: Any) -> tuple[Any, Any]:
    """Mean and std (n, u) of the mixtures ``mix`` (u, g) of GPs with means and stds (n, g)
    (torch or numpy): Σ_j mix_ij m_j, and √(Σ_j mix_ij (s_j² + (m_j − m_i)²)). Products only:
    differentiable, and an ONNX graph of it keeps its batch size free."""
    m = mean @ mix.T
    member = (mix > 0).to(mix.dtype) if isinstance(mix, torch.Tensor) else (mix > 0) * 1.0
    dev = mean - m @ member
    return m, ((std * std + dev * dev) @ mix.T) ** 0.5


def fit_gps(
    xs: np.ndarray,
    z: np.ndarray,
    fold: np.ndarray,
    held_out: int,
    kernels: tuple[str, ...] = KERNELS,
    trends: bool = True,
    mixture: bool = False,
    std_first: bool = False,
) -> GPFit:
    """A GP per column of codes z (n, k) on scaled inputs xs (n, d), its kernel the one of
    ``kernels`` that cross-validates best; cross-validated on the folds 0 .. held_out - 1 of
    `fold` (n,) (other samples: no CV prediction). With ``trends``, a polynomial trend under
    the GP where that is clearly better (`with_trends`). With ``mixture``, a GP per column and
    kernel instead, each column predicted by the equal mixture of its GPs (`mixture_of`; its std
    from the first kernel's GP with ``std_first``), unless one kernel's GPs have at most
    ``ALONE_GAIN`` of each other's CV RMSE over all columns: then those alone."""
    from threadpoolctl import threadpool_limits

    from twinkit.surrogates.mlp import threads

    if mixture and len(kernels) > 1:
        fits = [fit_gps(xs, z, fold, held_out, (k,), trends) for k in kernels]
        sse = [float(np.sum((f.cv - z)[fold < held_out] ** 2)) for f in fits]
        best = int(np.argmin(sse))
        if all(sse[best] <= ALONE_GAIN**2 * v for j, v in enumerate(sse) if j != best):
            return fits[best]
        return mixture_of(fits, std_first)
    with threads(1), threadpool_limits(1):
        fit = fit_gp_columns(xs, z, fold, held_out, kernels)
        return with_trends(xs, z, fold, held_out, kernels, fit) if trends else fit


def mixture_of(fits: list[GPFit], std_first: bool = False) -> GPFit:
    """The GPs of ``fits`` (each one per column of the same k codes) as one fit of k·len(fits)
    GPs whose column i is the equal mixture of GP i of each (``GPFit.mix``), its CV mean and
    std the mixture's. Trends of different degrees are padded with zeros (the monomials are
    ordered by degree, `twinkit.surrogates.trend.exponents`).

    With ``std_first`` every GP of a column counts with the std of the first fit's, so the
    mixture's variance is s₁² + Σ_j (m_j − m)²/len(fits): the GPs' disagreement on top of the
    first kernel's own spread, one variance product per column at prediction (n² per point)
    instead of one per GP. The calibration scales it as it would the exact one."""
    k, m = fits[0].cv.shape[1], len(fits)
    per_gp = ("kind", "lengthscale", "amplitude", "noise", "chol", "alpha", "y_mean", "y_std")
    out: dict[str, Any] = {f: np.concatenate([getattr(g, f) for g in fits]) for f in per_gp}
    if any(g.trend is not None for g in fits):
        terms = max(len(g.trend) for g in fits if g.trend is not None)
        out["trend"] = np.concatenate([np.zeros((terms, k)) if g.trend is None else np.pad(
            g.trend, ((0, terms - len(g.trend)), (0, 0))) for g in fits], 1)  # fmt: skip
    mix = np.tile(np.eye(k), m) / m  # (k, k m): column i of fit j is GP j k + i
    stds = [fits[0].cv_std if std_first else g.cv_std for g in fits]
    cv, cv_std = mixture(np.concatenate([g.cv for g in fits], 1), np.concatenate(stds, 1), mix)
    return GPFit(**out, cv=cv, cv_std=cv_std, mix=mix, std_first=std_first)


def kernel_names(kind: np.ndarray, mix: np.ndarray | None) -> list[str]:
    """Per code the kernels of its GPs (``kind`` (g,), mixed by ``mix`` (u, g), or one per code):
    "matern52", or "matern52+rbf" for a mixture."""
    gps = [[j] for j in range(len(kind))] if mix is None else [np.flatnonzero(r) for r in mix]
    return ["+".join(KERNELS[int(kind[j])] for j in g) for g in gps]


def code_kernels(fit: GPFit) -> tuple[list[str], list[bool]]:
    """Per column of codes: its GPs' kernels (`kernel_names`) and whether any of them has a
    polynomial trend."""
    mix = np.eye(len(fit.kind)) if fit.mix is None else fit.mix
    trend = fit.trend if fit.trend is not None else np.zeros((1, len(fit.kind)))
    return kernel_names(fit.kind, fit.mix), [bool(trend[:, r > 0].any()) for r in mix]


def with_trends(
    xs: np.ndarray, z: np.ndarray, fold: np.ndarray, held_out: int, kernels: tuple[str, ...],
    fit: GPFit,
) -> GPFit:  # fmt: skip
    """``fit`` (constant-mean GPs of the columns of z), with each column whose polynomial trend
    (degree and ridge weight by leave-one-out error, `twinkit.surrogates.trend.choose`) predicts
    better alone than the GP (LOO against the GP's CV RMSE) refitted as trend + GP of the rest,
    and kept so where its cross-validated RMSE (the trend refitted per fold) is at most
    ``SWITCH_GAIN`` of the GP's and the gain is more than one standard error of the per-sample
    difference (`twinkit.surrogates.metrics.below_by_one_se`).

    A GP with a constant mean holds a linear response only with long length scales and a large
    amplitude, both bounded: on the bracket the maximum temperature (the base temperature) and
    the reaction (the load) came out 1.4-9x less accurate than SMT's interpolating kriging; with
    a linear trend the maximum temperature is exact to round-off. The furnace's responses are not
    polynomial and keep their constant means.
    """
    mask = fold < held_out
    if not mask.any():
        return fit
    choice = choose(xs, z)
    gp_rmse = np.sqrt(np.mean((fit.cv[mask] - z[mask]) ** 2, axis=0))
    cand = np.flatnonzero((choice.degree > 0) & (choice.loo_rmse < gp_rmse))
    if not len(cand):
        return fit
    sub = TrendChoice(choice.degree[cand], choice.ridge[cand], choice.loo_rmse[cand],
                      choice.loo_rmse_constant[cand])  # fmt: skip
    alt = fit_gp_columns(xs, z[:, cand], fold, held_out, kernels, trend=sub)
    zm = z[mask][:, cand]
    d = (alt.cv[mask] - zm) ** 2 - (fit.cv[mask][:, cand] - zm) ** 2
    gain = np.sqrt(np.mean((alt.cv[mask] - zm) ** 2, axis=0)) / gp_rmse[cand]
    take = below_by_one_se(d) & (gain < SWITCH_GAIN)
    if not take.any():
        return fit
    assert alt.trend is not None
    cols, src = cand[take], np.flatnonzero(take)
    kept: dict[str, Any] = {k: v.copy() for k, v in vars(fit).items() if isinstance(v, np.ndarray)}
    out = replace(fit, **kept)
    for f in ("kind", "lengthscale", "amplitude", "noise", "chol", "alpha", "y_mean", "y_std"):
        getattr(out, f)[cols] = getattr(alt, f)[src]
    out.cv[:, cols], out.cv_std[:, cols] = alt.cv[:, src], alt.cv_std[:, src]
    degree, ridge = np.zeros_like(choice.degree), np.zeros_like(choice.ridge)
    degree[cols], ridge[cols] = sub.degree[src], sub.ridge[src]
    # the monomials up to the highest degree kept (a candidate of a higher one may be left out)
    terms = len(exponents(xs.shape[1], int(degree.max())))
    out.trend = np.zeros((terms, z.shape[1]))
    out.trend[:, cols] = alt.trend[:terms, src]
    out.trend_choice = TrendChoice(degree, ridge, choice.loo_rmse, choice.loo_rmse_constant)
    return out


def kriging_codes(
    xs: np.ndarray, fit: GPFit, index: list[int], weight: list[float] | None = None
) -> KrigingCodes:
    """The GPs of the codes `index` as tensors (all GPs of each, for a mixture); ``weight``:
    each code's GP share (default 1)."""
    mix, gps = None, list(index)
    if fit.mix is not None:
        gps = [int(j) for j in np.flatnonzero(fit.mix[index].any(0))]
        mix = torch.from_numpy(np.ascontiguousarray(fit.mix[np.ix_(index, gps)]))

    def take(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a[gps]))

    return KrigingCodes(
        index=list(index),
        x=torch.from_numpy(np.ascontiguousarray(xs, dtype=np.float64)),
        lengthscale=take(fit.lengthscale),
        amplitude=take(fit.amplitude),
        noise=take(fit.noise),
        alpha=take(fit.alpha),
        chol=take(fit.chol),
        y_mean=take(fit.y_mean.astype(np.float64)),
        y_std=take(fit.y_std.astype(np.float64)),
        weight=torch.tensor([1.0] * len(index) if weight is None else weight, dtype=torch.float64),
        kind=take(fit.kind.astype(np.int64)),
        trend=None
        if fit.trend is None or not fit.trend[:, gps].any()
        else torch.from_numpy(np.ascontiguousarray(fit.trend[:, gps].T)),
        mix=mix,
        std_first=mix is not None and fit.std_first,
    )
