"""Where to spend the next FE solve: a Gaussian-process model of each goal output and a constrained
log expected improvement.

Each goal output y (the objective, each constrained output) gets a model from the FE results at
this problem's fixed inputs. With a surrogate (trained on the sweep the twin needs anyway), the
surrogate is the prior: y(x) = m₀(x) + s₀(x) z(x) with m₀ ± s₀ its calibrated prediction and z a
zero-mean GP of amplitude a (a = 1: the surrogate's stated std is right); the FE results condition
z, so that at a solved design the model returns the FE value and near it the surrogate's error
there. Without a surrogate (an empty folder), z is the standardised FE values. Either way z is a
GP with a Matérn 5/2 kernel, one length scale per design parameter on the unit box (log
parameters by their log), fitted by maximum a posteriori: log-normal priors on the length scales
as BoTorch's default GP (median √2 + ½ ln d in log space, scale √3; Hvarfner et al. 2024) and on
the amplitude (median 1, scale 1); FE values are exact up to a 1e-6 noise term.

With a surrogate and at least d + 2 FE results, an output keeps whichever of the two models (the
surrogate's errors, or the FE values alone) has the larger leave-one-out likelihood of its FE
values. Leave-one-out only sees the solved designs; where they cluster, the GP of the surrogate's
errors wins there and may still carry the error seen there across the box with a confidence
nothing has earned. So when the surrogate's model is kept but its misses reject its stated std
(Σ z² above the 95 % point of χ² with n degrees of freedom: it is wrong at this problem's fixed
inputs by more than it says), the output is predicted by the equal-weight mixture of both models,
which agree near the solved designs and whose disagreement away from them counts as uncertainty.

The acquisition is log EI(x) + Σ_j log P(bound j holds at x) (EI of the objective below the best
FE-feasible value, the bounds' probabilities from their models, assumed independent; Gardner et
al. 2014, with the numerically safe log EI of Ament et al. 2023). It is maximised over a scrambled
Sobol set, seed points and a shrinking random local search from the best few; points within
`MIN_DISTANCE` of a solved design are excluded, so no design is solved twice.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy.special import erfcx, log_ndtr
from scipy.stats import chi2

from twinkit.optimization.goals import Goals
from twinkit.surrogates.kernels import kernel_of_r2, scaled_r2
from twinkit.surrogates.lbfgs import WolfeLBFGS

NOISE = 1e-6  # of the standardised variance: FE results are deterministic
MIN_DISTANCE = 1e-3  # on the unit box: closer to a solved design counts as the same design
MATERN52 = 1  # kernel index in twinkit.surrogates.kernels.KERNELS


@dataclass
class GPState:
    """A fitted GP on unit-box points u (n, d) with targets z (n,)."""

    u: torch.Tensor
    chol: torch.Tensor
    alpha: torch.Tensor
    lengthscale: torch.Tensor
    amplitude: float

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std (m,) at unit-box points x (m, d)."""
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
        with torch.no_grad():
            ls = self.lengthscale
            ks = self.amplitude * kernel_of_r2(scaled_r2(xt / ls, self.u / ls), MATERN52)
            mean = ks @ self.alpha
            v = torch.linalg.solve_triangular(self.chol, ks.T, upper=False)
            var = (self.amplitude * (1 + NOISE) - (v * v).sum(0)).clamp_min(1e-12 * self.amplitude)
        return mean.numpy(), var.sqrt().numpy()


def fit_gp(u: np.ndarray, z: np.ndarray) -> GPState | None:
    """MAP fit of the length scales and amplitude to targets z (n,) at u (n, d); None if n = 0."""
    n, d = u.shape
    if n == 0:
        return None
    x = torch.from_numpy(np.ascontiguousarray(u, dtype=np.float64))
    y = torch.from_numpy(np.asarray(z, dtype=np.float64))
    mu_ls, sd_ls = math.sqrt(2) + 0.5 * math.log(d), math.sqrt(3)
    eye = torch.eye(n, dtype=torch.float64)

    def parts(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ls, amp = theta[:d].clamp(-6, 6).exp(), theta[d].clamp(-8, 8).exp()
        k = amp * (kernel_of_r2(scaled_r2(x / ls, x / ls), MATERN52) + NOISE * eye)
        return ls, amp, torch.linalg.cholesky(k + 1e-10 * eye)

    def loss(theta: torch.Tensor) -> torch.Tensor:
        _, _, chol = parts(theta)
        alpha = torch.cholesky_solve(y[:, None], chol)[:, 0]
        nll = 0.5 * (y * alpha).sum() + torch.log(chol.diagonal()).sum()
        prior = ((theta[:d] - mu_ls) ** 2).sum() / (2 * sd_ls**2) + theta[d] ** 2 / 2
        return nll + prior

    def loss_grad(t: np.ndarray) -> tuple[float, np.ndarray]:
        theta = torch.from_numpy(t).requires_grad_()
        with torch.enable_grad():  # also when the caller is in torch.no_grad()
            try:
                value = loss(theta)
                grad = torch.autograd.grad(value, theta)[0]
            except RuntimeError:  # a Cholesky failure far out: a step too far
                return math.inf, np.zeros_like(t)
            return float(value.detach()), grad.numpy()

    best, best_loss = None, math.inf
    for start in (math.log(0.5), mu_ls):  # a short and the prior's median length scale
        # the project's L-BFGS (strong Wolfe), not torch.optim's: that imports torch's compiler
        # (1.5 s CPU in every process that optimises)
        opt = WolfeLBFGS(np.r_[np.full(d, start), 0.0], history=100, tolerance_grad=1e-7,
                         tolerance_change=1e-9)  # fmt: skip
        opt.run(loss_grad, 100)
        if opt.f is not None and opt.f < best_loss:
            best, best_loss = torch.from_numpy(opt.x), opt.f
    if best is None:
        best = torch.cat([torch.full((d,), mu_ls), torch.zeros(1)]).double()
    with torch.no_grad():
        ls, amp, chol = parts(best)
        alpha = torch.cholesky_solve(y[:, None], chol)[:, 0]
    return GPState(x, chol, alpha, ls, float(amp))


Prior = Callable[[np.ndarray], tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]


def loo_loglik(gp: GPState, log_jacobian: float) -> float:
    """Leave-one-out log likelihood of the GP's targets in the output's own units: closed form
    for fixed hyperparameters (Rasmussen & Williams 2006, eq. 5.10-5.12), minus Σ log |dy/dz|
    (`log_jacobian`) to turn the targets' density into the values'."""
    with torch.no_grad():
        k_inv = torch.cholesky_inverse(gp.chol).diagonal()
        var = 1.0 / k_inv
        r = gp.alpha * var
        ll = -0.5 * (torch.log(2 * math.pi * var) + r * r / var).sum()
    return float(ll) - log_jacobian


class GoalModels:
    """Posterior mean and std of every goal output at unit-box points, from FE results.

    `prior` maps unit-box points (m, d) to the surrogate's mean and std per output (None: no
    surrogate). `u` (n, d) are the solved designs that converged and `values` their FE outputs.
    `exact` maps unit-box points to the value of each goal output that is a design parameter
    (known exactly, std 0).
    Without a prior, an output whose FE values (and bound) are all positive is modelled by its
    log (stresses and deflections that vary by orders of magnitude over the box); with a prior
    and at least d + 2 FE results, an output keeps whichever of the two models (the surrogate's
    errors, or the values themselves) has the larger leave-one-out likelihood of its FE values,
    and one kept on the prior whose misses reject the surrogate's std (`rejects`) is predicted by
    the mixture of both models. `widened` gives the same model with wider stds.
    `predict` returns the model's own scale and `scale_of` maps a value (bound, incumbent) to
    it."""

    def __init__(
        self,
        goals: Goals,
        prior: Prior | None,
        u: np.ndarray,
        values: dict[str, np.ndarray],
        exact: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None,
    ):
        self.goals, self.prior, self.exact = goals, prior, exact
        self.widen: dict[str, float] = {}
        self.shift: dict[str, float] = {}
        self.scale: dict[str, float] = {}
        self.log: dict[str, bool] = {}
        self.on_prior: dict[str, bool] = {}
        self.gps: dict[str, GPState | None] = {}
        self.fe_only: dict[str, tuple[GPState, bool, float, float]] = {}  # mixed in (rejected)
        m0, s0 = prior(u) if prior is not None and len(u) else ({}, {})
        limits = {b.output: b.value for b in goals.bounds}
        for out in goals.outputs:
            y = np.asarray(values.get(out, np.zeros(0)), dtype=float)
            positive = len(y) > 0 and bool((y > 0).all()) and limits.get(out, 1.0) > 0
            direct = self._direct(out, u, y, positive)
            if prior is None:
                continue
            sd = np.maximum(s0[out], 1e-300) if len(y) else np.ones(0)
            z = (y - m0[out]) / sd if len(y) else y  # the surrogate's misses in its stds
            gp = fit_gp(u, z)
            # with enough FE results, the surrogate's errors may be harder to model than the
            # values themselves: keep the model that predicts each held-out FE value better; if
            # that is the surrogate's and its misses reject its std, mix in the other
            if len(y) >= u.shape[1] + 2 and direct is not None and gp is not None:
                if loo_loglik(gp, np.log(sd).sum()) < loo_loglik(direct, self._jacobian(out, y)):
                    continue
                if rejects(z):
                    self.fe_only[out] = (direct, self.log[out], self.shift[out], self.scale[out])
            self.gps[out], self.on_prior[out], self.log[out] = gp, True, False

    def _direct(self, out: str, u: np.ndarray, y: np.ndarray, positive: bool) -> GPState | None:
        """The model of the FE values themselves (positive ones by their log, standardised)."""
        self.log[out], self.on_prior[out] = positive, False
        y = np.log(y) if positive else y
        self.shift[out] = float(y.mean()) if len(y) else 0.0
        spread = float(y.std()) if len(y) > 1 else 0.0
        self.scale[out] = spread if spread > 0 else max(abs(self.shift[out]) * 0.1, 1e-12)
        self.gps[out] = fit_gp(u, (y - self.shift[out]) / self.scale[out])
        return self.gps[out]

    def _jacobian(self, out: str, y: np.ndarray) -> float:
        """Σ log |dy/dz| of the direct model at its FE values."""
        return float(np.sum(np.log(self.scale[out] * (y if self.log[out] else np.ones_like(y)))))

    def improvement(self, log_value: float, incumbent: float) -> float:
        """A `log_acquisition` value (the log of EI × P(feasible) on the objective's model scale)
        as an improvement in the objective's units: the EI of a log-modelled objective is a
        relative one (to first order), so it is scaled by |incumbent|."""
        ei = math.exp(log_value) if math.isfinite(log_value) else 0.0
        return ei * abs(incumbent) if self.log[self.goals.objectives[0][0]] else ei

    def noise_floor(self, x: np.ndarray) -> float:
        """The expected improvement the model gives a design it has solved, at x (1, d), in the
        objective's units: its FE value is known to the model only up to the GP's noise term, so
        even that design has EI φ(0) × std. Less than this anywhere is no improvement the model
        can tell from that noise. Never widened: FE's noise is no larger because a model missed."""
        out = self.goals.objectives[0][0]
        _, std = self.predict_values(x)
        return float(std[out][0]) / self.widen.get(out, 1.0) / math.sqrt(2 * math.pi)

    def widened(self, factors: Mapping[str, float]) -> GoalModels:
        """The same model with each output's std multiplied by its factor (a model that missed
        an FE result, widened until it would have covered it: `fe_search.miss_factors`)."""
        wide = copy.copy(self)
        wide.widen = dict(factors)
        return wide

    def scale_of(self, out: str, value: float) -> float:
        """`value` of output `out` on the model's scale."""
        return math.log(value) if self.log[out] else value

    def predict(self, x: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Mean and std per output on the model's scale (log for the log-modelled ones)."""
        m0, s0 = self.prior(x) if self.prior is not None else ({}, {})
        known = self.exact(x) if self.exact is not None else {}
        mean, std = {}, {}
        for out in self.goals.outputs:
            if out in known:
                v = known[out]
                mean[out], std[out] = (np.log(v) if self.log[out] else v), np.zeros(len(x))
                continue
            gp = self.gps[out]
            zm, zs = gp.predict(x) if gp is not None else (np.zeros(len(x)), np.ones(len(x)))
            if self.on_prior[out]:
                mean[out], std[out] = m0[out] + s0[out] * zm, s0[out] * zs
                if out in self.fe_only:
                    mean[out], std[out] = mixture(mean[out], std[out], *self._fe_only(out, x))
            else:
                mean[out] = self.shift[out] + self.scale[out] * zm
                std[out] = self.scale[out] * zs
            std[out] = std[out] * self.widen.get(out, 1.0)
        return mean, std

    def _fe_only(self, out: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of the GP of the FE values in the output's units (a log-modelled one: the
        median e^μ and the delta method's std e^μ σ)."""
        gp, log, shift, scale = self.fe_only[out]
        zm, zs = gp.predict(x)
        mean, std = shift + scale * zm, scale * zs
        return from_log(mean, std) if log else (mean, std)

    def predict_values(self, x: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Mean and std per output in its own units (a log-modelled one: the median e^μ and
        the delta method's std e^μ σ)."""
        mean, std = self.predict(x)
        for out in self.goals.outputs:
            if self.log[out]:
                mean[out], std[out] = from_log(mean[out], std[out])
        return mean, std

    def _on_scale(self) -> Goals:
        """The goals with each bound on its output's model scale."""
        bounds = [replace(b, value=self.scale_of(b.output, b.value)) for b in self.goals.bounds]
        return replace(self.goals, bounds=tuple(bounds))

    def log_acquisition(self, x: np.ndarray, incumbent: float | None) -> np.ndarray:
        """log EI + log P(feasible) at x (m,) for the objective's `incumbent` (None: log P)."""
        out = self.goals.objectives[0][0]
        inc = None if incumbent is None else self.scale_of(out, incumbent)
        return log_acquisition(self._on_scale(), *self.predict(x), inc)

    def log_feasibility(self, x: np.ndarray) -> np.ndarray:
        """log P(every bound holds) at x (m,)."""
        return log_feasibility(self._on_scale(), *self.predict(x))


def from_log(mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A log-modelled output's prediction in its own units: the median e^μ and the delta
    method's std e^μ σ."""
    median = np.exp(mean)
    return median, median * std


def rejects(z: np.ndarray, level: float = 0.95) -> bool:
    """The surrogate's misses z (FE − mean)/std at n ≥ 2 solved designs reject its std: Σ z²
    above the `level` point of χ² with n degrees of freedom (treating them as independent)."""
    return len(z) >= 2 and float(np.sum(z * z)) > float(chi2.ppf(level, len(z)))


def mixture(
    m1: np.ndarray, s1: np.ndarray, m2: np.ndarray, s2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of the equal-weight mixture of two normal predictions (moments matched)."""
    mean = 0.5 * (m1 + m2)
    var = 0.5 * (s1 * s1 + s2 * s2) + 0.25 * (m1 - m2) ** 2
    return mean, np.sqrt(var)


def log_h(z: np.ndarray) -> np.ndarray:
    """log(φ(z) + z Φ(z)), accurate for very negative z (Ament et al. 2023, eq. 9)."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    big = z > -1
    zb = z[big]
    out[big] = np.log(np.exp(-0.5 * zb**2) / math.sqrt(2 * math.pi) + zb * np.exp(log_ndtr(zb)))
    a = -z[~big]
    # 1 − √(π/2) a erfcx(a/√2) cancels as a grows: beyond a = 40 its asymptotic series
    # 1/a² − 3/a⁴ + 15/a⁶ (the next term is 3e-8 of it there)
    near = np.minimum(a, 40.0)
    inv = 1.0 / np.maximum(a, 40.0) ** 2
    tail = np.where(
        a < 40,
        np.log1p(-math.sqrt(math.pi / 2) * near * erfcx(near / math.sqrt(2))),
        np.log(inv * (1 - 3 * inv + 15 * inv * inv)),
    )
    out[~big] = -0.5 * a**2 - 0.5 * math.log(2 * math.pi) + tail
    return out


def log_feasibility(goals: Goals, mean: dict, std: dict) -> np.ndarray:
    """Σ_j log P(bound j holds) (m,)."""
    n = len(next(iter(mean.values())))
    total = np.zeros(n)
    for b in goals.bounds:
        s = np.maximum(std[b.output], 1e-300)
        room = (b.value - mean[b.output]) if b.kind == "max" else (mean[b.output] - b.value)
        total += log_ndtr(room / s)
    return total


def log_acquisition(goals: Goals, mean: dict, std: dict, incumbent: float | None) -> np.ndarray:
    """log EI + log P(feasible) (m,), for a minimised objective (a maximised one is negated);
    with no incumbent, log P(feasible) alone."""
    out, direction = goals.objectives[0]
    sign = 1.0 if direction == "minimize" else -1.0
    feas = log_feasibility(goals, mean, std)
    if incumbent is None:
        return feas
    s = np.maximum(std[out], 1e-12 * np.maximum(np.abs(mean[out]), 1e-300))  # exact: EI = gain
    u = (sign * incumbent - sign * mean[out]) / s
    return np.log(s) + log_h(u) + feas


def maximise(
    score: Callable[[np.ndarray], np.ndarray],
    d: int,
    rng: np.random.Generator,
    seeds: Sequence[np.ndarray] = (),
    avoid: np.ndarray | None = None,
    n_sobol: int = 1024,
    keep: int = 5,
) -> tuple[np.ndarray, float]:
    """The best unit-box point found by `score` (vectorised, higher better): a scrambled Sobol
    set and `seeds`, then a random local search around the best `keep` with shrinking steps.
    Points within MIN_DISTANCE of `avoid` score -inf."""
    from scipy.stats import qmc

    pts = qmc.Sobol(d, scramble=True, seed=rng).random(n_sobol)
    starts = np.vstack([np.atleast_2d(s) for s in seeds]) if len(seeds) else np.zeros((0, d))

    def masked(x: np.ndarray) -> np.ndarray:
        v = np.asarray(score(x), dtype=float)
        v = np.where(np.isfinite(v), v, -np.inf)
        if avoid is not None and len(avoid):
            near = np.sqrt(((x[:, None, :] - avoid[None]) ** 2).sum(-1)).min(1) < MIN_DISTANCE
            v = np.where(near, -np.inf, v)
        return v

    pts = np.vstack([pts, starts])
    vals = masked(pts)
    for step in (0.1, 0.03, 0.01, 0.003, 0.001):
        # around the best points so far and around every seed (a solved design, excluded
        # itself, next to which the best may lie: at a bound of the box, on a constraint)
        top = np.vstack([pts[np.argsort(-vals)[:keep]], starts])
        trial = np.clip(
            np.repeat(top, 64, axis=0) + step * rng.standard_normal((len(top) * 64, d)), 0, 1
        )
        tv = masked(trial)
        pts, vals = np.vstack([pts, trial]), np.concatenate([vals, tv])
    i = int(np.argmax(vals))
    return pts[i], float(vals[i])
