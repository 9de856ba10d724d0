"""Design of experiments over a case's parameter ranges: scrambled Sobol or Latin hypercube.

Only parameters with a `range` vary; the others stay at their nominal value. Points are drawn in the
unit cube by `scipy.stats.qmc` and mapped to SI values, uniformly, or log-uniformly where the case
says `scale: log`. The training points and the held-out test points come from two separate
random streams of the case seed, so the test set does not change with the number of training
samples or the method.

With ``design_samples`` k > 0 the last k training points lie on the *design slice*: the
parameters with role design spread by `method` (their own stream of the seed), every other
parameter at its nominal value, where `twinkit optimize` holds them. The rest of the box is
sampled as before. A surrogate trained on the whole box alone can be far off on the slice when
it lies at the box's edge: the bracket's base at 20 °C, where the thermal deflection that
dominates the sweep vanishes (docs/sweeps.md, "The design slice").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from twinkit.case import Case, CaseError, LoadedCase

METHODS = ("sobol", "lhs")
# samples in one sweep (training or test): a million FE solves is far beyond any sweep, and the
# design of 1e11 asked for 1.5 TB (MemoryError)
MAX_SAMPLES = 1_000_000
_TRAIN_STREAM, _TEST_STREAM, _SLICE_STREAM = 0, 1, 2


@dataclass(frozen=True)
class Design:
    """The sample points of a sweep: `points[i]` are the SI values of `inputs` for sample i.

    Samples `0 .. n_train-1` are the training set, the last `n_test` the held-out test set.
    """

    inputs: tuple[str, ...]
    points: np.ndarray  # (n_train + n_test, len(inputs)) float64, SI
    n_train: int
    n_test: int
    method: str
    seed: int
    design_samples: int = 0  # the last of the training points: on the design slice

    @property
    def doe(self) -> str:
        return doe_name(self.method, self.design_samples)

    @property
    def split(self) -> list[str]:
        return ["train"] * self.n_train + ["test"] * self.n_test

    def values(self, case: Case, i: int) -> dict[str, float]:
        """All parameter values (SI) of sample i: varied inputs from the design, others nominal."""
        return case.parameter_values() | dict(
            zip(self.inputs, map(float, self.points[i]), strict=True)
        )


def doe_name(method: str, design_samples: int) -> str:
    """A design's name in `sweep.json` and the dataset: e.g. "sobol" or "sobol+8 design"."""
    return method + (f"+{design_samples} design" if design_samples else "")


def varied_parameters(loaded: LoadedCase) -> tuple[str, ...]:
    """Names of the parameters with a range, in case-file order; CaseError if there are none."""
    names = tuple(n for n, p in loaded.case.parameters.items() if p.range is not None)
    if not names:
        raise CaseError(
            f"{loaded.path}: parameters: no parameter has a range, so there is nothing to sweep; "
            "give the parameters to vary a range, e.g. `power: {value: 40 kW/m^2, "
            "range: [10 kW/m^2, 80 kW/m^2], role: operating}`"
        )
    return names


def unit_points(n: int, d: int, method: str, rng: np.random.Generator) -> np.ndarray:
    """`n` points in [0, 1)^d: scrambled Sobol or Latin hypercube."""
    from scipy.stats import qmc

    if method == "sobol":
        sampler: qmc.QMCEngine = qmc.Sobol(d, scramble=True, seed=rng)
        with warnings.catch_warnings():  # balance is best at powers of 2, still fine otherwise
            warnings.filterwarnings("ignore", message=".*balance properties.*")
            return sampler.random(n)
    if method == "lhs":
        return qmc.LatinHypercube(d, seed=rng).random(n)
    raise CaseError(f"--method: '{method}' is not a design method; expected one of {METHODS}")


def to_si(u: np.ndarray, case: Case, inputs: tuple[str, ...]) -> np.ndarray:
    """Map unit-cube points to the parameters' SI ranges (log-uniform for `scale: log`)."""
    x = np.empty_like(u)
    for j, name in enumerate(inputs):
        p = case.parameters[name]
        lo, hi = p.bounds
        if p.scale == "log":
            x[:, j] = np.exp(np.log(lo) + u[:, j] * (np.log(hi) - np.log(lo)))
        else:
            x[:, j] = lo + u[:, j] * (hi - lo)
        x[:, j] = np.clip(x[:, j], lo, hi)  # exp/log round-off must not leave the box
    return x


def make_design(
    loaded: LoadedCase, n: int, method: str = "sobol", n_test: int = 0, design_samples: int = 0
) -> Design:
    """The design of a sweep of `loaded`: `n` training points by `method`, `n_test` held out;
    the last `design_samples` of the `n` on the design slice (module docstring).

    The test points are a Latin hypercube from their own stream of the case seed.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= MAX_SAMPLES:
        raise CaseError(
            f"-n/--samples: expected a whole number of samples from 1 to {MAX_SAMPLES:,}, got {n!r}"
        )
    if (
        isinstance(n_test, bool)
        or not isinstance(n_test, int | np.integer)
        or not 0 <= n_test <= MAX_SAMPLES
    ):
        raise CaseError(
            f"--test: expected a whole number of test samples from 0 to {MAX_SAMPLES:,}, "
            f"got {n_test!r}"
        )
    if method not in METHODS:
        raise CaseError(f"--method: '{method}' is not a design method; expected one of {METHODS}")
    inputs = varied_parameters(loaded)
    k = _check_design_samples(loaded, inputs, n, design_samples)
    seed = int(loaded.case.seed)
    streams = np.random.SeedSequence(seed).spawn(3)
    train = unit_points(n - k, len(inputs), method, np.random.default_rng(streams[_TRAIN_STREAM]))
    parts = [train]
    if n_test:
        parts.append(
            unit_points(n_test, len(inputs), "lhs", np.random.default_rng(streams[_TEST_STREAM]))
        )
    points = to_si(np.vstack(parts), loaded.case, inputs)
    if k:
        roles = [loaded.case.parameters[name].role for name in inputs]
        design = [j for j, role in enumerate(roles) if role == "design"]
        nominal = loaded.case.parameter_values()
        on_slice = np.tile([nominal[name] for name in inputs], (k, 1))
        u = unit_points(k, len(design), method, np.random.default_rng(streams[_SLICE_STREAM]))
        on_slice[:, design] = to_si(u, loaded.case, tuple(inputs[j] for j in design))
        points = np.vstack([points[: n - k], on_slice, points[n - k :]])
    return Design(inputs, points, int(n), int(n_test), method, seed, k)


def _check_design_samples(loaded: LoadedCase, inputs: tuple[str, ...], n: int, k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 0 <= k <= n:
        raise CaseError(
            f"design samples: expected a whole number from 0 to the {n} training samples, got {k!r}"
        )
    if k and not any(loaded.case.parameters[name].role == "design" for name in inputs):
        raise CaseError(
            f"{loaded.path}: design samples ({k}) need parameters with role design and a range; "
            "this case has none (set run.design_samples: 0)"
        )
    return int(k)
