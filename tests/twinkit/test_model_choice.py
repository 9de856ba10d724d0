"""The default model per output on a real case's FE sweep: never much worse than the GP alone,
nor its field than the better kernel alone.

The heatsink's temperatures go as power / h over a 20× range of h: smooth, and steep at low h.
Its GP's error falls fast with the training size, so with a fifth of the samples held out (the
ensemble's folds) it looked only 2-3× better than the ensemble and the stacking blended them
(a GP share of 0.63 on the sensors' first code); on 64 new solves that blend was 19× worse than
the GP alone (1.32 K against 0.068 K). The GPs' leave-one-out errors judge them at the full size.
The test solves also reach closer to the box's edges than the training samples, where the networks
are far worse than at the samples; the members' disagreement there with the GP bounds what the
ensemble is credited with (`ensemble_correction`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import twinkit as tk
from twinkit.surrogates import FitConfig, TrainConfig, fit_surrogate
from twinkit.surrogates.data import from_dataset, split


@pytest.mark.slow
def test_heatsink_default_is_within_1_5x_of_the_gp_alone_and_of_the_better_kernel(tmp_path):
    case = tk.load_case(tk.example("heatsink", tmp_path / "hs"))
    ds = case.sample(32, test=64, out=tmp_path / "data", progress=False).dataset
    train, test = (from_dataset(d) for d in split(ds, 0))
    assert (train.n, test.n) == (32, 64)
    # seed 1 too: there the ensemble's members disagreed over the box more than one erred at the
    # held-out samples, and the fin-tip sensor took the ensemble alone, 50x worse than its GP
    configs = {"auto": (0, {}), "auto, seed 1": (1, {}), "gp": (0, {"model": "gp"}),
               "matern52": (0, {"model": "gp", "kernels": ("matern52",)}),
               "rbf": (0, {"model": "gp", "kernels": ("rbf",)})}  # fmt: skip
    fits = {}
    for name, (seed, kw) in configs.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sur = fit_surrogate(train, FitConfig(train=TrainConfig(seed=seed), **kw))
            fits[name] = sur.predict(test.x).mean
        if name == "auto, seed 1":  # the summary records the credit and both its bounds
            tr = sur.meta["training"]["sensors"]
            mse = np.square(tr["cv_rmse_ensemble"])
            gain = np.asarray(tr["ensemble_gain"])
            assert np.all(gain <= 0.8 * mse + 1e-15)
            assert np.all(mse - gain >= np.asarray(tr["ensemble_gp_disagreement"])
                          - np.square(tr["cv_rmse_gp"]) - 1e-15)  # fmt: skip
    for j, name in enumerate(test.outputs):
        y = test.scalars[:, j]
        gp = np.sqrt(np.mean((fits["gp"][name] - y) ** 2))
        for m in ("auto", "auto, seed 1"):
            auto = np.sqrt(np.mean((fits[m][name] - y) ** 2))
            assert auto <= 1.5 * gp + 1e-9 * np.ptp(y), (m, name, auto, gp)
    # the temperature field: within 1.5x of the better kernel alone (the equal mixture of both
    # was 7.9x the RBF's: where one kernel halves the other's CV error, it is used alone)
    y = test.fields["temperature"]
    norm = np.linalg.norm(y, axis=1)
    rel = {m: np.mean(np.linalg.norm(f["temperature"] - y, axis=1) / norm) for m, f in fits.items()}
    assert rel["auto"] <= 1.5 * min(rel["matern52"], rel["rbf"]), rel
