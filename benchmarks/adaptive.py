"""Adaptive sampling against Sobol: held-out surrogate error against the number of FE solves.

    python benchmarks/adaptive.py cases/furnace.yaml --reuse runs/furnace256/data \\
        --out runs/benchmarks/adaptive -n 96 --initial 32 --batch 16

Sobol arm: the first n training samples of a Sobol sweep are exactly the Sobol design of n samples
(scrambled Sobol points come as a sequence), so the arm reuses the sweep in ``--reuse`` (checked:
same case hash, same points) at every count in ``--sobol-sizes``. Adaptive arm: ``twinkit sample
--adaptive`` in ``--out``; its first ``--initial`` points and its test points are those of the same
Sobol sweep, so their FE results are copied from ``--reuse`` (again after checking the points), and
only the adaptively chosen samples are solved (``--workers``, default 1). Both arms are scored on
the same held-out test samples with the default surrogate trained on the first n samples (QoIs,
sensors and the temperature field; ``--no-field`` for scalars only):

* ``scalar error``: median over the QoIs and sensors of RMSE / (std of the held-out truths), and
  the mean (which one badly fitted output can dominate); outputs that are round-off only left out;
* ``sensor RMSE [K]`` and ``temperature rel. L2`` (mean over the held-out samples).

The last lines give, for each error and the adaptive arm's largest count, the Sobol count that first
reaches the same error (linear interpolation in log-log between the measured Sobol counts), if any
does, and the ratio of the two arms' errors at the same count.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np


def _points(ds: Any, inputs: list[str]) -> np.ndarray:
    return np.column_stack([np.asarray(ds[n].values, dtype=float) for n in inputs])


def seed_adaptive(case: Path, reuse: Path, out: Path, opts: Any, adaptive: Any) -> int:
    """Start the adaptive sweep in `out` with the FE samples of `reuse` at the same points."""
    from twinkit.case import load_case
    from twinkit.sweep.adaptive import resume_or_start
    from twinkit.sweep.store import read_sample, sample_path, write_sample

    loaded = load_case(case)
    sweep = json.loads((reuse / "sweep.json").read_text())
    if sweep["case_hash"] != loaded.hash or sweep["doe"] != "sobol":
        raise SystemExit(f"{reuse}: not a Sobol sweep of {case} as it is now (case hash differs)")
    state = resume_or_start(out, loaded, opts, adaptive)
    src = np.array(sweep["points"])
    n_src = sweep["samples"]
    pairs = [(i, i) for i in range(adaptive.initial)]
    pairs += [(n_src + j, opts.samples + j) for j in range(opts.test_samples)]
    ours = [*state["points"][: adaptive.initial], *state["test_points"]]
    copied = 0
    for (i_src, i_out), x in zip(pairs, ours, strict=True):
        if not np.allclose(src[i_src], x, rtol=1e-12, atol=0):
            raise SystemExit(f"{reuse}: sample {i_src} is not at the adaptive design's point")
        if sample_path(out, i_out).exists() or not sample_path(reuse, i_src).exists():
            continue
        rec = read_sample(sample_path(reuse, i_src))
        rec.index = i_out
        write_sample(out, rec)
        copied += 1
    for mesh in reuse.glob("samples/mesh-*.npz"):
        if not (out / "samples" / mesh.name).exists():
            shutil.copy2(mesh, out / "samples" / mesh.name)
    return copied


def score(
    train: Any, test: Any, n: int, seed: int, field: bool, epochs: int | None
) -> dict[str, Any]:
    """Held-out errors of the default surrogate trained on the first n training samples."""
    from twinkit.surrogates import FitConfig, TrainConfig, fit_surrogate
    from twinkit.surrogates.evaluate import evaluate
    from twinkit.surrogates.normalise import constant_columns

    part = train.subset(np.arange(n))
    fields = {"temperature": part.fields["temperature"]} if field else {}
    part = replace(part, fields=fields)
    t0 = time.perf_counter()
    cfg = TrainConfig(seed=seed) if epochs is None else TrainConfig(seed=seed, epochs=epochs)
    model = fit_surrogate(part, FitConfig(train=cfg))
    seconds = time.perf_counter() - t0
    m = evaluate(model.predict(test.x), test, part)
    flat = constant_columns(part.scalars)
    y = test.scalars
    rel = {
        name: m["outputs"][name]["rmse"] / y[:, j].std()
        for j, name in enumerate(test.outputs)
        if not flat[j] and y[:, j].std() > 0
    }
    kelvin = [v["rmse"] for k, v in m["outputs"].items() if k.startswith("sensor_")]
    out: dict[str, Any] = {
        "n": n,
        "scalar_error": float(np.median(list(rel.values()))),
        "scalar_error_mean": float(np.mean(list(rel.values()))),
        "sensor_rmse_K": float(np.sqrt(np.mean(np.square(kelvin)))) if kelvin else float("nan"),
        "train_seconds": seconds,
    }
    if field:
        out["temperature_rel_l2"] = m["fields"]["temperature"]["rel_l2"]
    return out | {"per_output": rel}


def sobol_count_for(error: float, curve: list[dict[str, Any]], key: str) -> float | None:
    """Sobol samples that first reach `error` in `key` (log-log interpolation of the curve)."""
    if curve and curve[0][key] <= error:
        return float(curve[0]["fe_solves"])
    for a, b in zip(curve[:-1], curve[1:], strict=False):
        if b[key] <= error < a[key]:
            la, lb = np.log(a[key]), np.log(b[key])
            t = (np.log(error) - la) / (lb - la)
            na, nb = np.log(a["fe_solves"]), np.log(b["fe_solves"])
            return float(np.exp(na + t * (nb - na)))
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("case", type=Path)
    ap.add_argument("--reuse", type=Path, required=True, help="a Sobol sweep of the case")
    ap.add_argument("--out", type=Path, default=Path("runs/benchmarks/adaptive"))
    ap.add_argument("-n", type=int, default=96, help="adaptive training samples in the end")
    ap.add_argument("--initial", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--sobol-sizes", default="32,48,64,96,128,192,256")
    ap.add_argument("--no-field", action="store_true", help="score QoIs and sensors only")
    ap.add_argument("--epochs", type=int, help="L-BFGS iterations of the scored surrogates")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)

    import xarray as xr

    from twinkit.case import load_case
    from twinkit.surrogates import from_dataset
    from twinkit.sweep.adaptive import AdaptiveOptions, run_adaptive
    from twinkit.sweep.run import SweepOptions

    with xr.open_dataset(a.reuse / "dataset.nc") as ds:
        sobol_ds = ds.load()
    n_test = int((sobol_ds["split"].values.astype(str) == "test").sum())
    opts = SweepOptions(a.n, "sobol", n_test, a.workers, progress=False)
    adaptive = AdaptiveOptions(a.initial, a.batch)
    a.out.mkdir(parents=True, exist_ok=True)
    copied = seed_adaptive(a.case, a.reuse, a.out, opts, adaptive)
    print(f"adaptive arm: {copied} FE samples copied from {a.reuse}", file=sys.stderr)
    t0 = time.perf_counter()
    summary = run_adaptive(a.case, a.out, opts, adaptive)
    wall = time.perf_counter() - t0
    with xr.open_dataset(a.out / "dataset.nc") as ds:
        adaptive_ds = ds.load()

    seed = int(load_case(a.case).case.seed)
    arms: dict[str, list[dict[str, Any]]] = {"sobol": [], "adaptive": []}
    for name, ds, sizes in (
        ("sobol", sobol_ds, [int(s) for s in a.sobol_sizes.split(",")]),
        ("adaptive", adaptive_ds, list(range(a.initial, a.n + 1, a.batch))),
    ):
        split = ds["split"].values.astype(str)
        ok = ds["status"].values.astype(str) == "ok"
        train_idx = np.flatnonzero(split == "train")
        for n in sizes:  # the first n training samples; failed ones are dropped (counted)
            keep = train_idx[:n][ok[train_idx[:n]]]
            train = from_dataset(ds.isel(sample=keep))
            test = from_dataset(ds.isel(sample=split == "test"))
            row = score(train, test, train.n, seed, not a.no_field, a.epochs) | {"fe_solves": n}
            arms[name].append(row)
            print(f"{name:8s} n={n:4d} ({train.n} ok): " + ", ".join(
                f"{k} {v:.4g}" for k, v in row.items() if k not in ("n", "fe_solves",
                "per_output")), file=sys.stderr, flush=True)  # fmt: skip

    cols = ["scalar_error", "scalar_error_mean", "sensor_rmse_K"]
    cols += [] if a.no_field else ["temperature_rel_l2"]
    print(f"case {a.case}, held-out test samples: {n_test}; adaptive: initial {a.initial}, batch "
          f"{a.batch}, {summary['counts']['computed']} FE solves run in {wall:.0f} s")  # fmt: skip
    print(f"{'arm':9s} {'FE solves':>9s} " + " ".join(f"{c:>18s}" for c in cols))
    for name, rows in arms.items():
        for r in rows:
            print(f"{name:9s} {r['fe_solves']:9d} " + " ".join(f"{r[c]:18.4g}" for c in cols))
    last = arms["adaptive"][-1]
    same_n = next((r for r in arms["sobol"] if r["fe_solves"] == last["fe_solves"]), None)
    needs = {}
    for key in cols:
        need = needs[key] = sobol_count_for(last[key], arms["sobol"], key)
        ratio = (
            ""
            if same_n is None
            else (f"; adaptive / Sobol at {last['fe_solves']}: {last[key] / same_n[key]:.3f}")
        )
        where = f"about {need:.0f}" if need is not None else "none of the measured counts"
        print(f"{key}: adaptive {last[key]:.4g} with {last['fe_solves']} solves; Sobol first "
              f"reaches it at {where}{ratio}")  # fmt: skip
    if a.json:
        a.json.write_text(json.dumps({"arms": arms, "sobol_needs": needs, "adaptive": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
