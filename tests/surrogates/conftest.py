"""Shared data of the surrogate tests: the analytic fin sweep, split, fitted models per kind."""

from __future__ import annotations

import pytest
from surrogate_kinds import config, only

from twinkit.surrogates import TrainingData, fit_surrogate, from_dataset, split
from twinkit.surrogates.synthetic import fin_dataset


@pytest.fixture(scope="session")
def fin_split() -> tuple[TrainingData, TrainingData]:
    """64 Sobol training samples (2 failed) and 64 Latin-hypercube test samples of the fin plate."""
    ds = fin_dataset(n_train=64, n_test=64, nx=8, seed=0, n_failed=2, vector_field=True)
    train, test = split(ds, seed=0)
    return from_dataset(train), from_dataset(test)


_trained: dict[str, object] = {}


@pytest.fixture(scope="session")
def trained(fin_split):
    """Fit (once per session) the surrogate of a model kind on the fin data."""

    def get(kind: str):
        if kind not in _trained:
            _trained[kind] = fit_surrogate(only(fin_split[0], kind), config(kind))
        return _trained[kind]

    return get
