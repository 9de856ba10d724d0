"""Optuna samplers for `twinkit optimize`, and how many trials each asks for at a time.

On the surrogate a trial costs microseconds, so the sampler is the cost: Optuna's TPE refits its
Parzen estimators on every finished trial at every `ask` (O(n) Python per trial, O(n²) per
study). A local study therefore asks for trials in batches and tells their results together;
`BatchTPESampler` fits once per batch and draws each trial of the batch from that fit, which is
what `TPESampler(constant_liar=False)` computes for trials asked before the batch is told (a
test checks that both give the same trials). Scoring each trial's candidates against all
trials (numpy, O(n)) remains. CMA-ES and NSGA-II take one generation per batch.
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from optuna.samplers._tpe.sampler import _split_trials, default_gamma
from optuna.samplers._tpe.sampler import default_gamma_multiobjective as default_gamma_mo
from optuna.trial import TrialState


def batch_size(name: str, n_params: int, shared: bool, done: int) -> int:
    """Trials to ask for before any is told, with `done` trials finished: 1 on a shared storage
    (each worker sees the others' trials at once); a TPE batch growing with the study (a fit
    costs O(done), so a batch of done/20 keeps the fits' cost per trial constant, while small
    studies stay sequential); one CMA-ES or NSGA-II generation."""
    if shared:
        return 1
    if name == "cmaes":
        return cmaes_popsize(n_params)
    if name == "nsga2":
        return NSGA2_POPULATION
    return min(max(done // 20, 1), TPE_BATCH)


TPE_BATCH = 20  # the largest: 1 % of a 2000-trial study
NSGA2_POPULATION = 50  # Optuna's default


def cmaes_popsize(n_params: int) -> int:
    """The cmaes package's default population, 4 + ⌊3 ln d⌋."""
    return 4 + math.floor(3 * math.log(max(n_params, 1)))


def make_sampler(name: str, seed: int, n_params: int, shared: bool) -> Any:
    """Sampler `name` ('tpe', 'nsga2', 'cmaes'); `shared`: several workers on one storage."""
    if name == "tpe":
        if shared:  # the constant liar keeps workers from sampling the same point
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
        return BatchTPESampler(seed=seed, multivariate=True, constant_liar=False)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=NSGA2_POPULATION)
    from twinkit.extras import require

    require("cmaes", "optimization.sampler: cmaes")
    return optuna.samplers.CmaEsSampler(
        seed=seed, popsize=cmaes_popsize(n_params), warn_independent_sampling=False
    )


class BatchTPESampler(optuna.samplers.TPESampler):
    """TPE whose Parzen estimators are fitted once per set of finished trials (constant_liar
    must be off: a batch's trials are drawn without knowledge of each other)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._fit: tuple[Any, Any, Any] | None = None

    def _sample(self, study: Any, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
        assert not self._constant_liar
        states = (TrialState.COMPLETE, TrialState.PRUNED)
        trials = study._get_trials(deepcopy=False, states=states, use_cache=True)
        key = (len(trials), tuple(search_space.items()))
        if self._fit is None or self._fit[0] != key:
            if self._gamma is None:
                self._gamma = default_gamma if len(study.directions) <= 1 else default_gamma_mo
            below, above = _split_trials(study, trials, self._gamma(len(trials)))
            self._fit = (
                key,
                self._build_parzen_estimator(study, search_space, below, handle_below=True),
                self._build_parzen_estimator(study, search_space, above, handle_below=False),
            )
        _, mpe_below, mpe_above = self._fit
        samples = mpe_below.sample(self._rng.rng, self._n_ei_candidates)
        ret = self._compare(samples, self._compute_acquisition_func(samples, mpe_below, mpe_above))
        for name, dist in search_space.items():
            ret[name] = dist.to_external_repr(ret[name])
        return ret
