"""Calibrate a surrogate's unknown inputs to observations: MAP, Laplace covariance, MCMC.

Pure torch/numpy, through the Surrogate API only (`inputs`, `outputs`, `torch_scalar`).
Unknown inputs θ get Gaussian priors, in ln θ for log-scale ones. The optimiser works in prior-
standardised coordinates u (θ = μ + s·u, or θ = exp(μ + s·u)), where the prior is N(0, I):

    −log p(u | y) = ½ Σ_j r_j² / v_j + ½ Σ_j ln v_j + ½ uᵀu,   r = y − m(θ),  v = σ_y² + σ_m(θ)²,

with σ_y the observation noise and σ_m the surrogate's own std (its model error).

The covariance at the MAP is the inverse of the Fisher information of that likelihood plus the
prior's, I(u) = Jᵀ V⁻¹ J + ½ Gᵀ V⁻² G + 1 (J = ∂m/∂u, G = ∂v/∂u, V = diag v), not of the
Hessian of −log p: the Hessian also holds the curvature of σ_m(θ)² (the ensemble's spread, an
artefact of the training, not information about θ) and r·∂²m. On the furnace with two
bottom thermocouples (two data, two unknowns, residuals 0) that curvature alone made the
posterior 25 % narrower than the data allow, and adding two more thermocouples then widened it.
The Fisher information is positive definite, and adding an observation adds a positive
semi-definite term to it. ``hessian_ok`` reports whether the Hessian is (a true minimum).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class Prior:
    """Gaussian prior: `mean` in SI; `std` in SI, or of ln θ when `log`."""

    mean: float
    std: float
    log: bool = False

    @classmethod
    def from_range(cls, nominal: float, lower: float, upper: float, log: bool = False) -> Prior:
        """Mean at the nominal value, std a quarter of the range (of ln θ for log scale)."""
        if log:
            return cls(math.log(nominal), math.log(upper / lower) / 4, True)
        return cls(nominal, (upper - lower) / 4, False)


@dataclass(frozen=True)
class Observation:
    """A measured output (e.g. a window mean) and the std of its noise."""

    value: float
    std: float


@dataclass
class Posterior:
    """Calibration result. SI values; `cov_u` and `samples_u` in standardised coordinates."""

    names: list[str]
    map: dict[str, float]
    std: dict[str, float]
    interval95: dict[str, tuple[float, float]]
    std_ratio: dict[str, float]  # posterior / prior width: near 1 means the data say little
    corr: np.ndarray
    cov_u: np.ndarray
    predicted: dict[str, tuple[float, float]]  # every output at the posterior: mean, std
    objective: float
    restarts: list[float]
    hessian_ok: bool
    draws: np.ndarray  # (256, d) SI draws from the Laplace approximation
    samples: np.ndarray | None = None  # (n, d) SI, from MCMC
    acceptance: float | None = None


class Calibration:
    """The posterior of `priors`' inputs given `observations` ({output: Observation}); the
    surrogate's other inputs are held at `fixed` (SI)."""

    def __init__(
        self,
        surrogate: Any,
        priors: Mapping[str, Prior],
        observations: Mapping[str, Observation],
        fixed: Mapping[str, float],
    ):
        s = surrogate
        missing = [n for n in s.inputs if n not in priors and n not in fixed]
        unknown = [o for o in observations if o not in s.outputs]
        if missing or unknown:
            raise ValueError(
                f"inputs without value or prior: {missing}; unknown outputs: {unknown}"
            )
        self.s, self.names = s, [n for n in s.inputs if n in priors]
        self._col = [s.inputs.index(n) for n in self.names]
        self._mu = torch.tensor([priors[n].mean for n in self.names], dtype=torch.float64)
        self._sd = torch.tensor([priors[n].std for n in self.names], dtype=torch.float64)
        self._log = torch.tensor([priors[n].log for n in self.names])
        base = [fixed.get(n, 0.0) for n in s.inputs]
        self._base = torch.tensor(base, dtype=torch.float64)
        self._obs = [s.outputs.index(o) for o in observations]
        self._y = torch.tensor([o.value for o in observations.values()], dtype=torch.float64)
        self._v = torch.tensor([o.std**2 for o in observations.values()], dtype=torch.float64)

    def set_fixed(self, values: Mapping[str, float]) -> None:
        """Change held inputs (e.g. newly measured operating conditions)."""
        for n, v in values.items():
            self._base[self.s.inputs.index(n)] = v

    def theta(self, u: torch.Tensor) -> torch.Tensor:
        """SI values of the unknowns at standardised `u` (n, d)."""
        z = self._mu + self._sd * u
        # exp only where it is used: exp(z) of a linear unknown far out overflows, and its
        # gradient, 0 · inf through the unused branch, would make the Fisher information NaN
        return torch.where(self._log, torch.exp(torch.where(self._log, z, 0.0)), z)

    def to_u(self, theta: np.ndarray) -> np.ndarray:
        t = torch.as_tensor(theta, dtype=torch.float64)
        z = torch.where(self._log, torch.log(t), t)
        return ((z - self._mu) / self._sd).numpy()

    def inputs(self, u: torch.Tensor) -> torch.Tensor:
        """Every surrogate input (n, n_inputs), SI: the unknowns at `u` (n, d), the rest held."""
        x = self._base.expand(u.shape[0], -1).clone()
        x[:, self._col] = self.theta(u)
        return x

    def outputs(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Surrogate mean and std of every output at `u` (n, d)."""
        return self.s.torch_scalar(self.inputs(u))

    def neg_log_post(self, u: torch.Tensor) -> torch.Tensor:
        """−log posterior (up to a constant) at each row of `u` (n, d)."""
        m, sd = self.outputs(u)
        v = self._v + sd[:, self._obs] ** 2
        r = self._y - m[:, self._obs]
        return 0.5 * ((r**2 / v) + torch.log(v)).sum(1) + 0.5 * (u**2).sum(1)

    def fisher(self, u: torch.Tensor) -> torch.Tensor:
        """Fisher information of the likelihood plus the prior's (d, d) at `u` (d,)."""

        def mean_var(q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            m, sd = self.outputs(q[None])
            return m[0, self._obs], self._v + sd[0, self._obs] ** 2

        J, G = torch.autograd.functional.jacobian(mean_var, u)
        _, v = mean_var(u)
        eye = torch.eye(len(u), dtype=torch.float64)
        return (J.T @ (J / v[:, None]) + 0.5 * G.T @ (G / v[:, None] ** 2) + eye).detach()

    def _newton(self, u0: torch.Tensor, iterations: int = 100) -> tuple[torch.Tensor, float]:
        """Minimise −log p from `u0`: Newton steps on the Hessian with its eigenvalues made
        positive, steps at most 2 prior widths, backtracking (Armijo) line search.

        (torch.optim would first import torch._dynamo: seconds, on every command run.)
        """
        f_u = lambda v: self.neg_log_post(v[None])[0]  # noqa: E731
        u, f = u0.clone(), float(f_u(u0).detach())
        for _ in range(iterations):
            g = torch.autograd.functional.jacobian(f_u, u)
            H = torch.autograd.functional.hessian(f_u, u)
            w, V = torch.linalg.eigh(0.5 * (H + H.T))
            w = w.abs().clamp_min(1e-8 * max(float(w.abs().max()), 1.0))
            step = -V @ ((V.T @ g) / w)
            norm = float(step.norm())
            if norm == 0.0:
                break
            step = step * min(1.0, 2.0 / norm)
            t, slope = 1.0, float(g @ step)
            while t > 1e-10:
                f_new = float(f_u(u + t * step).detach())
                if f_new <= f + 1e-4 * t * slope:
                    break
                t /= 2
            else:
                break
            u, converged = u + t * step, f - f_new < 1e-12 * (1 + abs(f))
            f = f_new
            if converged or float((t * step).abs().max()) < 1e-10:
                break
        return u, f

    def fit(self, restarts: int = 4, seed: int = 0, mcmc: int = 0) -> Posterior:
        """MAP over `restarts` starts (the prior mean, then prior draws), Laplace covariance from
        the Fisher information, and optionally `mcmc` random-walk Metropolis samples."""
        g = torch.Generator().manual_seed(seed)
        d = len(self.names)
        starts = [torch.zeros(d, dtype=torch.float64)]
        starts += [torch.randn(d, generator=g, dtype=torch.float64) for _ in range(restarts - 1)]
        runs = [self._newton(u0) for u0 in starts]
        u_map, best = min(runs, key=lambda r: r[1] if math.isfinite(r[1]) else math.inf)
        H = torch.autograd.functional.hessian(lambda u: self.neg_log_post(u[None])[0], u_map)
        ok = bool(torch.linalg.eigvalsh(0.5 * (H + H.T)).min() > 0)
        cov_u = torch.linalg.inv(self.fisher(u_map))
        cov_u = 0.5 * (cov_u + cov_u.T)
        post = self._summarise(u_map, cov_u, best, [r[1] for r in runs], ok, g)
        if mcmc > 0:
            self._metropolis(post, u_map, cov_u, mcmc, g)
        return post

    def _summarise(self, u, cov_u, best, objectives, ok, g) -> Posterior:
        θ = self.theta(u[None])[0]
        σ_u = cov_u.diagonal().sqrt()
        jac = self._sd * torch.where(self._log, θ, torch.ones_like(θ))  # dθ/du (delta method)
        lo, hi = self.theta((u - 1.96 * σ_u)[None])[0], self.theta((u + 1.96 * σ_u)[None])[0]
        draws = (
            u
            + torch.randn(256, len(u), generator=g, dtype=torch.float64)
            @ torch.linalg.cholesky(cov_u + 1e-12 * torch.eye(len(u), dtype=torch.float64)).T
        )
        with torch.no_grad():
            m, sd = self.outputs(draws)
        var = m.var(0) + (sd**2).mean(0)
        n = self.names
        return Posterior(
            names=n,
            map={k: float(v) for k, v in zip(n, θ, strict=True)},
            std={k: float(v) for k, v in zip(n, jac * σ_u, strict=True)},
            interval95={k: (float(a), float(b)) for k, a, b in zip(n, lo, hi, strict=True)},
            std_ratio={k: float(v) for k, v in zip(n, σ_u, strict=True)},
            corr=(cov_u / torch.outer(σ_u, σ_u)).numpy(),
            cov_u=cov_u.numpy(),
            predicted={
                o: (float(a), float(b))
                for o, a, b in zip(self.s.outputs, m.mean(0), var.sqrt(), strict=True)
            },
            objective=best,
            restarts=objectives,
            hessian_ok=ok,
            draws=self.theta(draws).numpy(),
        )

    def _metropolis(self, post: Posterior, u0, cov_u, n: int, g, chains: int = 8) -> None:
        """Random-walk Metropolis, `chains` chains in one batch, proposal 2.38²/d · cov."""
        d = len(u0)
        L = torch.linalg.cholesky(cov_u + 1e-12 * torch.eye(d, dtype=torch.float64))
        L = L * 2.38 / math.sqrt(d)
        u = u0 + 0.5 * torch.randn(chains, d, generator=g, dtype=torch.float64) @ L.T
        with torch.no_grad():
            f = self.neg_log_post(u)
            steps, burn, kept, accepted = -(-n // chains), 200, [], 0
            for i in range(burn + steps):
                prop = u + torch.randn(chains, d, generator=g, dtype=torch.float64) @ L.T
                fp = self.neg_log_post(prop)
                take = torch.rand(chains, generator=g, dtype=torch.float64).log() < f - fp
                u, f = torch.where(take[:, None], prop, u), torch.where(take, fp, f)
                if i >= burn:
                    kept.append(self.theta(u))
                    accepted += int(take.sum())
        post.samples = torch.cat(kept)[:n].numpy()
        post.acceptance = accepted / (steps * chains)
