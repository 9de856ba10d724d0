"""Deep ensembles of small MLPs on a polynomial trend, evaluated together as one batched network.

Every member m predicts the codes z (k of them) of its head as

    z_m(x) = P(x) C_m + s ⊙ N_m(x),

a polynomial trend (:mod:`twinkit.surrogates.trend`) plus small tanh networks N_m scaled by
``out_scale`` s
(per code). With ``separate`` networks (the default), each code of each member has its own network
with one output, so an output never shares its hidden units with another (as a Gaussian process per
output does not); otherwise one network per member gives all k codes. The networks' weights are
stacked (network, in, out), so one batched matrix product evaluates every network of every member.
Training is in :mod:`twinkit.surrogates.training`.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from twinkit.surrogates.trend import exponents, features_torch

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "silu": torch.nn.functional.silu,
}


def _tanh_(h: torch.Tensor) -> torch.Tensor:
    """tanh in place as 2 σ(2h) − 1, for float32 inference: torch's CPU tanh took 1.57 ms for
    640,000 float32 values on one thread, this 0.33 ms; it differs by at most a few float32
    round-offs (~1e-7) near 0, where tanh is small."""
    torch.sigmoid(h.mul_(2.0), out=h)
    return h.mul_(2.0).sub_(1.0)


# in place, without gradients (`EnsembleMLP.predict`)
_INPLACE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": _tanh_,
    "silu": lambda h: torch.nn.functional.silu(h, inplace=True),
}


class EnsembleMLP(torch.nn.Module):
    """``members`` ensemble members (n_in → hidden… → n_out codes) on a trend, float64."""

    trend_coef: torch.Tensor  # (members, terms, n_out) buffer
    out_scale: torch.Tensor  # (n_out,) buffer
    spec: dict[str, Any]

    def __init__(
        self,
        members: int,
        n_in: int,
        hidden: Sequence[int],
        n_out: int,
        activation: str = "tanh",
        generator: torch.Generator | None = None,
        trend_degree: int = 0,
        separate: bool = False,
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation '{activation}': expected one of {sorted(ACTIVATIONS)}")
        self.spec = {
            "members": members,
            "n_in": n_in,
            "hidden": [int(h) for h in hidden],
            "n_out": n_out,
            "activation": activation,
            "trend_degree": int(trend_degree),
            "separate": bool(separate),
        }
        nets = members * n_out if separate else members
        sizes = [n_in, *hidden, 1 if separate else n_out]
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            bound = math.sqrt(6.0 / (a + b))  # Glorot uniform, suited to tanh
            w = (torch.rand(nets, a, b, generator=generator, dtype=torch.float64) * 2 - 1) * bound
            self.weights.append(torch.nn.Parameter(w))
            self.biases.append(torch.nn.Parameter(torch.zeros(nets, 1, b, dtype=torch.float64)))
        self._act: Callable[[torch.Tensor], torch.Tensor] = ACTIVATIONS[activation]
        n_terms = len(exponents(n_in, trend_degree))
        self.register_buffer(
            "trend_coef", torch.zeros(members, n_terms, n_out, dtype=torch.float64)
        )
        self.register_buffer("out_scale", torch.ones(n_out, dtype=torch.float64))

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The networks alone, (members, n, n_out): what they learn is (codes - trend) / scale."""
        h = x.unsqueeze(0).expand(len(self.weights[0]), *x.shape)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = self._act(h)
        if self.spec["separate"]:  # (members · n_out, n, 1) → (members, n, n_out)
            h = h.reshape(self.spec["members"], self.spec["n_out"], -1).transpose(1, 2)
        return h

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` without gradients, the networks in float32 (the trend and the output
        scale stay float64): tanh and the small batched products take a quarter and a half of
        their float64 time (1,000 points, one thread), and the networks' outputs, of unit size,
        change by ~1e-7 of themselves, far below any fitting error."""
        with torch.no_grad():
            h = x.to(torch.float32).unsqueeze(0).expand(len(self.weights[0]), *x.shape)
            last = len(self.weights) - 1
            for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
                if i < last:
                    h = torch.baddbmm(b.to(torch.float32), h, w.to(torch.float32))
                    h = _INPLACE[self.spec["activation"]](h)
                else:  # few outputs: NumPy's batched product took 1/4-1/3 of baddbmm's time
                    out = np.matmul(h.numpy(), w.detach().to(torch.float32).numpy())
                    h = torch.from_numpy(out).add_(b.to(torch.float32))
            if self.spec["separate"]:
                h = h.reshape(self.spec["members"], self.spec["n_out"], -1).transpose(1, 2)
            return self.trend(x) + self.out_scale * h.to(x.dtype)

    def trend(self, x: torch.Tensor) -> torch.Tensor:
        """Each member's polynomial trend (members, n, n_out)."""
        return features_torch(x, self.spec["trend_degree"]) @ self.trend_coef

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (n, n_in) → codes (members, n, n_out): trend + out_scale · networks."""
        return self.trend(x) + self.out_scale * self.residual(x)

    def subset(self, codes: Sequence[int]) -> EnsembleMLP:
        """The same members for the given codes only (separate networks: each code has its own)."""
        if not self.spec["separate"]:
            raise ValueError("only an ensemble of separate networks per code can be subset")
        members, k = self.spec["members"], self.spec["n_out"]
        nets = [m * k + c for m in range(members) for c in codes]
        net = EnsembleMLP(**(self.spec | {"n_out": len(codes)}), generator=torch.Generator())
        with torch.no_grad():
            for src, dst in zip([*self.weights, *self.biases], [*net.weights, *net.biases],
                                strict=True):  # fmt: skip
                dst.copy_(src[nets])
            net.trend_coef.copy_(self.trend_coef[:, :, list(codes)])
            net.out_scale.copy_(self.out_scale[list(codes)])
        return net

    def penalty(self) -> torch.Tensor:
        """Sum of squared weights (not biases) of every network: the L2 regulariser."""
        return sum((w * w).sum() for w in self.weights)  # type: ignore[return-value]

    def state(self) -> dict[str, Any]:
        tensors = {k: v.detach().clone() for k, v in self.state_dict().items()}
        return {"spec": dict(self.spec), "tensors": tensors}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EnsembleMLP:
        net = cls(**state["spec"])
        defaults = {"trend_coef": net.trend_coef, "out_scale": net.out_scale}  # files before trends
        net.load_state_dict(defaults | state["tensors"])
        return net


@contextmanager
def threads(n: int) -> Iterator[None]:
    """Run torch on n threads inside the block."""
    prev = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


@functools.cache
def blas_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries, found once: looking them up (reading
    /proc/self/maps) took 7 ms per call, as long as 1000 predictions of a head."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch and BLAS on one thread: small networks gain nothing from more, and on a busy
    machine OpenMP threads waiting for each other slow training down by an order of magnitude.
    BLAS too: the ensembles' L-BFGS (`twinkit.surrogates.lbfgs.WolfeLBFGS`) takes dot products
    of a few thousand values in NumPy, which OpenBLAS spread over both cores, its threads
    spinning between calls (furnace, 32 samples: a fit took 22-23 s CPU in 14.2-14.7 s wall, and
    13.3 s CPU in 12.3 s wall with OpenBLAS on one thread)."""
    with threads(1), blas_controller().limit(limits=1, user_api="blas"):
        yield


def set_deterministic(mode: bool, warn_only: bool = False) -> None:
    """``torch.use_deterministic_algorithms(mode, warn_only=warn_only)`` without importing
    torch's compiler: the public call also sets inductor's flag, and importing inductor imports
    dynamo (1.4 s CPU in a fresh process, a tenth of training at 32 furnace samples). Where
    inductor is not loaded nothing in this process compiles, so the eager switch alone is the
    same."""
    eager = getattr(torch._C, "_set_deterministic_algorithms", None)
    if "torch._inductor.config" in sys.modules or eager is None:
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)
    else:
        eager(mode, warn_only=warn_only)


@contextmanager
def one_thread_inference() -> Iterator[None]:
    """Torch and BLAS on one thread: `Surrogate.predict`. Its networks are small, and one thread
    is both the fastest and immune to a busy machine (threads waiting for each other cost 10x).
    Until session 24 a head with GPs predicted a batch of 256 points or more on every core,
    which had become 2-7x slower than one thread (furnace, 1,000 points, 2 cores: scalars 15.4
    against 7.9 ms at 32 samples, 244 against 34 at 128; `KrigingCodes.gp_mean_std`)."""
    with threads(1), blas_controller().limit(limits=1):
        yield
