"""Building blocks: scaling, POD, metrics, calibration, data reading, baselines, files, export."""

from __future__ import annotations

import math
import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch

from twinkit.surrogates import from_dataset, load_surrogate
from twinkit.surrogates.baselines import GPBaseline, RBFBaseline
from twinkit.surrogates.fit import calibration_factor
from twinkit.surrogates.metrics import coverage, field_rel_l2, r2, rel_rmse
from twinkit.surrogates.normalise import InputScaler
from twinkit.surrogates.pod import LinearCodec, n_modes
from twinkit.surrogates.synthetic import fin_dataset, write_netcdf


def test_input_scaler_maps_box_to_unit_cube_log_in_log_space():
    s = InputScaler.from_bounds([(1.0, 3.0), (10.0, 1000.0)], [False, True])
    x = np.array([[1.0, 10.0], [3.0, 1000.0], [2.0, 100.0]])
    np.testing.assert_allclose(s.transform(x), [[-1, -1], [1, 1], [0, 0]], atol=1e-15)
    np.testing.assert_allclose(s.transform_torch(torch.from_numpy(x)).numpy(), s.transform(x))
    assert s.outside(np.array([[0.5, 100.0], [2.0, 100.0]])).tolist() == [
        [True, False],
        [False, False],
    ]
    with pytest.raises(ValueError, match="log-scale input needs a positive lower bound"):
        InputScaler.from_bounds([(0.0, 1.0)], [True])


def test_pod_keeps_the_rank_and_reconstructs_low_rank_data():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(40, 3)) @ rng.normal(size=(3, 200)) + 5.0  # rank 3 around a mean
    codec = LinearCodec.pod(y, 0.99999, per_column=False)
    assert codec.n_codes == 3 and codec.energy == pytest.approx(1.0)
    np.testing.assert_allclose(codec.decode(codec.encode(y)), y, atol=1e-10)
    z = torch.from_numpy(codec.encode(y))
    np.testing.assert_allclose(codec.decode_torch(z).numpy(), y, atol=1e-10)
    assert n_modes(np.array([3.0, 1.0, 0.1]), 0.89) == 1  # 9 / 10.01 ≥ 0.89
    assert n_modes(np.array([3.0, 1.0, 0.1]), 0.9) == 2
    assert n_modes(np.array([3.0, 1.0, 0.1]), 0.9995) == 3


def test_metrics_known_values():
    y = np.array([[1.0], [2.0], [3.0]])
    assert r2(y, y)[0] == 1.0 and r2(y, np.full_like(y, 2.0))[0] == 0.0
    assert rel_rmse(y, y + 0.2)[0] == pytest.approx(0.1)  # RMSE 0.2 over range 2
    assert coverage(y, y + 1.0, np.array([[0.4], [0.5], [1.0]]))[0] == pytest.approx(2 / 3)
    u = np.array([[3.0, 4.0]])
    assert field_rel_l2(u, u * 1.01)[0] == pytest.approx(0.01)


def test_calibration_factor_recovers_a_misscaled_spread():
    rng = np.random.default_rng(1)
    sigma = rng.uniform(0.5, 2.0, size=(20000, 1))
    residual = rng.normal(size=sigma.shape) * sigma
    c = calibration_factor(residual, sigma / 3.0, 0.95, np.array([1e-12]))
    assert c[0] == pytest.approx(3.0, rel=0.03)  # the ± 1.96 c σ/3 interval is ± 1.96 σ


def test_from_dataset_drops_failed_samples_and_reads_netcdf(tmp_path):
    ds = fin_dataset(n_train=16, n_test=8, nx=5, n_failed=3)
    path = tmp_path / "dataset.nc"
    write_netcdf(ds, path)
    import xarray as xr

    with xr.open_dataset(path) as back:
        data = from_dataset(back.load())
    assert data.n == 21 and data.inputs == ["power", "h", "t_amb"]
    assert data.log_inputs == {"power": False, "h": True, "t_amb": False}
    assert data.sensor_names == ["sensor_T_root", "sensor_T_mid", "sensor_T_tip", "sensor_q_tip"]
    assert data.units["sensor_q_tip"] == "W/m^2" and data.units["temperature"] == "K"
    assert data.fields["temperature"].shape == (21, 25) and data.mesh["cells"].shape == (32, 3)


def test_from_dataset_names_a_missing_attribute():
    ds = fin_dataset(n_train=16, n_test=0, nx=4)
    del ds["h"].attrs["upper"]
    with pytest.raises(ValueError, match=r"run\.nc: input 'h' has no attribute 'upper'"):
        from_dataset(ds, "run.nc")


def test_baselines_interpolate_and_gp_gives_std():
    data = from_dataset(fin_dataset(n_train=32, n_test=0, nx=5))
    rbf = RBFBaseline(data, energy=1.0).predict(data.x)  # all modes: exact at the samples
    np.testing.assert_allclose(rbf.mean["qoi_T_max"], data.qoi[:, 0], rtol=1e-8)
    np.testing.assert_allclose(rbf.mean["temperature"], data.fields["temperature"], rtol=1e-6)
    gp = GPBaseline(data, restarts=0).predict(data.x[:4])
    assert gp.std["sensor_T_tip"].shape == (4,) and np.all(gp.std["sensor_T_tip"] >= 0)


def test_kriging_codes_give_scikit_learns_mean_and_std():
    """The torch GP (fitted by `twinkit.surrogates.gp`, any of its kernels) against
    scikit-learn's own predict with the same hyperparameters."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel

    from twinkit.surrogates.kernels import KERNELS
    from twinkit.surrogates.kriging import fit_gps, kriging_codes

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (40, 3))
    z = np.column_stack([np.sin(2 * x[:, 0]) + x[:, 1] ** 2, np.exp(x[:, 2]) * x[:, 0],
                         np.abs(x[:, 0] - 0.2) + x[:, 1]])  # fmt: skip
    fit = fit_gps(x, z, np.arange(40) % 5, 5, trends=False)  # constant means, as scikit-learn's
    assert fit.cv.shape == z.shape and np.all(fit.cv_std > 0)
    codes = kriging_codes(x, fit, [1, 0, 2])
    xq = rng.uniform(-1, 1, (300, 3))
    mean, std = codes.mean_std(torch.from_numpy(xq))  # one GP at a time
    small = codes.mean_std(torch.from_numpy(xq[:10]))  # all GPs at once (a small batch)
    np.testing.assert_allclose(small[0].numpy(), mean[:10].numpy(), rtol=0, atol=1e-7)
    np.testing.assert_allclose(small[1].numpy(), std[:10].numpy(), rtol=0, atol=2e-5)
    shapes = {"rbf": lambda ls: RBF(ls), "matern52": lambda ls: Matern(ls, nu=2.5),
              "matern32": lambda ls: Matern(ls, nu=1.5)}  # fmt: skip
    for col, j in enumerate(codes.index):
        kernel = ConstantKernel(fit.amplitude[j]) * shapes[KERNELS[fit.kind[j]]](
            fit.lengthscale[j]) + WhiteKernel(fit.noise[j])  # fmt: skip
        gp = GaussianProcessRegressor(kernel, alpha=0.0, normalize_y=True, optimizer=None)
        gp.fit(x, z[:, j])
        m_ref, s_ref = gp.predict(xq, return_std=True)
        # K is ill-conditioned for smooth responses (noise down to 1e-9): both lose digits (a
        # wrong kernel formula would be off by 1e-2 of the spread or more)
        scale = z[:, j].std()
        np.testing.assert_allclose(mean[:, col].numpy(), m_ref, rtol=0, atol=1e-6 * scale)
        np.testing.assert_allclose(std[:, col].numpy(), s_ref, rtol=0, atol=2e-5 * scale)
    # the kink (|x − 0.2|) is rough: a Matérn kernel cross-validates better than the RBF
    assert KERNELS[fit.kind[2]] != "rbf"


def test_the_large_batch_std_by_l_inverse_is_the_triangular_solves():
    """Above `BATCHED_POINTS` the std is |L⁻¹k| by a product with L⁻¹ formed once, not a
    triangular solve. On smooth responses, whose K is ill-conditioned (noise at its floor), it
    stays within 1e-7 of the GP's prior std of the solve's (the traced path), at new points and
    next to the training inputs, where the std itself is smallest."""
    from twinkit.surrogates.kriging import BATCHED_POINTS, fit_gps, kriging_codes

    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (32, 3))
    z = np.column_stack([np.sin(x[:, 0]) + x[:, 1] ** 2, np.exp(0.5 * x[:, 2]) * (1 + x[:, 0]),
                         x[:, 0] * x[:, 1] + 0.3 * x[:, 2]])  # fmt: skip
    for kernels in (("matern52",), ("rbf",), ("matern32",)):
        fit = fit_gps(x, z, np.arange(32) % 5, 5, kernels, trends=False)
        codes = kriging_codes(x, fit, [0, 1, 2])
        xq = np.vstack([rng.uniform(-1, 1, (100, 3)), x + 1e-4 * rng.standard_normal(x.shape)])
        assert len(xq) > BATCHED_POINTS
        mean, std = codes.mean_std(torch.from_numpy(xq))
        m_ref, s_ref = codes._mean_std_traced(torch.from_numpy(xq))
        prior = torch.sqrt(codes.amplitude + codes.noise) * codes.y_std
        assert ((mean - m_ref).abs() / prior).max() < 1e-8
        assert ((std - s_ref).abs() / prior).max() < 1e-7
        assert (codes.noise / codes.amplitude).min() < 1e-8  # an ill-conditioned K was tested
        assert (std[100:] / prior).min() < 1e-3  # and stds near the data


def test_prediction_runs_blas_and_torch_on_one_thread(monkeypatch):
    """NumPy's GEMMs and SciPy's triangular products use two OpenBLAS libraries, whose threads
    spun against each other and made 1,000 predictions 6-11x slower on 2 cores: the large-batch
    GP path runs BLAS on one thread whatever the caller set, and so does `Surrogate.predict`
    (`one_thread_inference`), torch included; the caller's settings come back afterwards."""
    from threadpoolctl import threadpool_info, threadpool_limits

    import twinkit.surrogates.kriging as kriging
    from twinkit.surrogates.mlp import one_thread_inference

    def blas_threads() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    seen: list[set[int]] = []
    real = kriging.dtrmm

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(kriging, "dtrmm", spy)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (24, 2))
    fit = kriging.fit_gps(x, np.column_stack([np.sin(2 * x[:, 0]), x[:, 1] ** 2]),
                          np.arange(24) % 4, 4, ("matern52",), trends=False)  # fmt: skip
    codes = kriging.kriging_codes(x, fit, [0, 1])
    xq = torch.from_numpy(rng.uniform(-1, 1, (kriging.BATCHED_POINTS + 1, 2)))
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        if before == {1}:
            pytest.skip("this BLAS runs on one thread only")
        codes.mean_std(xq)
        assert blas_threads() == before
        with one_thread_inference():
            assert torch.get_num_threads() == 1 and blas_threads() == {1}
        assert blas_threads() == before
    assert len(seen) == 2 and all(s == {1} for s in seen)


def test_the_likelihood_is_minimised_from_a_long_length_scale_too():
    """From the isotropic starts 0.3 and 3 alone, this deflection-like response (a power of one
    input, weak factors of others, 32 samples) stops in a mode 6.8 nats less likely that is 5x
    less accurate on new points; the start at 10 (`STARTS`) finds the better one."""
    from twinkit.surrogates.gp import STARTS, fit_gp_columns
    from twinkit.surrogates.kriging import kriging_codes

    rng = np.random.default_rng(31)
    x, xq = rng.uniform(-1, 1, (32, 5)), rng.uniform(-1, 1, (200, 5))

    def f(x: np.ndarray) -> np.ndarray:
        return ((1.5 + x[:, 0]) ** -2.5 * (1 + 0.15 * x[:, 1]) * (1 + 0.05 * x[:, 3])
                + 0.2 * (1 + x[:, 4]) ** 2)[:, None]  # fmt: skip

    err = {}
    for starts in (STARTS, (0.3, 3.0)):
        fit = fit_gp_columns(x, f(x), np.arange(32) % 5, 5, ("matern52",), starts=starts)
        mean, _ = kriging_codes(x, fit, [0]).mean_std(torch.from_numpy(xq))
        err[starts] = np.sqrt(np.mean((mean.numpy() - f(xq)) ** 2))
    assert err[STARTS] < 0.4 * err[(0.3, 3.0)]


def test_a_polynomial_response_gets_a_trend_under_its_gp(tmp_path, monkeypatch):
    """A linear and a quadratic response get a polynomial trend under their GP (predicted to
    round-off, and with error bars that shrink with the error); a sine keeps its constant-mean
    GP. Every prediction path adds the trend: one GP at a time, all at once, with gradients,
    and after a save and load."""
    from twinkit.surrogates.kriging import KrigingCodes, fit_gps, kriging_codes

    rng = np.random.default_rng(0)
    x, xq = rng.uniform(-1, 1, (32, 5)), rng.uniform(-1, 1, (300, 5))

    def f(x: np.ndarray) -> np.ndarray:
        return np.column_stack([20 + 50 * x[:, 4], 3 * x[:, 0] - x[:, 1] + x[:, 2] * x[:, 0],
                                np.sin(3 * x[:, 0]) + x[:, 1] ** 2])  # fmt: skip

    fold = np.arange(32) % 5
    rmse = {}
    for trends in (False, True):
        fit = fit_gps(x, f(x), fold, 5, ("matern52",), trends=trends)
        codes = kriging_codes(x, fit, [0, 1, 2])
        mean, std = codes.mean_std(torch.from_numpy(xq))
        rmse[trends] = np.sqrt(np.mean((mean.numpy() - f(xq)) ** 2, axis=0))
    assert fit.trend is not None and fit.trend[:, :2].any(0).all() and not fit.trend[:, 2].any()
    assert rmse[True][0] < 1e-6 * rmse[False][0] and rmse[True][1] < 1e-2 * rmse[False][1]
    assert rmse[True][2] == rmse[False][2]  # untouched
    assert np.all(std.numpy()[:, :2].mean(0) < 1e-2 * rmse[False][:2])
    xt = torch.from_numpy(xq[:10]).requires_grad_()
    for m, _ in (codes.mean_std(xt.detach()), codes._mean_std_traced(xt)):
        np.testing.assert_allclose(m.detach().numpy(), mean[:10].numpy(), rtol=0, atol=1e-7)
    torch.save(codes.state(), tmp_path / "k.pt")
    again = KrigingCodes.from_state(torch.load(tmp_path / "k.pt", weights_only=True))
    np.testing.assert_array_equal(again.mean_std(torch.from_numpy(xq))[0].numpy(), mean.numpy())
    # the fit's CV, trends and all, from its own record of them (`refit_cv`); leave-one-out
    # residuals of the trend columns are round-off, the sine's of the size of its fold CV's
    from twinkit.surrogates.gp import refit_cv

    blocks = [np.flatnonzero(fold == b) for b in range(5)]
    cv, cv_std = refit_cv(x, f(x), fit, blocks)
    np.testing.assert_allclose(cv, fit.cv, rtol=1e-9, atol=1e-9 * np.abs(fit.cv).max())
    # the trend columns' stds are round-off (1e-10): compared to the largest, as `cv` above
    np.testing.assert_allclose(cv_std, fit.cv_std, rtol=1e-6, atol=1e-9 * fit.cv_std.max())
    loo, loo_std = refit_cv(x, f(x), fit, [np.array([i]) for i in range(32)])
    r_loo, r_fold = (np.sqrt(np.mean((c - f(x)) ** 2, axis=0)) for c in (loo, fit.cv))
    assert r_loo[0] < 1e-6 * rmse[False][0] and 0.3 < r_loo[2] / r_fold[2] < 1.0
    assert np.all(loo_std > 0)
    some = refit_cv(x, f(x), fit, [np.array([i]) for i in range(32)], columns=[2])
    np.testing.assert_allclose(some[0][:, 2], loo[:, 2], rtol=1e-9)  # each column on its own
    assert not some[1][:, :2].any()  # the others not predicted
    monkeypatch.setattr("twinkit.surrogates.gp.BATCH_ENTRIES", 1.0)  # one block per batch
    alone = refit_cv(x, f(x), fit, [np.array([i]) for i in range(32)])
    np.testing.assert_allclose(alone[0], loo, rtol=1e-9, atol=1e-9 * np.abs(loo).max())
    np.testing.assert_allclose(alone[1], loo_std, rtol=1e-6, atol=1e-9 * loo_std.max())


def test_a_trend_kept_below_the_candidates_degree_has_its_own_coefficients():
    """Where a quadratic trend was a candidate and only a linear one was kept, the fit kept the
    quadratic's 21 rows of coefficients with the linear choice's 6 features, and refitting its
    CV (leave-one-out, as a fit below 64 samples does) failed: `fit_surrogate` on 2 of the 4
    32-solve blocks of a bracket sweep."""
    from scipy.stats import qmc

    from twinkit.surrogates.gp import refit_cv
    from twinkit.surrogates.kriging import fit_gps
    from twinkit.surrogates.training import folds
    from twinkit.surrogates.trend import choose, exponents

    x = qmc.Sobol(5, seed=0).random(32) * 2 - 1
    z = np.column_stack([1 + x @ np.array([0.5, -0.3, 0.2, 0.1, 0.4]),
                         x[:, 0] ** 2 + 0.3 * np.abs(x[:, 1])])  # fmt: skip
    assert choose(x, z).degree.tolist() == [1, 2]  # both are candidates
    fit = fit_gps(x, z, folds(32, 5, 0), 5, ("matern52", "rbf"))
    assert fit.trend_choice is not None and fit.trend_choice.degree.tolist() == [1, 0]
    assert fit.trend is not None and fit.trend.shape == (len(exponents(5, 1)), 2)
    loo, _ = refit_cv(x, z, fit, [np.array([i]) for i in range(32)])
    assert np.abs(loo[:, 0] - z[:, 0]).max() < 1e-6 * z[:, 0].std()


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_the_likelihoods_gradient_in_closed_form_is_autograds(kind):
    """`_nll_grad`'s loss and gradient against autograd through the Cholesky factor of
    `_gram`, for every kernel, on shared inputs and on each GP's own (refit_cv's), with length
    scales from 0.05 to 50 and noises from 1e-8 to 0.05."""
    from twinkit.surrogates.gp import _bounded, _cholesky, _gram, _nll_grad

    rng = np.random.default_rng(kind)
    b, n, d = 6, 20, 3
    t = torch.from_numpy(rng.uniform(-3, 3, (b, d + 2)))
    y = torch.from_numpy(rng.standard_normal((b, n)))
    for x in (torch.from_numpy(rng.uniform(-1, 1, (n, d))),
              torch.from_numpy(rng.uniform(-1, 1, (b, n, d)))):  # fmt: skip
        tt = t.clone().requires_grad_()
        ls = _bounded(tt[:, :d], "lengthscale")
        c, w = _bounded(tt[:, d], "amplitude"), _bounded(tt[:, d + 1], "noise")
        chol = _cholesky(_gram(x, ls, c, w, kind))
        alpha = torch.cholesky_solve(y[:, :, None], chol)[:, :, 0]
        want = 0.5 * (y * alpha).sum(-1) + torch.log(chol.diagonal(0, 1, 2)).sum(-1)
        (g_want,) = torch.autograd.grad(want.sum(), tt)
        loss, grad = _nll_grad(x, y, t, kind)
        scale = want.detach().abs().max()
        torch.testing.assert_close(loss - 0.5 * n * math.log(2 * math.pi), want.detach(),
                                   rtol=0, atol=1e-9 * scale)  # fmt: skip
        err = (grad - g_want).abs().amax(1) / g_want.abs().amax(1)
        assert float(err.max()) < 1e-7


def test_batched_lbfgs_solves_each_problem_as_if_alone():
    """Rosenbrock problems scaled by 1e-4 to 1e4 in one batch: each reaches its minimum, and
    the same as minimised alone (one shared L-BFGS run left the small ones where they were)."""
    from twinkit.surrogates.lbfgs import minimise

    scale = torch.tensor([1e-4, 1.0, 1e4], dtype=torch.float64)

    def fun(t: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return scale[rows] * ((1 - t[:, 0]) ** 2 + 100 * (t[:, 1] - t[:, 0] ** 2) ** 2)

    start = torch.tensor([[-1.2, 1.0]] * 3, dtype=torch.float64)
    together = minimise(fun, start, 500, tol=1e-12)
    torch.testing.assert_close(together, torch.ones_like(together), rtol=0, atol=1e-4)
    for b in range(3):
        alone = minimise(lambda t, rows, b=b: fun(t, rows + b), start[b : b + 1], 500, tol=1e-12)
        torch.testing.assert_close(alone[0], together[b], rtol=0, atol=1e-12)


def test_batched_lbfgs_leaves_a_problem_without_a_finite_loss_behind():
    """A problem whose loss is NaN from the start, and one that turns NaN beyond a wall, stop
    where they are (the first) or stay on the finite side (the second); the others still reach
    their minima."""
    from twinkit.surrogates.lbfgs import minimise

    def fun(t: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        f = ((t - 2.0) ** 2).sum(1)
        f = torch.where(rows == 1, torch.full_like(f, torch.nan), f)  # never finite
        return torch.where((rows == 2) & (t[:, 0] > 1.5), torch.full_like(f, torch.nan), f)

    start = torch.zeros((4, 2), dtype=torch.float64)
    out = minimise(fun, start, 100, tol=1e-12)
    torch.testing.assert_close(out[[0, 3]], torch.full((2, 2), 2.0, dtype=torch.float64))
    assert torch.equal(out[1], start[1]) and float(out[2, 0]) <= 1.5


def test_a_columns_gp_does_not_depend_on_the_other_columns():
    """Each column's GP is fitted as if alone, whatever else is in the batch (to the optimiser's
    tolerance: a batched product rounds differently; one shared L-BFGS run for all columns
    gave the bracket's deflection length scales 2x off its fit alone). The out-of-fold predictions
    agree to 1e-5 of the column's std, the optimiser's relative tolerance; a length scale to
    1e-3: the fit stops after 60 L-BFGS iterations, and along a direction the column hardly
    varies in (ℓ ≈ 6 on [-1, 1]) where it stops moves with the batch's round-off (the batched
    likelihood's products round differently; the optimiser's bookkeeping is per row, see
    `test_batched_lbfgs_solves_each_problem_as_if_alone`). Measured for the third column, torch
    2.14.1 and numpy 2.5.5: ℓ 1.1e-4 apart and predictions 3.2e-7 of the std with the
    bookkeeping in torch, 7.2e-4 and 2.0e-6 with it in NumPy."""
    from twinkit.surrogates.gp import fit_gp_columns

    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (30, 3))
    z = np.column_stack([np.sin(2 * x[:, 0]) + x[:, 1], 1e-3 * x[:, 2] ** 3, np.exp(x[:, 1])])
    fold = np.arange(30) % 5
    both = fit_gp_columns(x, z, fold, 5, ("matern52",))
    for j in range(3):
        alone = fit_gp_columns(x, z[:, [j]], fold, 5, ("matern52",))
        np.testing.assert_allclose(alone.lengthscale[0], both.lengthscale[j], rtol=1e-3)
        np.testing.assert_allclose(alone.cv[:, 0], both.cv[:, j], rtol=0, atol=1e-5 * z[:, j].std())


@pytest.mark.parametrize("numpy_exp", [True, False])
def test_the_prediction_kernel_is_the_kernel_for_every_kind(monkeypatch, numpy_exp):
    """`mean_std`'s cross-kernel (one GEMM, c in the exponent) against c κ(r²) as fitted, near
    and far (r² beyond the cap) from the training inputs, and with ℓ per dimension; in its own
    arrays and in work arrays reused from the previous kernel; with NumPy's ``exp`` and with
    torch's (`exp_` takes the faster on the CPU it runs on)."""
    from twinkit.surrogates import kernels
    from twinkit.surrogates.kernels import (
        cross_kernel,
        kernel_of_r2,
        point_side,
        scaled_r2,
        training_side,
    )

    monkeypatch.setattr(kernels, "_NUMPY_EXP", numpy_exp)

    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.uniform(-1, 1, (30, 4)))
    a = torch.from_numpy(np.vstack([rng.uniform(-1, 1, (50, 4)), x[:5].numpy() + 1e-9,
                                    rng.uniform(-1, 1, (5, 4)) * 400]))  # fmt: skip
    inv = torch.tensor([3.0, 0.5, 10.0, 1.0], dtype=torch.float64)
    work = tuple(np.full((len(a), len(x)), np.nan) for _ in range(3))
    for kind in (0, 1, 2):
        for c in (0.02, 1.0, 50.0):
            want = c * kernel_of_r2(scaled_r2(a * inv, x * inv), kind)
            side = training_side(x, inv, kind, c).numpy()
            for out in (None, work):
                got = cross_kernel(point_side(a.numpy()), side, kind, math.log(c), out)
                np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-13 * c)


def test_exp_in_place_is_numpys_exp_either_way(monkeypatch):
    """`exp_` overwrites its array with e^x, to within two units in the last place of NumPy's,
    whichever library computes it; over the range the kernels pass it (down to e^-800: 0)."""
    from twinkit.surrogates import kernels

    x = np.concatenate([np.linspace(-800.0, 5.0, 100_001), [0.0, -1e-300, 1e-12]])
    want = np.exp(x)
    for numpy_exp in (True, False):
        monkeypatch.setattr(kernels, "_NUMPY_EXP", numpy_exp)
        y = x.copy()
        assert kernels.exp_(y) is y
        np.testing.assert_allclose(y, want, rtol=4.5e-16, atol=0)
        assert y[-3] == 1.0 and np.all(y[:100] == want[:100])


def test_stacking_weight_blends_by_cross_validated_error():
    from twinkit.surrogates.stacking import stacking_weight

    rng = np.random.default_rng(0)
    z = rng.standard_normal((4000, 4))
    e1, e2 = rng.standard_normal((2, 4000, 4)) * 0.1
    ens = z + e1 * [1.0, 1.0, 0.0, 1.0]
    gp = z + e2 * [0.0, 1.0, 1.0, 2.0]
    w = stacking_weight(ens, gp, z)
    assert w[0] == 1.0 and w[2] == 0.0  # the exact one alone
    # independent errors of variance a, b: w = a / (a + b)
    np.testing.assert_allclose(w[1:4:2], [0.5, 0.2], atol=0.03)
    assert stacking_weight(z, z, z)[0] == 0.0  # identical predictions: the ensemble
    # a member = the ensemble mean + its own deviation (variance 0.01, the ambiguity): with the
    # ambiguity given, the weight is the one for the mean's errors, not the member's
    member = ens + 0.1 * rng.standard_normal((4000, 4))
    w_mean = stacking_weight(ens, gp, z)
    w_member = stacking_weight(member, gp, z)
    w_corrected = stacking_weight(member, gp, z, np.full(4, 0.01))
    np.testing.assert_allclose(w_corrected, w_mean, atol=0.03)
    assert w_member[1] > w_mean[1] + 0.1  # uncorrected, the GP gets too much weight


def test_one_se_rule_keeps_a_blend_only_where_its_gain_is_more_than_noise():
    from twinkit.surrogates.stacking import one_se_rule, stacking_weight

    rng = np.random.default_rng(1)
    n = 32
    z = rng.standard_normal((n, 3))
    gp = z + 0.1 * rng.standard_normal((n, 3))
    # code 0: an ensemble 5x better (the blend's gain is many standard errors); code 1: as good
    # as the GP, independent errors (a blend halves the error variance: kept at n = 32);
    # code 2: slightly better on these 32 samples only (a few % of the GP's error, by chance)
    ens = np.column_stack([z[:, 0] + 0.02 * rng.standard_normal(n),
                           z[:, 1] + 0.1 * rng.standard_normal(n),
                           gp[:, 2] + 0.02 * rng.standard_normal(n)])  # fmt: skip
    w = stacking_weight(ens, gp, z, snap=0.0)
    kept = one_se_rule(ens, gp, z, w, 0.0)
    assert kept[0] == w[0] < 0.1 and kept[1] == w[1] < 0.7
    assert w[2] < 1.0 and kept[2] == 1.0  # not significant: the GP alone
    # the members' ambiguity lowers the blend's expected error: a gain that needs it to show
    assert one_se_rule(ens, gp, z, np.full(3, 0.5), 0.0)[2] == 1.0
    assert one_se_rule(ens, gp, z, np.full(3, 0.5), 0.01)[2] == 0.5


def test_the_ensembles_gain_is_bounded_by_independent_members_and_the_box():
    from twinkit.surrogates.stacking import ensemble_correction, stacking_weight

    rng = np.random.default_rng(2)
    z = rng.standard_normal((32, 2))
    gp = z + 0.001 * rng.standard_normal((32, 2))
    member = z + 0.005 * rng.standard_normal((32, 2))
    mse, gp_mse = (np.mean((p - z) ** 2, axis=0) for p in (member, gp))
    # the members disagree in the box more than one errs at the held-out samples (heatsink,
    # seed 1: 1.6x its mean squared error): taken as is, the ensemble's error is 0, w near 0
    amb = 1.6 * mse
    assert np.all(stacking_weight(member, gp, z, amb) < 0.2)
    # bounded: the members' mean is at best 1/5 of a member's error variance, 0.005²/5 vs 0.001²
    gain = ensemble_correction(amb, member, z, 5, np.zeros(2), gp_mse)
    np.testing.assert_allclose(gain, 0.8 * mse)
    assert np.all(stacking_weight(member, gp, z, gain) > 0.8)
    small = np.full(2, 1e-8)  # a plausible ambiguity is kept as it is
    np.testing.assert_allclose(ensemble_correction(small, member, z, 5, np.zeros(2), gp_mse), small)
    # over the box the ensemble's mean differs from the GP's by 0.02 (the GP's CV error 0.001):
    # the ensemble's own error there is about 0.02, whatever its spread, and the GP is kept alone
    far = np.full(2, 0.02**2)
    gain = ensemble_correction(small, member, z, 5, far, gp_mse)
    np.testing.assert_allclose(mse - gain, far - gp_mse)
    assert np.all(stacking_weight(member, gp, z, gain) == 1.0)
    # a network that predicts nan somewhere in the box: the GP alone
    gain = ensemble_correction(small, member, z, 5, np.array([np.nan, 0.0]), gp_mse)
    assert stacking_weight(member, gp, z, gain)[0] == 1.0 and np.isfinite(gain[1])


def test_ensemble_subset_keeps_the_chosen_codes_networks():
    from twinkit.surrogates.mlp import EnsembleMLP

    net = EnsembleMLP(3, 2, [8], 4, generator=torch.Generator().manual_seed(1), separate=True)
    with torch.no_grad():
        net.trend_coef.normal_()
        net.out_scale.uniform_(0.5, 2.0)
    x = torch.rand(7, 2, dtype=torch.float64)
    full = net(x).detach()
    state = torch.get_rng_state()
    sub = net.subset([3, 1])
    assert torch.equal(torch.get_rng_state(), state)  # the global seed stream is untouched
    np.testing.assert_array_equal(sub(x).detach().numpy(), full[:, :, [3, 1]].numpy())
    with pytest.raises(ValueError, match="separate"):
        EnsembleMLP(3, 2, [8], 4, separate=False).subset([0])


def test_a_blended_code_mixes_gp_and_ensemble_by_its_weight(trained, fin_split, tmp_path):
    from twinkit.surrogates.kriging import fit_gps, kriging_codes
    from twinkit.surrogates.training import folds

    trained("scalar_mlp").save(tmp_path / "plain.pt")
    plain = load_surrogate(tmp_path / "plain.pt")  # a copy: the fixture's model stays as it is
    head = plain.scalar_heads[0]
    train, test = fin_split
    xs = plain.scaler.transform(train.x)
    z = head.codec.encode(train.qoi)
    gps = fit_gps(xs, z, folds(len(z), 5, 0), 5)
    x = test.x[:20]
    ens = plain.predict(x)
    head.kriging = kriging_codes(xs, gps, [0, 2])
    gp_alone = plain.predict(x)  # weight 1 for both codes: the GPs alone
    head.kriging = kriging_codes(xs, gps, [0, 2], [0.5, 0.25])
    plain.save(tmp_path / "blend.pt")
    blend = load_surrogate(tmp_path / "blend.pt")
    assert blend.scalar_heads[0].ensemble_codes() == [0, 1, 2]
    got = blend.predict(x)
    mean_t, std_t = blend.torch_scalar(torch.from_numpy(x))
    for j, w in ((0, 0.5), (1, 0.0), (2, 0.25)):
        name = head.names[j]
        want = w * gp_alone.mean[name] + (1 - w) * ens.mean[name]
        np.testing.assert_allclose(got.mean[name], want, rtol=1e-12)
        # torch_scalar: the networks in float64, predict's in float32 (EnsembleMLP.predict)
        np.testing.assert_allclose(mean_t[:, j].detach().numpy(), want, rtol=1e-6)
        # independent parts: the GP's std and the members' spread, shares w and 1 - w
        want_std = np.hypot(w * gp_alone.std[name], (1 - w) * ens.std[name])
        np.testing.assert_allclose(got.std[name], want_std, rtol=1e-10)
        np.testing.assert_allclose(std_t[:, j].detach().numpy(), want_std, rtol=1e-3)


def test_load_refuses_other_files(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a twinkit surrogate file"):
        load_surrogate(tmp_path / "other.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("pickled code ran",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps(Evil(), protocol=2))
    with pytest.raises(ValueError, match="not only tensors and plain data") as e:
        load_surrogate(tmp_path / "evil.pt")
    assert "weights_only=False" not in str(e.value)  # torch's advice, the unsafe way: not passed on


def test_load_refuses_compressed_entries_before_inflating_them(trained, tmp_path):
    """torch.load inflates a zip's deflated entries: 0.5 MB of them filled 1 GiB. torch.save
    stores them, so a compressed entry is refused before anything is read."""
    import zipfile

    trained("pod_sensors").save(tmp_path / "s.pt")
    with (
        zipfile.ZipFile(tmp_path / "s.pt") as z,
        zipfile.ZipFile(tmp_path / "packed.pt", "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for name in z.namelist():
            out.writestr(name, z.read(name))
    assert load_surrogate(tmp_path / "s.pt").outputs  # the same file, stored: loads
    with pytest.raises(ValueError, match=r"packed\.pt: not a twinkit surrogate file: \d+ compr"):
        load_surrogate(tmp_path / "packed.pt")


def test_load_refuses_a_damaged_surrogate_file_with_its_name(trained, tmp_path):
    """A file of the right format whose parts are missing or of the wrong kind: ValueError
    naming the file (the CLI's exit code 2), not a KeyError or TypeError from deep inside."""
    trained("pod_sensors").save(tmp_path / "s.pt")
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    head = dict(state["scalar_heads"][0])
    del head["codec"]

    def changed(obj, how):  # every float tensor in obj changed by `how`
        if isinstance(obj, torch.Tensor):
            return how(obj) if obj.is_floating_point() and obj.numel() > 1 else obj
        if isinstance(obj, dict):
            return {k: changed(v, how) for k, v in obj.items()}
        if isinstance(obj, list):
            return [changed(v, how) for v in obj]
        return obj

    heads = state["scalar_heads"]
    damaged = {
        # it loads, but every prediction is NaN, or its tensors no longer fit each other
        "nan.pt": state | {"scalar_heads": changed(heads, lambda t: torch.full_like(t, torch.nan))},
        "cut.pt": state | {"scalar_heads": changed(heads, lambda t: t[..., :-1])},
        "no_head_codec.pt": state | {"scalar_heads": [head]},
        "no_inputs.pt": {k: v for k, v in state.items() if k != "inputs"},
        "heads_a_number.pt": state | {"scalar_heads": 3},
        "no_version.pt": {k: v for k, v in state.items() if k != "format_version"},
    }
    for name, s in damaged.items():
        torch.save(s, tmp_path / name)
        with pytest.raises(ValueError, match=f"{name}: a (damaged|twinkit) surrogate file"):
            load_surrogate(tmp_path / name)


def test_load_names_a_format_version_it_does_not_read(trained, tmp_path):
    trained("pod_sensors").save(tmp_path / "s.pt")
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    for version, message in ((1, r"older twinkit.*twinkit train"), (99, "newer")):
        torch.save(state | {"format_version": version}, tmp_path / f"v{version}.pt")
        with pytest.raises(ValueError, match=message):
            load_surrogate(tmp_path / f"v{version}.pt")
    torch.save(state | {"format_version": 3}, tmp_path / "v3.pt")  # no mixtures: still read
    assert load_surrogate(tmp_path / "v3.pt").outputs == trained("pod_sensors").outputs


@pytest.mark.parametrize("model", ["pod_sensors", "kriging"])
def test_onnx_export_matches_torch(model, trained, fin_split, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from twinkit.surrogates.export import export_onnx

    s = trained(model)
    path = export_onnx(s, tmp_path / "sensors.onnx")
    x = fin_split[1].x[:50]
    mean, std = ort.InferenceSession(str(path)).run(None, {"x": x})
    with torch.no_grad():
        tm, ts = s.torch_scalar(torch.from_numpy(x))
    np.testing.assert_allclose(mean, tm.numpy(), rtol=1e-5, atol=0)
    # the GPs' std: ONNX has no triangular solve, so the graph multiplies k by L⁻¹, and
    # c - |L⁻¹k|² loses digits to K's conditioning (measured: up to 0.5 % of the std)
    np.testing.assert_allclose(std, ts.numpy(), rtol=1e-2 if model == "kriging" else 1e-5)


def test_plots_write_pngs(tmp_path):
    from twinkit.surrogates.plots import learning_curve_plot, parity_plot

    y = np.linspace(0.0, 1.0, 10)
    parity_plot({"a": y}, {"a": y * 1.01}, {"a": y * 0 + 0.01}, {"a": "K"}, tmp_path / "p.png")
    curve = {"sizes": [16, 32], "surrogate": {"e": [0.1, 0.05]}, "rbf": {"e": [0.2, 0.1]}}
    learning_curve_plot(curve, tmp_path / "c.png")
    for name in ("p.png", "c.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_round_off_outputs_are_listed_not_scored():
    """A relative energy imbalance of ~1e-14 is noise: its R² means nothing and would read as a
    failure (the furnace's was -11.8), so it is listed under `round_off` and left out of the
    scores; the real outputs are scored as before."""
    from types import SimpleNamespace

    from twinkit.surrogates import TrainingData
    from twinkit.surrogates.evaluate import evaluate

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (20, 1))
    qoi = np.column_stack([2 * x[:, 0], 1e-14 * rng.standard_normal(20)])

    def data(rows: slice) -> TrainingData:
        return TrainingData(
            inputs=["p"], input_units={"p": ""}, bounds={"p": (0.0, 1.0)}, log_inputs={"p": False},
            x=x[rows], qoi_names=["qoi_a", "qoi_balance"], qoi=qoi[rows], sensor_names=[],
            sensors=np.zeros((len(x[rows]), 0)), fields={}, units={},
        )  # fmt: skip

    train, test = data(slice(0, 12)), data(slice(12, 20))
    mean = {"qoi_a": test.qoi[:, 0] + 0.01, "qoi_balance": np.zeros(8)}
    std = {"qoi_a": np.full(8, 0.01), "qoi_balance": np.full(8, 1e-15)}
    m = evaluate(SimpleNamespace(mean=mean, std=std), test, train)  # type: ignore[arg-type]
    assert m["round_off"] == ["qoi_balance"]
    assert list(m["outputs"]) == ["qoi_a"] and m["outputs"]["qoi_a"]["rmse"] == pytest.approx(0.01)


def test_blend_monitor_stops_once_the_blend_stops_improving():
    from twinkit.surrogates.stacking import blend_monitor

    rng = np.random.default_rng(0)
    z = rng.normal(size=(30, 2))
    gp = z + 0.1 * rng.normal(size=z.shape)
    go_on = blend_monitor(gp, z, np.ones(30, dtype=bool), tol=0.01)
    far = z + rng.normal(size=z.shape)  # an ensemble far off: the blend is about the GP
    assert go_on(far, 250)  # the first check always goes on
    assert not go_on(far + 1e-4, 500)  # the same blend: stop
    go_on = blend_monitor(gp, z, np.ones(30, dtype=bool), tol=0.01)
    assert go_on(far, 250) and go_on(z + 0.05 * rng.normal(size=z.shape), 500)  # much better


def test_networks_predict_in_float32_close_to_float64():
    from twinkit.surrogates.mlp import EnsembleMLP

    net = EnsembleMLP(3, 4, (16, 16), 5, generator=torch.Generator().manual_seed(0), separate=True)
    x = torch.rand(50, 4, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        full = net(x)
    fast = net.predict(x)
    assert fast.dtype == torch.float64 and fast.shape == full.shape == (3, 50, 5)
    torch.testing.assert_close(fast, full, rtol=0, atol=1e-5 * float(full.abs().max()))


def test_gp_kernels_are_matern52_unless_another_halves_the_cv_error(fin_split):
    """Every code's GP has the first of ``FitConfig.kernels`` (Matérn 5/2 by default) unless
    another kernel's cross-validated RMSE is at most half of it: a smooth polynomial and a
    sine take the RBF (10-25x smaller CV error here), a kink keeps Matérn 5/2. Named kernels
    alone are used alone; an unknown kernel is refused."""
    from surrogate_kinds import only

    from twinkit.surrogates import FitConfig, TrainConfig, fit_surrogate
    from twinkit.surrogates.gp import SWITCH_GAIN, fit_gp_columns

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (40, 3))
    z = np.column_stack([1 + 0.3 * x[:, 0] + 0.1 * x[:, 1] ** 2 + 0.05 * x[:, 0] * x[:, 2],
                         np.abs(x[:, 0] - 0.2) + x[:, 1],
                         np.sin(2 * x[:, 0]) + x[:, 1] ** 2])  # fmt: skip
    fold = np.arange(40) % 5
    cv = {}
    for kernels in (("matern52",), ("rbf",), ("matern52", "rbf")):
        fit = fit_gp_columns(x, z, fold, 5, kernels)
        cv[kernels] = np.sqrt(np.mean((fit.cv - z) ** 2, axis=0))
    assert fit.kind.tolist() == [0, 1, 0]  # KERNELS: rbf, matern52, ...
    gain = cv[("rbf",)] / cv[("matern52",)]
    assert gain[0] < SWITCH_GAIN and gain[2] < SWITCH_GAIN and gain[1] > 1
    data = only(fin_split[0], "scalar_mlp")
    cfg = FitConfig(train=TrainConfig(members=2, epochs=1, seed=0), model="gp")
    configs = (replace(cfg, kernels=("matern52",)), replace(cfg, kernels=("rbf",)))
    heads = [fit_surrogate(data, c).scalar_heads[0] for c in configs]
    kernels = [h.kriging.kernels() for h in heads if h.kriging is not None]
    assert len(kernels) == 2 and all(len(k) == len(data.qoi_names) for k in kernels)
    assert set(kernels[0]) == {"matern52"} and set(kernels[1]) == {"rbf"}
    with pytest.raises(ValueError, match="cubic.*rbf, matern52, matern32"):
        FitConfig(kernels=("cubic",))


def test_log_columns_are_positive_outputs_over_a_decade():
    from twinkit.surrogates.normalise import log_columns, logged

    t = np.linspace(0.0, 1.0, 20)
    y = np.column_stack([np.exp(4 * t), 1 + t, np.exp(4 * t) - 2, np.full(20, 3.0),
                         1e-13 * (1 + 9 * t), 5 * np.exp(4 * t)])  # fmt: skip
    assert log_columns(y).tolist() == [True, False, False, False, False, True]
    np.testing.assert_allclose(logged(y, log_columns(y))[:, 5], np.log(5) + 4 * t)
    assert log_columns(np.zeros((0, 2))).tolist() == [False, False]


def test_a_linear_output_gets_a_trend_in_a_fitted_surrogate(tmp_path):
    """Through `fit_surrogate`: an output linear in the inputs (a reaction equal to the load) is
    predicted to round-off by its trend + GP, and the training info says which codes have a
    trend; a sine output keeps a constant mean. The trend survives a save and load."""
    from twinkit.surrogates import FitConfig, TrainConfig, TrainingData, fit_surrogate
    from twinkit.surrogates.model import load_surrogate

    rng = np.random.default_rng(1)
    x, xt = rng.uniform(-1, 1, (32, 3)), rng.uniform(-1, 1, (100, 3))

    def outputs(x):
        reaction = 2e3 + 1.5e3 * x[:, 0] - 40 * x[:, 2]
        return np.column_stack([reaction, np.sin(3 * x[:, 1]) + x[:, 0]])

    names = ["a", "b", "c"]
    data = TrainingData(names, dict.fromkeys(names, "1"), dict.fromkeys(names, (-1.0, 1.0)),
                        dict.fromkeys(names, False), x, ["qoi_r", "qoi_s"], outputs(x), [],
                        np.zeros((32, 0)), {}, {"qoi_r": "N", "qoi_s": "1"})  # fmt: skip
    sur = fit_surrogate(data, FitConfig(train=TrainConfig(members=2, epochs=1, seed=0), model="gp"))
    assert sur.meta["training"]["qoi"]["kriging_trend"] == [True, False]
    err = np.abs(sur.predict(xt).mean["qoi_r"] - outputs(xt)[:, 0])
    assert err.max() < 1e-8 * 1.5e3
    again = load_surrogate(sur.save(tmp_path / "s.pt")).predict(xt).mean["qoi_r"]
    np.testing.assert_array_equal(again, sur.predict(xt).mean["qoi_r"])


def test_an_output_over_decades_is_modelled_by_its_log(tmp_path):
    """y = e^(3 x0) spans 400x over the box: the head models its log, predicts its median e^μ
    with the delta method's std, the same in torch (differentiable) and after a reload; the
    log-space GP fits it much better than one of the values (a stress or deflection's case)."""
    from twinkit.surrogates import FitConfig, TrainConfig, TrainingData, fit_surrogate

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (40, 2))
    xt = rng.uniform(-1, 1, (200, 2))

    def outputs(x):
        return np.column_stack([np.exp(3 * x[:, 0] + 0.5 * x[:, 1]), x[:, 0] + x[:, 1] ** 2])

    data = TrainingData(["a", "b"], {"a": "1", "b": "1"}, {"a": (-1.0, 1.0), "b": (-1.0, 1.0)},
                        {"a": False, "b": False}, x, ["qoi_y", "qoi_z"], outputs(x), [],
                        np.zeros((40, 0)), {}, {"qoi_y": "1", "qoi_z": "1"})  # fmt: skip
    cfg = FitConfig(train=TrainConfig(members=2, epochs=1, seed=0), model="gp")
    sur = fit_surrogate(data, cfg)
    assert sur.scalar_heads[0].log.tolist() == [True, False]
    assert sur.meta["training"]["qoi"]["log_outputs"] == ["qoi_y"]
    p = sur.predict(xt)
    truth = outputs(xt)
    err = np.abs(p.mean["qoi_y"] - truth[:, 0]) / truth[:, 0]
    assert err.max() < 0.01 and np.all(p.mean["qoi_y"] > 0)
    # within ±2 std mostly (the GP of the log is calibrated in log space)
    assert np.mean(np.abs(p.mean["qoi_y"] - truth[:, 0]) <= 2 * p.std["qoi_y"]) > 0.85
    xt_t = torch.from_numpy(xt).requires_grad_()
    mean_t, std_t = sur.torch_scalar(xt_t)
    # torch_scalar takes the GPs' plain (differentiable) formula: K's round-off (its condition
    # number up to c/w = 1e12) moves the mean by ~1e-8 of itself and the std, a difference of
    # two nearly equal numbers where it is small, by ~1e-9 of the output's spread
    np.testing.assert_allclose(mean_t[:, 0].detach().numpy(), p.mean["qoi_y"], rtol=1e-7)
    spread = truth[:, 0].std()
    np.testing.assert_allclose(std_t[:, 0].detach().numpy(), p.std["qoi_y"], atol=1e-7 * spread)
    z_spread = truth[:, 1].std()
    np.testing.assert_allclose(mean_t[:, 1].detach().numpy(), p.mean["qoi_z"], atol=1e-8 * z_spread)
    mean_t[:, 0].sum().backward()
    assert torch.isfinite(xt_t.grad).all() and (xt_t.grad[:, 0] > 0).all()  # dy/da = 3y > 0
    sur.save(tmp_path / "s.pt")
    again = load_surrogate(tmp_path / "s.pt").predict(xt)
    np.testing.assert_array_equal(again.mean["qoi_y"], p.mean["qoi_y"])
    # the same GP on the values themselves is far worse
    plain = fit_surrogate(data, replace(cfg, log_decades=None))
    assert plain.scalar_heads[0].log is None
    plain_err = np.abs(plain.predict(xt).mean["qoi_y"] - truth[:, 0]) / truth[:, 0]
    assert plain_err.max() > 3 * err.max()


def test_the_log_is_kept_where_it_cross_validates_better():
    """Both columns are positive over a decade; the exponential is smoother by its log, the
    plane is a plane only by its values."""
    from twinkit.surrogates.normalise import log_by_cv, log_columns
    from twinkit.surrogates.training import folds

    x = np.random.default_rng(1).uniform(-1, 1, (32, 2))
    x[:2] = [[-1.0, -1.0], [1.0, 1.0]]  # the plane spans 0.1 to 3.1 over the box
    y = np.column_stack(
        [np.exp(2.5 * x[:, 0] - x[:, 1]), 0.1 + (x[:, 0] + 1) + 0.5 * (x[:, 1] + 1)]
    )
    candidates = log_columns(y)
    assert candidates.tolist() == [True, True]
    chosen = log_by_cv(x, y, candidates, folds(32, 5, 0), 5, ("matern52",))
    assert chosen.tolist() == [True, False]


def test_mixture_of_gaussians_has_the_mean_and_variance_of_its_draws():
    """`mixture` against draws from each code's equal mixture of two Gaussians (numpy and torch
    alike); a code of one GP is that GP."""
    from twinkit.surrogates.kriging import mixture

    mean, std = np.array([[1.0, 3.0, -2.0]]), np.array([[0.5, 1.5, 0.1]])
    mix = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])  # code 0: GPs 0 and 1; code 1: GP 2
    m, s = mixture(mean, std, mix)
    rng = np.random.default_rng(0)
    pick = rng.integers(0, 2, 400_000)
    draws = rng.normal(mean[0, pick], std[0, pick])
    np.testing.assert_allclose(m[0], [draws.mean(), -2.0], atol=0.01)
    np.testing.assert_allclose(s[0], [draws.std(), 0.1], rtol=0.01)
    mt, st = mixture(torch.from_numpy(mean), torch.from_numpy(std), torch.from_numpy(mix))
    np.testing.assert_allclose(mt.numpy(), m, rtol=1e-15)
    np.testing.assert_allclose(st.numpy(), s, rtol=1e-15)


def test_one_kernel_that_halves_the_others_cv_error_is_kept_alone_not_mixed():
    """`fit_gps` with ``mixture``: the equal mixture of a GP per kernel, unless one kernel's GPs
    have at most `ALONE_GAIN` of the other's cross-validated RMSE over all columns (the
    heatsink's temperature field: RBF, rel. L2 7.9x lower than the mixture's on new solves)."""
    from scipy.stats import qmc

    from twinkit.surrogates.kernels import KERNELS
    from twinkit.surrogates.kriging import ALONE_GAIN, fit_gps

    x = 2 * qmc.Sobol(2, seed=3).random(32) - 1
    fold = np.arange(32) % 5

    def rmse(fit, z):
        return np.sqrt(np.mean((fit.cv - z) ** 2))

    decay = (1 + 0.5 * x[:, 0]) * np.exp(-1.5 * x[:, 1])  # as power / h, h on a log scale
    smooth = np.column_stack([decay, 0.9 * decay + 0.1])
    kinked = np.column_stack([np.abs(x[:, 0] - 0.1) + x[:, 1], np.abs(x[:, 1] + 0.2)])
    between = np.column_stack([np.exp(0.8 * x[:, 0]) / (1.5 + x[:, 1]), np.cos(x[:, 0] + x[:, 1])])
    for z, alone in ((smooth, "rbf"), (kinked, "matern52"), (between, None)):
        single = {k: fit_gps(x, z, fold, 5, (k,), trends=False) for k in ("matern52", "rbf")}
        gain = rmse(single["rbf"], z) / rmse(single["matern52"], z)
        fit = fit_gps(x, z, fold, 5, ("matern52", "rbf"), trends=False, mixture=True)
        if alone is None:
            assert ALONE_GAIN < gain < 1 / ALONE_GAIN and fit.mix is not None
        else:
            assert (gain < ALONE_GAIN) == (alone == "rbf") and fit.mix is None
            assert {KERNELS[int(k)] for k in fit.kind} == {alone}
            np.testing.assert_array_equal(fit.cv, single[alone].cv)


def test_a_fields_codes_are_the_mixture_of_a_gp_per_kernel(fin_split, tmp_path, monkeypatch):
    """A field head's codes (default: ``field_mixture``) are the equal mixtures of the codes of
    the two heads fitted with one kernel each: their mean, and the mixture's variance; its field
    is the mean of theirs. Saved and loaded, the same."""
    from surrogate_kinds import only

    from twinkit.surrogates import FitConfig, TrainConfig, fit_surrogate

    # the fin plate is smooth enough for the RBF to halve Matérn 5/2's CV error, which would
    # make its GPs the RBF's alone (`ALONE_GAIN`): here the mixture is wanted
    monkeypatch.setattr("twinkit.surrogates.kriging.ALONE_GAIN", 0.0)
    data = only(fin_split[0], "pod_field")
    cfg = FitConfig(train=TrainConfig(members=4, epochs=1, seed=0))
    heads = [fit_surrogate(data, c).field_heads["temperature"] for c in (
        cfg, replace(cfg, kernels=("matern52",)), replace(cfg, kernels=("rbf",)))]  # fmt: skip
    assert all(h.kriging is not None for h in heads)
    assert set(heads[0].kriging.kernels()) == {"matern52+rbf"}
    xs = torch.from_numpy(2 * np.random.default_rng(1).random((200, data.x.shape[1])) - 1)
    with torch.no_grad():
        (m, s), (m1, s1), (m2, s2) = (h.kriging.mean_std(xs) for h in heads)
    np.testing.assert_allclose(m, (m1 + m2) / 2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s**2, (s1**2 + s2**2) / 2 + ((m1 - m2) / 2) ** 2, rtol=1e-12)
    fields = [h.mean_std(xs)[0] for h in heads]
    np.testing.assert_allclose(fields[0], (fields[1] + fields[2]) / 2, rtol=1e-12)
    # a head of GPs alone decodes with its offset, floor and calibration in the products: as
    # the plain formula (every member's field, their spread, the floor, then the scale)
    assert heads[0].std_floor is not None and heads[0].std_floor.any()
    assert not np.allclose(heads[0].std_scale, 1.0)
    with torch.no_grad():
        plain = [v.numpy() for v in heads[0].mean_std_torch(xs)]
    for got, want in zip(heads[0].mean_std(xs), plain, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    sur = fit_surrogate(data, cfg)
    again = load_surrogate(sur.save(tmp_path / "s.pt"))
    np.testing.assert_array_equal(again.predict(data.x).std["temperature"],
                                  sur.predict(data.x).std["temperature"])  # fmt: skip
    # from `field_mixture_below` samples on, one GP per code, its kernel by the halving rule
    fit = fit_surrogate(data, replace(cfg, field_mixture_below=data.n))
    single = fit.field_heads["temperature"]
    assert single.kriging is not None and single.kriging.mix is None
    assert set(single.kriging.kernels()) <= {"matern52", "rbf"}
    assert len(single.kriging.kind) == single.codec.n_codes == len(heads[0].kriging.kind) // 2


def test_a_gp_alone_is_calibrated_on_leave_one_out_residuals_below_64_samples(fin_split):
    """`FitConfig.loo_below`: with fewer samples the GPs' residuals, with which the codes are
    blended and calibrated, are leave-one-out (the GP refitted per left-out sample), not the
    five folds'."""
    from surrogate_kinds import only

    from twinkit.surrogates import FitConfig, TrainConfig, fit_surrogate

    data = only(fin_split[0], "kriging")
    cfg = FitConfig(train=TrainConfig(members=5, epochs=1, seed=0), model="gp")
    loo, folds_ = (fit_surrogate(data, c) for c in (cfg, replace(cfg, loo_below=0)))
    info, info_f = (s.meta["training"]["qoi"] for s in (loo, folds_))
    assert info["loo"] and "loo" not in info_f
    assert info["std_scale"] != info_f["std_scale"]
    assert info["cv_rmse_gp"] != info_f["cv_rmse_gp"]
    means = [s.predict(data.x[:4]).mean["qoi_T_max"] for s in (loo, folds_)]
    np.testing.assert_array_equal(*means)  # the GPs are the same; only their residuals differ


def test_scalar_codes_from_enough_samples_are_the_mixture_with_the_first_kernels_std(
    fin_split, tmp_path, monkeypatch
):
    """From ``scalar_mixture_from`` samples a scalar code is the equal mixture of a GP per kernel:
    the mean of the two heads' fitted with one kernel each, its variance the first kernel's
    plus the square of half their difference (one triangular solve per code), alike for many
    points, a small batch and the differentiable formula, and after a save and load."""
    from surrogate_kinds import only

    from twinkit.surrogates import FitConfig, TrainConfig, fit_surrogate

    monkeypatch.setattr("twinkit.surrogates.kriging.ALONE_GAIN", 0.0)  # the mixture, always
    data = only(fin_split[0], "scalar_mlp")
    cfg = FitConfig(train=TrainConfig(members=4, epochs=1, seed=0), model="gp",
                    scalar_mixture_from=data.n)  # fmt: skip
    one = replace(cfg, scalar_mixture_from=None)
    surs = [fit_surrogate(data, c) for c in (
        cfg, replace(one, kernels=("matern52",)), replace(one, kernels=("rbf",)))]  # fmt: skip
    heads = [s.scalar_heads[0].kriging for s in surs]
    assert all(h is not None for h in heads)
    assert set(heads[0].kernels()) == {"matern52+rbf"} and heads[0].std_first
    assert heads[1].mix is None and not heads[1].std_first
    xs = torch.from_numpy(2 * np.random.default_rng(1).random((200, data.x.shape[1])) - 1)
    with torch.no_grad():
        (m, s), (m1, s1), (m2, _) = (h.mean_std(xs) for h in heads)
        small = heads[0].mean_std(xs[:10])  # all GPs at once
    np.testing.assert_allclose(m, (m1 + m2) / 2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s**2, s1**2 + ((m1 - m2) / 2) ** 2, rtol=1e-10)
    # other formulas of ill-conditioned K lose digits as in the test of `kriging_codes` above
    np.testing.assert_allclose(small[0], m[:10], rtol=0, atol=1e-7)
    np.testing.assert_allclose(small[1], s[:10], rtol=0, atol=2e-5)
    xt = xs[:100].clone().requires_grad_(True)  # the traced formula
    np.testing.assert_allclose(heads[0].mean_std(xt)[1].detach(), s[:100], rtol=0, atol=2e-5)
    again = load_surrogate(surs[0].save(tmp_path / "s.pt"))
    assert again.scalar_heads[0].kriging.std_first
    p, q = again.predict(data.x), surs[0].predict(data.x)
    for n in data.qoi_names:
        np.testing.assert_array_equal(p.std[n], q.std[n])
    # a plane takes a linear trend under each kernel's GP (`with_trends`) in the mixture too
    from twinkit.surrogates.kriging import fit_gps

    x = np.random.default_rng(2).uniform(-1, 1, (40, 3))
    z = np.column_stack([1 + 2 * x[:, 0] - x[:, 1], np.sin(3 * x[:, 0]) * x[:, 2]])
    fit = fit_gps(x, z, np.arange(40) % 5, 5, ("matern52", "rbf"), mixture=True, std_first=True)
    assert fit.std_first and fit.trend is not None and fit.trend[:, [0, 2]].any()


def _rosenbrock(x: np.ndarray) -> tuple[float, np.ndarray]:
    a, b = x[:-1], x[1:]
    f = float(((1 - a) ** 2).sum() + 100 * ((b - a * a) ** 2).sum())
    g = np.zeros_like(x)
    g[:-1] = -2 * (1 - a) - 400 * a * (b - a * a)
    g[1:] += 200 * (b - a * a)
    return f, g


def test_wolfe_lbfgs_minimises_rosenbrock_and_every_step_goes_down():
    """The ensembles' L-BFGS (strong-Wolfe line search) reaches the minimum of a 10-dimensional
    Rosenbrock function from the classic start, and each iteration lowers the loss."""
    from twinkit.surrogates.lbfgs import WolfeLBFGS

    x0 = np.tile([-1.2, 1.0], 5)
    opt = WolfeLBFGS(x0, history=10)
    losses = []
    for _ in range(400):
        if opt.run(_rosenbrock, 1, max_eval=100) < len(losses) + 1:
            break  # converged
        losses.append(opt.f)
    assert opt.converged and len(losses) < 200
    np.testing.assert_allclose(opt.x, 1.0, rtol=0, atol=1e-6)
    assert np.all(np.diff(losses) < 0)
    assert np.array_equal(x0, np.tile([-1.2, 1.0], 5))  # the start is not written to


def test_wolfe_lbfgs_makes_an_iteration_per_run_even_on_a_budget_of_one_evaluation():
    """``run(fun, 1)`` with its default evaluation budget (5/4 of one) still takes its step,
    also the first, whose starting evaluation already spends that budget: an ensemble trained
    for one epoch, or checked after every iteration, is trained."""
    from twinkit.surrogates.lbfgs import WolfeLBFGS

    opt = WolfeLBFGS(np.tile([-1.2, 1.0], 2))
    f0 = _rosenbrock(opt.x)[0]
    for i in range(1, 4):
        assert opt.run(_rosenbrock, 1) == i
    assert opt.f is not None and opt.f < f0


def test_the_ensemble_trains_in_no_grad_and_checked_after_every_iteration():
    """`train_ensemble` computes its gradients whatever the caller's grad mode (inside
    ``torch.no_grad()`` too), and a monitor called after every iteration sees each one made."""
    from twinkit.surrogates.training import TrainConfig, train_ensemble

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (16, 2))
    z = np.column_stack([np.sin(2 * x[:, 0]), x[:, 1] ** 2])
    seen: list[int] = []

    def monitor(oof: np.ndarray, done: int) -> bool:
        seen.append(done)
        return True

    cfg = TrainConfig(members=2, hidden=(8,), epochs=4, check_every=1, seed=0)
    with torch.no_grad():
        result = train_ensemble(x, z, cfg, monitor)
    assert result.iterations == 4 and seen == [1, 2, 3]
    assert train_ensemble(x, z, replace(cfg, epochs=1)).iterations == 1


def test_wolfe_lbfgs_resumes_where_it_paused():
    """Runs of 7 + 13 + 20 iterations take the very same steps as one of 40 (the state carries
    on, history included): the ensembles' training pauses for its early-stop checks."""
    from twinkit.surrogates.lbfgs import WolfeLBFGS

    x0 = np.tile([-1.2, 1.0], 3)
    one, parts = WolfeLBFGS(x0, history=5), WolfeLBFGS(x0, history=5)
    assert one.run(_rosenbrock, 40, max_eval=1000) == 40
    for n in (7, 13, 20):
        parts.run(_rosenbrock, n, max_eval=1000)
    assert parts.n_iter == 40 and np.array_equal(one.x, parts.x)


def test_wolfe_lbfgs_stays_where_the_loss_is_finite():
    """A loss that is NaN beyond x₀ = 1.5 (its minimum, at (2, 2), lies there): the steps go
    down the diagonal to the wall and stop there, on the finite side, at the finite loss
    0.5 (the line search shrinks a step into NaN); a NaN start moves nowhere."""
    from twinkit.surrogates.lbfgs import WolfeLBFGS

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        if x[0] > 1.5:
            return math.nan, np.full_like(x, math.nan)
        return float(((x - 2.0) ** 2).sum()), 2.0 * (x - 2.0)

    opt = WolfeLBFGS(np.zeros(2))
    opt.run(fun, 100)
    assert opt.converged and 1.5 - 1e-6 < opt.x[0] <= 1.5
    np.testing.assert_allclose([opt.x[1], opt.f], [1.5, 0.5], rtol=0, atol=1e-6)
    stuck = WolfeLBFGS(np.full(2, 3.0))
    assert stuck.run(fun, 100) == 0 and np.array_equal(stuck.x, np.full(2, 3.0))


HOSTILE_RC = """\
figure.hooks: sys:exit
text.usetex: True
text.latex.preamble: \\usepackage{nonexistent}
figure.dpi: 20000
"""
PLOTS = """\
import numpy as np
from pathlib import Path
from twinkit.surrogates.plots import learning_curve_plot, parity_plot
from twinkit.twin.calibration_output import write_plot
y = np.linspace(0.0, 1.0, 10)
parity_plot({"a": y}, {"a": y * 1.01}, {"a": y * 0 + 0.01}, {"a": "K"}, Path("p.png"))
curve = {"sizes": [16, 32], "surrogate": {"e": [0.1, 0.05]}, "rbf": {"e": [0.2, 0.1]}}
learning_curve_plot(curve, Path("c.png"))
sensor = {"measured": 1.0, "fitted": 1.1, "unit": "K", "noise": 0.1, "n": 4, "fitted_std": 0.05,
          "normalized_residual": 0.5}
prior = {"nominal": 2.0, "range": [1.0, 3.0]}
write_plot({"sensors": {"s": sensor}, "estimates": {"p": {"prior": prior, "value": 2.1,
           "std": 0.1}}}, Path("fit.png"))
"""


def test_plots_ignore_a_matplotlibrc_in_the_working_folder(tmp_path):
    """matplotlib reads ``matplotlibrc`` in the working folder (a case bundle's, say) at import:
    its figure hooks ended the command (``sys:exit``), LaTeX text needs a LaTeX installation,
    and a 20,000 dpi figure exhausts memory. The PNGs are drawn in the default style anyway."""
    import subprocess
    import sys

    from PIL import Image

    (tmp_path / "matplotlibrc").write_text(HOSTILE_RC)
    done = subprocess.run([sys.executable, "-c", PLOTS], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for name, width in (("p.png", 3.2 * 120), ("c.png", 4.0 * 120), ("fit.png", 13 * 110)):
        with Image.open(tmp_path / name) as png:
            assert png.size[0] == pytest.approx(width, abs=2)
