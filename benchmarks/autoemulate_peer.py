"""AutoEmulate's Gaussian process on arrays that `benchmarks/peers.py` hands over, in its own venv.

AutoEmulate 2.1.2 needs torch 2.12 (through its dependencies) and brings JAX and Jupyter; this
project runs a newer torch, so AutoEmulate lives in a separate environment (made once, about
2 minutes; ``runs/`` is not part of the repository)::

    python3.12 -m venv runs/ae-venv && runs/ae-venv/bin/pip install autoemulate==2.1.2
    python benchmarks/peers.py runs/peers/data --autoemulate runs/ae-venv/bin/python

and peers.py runs this script with that interpreter on the same training and test arrays, in
the same run as the other peers:

    runs/ae-venv/bin/python benchmarks/autoemulate_peer.py IN.npz OUT.npz

IN holds ``x`` (n, d) and ``y`` (n, p) to train on, ``xq`` (m, d) to predict and ``x1000``
(1,000 points) to time; inputs already on peers.py's scaled box. OUT gets ``mean`` and ``std``
(m, p), ``fit_s`` and ``predict_s`` (best of three predictions of the 1,000 points with their
std, one thread). The model is AutoEmulate's ``GaussianProcessMatern32`` with its defaults
(constant mean, anisotropic Matérn 3/2 per output, outputs standardised, 50 AdamW epochs), one
model for all outputs (a batch of independent GPs), as in the issue's first comparison.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch


def main(src: str, dst: str) -> None:
    from autoemulate.emulators.gaussian_process.exact import GaussianProcessMatern32

    torch.set_num_threads(1)
    torch.manual_seed(0)
    with np.load(src) as f:
        x, y, xq, x1000 = (torch.from_numpy(f[k]).float() for k in ("x", "y", "xq", "x1000"))
    t0 = time.perf_counter()
    gp = GaussianProcessMatern32(x, y)
    gp.fit(x, y)
    fit_s = time.perf_counter() - t0

    def predict(points: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        out = gp.predict(points)  # in y's units (predict_mean_and_variance skips the scaling)
        mean, var = out.mean.detach().double(), out.variance.detach().double()
        return mean.numpy(), var.clamp_min(0).sqrt().numpy()

    mean, std = predict(xq)
    predict(x1000[:8])  # warm-up
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        predict(x1000)
        times.append(time.perf_counter() - t0)
    np.savez(dst, mean=mean, std=std, fit_s=fit_s, predict_s=min(times))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
