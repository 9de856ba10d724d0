"""Classical baselines on the same data: RBF interpolation and Gaussian processes.

* ``rbf``: scipy ``RBFInterpolator`` (thin-plate spline + linear polynomial) for the scalar outputs,
  and POD + RBF on the POD coefficients for fields (same energy criterion as the surrogate).
* ``gp``: one scikit-learn ``GaussianProcessRegressor`` per scalar output (constant × anisotropic
  RBF kernel + white noise, maximum likelihood with restarts); it also gives a std.

Both see the inputs scaled to [-1, 1] exactly as the surrogate does. BLAS runs on one thread
while they fit: these matrices are small, and on a busy machine threads waiting for each other cost
several times the work itself.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.interpolate import RBFInterpolator

from twinkit.surrogates.data import TrainingData
from twinkit.surrogates.model import Prediction
from twinkit.surrogates.normalise import InputScaler
from twinkit.surrogates.pod import LinearCodec


def _scaler(data: TrainingData) -> InputScaler:
    return InputScaler.from_bounds(
        [data.bounds[n] for n in data.inputs], [data.log_inputs[n] for n in data.inputs]
    )


class RBFBaseline:
    """RBF interpolation of the scalar outputs and of each field's POD coefficients."""

    name = "rbf"

    def __init__(self, data: TrainingData, energy: float = 0.99999):
        self.scaler = _scaler(data)
        self.outputs = data.outputs
        xs = self.scaler.transform(data.x)
        y = data.scalars
        self.scalar = RBFInterpolator(xs, y) if y.shape[1] else None
        self.fields = {}
        for name, f in data.fields.items():
            flat = f.reshape(data.n, -1)
            codec = LinearCodec.pod(flat, energy, per_column=False)
            self.fields[name] = (codec, RBFInterpolator(xs, codec.encode(flat)), f.shape[1:])

    def predict(self, x: np.ndarray) -> Prediction:
        xs = self.scaler.transform(x)
        mean: dict[str, np.ndarray] = {}
        if self.scalar is not None:
            y = self.scalar(xs)
            mean |= {n: y[:, j] for j, n in enumerate(self.outputs)}
        for name, (codec, rbf, shape) in self.fields.items():
            mean[name] = codec.decode(rbf(xs)).reshape(len(x), *shape)
        return Prediction(mean, {})


class GPBaseline:
    """A Gaussian process per scalar output (fields are left to POD + RBF)."""

    name = "gp"

    def __init__(self, data: TrainingData, seed: int = 0, restarts: int = 2):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
        from threadpoolctl import threadpool_limits

        self.scaler = _scaler(data)
        self.outputs = data.outputs
        xs = self.scaler.transform(data.x)
        d = xs.shape[1]
        self.gps = []
        for y in data.scalars.T:
            kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(d), (1e-2, 1e2)) + WhiteKernel(
                1e-6, (1e-12, 1e-1)
            )
            gp = GaussianProcessRegressor(
                kernel, normalize_y=True, n_restarts_optimizer=restarts, random_state=seed
            )
            with warnings.catch_warnings(), threadpool_limits(1):
                warnings.simplefilter("ignore", ConvergenceWarning)
                self.gps.append(gp.fit(xs, y))

    def predict(self, x: np.ndarray) -> Prediction:
        xs = self.scaler.transform(x)
        mean, std = {}, {}
        for name, gp in zip(self.outputs, self.gps, strict=True):
            mean[name], std[name] = gp.predict(xs, return_std=True)
        return Prediction(mean, std)


def fit_baselines(data: TrainingData, seed: int = 0, energy: float = 0.99999) -> list:
    """Every baseline fitted on ``data`` (the GP only when there are scalar outputs)."""
    out: list[RBFBaseline | GPBaseline] = [RBFBaseline(data, energy)]
    if data.outputs:
        out.append(GPBaseline(data, seed))
    return out
