"""Time the default surrogate: training (CPU s) and 1,000 predictions with std (one thread).

    python benchmarks/surrogate_speed.py runs/furnace/data --n 32 --save runs/speed32.pt
    python benchmarks/surrogate_speed.py runs/furnace/data --load runs/speed32.pt

``--load`` times the predictions of a saved surrogate without training one, so that two
versions of the code can time the same file, alternating on a shared machine. The 1,000
points are those of `benchmarks/peers.py` (uniform in the box, seed 0). Printed: training CPU
and wall seconds, then per case (all scalar outputs, each field alone, everything) the best
of ``--repeat`` calls, wall and CPU (``time.process_time``) milliseconds and its floor, and the
load average. The floor is what exact float64 GPs cannot avoid on this machine: per GP evaluated,
its kernel's ``exp`` (and a Matérn's square root) over the 1,000 × n values and, where its std is
computed, its triangular product with L⁻¹; for a field, the decoding's two products (mean and
variance) and the std's square root. Each primitive is timed here, on one thread (best of 20).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from scipy.linalg.blas import dtrmm
from threadpoolctl import threadpool_limits

from twinkit.surrogates import fit_surrogate, from_dataset, split
from twinkit.surrogates.kernels import exp_
from twinkit.surrogates.model import Surrogate, load_surrogate


def best_ms(f: Callable[[], object], repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def floor_ms(s: Surrogate, m: int) -> float:
    """The `exp`, square roots and triangular products that exact GPs must do for m points, and
    a field's decoding (milliseconds, on this machine)."""
    rng = np.random.default_rng(0)
    cache: dict[tuple[str, int], float] = {}

    def prim(what: str, n: int) -> float:
        if (what, n) not in cache:
            a, b = rng.uniform(-5.0, 0.0, (m, n)), np.empty((m, n))
            if what == "exp":  # in place, on a fresh copy each time: less the copy's time
                copy = best_ms(lambda: np.copyto(b, a))
                cache[(what, n)] = best_ms(lambda: exp_(np.copyto(b, a) or b)) - copy
            elif what == "sqrt":
                positive = -a
                cache[(what, n)] = best_ms(lambda: np.sqrt(positive, out=b))
            else:  # I + small below the diagonal: repeated products stay of size ~1
                tri = np.asfortranarray(np.eye(n) + np.tril(rng.uniform(size=(n, n)), -1) / n**2)
                v = np.asfortranarray(rng.uniform(size=(n, m)))
                cache[(what, n)] = best_ms(lambda: dtrmm(1.0, tri, v, lower=1, overwrite_b=1))
        return cache[(what, n)]

    total = 0.0
    heads = [(h, s._replaced(h)) for h in [*s.scalar_heads, *s.field_heads.values()]]
    heads += [(e.head, frozenset[int]()) for e in s.extremes]
    for head, skip in heads:
        k = head.kriging
        if k is None:
            continue
        n = len(k.x)
        for j, (_, kind, *_, own) in enumerate(k._per_gp()):  # own: its std is computed
            if j not in skip:
                total += prim("exp", n) + (prim("sqrt", n) if kind else 0.0)
                total += prim("trmm", n) if own else 0.0
        if head.shape:  # a field's decoding: its mean's and variance's products, the std's root
            p, u = head.codec.modes.shape[0], head.codec.n_codes + 1
            decode = np.ones((m, u)), np.ones((u, p)), np.empty((m, p))
            total += 2 * best_ms(lambda d=decode: np.matmul(d[0], d[1], out=d[2]))
            total += prim("sqrt", p)
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data", type=Path, help="folder with dataset.nc (its training split)")
    ap.add_argument("--n", type=int, default=32, help="first n training samples")
    ap.add_argument("--load", type=Path, help="time this saved surrogate instead of training")
    ap.add_argument("--save", type=Path, help="save the trained surrogate here")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--json", type=Path, help="write every number here")
    a = ap.parse_args(argv)
    path = a.data / "dataset.nc"
    with xr.open_dataset(path) as ds:
        train = from_dataset(split(ds.load(), 0)[0], str(path))
    train = train.subset(np.arange(min(a.n, train.n)))
    out: dict[str, object] = {"n": train.n}
    if a.load:
        sur = load_surrogate(a.load)
    else:
        t0, c0 = time.perf_counter(), time.process_time()
        sur = fit_surrogate(train)
        out["train_cpu_s"], out["train_wall_s"] = time.process_time() - c0, time.perf_counter() - t0
        print(f"training, {train.n} samples: {time.process_time() - c0:.1f} s CPU, "
              f"{time.perf_counter() - t0:.1f} s wall")  # fmt: skip
        if a.save:
            sur.save(a.save)
    u = np.random.default_rng(0).uniform(size=(1000, len(train.inputs)))
    lo, hi = (np.array([train.bounds[n][i] for n in train.inputs]) for i in (0, 1))
    log = np.array([train.log_inputs[n] for n in train.inputs])
    with np.errstate(all="ignore"):  # the log branch of a linear input may be nan: not taken
        x = np.where(log, lo * (hi / lo) ** u, lo + (hi - lo) * u)
    cases = {"scalars": replace(sur, field_heads={})}
    for name, head in sur.field_heads.items():
        alone = {"scalar_heads": [], "field_heads": {name: head}, "extremes": []}
        cases[f"field {name}"] = replace(sur, **alone)
    if sur.field_heads:
        cases["everything"] = sur
    torch.set_num_threads(1)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, s in cases.items():
            s.predict(x)  # warm-up
            wall, cpu = [], []
            for _ in range(a.repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                s.predict(x)
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            floor = floor_ms(s, len(x))
            out[f"predict_ms {label}"] = {"wall": 1e3 * min(wall), "cpu": 1e3 * min(cpu),
                                          "floor": floor}  # fmt: skip
            print(
                f"1,000 predictions, {label}: {1e3 * min(wall):.1f} ms wall, "
                f"{1e3 * min(cpu):.1f} ms CPU (best of {a.repeat}); floor {floor:.1f} ms"
            )
    out["load_average"] = list(os.getloadavg())
    print(f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
