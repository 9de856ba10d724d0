"""Covariance kernels of the GPs (`twinkit.surrogates.gp`) and their evaluation for prediction.

k(x, x') = c κ(r) + w δ,  r = |(x − x')/ℓ| (anisotropic ℓ), κ one of RBF e^{−r²/2}, Matérn 5/2
(1 + √5 r + 5r²/3) e^{−√5 r} and Matérn 3/2 (1 + √3 r) e^{−√3 r} (Rasmussen & Williams 2006,
eq. 4.9 and 4.17): κ from r² in torch (`kernel_of_r2`, `scaled_r2`: fits, gradients, small
batches), and c κ between many new points and a GP's training inputs in NumPy, in place
(`point_side`, `training_side`, `cross_kernel`: large batches without gradients); the predictive
std from |L⁻¹k|² (`gp_std`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

KERNELS = ("rbf", "matern52", "matern32")

# r² beyond these gives kernel values below e^-200 of the amplitude (far below round-off); the
# cap keeps subnormal numbers, slow on CPUs, out of the products and triangular solves.
R2_MAX = {0: 400.0, 1: 1600.0, 2: 1600.0}


def _numpy_simd_exp() -> bool:
    """Whether NumPy's float64 ``exp`` is vectorised on this CPU: its SIMD ``exp`` for float64
    needs AVX-512F. Without it NumPy calls the C library's ``exp`` per value; torch's (SLEEF,
    AVX2) was 2.3x faster then (0.32 against 0.72 ms on 1,000 × 128 values, one thread, AMD
    EPYC with AVX2 only), while with AVX-512 NumPy's took half torch's time (session 23)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # NumPy moved it: NumPy's exp, as before this choice
        return True
    return bool(__cpu_features__.get("AVX512F", False))


_NUMPY_EXP = _numpy_simd_exp()


def exp_(x: np.ndarray) -> np.ndarray:
    """e^x in place for a C-contiguous float64 array, by the faster ``exp`` of NumPy and torch
    on this CPU (`_numpy_simd_exp`; torch works on the same memory, on the threads it is
    given). Either is accurate to about one unit in the last place."""
    if _NUMPY_EXP:
        return np.exp(x, out=x)
    torch.from_numpy(x).exp_()
    return x


def kernel_of_r2(r2: torch.Tensor, kind: int, inplace: bool = False) -> torch.Tensor:
    """κ(r) from r² (any shape) for kernel ``kind`` (index into :data:`KERNELS`); ``inplace``
    overwrites r² (prediction without gradients: fewer temporaries, ~2x faster)."""
    if not inplace:
        r2 = r2.clamp(0.0, R2_MAX[kind])
    else:
        r2 = r2.clamp_(0.0, R2_MAX[kind])
    if kind == 0:
        return r2.mul_(-0.5).exp_() if inplace else torch.exp(-0.5 * r2)
    c = math.sqrt(5.0) if kind == 1 else math.sqrt(3.0)
    if inplace:
        s = r2.add_(1e-24).sqrt_().mul_(c)
        e = torch.exp(-s)
        poly = s.mul(1.0 / 3.0).add_(1.0).mul_(s).add_(1.0) if kind == 1 else s.add_(1.0)
        return poly.mul_(e)
    s = c * torch.sqrt(r2 + 1e-24)  # finite gradient at r = 0
    poly = 1.0 + s + s * s / 3.0 if kind == 1 else 1.0 + s
    return poly * torch.exp(-s)


def kernel_and_slope(r2: torch.Tensor, kind: int) -> tuple[torch.Tensor, torch.Tensor]:
    """κ(r) and −2 dκ/dr² from r² (any shape, capped as in `kernel_of_r2`), without gradients:
    the likelihood's gradient (`twinkit.surrogates.gp`) needs both, and the Matérn slope
    shares κ's square root and exponential. −2 dκ/dr²: κ for the RBF, 5/3 (1 + s) e^(−s) for
    Matérn 5/2, 3 e^(−s) for Matérn 3/2 (s = √ν r)."""
    r2 = r2.clamp(0.0, R2_MAX[kind])
    if kind == 0:
        kappa = torch.exp(-0.5 * r2)
        return kappa, kappa
    s = torch.sqrt((5.0 if kind == 1 else 3.0) * (r2 + 1e-24))
    e = torch.exp(-s)
    if kind == 1:
        return (1.0 + s + s * s / 3.0) * e, (5.0 / 3.0) * (1.0 + s) * e
    return (1.0 + s) * e, 3.0 * e


def scaled_r2(a: torch.Tensor, b: torch.Tensor, bb: torch.Tensor | None = None) -> torch.Tensor:
    """|a_i − b_j|² (..., m, n) for a (..., m, d), b (..., n, d), by one batched GEMM; ``bb``:
    |b_j|² (..., 1, n) or (n,) if known (a GP's training side, at every prediction)."""
    aa = (a * a).sum(-1, keepdim=True)
    if bb is None:
        bb = (b * b).sum(-1, keepdim=True).transpose(-1, -2)
    if torch.is_grad_enabled() and (a.requires_grad or b.requires_grad):
        return (aa + bb - 2.0 * a @ b.transpose(-1, -2)).clamp_min(0.0)
    return (a @ b.transpose(-1, -2)).mul_(-2.0).add_(aa).add_(bb).clamp_min_(0.0)


def point_side(x: np.ndarray) -> np.ndarray:
    """[x, x², 1] (m, 2d + 1) for points x (m, d): the left side of every GP's `cross_kernel`
    GEMM, formed once per prediction (each GP's lengthscales are in its `training_side`)."""
    return np.hstack([x, x * x, np.ones((len(x), 1))])


def training_side(x: torch.Tensor, inv_ls: torch.Tensor, kind: int, c: float) -> torch.Tensor:
    """B (2d + 1, n) such that `point_side`(a) B is, for points a (m, d) and the training inputs
    x (n, d), with r² = Σ_k (a_k² − 2 a_k x_k + x_k²)/ℓ_k² (inverse lengthscales ``inv_ls``,
    (d,)): the RBF's exponent log c − r²/2, or a Matérn's ν r² (ν = 5 or 3, so that its
    square root is the kernel's s). One GEMM per GP from points shared by every GP: no scaling
    and no [a/ℓ, |a/ℓ|², 1] per GP (1,000 furnace scalars at 32 samples: 12.1 → 11.0 ms)."""
    w = inv_ls * inv_ls
    f, const = (-0.5, math.log(c)) if kind == 0 else (5.0 if kind == 1 else 3.0, 0.0)
    rows = [-2.0 * f * (x * w).T, f * w[:, None].expand(-1, len(x)), const + f * (x * x @ w)[None]]
    return torch.cat(rows).contiguous()


def cross_kernel(
    f: np.ndarray,
    side: np.ndarray,
    kind: int,
    log_c: float,
    out: tuple[np.ndarray, ...] | None = None,
) -> np.ndarray:
    """c κ(r) (m, n) between points a (m, d), as their `point_side` ``f``, and a GP's training
    inputs, from its `training_side` (NumPy arrays): one GEMM and a few passes over the result,
    in place. The same numbers as c · `kernel_of_r2(scaled_r2(a/ℓ, X/ℓ))` with r² capped as
    there (R2_MAX: no subnormals), in about half the passes over (m, n); c enters the exponent
    of the RBF, and of a Matérn as e^(log c − s). ``out``: three (m, n) arrays to work in, the
    result one of the first two (reused from GP to GP, they saved 16 % of 1,000 velocity
    fields' GP time at 128 furnace samples). NumPy, not torch, for prediction without
    gradients: torch 2.14's float64 ``sqrt`` took 1.6-1.9x NumPy's time on 1,000 × 128 values
    (one thread), and each of its calls costs several µs more; only the ``exp`` is torch's
    where that is faster (`exp_`)."""
    t, e, w = out if out is not None else (np.empty((len(f), side.shape[1])) for _ in range(3))
    np.matmul(f, side, out=t)
    if kind == 0:  # t = log c − r²/2
        return exp_(np.clip(t, log_c - 0.5 * R2_MAX[0], log_c, out=t))
    nu = 5.0 if kind == 1 else 3.0
    s = np.sqrt(np.clip(t, 0.0, nu * R2_MAX[kind], out=t), out=w)  # s = √ν r; t = s²
    exp_(np.subtract(log_c, s, out=e))  # c e^(−s)
    if kind == 1:  # 1 + s + s²/3 from t = s²: one pass fewer than from s
        poly = np.add(np.multiply(t, 1.0 / 3.0, out=t), s, out=t)
        poly += 1.0
    else:  # Matérn 3/2: 1 + s
        poly = np.add(s, 1.0, out=t)
    return np.multiply(e, poly, out=e)


def gp_std(c: Any, q2: Any) -> Any:
    """GP std √(c − q²) from the prior variance c and q² = |L⁻¹k|², kept ≥ 1e-6 √c; torch
    tensors or NumPy arrays (``** 0.5`` is the square root in both)."""
    return ((c - q2).clip(min=0.0) + 1e-12 * c) ** 0.5
