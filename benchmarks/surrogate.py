"""Surrogate benchmark: the issue's targets measured on a sweep's dataset, baselines side by side.

    python benchmarks/surrogate.py runs/furnace/data         # a sweep written by twinkit sample
    python benchmarks/surrogate.py /tmp/fin --synthetic 256  # write the analytic fin sweep first

(Named ``surrogate.py``: a script ``surrogates.py`` would shadow the ``surrogates`` package.)

Trains the default surrogate (5-member ensembles, POD energy 0.99999) on the ``train`` split and
scores it on the ``test`` split (or a seeded 20 % hold-out), next to RBF and Gaussian-process
baselines fitted on the same split. Prints, against the targets of the surrogates issue:

* mean relative L2 error of each field (< 1 %), RMSE of the sensors in K (< 2 K), smallest QoI
  R² (> 0.99), the surrogate's error over the best baseline's (≤ 1.1);
* inference time of a batch of 1000 points, QoIs + sensors (< 50 ms), its speed-up per sample
  over the mean FE solve time stored in the dataset (``seconds``; ≥ 1e4) and, with fields, the
  speed-up of full field reconstruction (≥ 1e3);
* training time (< 300 s).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from surrogates import FitConfig, TrainConfig, from_dataset, split
from surrogates.synthetic import fin_dataset, write_netcdf
from surrogates.workflow import run_study


def targets(s: dict[str, Any]) -> list[tuple[str, float | None, str, bool | None]]:
    """(what, value, target, met) rows of the issue's acceptance numbers."""
    rows: list[tuple[str, float | None, str, bool | None]] = []
    sur, units = s["surrogate"], s["units"]
    for name, m in sur["fields"].items():
        rows.append((f"field {name}: mean rel. L2", m["rel_l2"], "< 0.01", m["rel_l2"] < 0.01))
    kelvin = [m["rmse"] for n, m in sur["outputs"].items() if n.startswith("sensor_")
              and units.get(n) == "K"]  # fmt: skip
    if kelvin:
        v = float(np.sqrt(np.mean(np.square(kelvin))))
        rows.append(("sensors in K: RMSE [K]", v, "< 2", v < 2.0))
    r2 = [m["r2"] for n, m in sur["outputs"].items() if n.startswith("qoi_")]
    if r2:
        rows.append(("QoIs: smallest R²", min(r2), "> 0.99", min(r2) > 0.99))
    if s["comparison"]:
        worst = max(s["comparison"].items(), key=lambda kv: kv[1]["ratio"])
        v = worst[1]["ratio"]
        rows.append((f"error / best baseline (worst: {worst[0]})", v, "≤ 1.1", v <= 1.1))
    inf = s["inference"]
    ms = 1e3 * inf["scalars_s"]
    rows.append((f"inference, {inf['batch']} points, QoIs + sensors [ms]", ms, "< 50", ms < 50))
    if "speedup_scalars" in inf:
        v = inf["speedup_scalars"]
        rows.append(("speed-up per sample over FE (scalars)", v, "≥ 1e4", v >= 1e4))
    if "speedup_fields" in inf:
        v = inf["speedup_fields"]
        rows.append(("speed-up per sample over FE (with fields)", v, "≥ 1e3", v >= 1e3))
    t = s["training_seconds"]
    rows.append(("training [s]", t, "< 300", t < 300))
    return rows


def text_table(header: list[str], rows: list[list[str]]) -> str:
    cells = [header, *rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def per_output(s: dict[str, Any]) -> str:
    base = s["baselines"]
    header = ["output", "unit", "R²", "RMSE", "max err", "cover ±2σ"]
    header += [f"{b} RMSE" for b in base] + [f"{b} R²" for b in base]
    rows = []
    for name, m in s["surrogate"]["outputs"].items():
        row = [name, s["units"].get(name, ""), f"{m['r2']:.5f}", f"{m['rmse']:.4g}",
               f"{m['max_error']:.4g}", f"{m['coverage']:.2f}"]  # fmt: skip
        row += [f"{b['outputs'][name]['rmse']:.4g}" for b in base.values()]
        row += [f"{b['outputs'][name]['r2']:.5f}" for b in base.values()]
        rows.append(row)
    for name, m in s["surrogate"]["fields"].items():
        rbf = base.get("rbf", {}).get("fields", {}).get(name, {})
        pad = [""] * (2 * len(base) - 1)
        nan = float("nan")
        rows.append([f"field {name}", s["units"].get(name, ""), "", f"{m['rmse']:.4g}",
                     f"{m['max_error']:.4g}", f"{m['coverage']:.2f}",
                     f"{rbf.get('rmse', nan):.4g}", *pad])  # fmt: skip
        rows.append(["  rel. L2 mean / max", "", "", f"{m['rel_l2']:.3e}", f"{m['rel_l2_max']:.3e}",
                     "", f"{rbf.get('rel_l2', nan):.3e}", *pad])  # fmt: skip
    return text_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data", type=Path, help="folder with dataset.nc")
    ap.add_argument("--synthetic", type=int, metavar="N", help="first write the fin sweep, N train")
    ap.add_argument("--members", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-gp", action="store_true", help="skip the baselines (RBF and GP)")
    ap.add_argument("--json", type=Path, help="write every number here")
    a = ap.parse_args(argv)
    path = a.data / "dataset.nc"
    if a.synthetic:
        a.data.mkdir(parents=True, exist_ok=True)
        write_netcdf(fin_dataset(a.synthetic, 200, nx=40, seed=a.seed), path)
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    tr, te = split(ds, a.seed)
    train, test = from_dataset(tr, str(path)), from_dataset(te, str(path))
    cfg = FitConfig(train=TrainConfig(members=a.members, epochs=a.epochs, seed=a.seed))
    study = run_study(train, test, cfg, baselines=not a.no_gp, curve=False,
                      log=lambda m: print(m, file=sys.stderr))  # fmt: skip
    s = study.summary
    cpu = platform.processor() or platform.machine()
    print(f"dataset {path}: case {ds.attrs.get('case', '?')}, {train.n} train / {test.n} test, "
          f"{len(train.inputs)} inputs; torch {torch.__version__} on {cpu}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print(per_output(s))
    print()
    rows = [[w, "-" if v is None else f"{v:.4g}", t, {True: "yes", False: "NO", None: ""}[ok]]
            for w, v, t, ok in targets(s)]  # fmt: skip
    print(text_table(["target", "value", "bar", "met"], rows))
    if a.json:
        a.json.write_text(json.dumps(s, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
