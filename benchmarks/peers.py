"""Peer benchmark: twinkit's default surrogate against other libraries' on the same furnace sweep.

    twinkit sample cases/furnace.yaml -n 128 --test 64 --workers 2 --out runs/peers/data
    python benchmarks/peers.py runs/peers/data                 # training sizes 32 and 128
    python benchmarks/peers.py runs/peers/data --autoemulate runs/ae-venv/bin/python

Needs the ``bench`` extra (``pip install -e .[bench]``: SMT, BoTorch; scikit-learn is a base
dependency).
For each training size n the first n training samples of the sweep (a Sobol design's prefix is
itself a balanced design) train every model; all are scored on the sweep's fixed test split:

* twinkit default (``fit_surrogate(data)``: per output the GP, the ensemble or their blend, by
  cross-validation; std calibrated on cross-validation residuals);
* scikit-learn ``GaussianProcessRegressor``, constant × anisotropic RBF + WhiteKernel,
  ``normalize_y``, 2 optimiser restarts, one per output;
* SMT ``KRG`` (constant mean, squared-exponential correlation, anisotropic), one per output;
* BoTorch ``SingleTaskGP`` with its defaults (anisotropic RBF, dimension-scaled log-normal priors
  on the length scales, a noise variance of at least 1e-4 of the standardised output's with a
  log-normal prior; MAP fit by ``fit_gpytorch_mll``; ``Normalize`` inputs, ``Standardize``
  outputs), one per output, as `benchmarks/race.py` uses it; its std includes the noise;
* AutoEmulate's ``GaussianProcessMatern32`` (defaults: constant mean, anisotropic Matérn 3/2,
  outputs standardised, 50 AdamW epochs), with ``--autoemulate PYTHON``: AutoEmulate 2.1.2 needs
  torch 2.12, so it runs in a venv of its own (`benchmarks/autoemulate_peer.py` says how to make
  it) on the same arrays, in the same run.

Peers get the inputs on the same scaled box as twinkit ([-1, 1], log inputs by their log). Per
output: RMSE, the ratio peer / twinkit (median and worst over outputs, and how many outputs the
peer predicts better), twinkit's over the best peer's with its 90 % bootstrap interval (the test
solves resampled 2,000 times: how well the test set pins the ratio down), the coverage of the
95 % interval mean ± 1.96 std; per model the fit time and the time to predict 1,000 points with
std (all scalar outputs, one thread). Outputs that are round-off only in training (the
furnace's energy imbalance, zero to 1e-13) are left out. Then the temperature and velocity fields
(``--fields``): twinkit's field heads against POD (the modes holding 0.99999 of the snapshot
energy) with one scikit-learn GP per coefficient, mean relative L2 error on the test split.
Last, each model's RMSE over the best of the other models per output (per block with
``--blocks``): the bar twinkit is held to, put to each peer as well.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from threadpoolctl import threadpool_limits

from twinkit.surrogates import TrainingData, fit_surrogate, from_dataset, split
from twinkit.surrogates.normalise import InputScaler, constant_columns

Predictor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # x → mean, std (n, p)


def _sklearn_gp(x: np.ndarray, y: np.ndarray, seed: int = 0) -> Any:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(x.shape[1]), (1e-2, 1e2))
    kernel += WhiteKernel(1e-6, (1e-12, 1e-1))
    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2,
                                  random_state=seed)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gp.fit(x, y)


def fit_sklearn(x: np.ndarray, y: np.ndarray) -> Predictor:
    gps = [_sklearn_gp(x, y[:, j]) for j in range(y.shape[1])]

    def predict(xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = [gp.predict(xq, return_std=True) for gp in gps]
        return np.column_stack([m for m, _ in out]), np.column_stack([s for _, s in out])

    return predict


def fit_smt(x: np.ndarray, y: np.ndarray) -> Predictor:
    from smt.surrogate_models import KRG

    models = []
    for j in range(y.shape[1]):
        sm = KRG(poly="constant", corr="squar_exp", print_global=False)
        sm.set_training_values(x, y[:, j])
        sm.train()
        models.append(sm)

    def predict(xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = np.column_stack([sm.predict_values(xq).ravel() for sm in models])
        var = np.column_stack([sm.predict_variances(xq).ravel() for sm in models])
        return mean, np.sqrt(np.maximum(var, 0.0))

    return predict


def fit_botorch(x: np.ndarray, y: np.ndarray) -> Predictor:
    """BoTorch's default GP per output, as in its tutorials and `benchmarks/race.py`."""
    from botorch.exceptions.warnings import InputDataWarning
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Normalize, Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    d = x.shape[1]
    box = torch.tensor([[-1.0] * d, [1.0] * d], dtype=torch.float64)  # peers' scaled inputs
    tx = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    models = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputDataWarning)
        for j in range(y.shape[1]):
            ty = torch.from_numpy(np.ascontiguousarray(y[:, [j]], dtype=np.float64))
            gp = SingleTaskGP(tx, ty, input_transform=Normalize(d, bounds=box),
                              outcome_transform=Standardize(1))  # fmt: skip
            fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
            models.append(gp)

    def predict(xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = torch.from_numpy(np.ascontiguousarray(xq, dtype=np.float64))
        mean, std = [], []
        with torch.no_grad():
            for gp in models:  # the std of a new FE value: the GP's noise included
                post = gp.posterior(q, observation_noise=True)
                mean.append(post.mean[:, 0].numpy())
                std.append(post.variance[:, 0].clamp_min(0).sqrt().numpy())
        return np.column_stack(mean), np.column_stack(std)

    return predict


def fit_autoemulate(python: Path, x: np.ndarray, y: np.ndarray, xq: np.ndarray,
                    x1000: np.ndarray) -> dict[str, Any]:  # fmt: skip
    """AutoEmulate's GP, fitted and timed by `benchmarks/autoemulate_peer.py` under ``python``
    (a venv with AutoEmulate): mean and std at ``xq``, fit and 1,000-prediction seconds."""
    script = Path(__file__).with_name("autoemulate_peer.py")
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, x=x, y=y, xq=xq, x1000=x1000)
        subprocess.run([str(python), str(script), str(src), str(dst)], check=True, timeout=3600)
        with np.load(dst) as f:
            return {"mean": f["mean"], "std": f["std"], "fit_s": float(f["fit_s"]),
                    "predict_s": float(f["predict_s"])}  # fmt: skip


def best_peer_interval(
    models: dict[str, dict[str, Any]], truth: np.ndarray, resamples: int = 2000, level: float = 0.9
) -> np.ndarray:
    """Per output the ``level`` bootstrap interval (lo, hi) (p, 2) of twinkit's RMSE over the
    best peer's, the test points resampled with replacement (the best peer taken again in each
    resample): how far 64 test solves pin the ratio down."""
    sq = {k: (v["mean"] - truth) ** 2 for k, v in models.items()}  # (m, p) squared errors
    peers = np.stack([sq[k] for k in sq if k != "twinkit default"])  # (peers, m, p)
    idx = np.random.default_rng(0).integers(0, len(truth), (resamples, len(truth)))
    own = np.sqrt(sq["twinkit default"][idx].mean(1))  # (resamples, p)
    best = np.sqrt(peers[:, idx].mean(2)).min(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = own / best
    tail = (1 - level) / 2
    return np.quantile(ratio, [tail, 1 - tail], axis=0).T


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def predict_seconds(predict: Predictor, x: np.ndarray, repeat: int = 3) -> float:
    """Best of ``repeat`` runs of 1,000 predictions with std, on one thread."""
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            predict(x[:8])  # warm-up
            return min(timed(lambda: predict(x))[1] for _ in range(repeat))
    finally:
        torch.set_num_threads(prev)


def pod_gp_field(train: np.ndarray, x: np.ndarray, xq: np.ndarray, energy: float) -> np.ndarray:
    """POD of the snapshots (n, nodes) and one scikit-learn GP per kept coefficient."""
    mean = train.mean(0)
    u, s, vt = np.linalg.svd(train - mean, full_matrices=False)
    e = np.cumsum(s**2) / np.sum(s**2)
    k = int(np.searchsorted(e, energy) + 1)
    coef = u[:, :k] * s[:k]
    pred = np.column_stack([_sklearn_gp(x, coef[:, j]).predict(xq) for j in range(k)])
    return mean + pred @ vt[:k]


def rel_l2(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.linalg.norm(pred - y, axis=1) / np.linalg.norm(y, axis=1)))


def run_size(
    train: TrainingData,
    test: TrainingData,
    fields: Sequence[str] = (),
    autoemulate: Path | None = None,
) -> dict[str, Any]:
    scaler = InputScaler.from_bounds(
        [train.bounds[n] for n in train.inputs], [train.log_inputs[n] for n in train.inputs]
    )
    x, xt = scaler.transform(train.x), scaler.transform(test.x)
    keep = ~constant_columns(train.scalars)
    names = [n for n, k in zip(train.outputs, keep, strict=True) if k]
    y, yt = train.scalars[:, keep], test.scalars[:, keep]
    u = np.random.default_rng(0).uniform(size=(1000, x.shape[1]))
    lo, hi = (np.array([train.bounds[n][i] for n in train.inputs]) for i in (0, 1))
    log = np.array([train.log_inputs[n] for n in train.inputs])
    with np.errstate(all="ignore"):  # the log branch of a linear input may be nan: not taken
        x1000_si = np.where(log, lo * (hi / lo) ** u, lo + (hi - lo) * u)  # 1,000 in the box
    x1000 = scaler.transform(x1000_si)

    sur, t_fit = timed(lambda: fit_surrogate(train))
    scalars_only = replace(sur, field_heads={})

    def twinkit_predict(xq_si: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = scalars_only.predict(xq_si)
        return (np.column_stack([p.mean[n] for n in names]),
                np.column_stack([p.std[n] for n in names]))  # fmt: skip

    models: dict[str, dict[str, Any]] = {}
    m, s = twinkit_predict(test.x)
    t_predict = predict_seconds(twinkit_predict, x1000_si)
    models["twinkit default"] = {"mean": m, "std": s, "fit_s": t_fit, "predict_s": t_predict}
    peers = (("scikit-learn GP", fit_sklearn), ("SMT KRG", fit_smt), ("BoTorch GP", fit_botorch))
    for label, fit in peers:
        with threadpool_limits(1):
            predict, t = timed(lambda fit=fit: fit(x, y))
        m, s = predict(xt)
        models[label] = {"mean": m, "std": s, "fit_s": t,
                         "predict_s": predict_seconds(predict, x1000)}  # fmt: skip
    if autoemulate is not None:
        models["AutoEmulate GP"] = fit_autoemulate(autoemulate, x, y, xt, x1000)
    for v in models.values():
        v["rmse"] = np.sqrt(np.mean((v["mean"] - yt) ** 2, axis=0))
        v["coverage"] = np.mean(np.abs(v["mean"] - yt) <= 1.96 * v["std"], axis=0)
    out: dict[str, Any] = {"n": train.n, "names": names, "models": models,
                           "vs_best_interval": best_peer_interval(models, yt)}  # fmt: skip
    out["fields"] = []
    wanted = [f for f in fields if f in train.fields]
    if wanted:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mean = sur.predict(test.x).mean
    for field in wanted:
        f_train = train.fields[field].reshape(train.n, -1)
        f_test = test.fields[field].reshape(test.n, -1)
        mine = mean[field].reshape(test.n, -1)
        (ref, t_ref) = timed(lambda f_train=f_train: pod_gp_field(f_train, x, xt, 0.99999))
        out["fields"].append({"name": field, "twinkit": rel_l2(mine, f_test),
                              "pod_gp": rel_l2(ref, f_test),
                              "pod_gp_fit_predict_s": t_ref})  # fmt: skip
    return out


def table(header: list[str], rows: list[list[str]]) -> str:
    cells = [header, *rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(r: dict[str, Any]) -> str:
    models, names = r["models"], r["names"]
    base = models["twinkit default"]
    rows = []
    for label, v in models.items():
        ratio = v["rmse"] / base["rmse"]
        own = label == "twinkit default"
        rows.append([
            label,
            "1" if own else f"{np.median(ratio):.2f}",
            "–" if own else f"{ratio.min():.2f}",
            "–" if own else f"{int(np.sum(ratio < 1.0))} of {len(names)}",
            f"{np.median(v['coverage']):.2f}, {v['coverage'].min():.2f}",
            f"{v['fit_s']:.1f}",
            f"{1e3 * v['predict_s']:.1f}",
        ])  # fmt: skip
    head = ["model", "RMSE ratio peer/twinkit, median", "lowest",
            "outputs where the peer is better", "95 % coverage (median, min)", "fit [s]",
            "1,000 predictions [ms]"]  # fmt: skip
    text = [f"{r['n']} training solves, {len(names)} scalar outputs", table(head, rows), ""]
    peers = [k for k in models if k != "twinkit default"]
    best_peer = np.min([models[p]["rmse"] for p in peers], axis=0)
    vs_best = base["rmse"] / best_peer
    ci = r["vs_best_interval"]
    per = [[n, f"{base['rmse'][j]:.4g}"]
           + [f"{v['rmse'][j] / base['rmse'][j]:.2f}" for k, v in models.items()
              if k != "twinkit default"]
           + [f"{vs_best[j]:.2f} [{ci[j, 0]:.2f}, {ci[j, 1]:.2f}]", f"{base['coverage'][j]:.2f}"]
           for j, n in enumerate(names)]  # fmt: skip
    head = ["output", "twinkit RMSE", *[f"{p} / twinkit" for p in peers],
            "twinkit / best peer [90 % bootstrap]", "twinkit coverage"]  # fmt: skip
    text.append(table(head, per))
    worst = max((models[p]["rmse"] / base["rmse"]).max() for p in peers)
    over = [j for j in range(len(names)) if vs_best[j] > 1.1]
    surely = [names[j] for j in over if ci[j, 0] > 1.1]
    sure = ": " + ", ".join(surely) if surely else ""
    text.append(f"twinkit / best peer per output: median {np.median(vs_best):.2f}, worst "
                f"{vs_best.max():.2f} ({names[int(vs_best.argmax())]}); largest peer/twinkit "
                f"{worst:.2f}; over 1.1: {len(over)}, of them {len(surely)} with the whole "
                f"bootstrap interval over 1.1{sure}")  # fmt: skip
    for f in r["fields"]:
        text.append(f"field {f['name']}: mean rel. L2 twinkit {f['twinkit']:.3e}, POD + "
                    f"scikit-learn GP per coefficient {f['pod_gp']:.3e} "
                    f"(ratio {f['twinkit'] / f['pod_gp']:.2f})")  # fmt: skip
    return "\n".join(text)


def vs_best_peer(r: dict[str, Any]) -> np.ndarray:
    """twinkit's RMSE over the best peer's, per output, in the result of `run_size`."""
    models = r["models"]
    peers = [k for k in models if k != "twinkit default"]
    return models["twinkit default"]["rmse"] / np.min([models[p]["rmse"] for p in peers], axis=0)


def block_report(names: list[str], blocks: list[np.ndarray]) -> str:
    """twinkit / best peer per output for each block of training samples, and their geometric
    mean over the blocks."""
    ratios = np.array(blocks)  # (blocks, outputs)
    geo = np.exp(np.log(ratios).mean(0))
    n = len(blocks)
    rows = [[name, *[f"{v:.2f}" for v in ratios[:, j]], f"{geo[j]:.2f}"]
            for j, name in enumerate(names)]  # fmt: skip
    head = ["output", *[f"block {b + 1}" for b in range(n)], "geometric mean"]
    medians = " ".join(f"{np.median(ratios[b]):.2f}" for b in range(n))
    over = [names[j] for j in range(len(names)) if geo[j] > 1.1]
    return "\n".join([
        f"twinkit / best peer per output on {n} disjoint training blocks (block 1: the above)",
        table(head, rows),
        f"median over outputs per block: {medians}; of the geometric means: {np.median(geo):.2f}, "
        f"over 1.1: {len(over)}{': ' + ', '.join(over) if over else ''}",
    ])  # fmt: skip


def others_report(blocks: list[dict[str, np.ndarray]]) -> str:
    """Every model's RMSE over the best of the other models, per output, for each training
    block (``blocks``: per block, model -> RMSE per output): how each would fare against the
    bar twinkit is held to (median ≤ 1.0, every output ≤ 1.1), the others being its peers."""
    rows = []
    for m in blocks[0]:
        ratios = np.array([b[m] / np.min([v for k, v in b.items() if k != m], axis=0)
                           for b in blocks])  # fmt: skip
        rows.append([m, " ".join(f"{np.median(r):.2f}" for r in ratios),
                     " ".join(str(int(np.sum(r > 1.1))) for r in ratios),
                     " ".join(f"{r.max():.3g}" for r in ratios)])  # fmt: skip
    head = ["model", "median over outputs, per block", "outputs over 1.1", "worst"]
    return "\n".join(["each model / the best of the others, per output", table(head, rows)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data", type=Path, help="folder with dataset.nc (train and test splits)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 128])
    ap.add_argument(
        "--fields",
        "--field",
        nargs="*",
        default=["temperature", "velocity"],
        help="fields to compare with POD + GP (those the sweep stores)",
    )
    ap.add_argument(
        "--blocks",
        action="store_true",
        help="also train on every other block of n training samples (n to 2n - 1, ...: each\n"
        "block of a Sobol sequence is a balanced design too) and print twinkit / best peer per\n"
        "output and block: how much the ratios move with the training set",
    )
    ap.add_argument("--json", type=Path, help="write every number here")
    ap.add_argument(
        "--autoemulate",
        type=Path,
        metavar="PYTHON",
        help="a Python with AutoEmulate (its own venv): run its GP too",
    )
    a = ap.parse_args(argv)
    path = a.data / "dataset.nc"
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    tr, te = split(ds, 0)
    full, test = from_dataset(tr, str(path)), from_dataset(te, str(path))
    print(f"dataset {path}: {full.n} train / {test.n} test samples, {len(full.inputs)} inputs; "
          f"torch {torch.__version__}, predictions on 1 thread")  # fmt: skip
    results = []
    for n in a.sizes:
        if n > full.n:
            print(f"skipping {n}: the sweep has {full.n} training samples", file=sys.stderr)
            continue
        r = run_size(full.subset(np.arange(n)), test, a.fields, a.autoemulate)
        results.append(r)
        print()
        print(report(r))
        more = []
        if a.blocks and full.n >= 2 * n:
            more = [run_size(full.subset(np.arange(b * n, (b + 1) * n)), test, (), a.autoemulate)
                    for b in range(1, full.n // n)]  # fmt: skip
            print()
            print(block_report(r["names"], [vs_best_peer(b) for b in [r, *more]]))
        r["blocks"] = [{m: v["rmse"] for m, v in b["models"].items()} for b in [r, *more]]
        print()
        print(others_report(r["blocks"]))
    if a.json:
        keys = ("rmse", "coverage", "fit_s", "predict_s")
        plain = [r | {"models": {m: {k: np.asarray(v[k]).tolist() for k in keys}
                                 for m, v in r["models"].items()},
                      "vs_best_interval": r["vs_best_interval"].tolist(),
                      "blocks": [{m: v.tolist() for m, v in b.items()}
                                 for b in r.get("blocks", [])]}
                 for r in results]  # fmt: skip
        a.json.write_text(json.dumps(plain, indent=2))
    if a.autoemulate is None:
        print("\nAutoEmulate: not run (it needs torch 2.12, in a venv of its own: --autoemulate)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
