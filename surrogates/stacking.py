"""Blending a head's GPs with its deep ensemble: the stacking weight per code, the
one-standard-error rule that keeps a blend only where it is clearly better, the ensemble's
ambiguity (its members' spread at new points) and the monitor that stops the ensemble's training
once its blend stops improving (`twinkit.surrogates.fit`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from twinkit.surrogates.metrics import below_by_one_se


def stacking_weight(
    ens: np.ndarray,
    gp: np.ndarray,
    z: np.ndarray,
    ambiguity: np.ndarray | float = 0.0,
    snap: float = 0.05,
) -> np.ndarray:
    """Per column the w in [0, 1] that minimises the expected |w gp + (1 - w) ens - z|², from
    cross-validated predictions (n, k) (stacking, Breiman 1996).

    ``ens`` is one member's out-of-fold prediction, but the ensemble predicts with the mean of
    its members, whose squared error is smaller by their spread about it, the ambiguity
    (Krogh & Vedelsby 1995: E = mean member error - mean ambiguity); ``ambiguity`` (k,) corrects
    for it. Within ``snap`` of 0 or 1, w is 0 or 1: a code that one model predicts about as well
    alone keeps that model alone.
    """
    e, g = ens - z, gp - z
    see = np.maximum((e * e).mean(0) - ambiguity, 0.0)
    sgg, sge = (g * g).mean(0), (g * e).mean(0)
    dd = sgg + see - 2 * sge
    w = np.clip((see - sge) / np.where(dd > 0, dd, 1.0), 0.0, 1.0)
    w = np.where(dd > 0, w, 0.0)
    return np.where(w < snap, 0.0, np.where(w > 1 - snap, 1.0, w))


def one_se_rule(
    ens: np.ndarray, gp: np.ndarray, z: np.ndarray, w: np.ndarray, ambiguity: np.ndarray | float
) -> np.ndarray:
    """The stacking weights ``w`` (k,), with w = 1 (the GP alone) for every code whose blend is
    not better than the GP by more than one standard error of the cross-validated difference
    (the one-standard-error rule, Hastie, Tibshirani & Friedman 2009, sec. 7.10: the simpler
    model unless the data show the other is better).

    Per held-out sample i, d_i = e_i(blend)² − e_i(GP)², the blend's error with one member's
    prediction less its share of the members' ``ambiguity`` (as in `stacking_weight`); the blend
    is kept where mean(d) < −std(d)/√n. On the furnace at 32 samples the blends' cross-validated
    gains were 0-8 %, within this noise, and on the 64 held-out solves they were 2-37 % worse
    than the GPs alone on the codes they touched (docs/surrogates.md, "Model choice").
    """
    blend = w * gp + (1 - w) * ens - z
    d = blend**2 - (1 - w) ** 2 * np.asarray(ambiguity) - (gp - z) ** 2
    return np.where(below_by_one_se(d), w, 1.0)


def ambiguity(
    net: torch.nn.Module,
    d: int,
    seed: int,
    gp: Callable[[torch.Tensor], torch.Tensor],
    n: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """Per code the members' variance about their mean, and the mean squared difference of their
    mean from ``gp``'s (the GPs' mean codes), over ``n`` scrambled-Sobol points of the scaled box
    [-1, 1]^d (new points: at the training samples most members saw the data)."""
    from scipy.stats import qmc

    x = torch.from_numpy(2 * qmc.Sobol(d, scramble=True, seed=seed).random(n) - 1)
    with torch.no_grad():
        z = net(x).numpy()  # (members, n, k)
        diff = np.mean((z.mean(axis=0) - gp(x).numpy()) ** 2, axis=0)
    return z.var(axis=0).mean(axis=0), diff


def ensemble_correction(
    amb: np.ndarray,
    ens: np.ndarray,
    z: np.ndarray,
    members: int,
    disagreement: np.ndarray,
    gp_mse: np.ndarray,
) -> np.ndarray:
    """Per code (k,) what the members' mean gains over one member's out-of-fold squared error
    (``ens`` against ``z``, (n, k)): the ``ambiguity`` of `stacking_weight` and `one_se_rule`,
    from the ensemble's ``amb`` and its ``disagreement`` with the GPs over the box (`ambiguity`).

    The members' mean has the error E − A of a member's E less their spread A (Krogh & Vedelsby
    1995), but A is measured over the whole box and E only at the held-out samples, and a network
    can be far worse in the box's corners, away from the samples, than the cross-validation sees.
    Two bounds keep the estimate E − A honest there:

    * A ≤ (1 − 1/``members``) E: the mean is no better than the mean of independent members, E/M;
    * E − A ≥ D − G: over the box the ensemble's mean and the GP's differ by D on average, which
      with independent errors is the sum of their errors there; G, the GP's cross-validated
      ``gp_mse``, stands for the GP's. Not a strict bound but a conservative estimate: the GP's
      error over the box is likely above G (the same corners), so D − G leans to the GP, the
      simpler model, which the peers use alone.

    The result may be negative (the mean counted worse than a member at the samples); a
    disagreement that is not a number (a network's prediction was not) keeps the GP alone. Heatsink,
    32 solves (its 64 test solves reach closer to the box's edges than the training samples):
    a sensor code's A was 1.6× E and the stacking took the ensemble alone (seed 1), or with the
    bound A ≤ 0.8 E a blend with GP share 0.7 (seed 0, the project's own L-BFGS); over the box
    the ensemble differed from the GP by 7× the GP's CV error, and on the test solves those
    choices were 50× and 17× worse than the GP alone.
    """
    mse = np.mean((ens - z) ** 2, axis=0)
    own = mse - np.minimum(np.nan_to_num(amb), (1 - 1 / max(members, 1)) * mse)
    huge = np.finfo(np.float64).max / 8  # finite: stacking_weight's sums and ratios stay numbers
    return mse - np.maximum(own, np.where(np.isnan(disagreement), huge, disagreement) - gp_mse)


def blend_monitor(
    gp_cv: np.ndarray, z: np.ndarray, mask: np.ndarray, tol: float
) -> Callable[[np.ndarray, int], bool]:
    """Whether the ensemble's training goes on (`train_ensemble`'s monitor): while the blend
    with the GPs, cross-validated, still improves. The score is the mean over codes of the
    blend's CV RMSE over the GP's (stacking weights as in `stacking_weight`, without the
    ambiguity term: the members' mean is not formed here); training stops at the first check
    that lowers it by less than a fraction ``tol``. ``gp_cv`` and ``z`` (n_mask, k) are the
    GPs' out-of-fold prediction and the codes at the held-out samples ``mask`` (n,)."""
    gp_rmse = np.sqrt(np.mean((gp_cv - z) ** 2, axis=0))
    gp_rmse = np.where(gp_rmse > 0, gp_rmse, 1.0)
    last = [np.inf]

    def keep_going(oof: np.ndarray, iterations: int) -> bool:
        ens = oof[mask]
        w = stacking_weight(ens, gp_cv, z)
        blend = w * gp_cv + (1 - w) * ens
        score = float(np.mean(np.sqrt(np.mean((blend - z) ** 2, axis=0)) / gp_rmse))
        better = score < last[0] * (1 - tol)
        last[0] = score
        return better

    return keep_going
