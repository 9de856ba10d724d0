"""The trained surrogate: predict mean ± std of QoIs, sensors and fields; save and load one file.

A :class:`Surrogate` is a set of heads on one input scaling. Each head predicts codes that a
:class:`twinkit.surrogates.pod.LinearCodec` decodes into outputs: the QoIs, the sensors, and one
head per field. Each code comes from a deep ensemble
(:class:`twinkit.surrogates.mlp.EnsembleMLP`), a Gaussian process
(:class:`twinkit.surrogates.kriging.KrigingCodes`) or their blend w GP + (1 − w) ensemble,
whichever cross-validated best. The std is the members' spread (times 1 − w) and the GP's std
(times w), added in quadrature through the decoder, times a calibration factor per output
(fitted on out-of-fold residuals). An output whose training values are positive and span more
than a decade may be modelled by its log (``Head.log``, where that cross-validates better): it
predicts the median e^μ and the delta method's std e^μ σ, with σ calibrated in log space.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from twinkit.surrogates.kriging import KrigingCodes
from twinkit.surrogates.mlp import EnsembleMLP, threads
from twinkit.surrogates.normalise import InputScaler
from twinkit.surrogates.pod import LinearCodec

FORMAT = "twinkit-surrogate"
FORMAT_VERSION = 4  # 4: a code may be a mixture of GPs (a field's); 3: kernels per code
OLDEST_READ = 3  # older files: retrain
# From this batch size a head with GPs predicts on every core: 1000 points, 15 GPs of 256 samples
# take 64 ms on one thread and 36 ms on two (furnace, benchmarks/surrogate.py --kriging).
KRIGING_PARALLEL_POINTS = 256


class SurrogateRangeWarning(UserWarning):
    """A prediction was asked for outside the surrogate's validity range (its training box)."""


@dataclass
class Prediction:
    """Ensemble mean and std per output or field name (SI units)."""

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]


@dataclass
class Head:
    """One ensemble and its decoder: scalar outputs (``names``) or one field (``shape``)."""

    net: EnsembleMLP
    codec: LinearCodec
    std_scale: np.ndarray  # (p,) calibration of the ensemble spread
    names: list[str]
    shape: tuple[int, ...] = ()  # field shape per sample, e.g. (node,) or (node, component)
    kriging: KrigingCodes | None = None  # GPs for some codes of the head
    # (p,) std of what the codes cannot hold (POD truncation of a new snapshot), in quadrature
    std_floor: np.ndarray | None = None
    # (p,) bool: outputs modelled by their log (`twinkit.surrogates.kriging.log_by_cv`)
    log: np.ndarray | None = None

    def ensemble_codes(self) -> list[int]:
        """The codes the ensemble predicts: all, or (networks of GP-only codes dropped) the rest."""
        k = self.codec.n_codes
        if self.kriging is None or self.net.spec["n_out"] == k:
            return list(range(k))
        return sorted(set(range(k)) - set(self.kriging.gp_only()))

    def codes(self, xs: torch.Tensor) -> torch.Tensor:
        """Members' codes (members, n, k) for scaled inputs; 0 for a code only a GP predicts."""
        rest = self.ensemble_codes()
        if len(rest) == self.codec.n_codes:
            return self.net(xs)
        z = xs.new_zeros((self.net.spec["members"], xs.shape[0], self.codec.n_codes))
        if rest:
            z[:, :, rest] = self.net(xs)
        return z

    def kriged_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """Output columns of the kriging codes and their decode factor (identity codec only)."""
        assert self.kriging is not None
        cols = np.argmax(self.codec.modes[:, self.kriging.index], axis=0)
        return cols, self.codec.z_scale * self.codec.scale[cols]

    def gp_variance(self, s: Any) -> Any:
        """Output variance (n, p) from independent GP stds s (n, g) of the kriging codes, numpy
        or torch: Σ_codes (s × the code's row of the decoder)²."""
        assert self.kriging is not None
        m2 = self.codec.decoder[self.kriging.index] ** 2  # (g, p)
        if isinstance(s, torch.Tensor):
            return (s * s) @ torch.as_tensor(m2, dtype=s.dtype)
        return (s * s) @ m2

    def _blend(self, z: Any, xs: torch.Tensor, torch_out: bool) -> tuple[Any, Any]:
        """Members' codes z (m, n, k) with each kriging code moved to w GP + (1 − w) member
        (the members' spread shrinks by 1 − w), and the GPs' output variance (n, p)."""
        assert self.kriging is not None
        t_zg, t_sg = self.kriging.mean_std(xs)
        t_w = self.kriging.weight
        t_pick = torch.zeros(len(t_w), self.codec.n_codes, dtype=t_zg.dtype)
        t_pick[torch.arange(len(t_w)), torch.as_tensor(self.kriging.index)] = 1.0
        parts: list[Any] = [t_zg, t_sg, t_w, t_pick, 1.0 - t_pick.sum(0)]
        zg, sg, w, pick, keep = parts if torch_out else [v.numpy() for v in parts]
        # through a one-hot (g, k) matrix, not index assignment: differentiable, and an ONNX
        # graph of it keeps its batch size free
        z = z * keep + ((1 - w) * (z @ pick.T) + w * zg) @ pick
        return z, self.gp_variance(w * sg)

    def mean_std_torch(self, xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.codes(xs)
        gp_var = None
        if self.kriging is not None:
            z, gp_var = self._blend(z, xs, True)
        y = self.codec.decode_torch(z)  # (m, n, p)
        mean = y.mean(0)
        tiny = torch.as_tensor((1e-12 * self.codec.scale) ** 2, dtype=y.dtype)
        d = y - mean  # by hand: torch's var over the members' axis is 20x slower here
        var = (d * d).sum(0) / max(len(y) - 1, 1)
        if gp_var is not None:
            var = var + gp_var
        if self.std_floor is not None:
            var = var + torch.as_tensor(self.std_floor**2, dtype=y.dtype)
        std = var.clamp_min(tiny).sqrt() * torch.as_tensor(self.std_scale, dtype=y.dtype)
        if self.log is None:
            return mean, std
        # elementwise with a 0/1 mask, not index assignment: differentiable, exported to ONNX
        # as is, and no exp of an output that is not logged (it could overflow)
        on = torch.as_tensor(self.log, dtype=y.dtype)
        factor = on * torch.exp(mean * on) + (1.0 - on)  # e^μ on the logged outputs, else 1
        return on * factor + (1.0 - on) * mean, std * factor

    def mean_std(self, xs: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std without forming every member's output at once (fields can be large).

        The same numbers as :meth:`mean_std_torch` but for the networks, which run in float32
        here (`EnsembleMLP.predict`), and only the codes that have networks are spread over the
        members: a head of GPs alone (every field) has no members' variance to decode.
        """
        c = self.codec
        rest = self.ensemble_codes()
        with torch.no_grad():
            members = self.net.predict(xs).numpy() if rest else None  # (m, n, len(rest))
            z_mean = np.zeros((len(xs), c.n_codes))
            gp_var: Any = 0.0
            if self.kriging is not None:
                zg, sg = (v.numpy() for v in self.kriging.mean_std(xs))
                w = self.kriging.weight.numpy()
                z_mean[:, self.kriging.index] = w * zg
                if members is None:  # GPs alone (every field)
                    mean, var = self._decode_gps(z_mean, w * sg)
                    return self._exp_log(mean, var)
                gp_var = self.gp_variance(w * sg)
        # a fresh (n, p) array, finished in place from here on: fields are large
        var = gp_var if isinstance(gp_var, np.ndarray) else np.zeros((len(xs), c.modes.shape[0]))
        if members is not None:
            share = np.ones(c.n_codes)  # the members' share of each code: 1 - w
            if self.kriging is not None:
                share[self.kriging.index] = 1.0 - self.kriging.weight.numpy()
            share = share[rest]
            z_mean[:, rest] += share * members.mean(0)
            dev = (members - members.mean(0)) * share
            decoder = c.decoder[rest]  # (len(rest), p)
            spread = sum((d @ decoder) ** 2 for d in dev) / max(len(members) - 1, 1)
            var += spread
        if self.std_floor is not None:
            var += self.std_floor**2
        np.sqrt(var, out=var)
        var *= self.std_scale
        return self._exp_log(c.decode(z_mean), var)

    def _decode_gps(self, z: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std (n, p) of a head of GPs alone from their codes' means z and stds s: the
        offset, the floor and the calibration are one more row of the two products, so that
        only the square root passes over the (n, p) arrays after them (three passes fewer)."""
        assert self.kriging is not None
        c, one = self.codec, np.ones((len(z), 1))
        floor = np.zeros(c.modes.shape[0]) if self.std_floor is None else self.std_floor
        rows = np.vstack([c.decoder[self.kriging.index] ** 2, floor**2]) * self.std_scale**2
        var = np.hstack([s * s, one]) @ rows
        return np.hstack([z, one]) @ np.vstack([c.decoder, c.offset]), np.sqrt(var, out=var)

    def _exp_log(self, mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The logged outputs' median e^μ and the delta method's std e^μ σ, in place."""
        if self.log is not None:
            mean[:, self.log] = np.exp(mean[:, self.log])
            std[:, self.log] *= mean[:, self.log]
        return mean, std

    def state(self) -> dict[str, Any]:
        return {
            "net": self.net.state(),
            "codec": self.codec.state(),
            "std_scale": torch.from_numpy(np.ascontiguousarray(self.std_scale, dtype=np.float64)),
            "names": list(self.names),
            "shape": list(self.shape),
            "kriging": None if self.kriging is None else self.kriging.state(),
            "std_floor": None if self.std_floor is None else torch.from_numpy(self.std_floor),
            "log": None if self.log is None else torch.from_numpy(self.log),
        }

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> Head:
        return cls(
            EnsembleMLP.from_state(s["net"]),
            LinearCodec.from_state(s["codec"]),
            s["std_scale"].numpy(),
            list(s["names"]),
            tuple(s["shape"]),
            None if s.get("kriging") is None else KrigingCodes.from_state(s["kriging"]),
            None if s.get("std_floor") is None else s["std_floor"].numpy(),
            None if s.get("log") is None else s["log"].numpy(),
        )


@dataclass
class Surrogate:
    """Mean ± std of scalar outputs and fields as functions of the inputs (SI units)."""

    inputs: list[str]
    input_units: dict[str, str]
    scaler: InputScaler
    scalar_heads: list[Head]
    field_heads: dict[str, Head]
    units: dict[str, str]  # output/field name → unit
    meta: dict[str, Any] = field(default_factory=dict)  # metrics, provenance, config, versions
    mesh: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        s = self.scaler
        return {n: (float(s.lower[i]), float(s.upper[i])) for i, n in enumerate(self.inputs)}

    @property
    def outputs(self) -> list[str]:
        return [n for h in self.scalar_heads for n in h.names]

    @property
    def fields(self) -> list[str]:
        return list(self.field_heads)

    def as_array(self, x: Mapping[str, Any] | np.ndarray) -> np.ndarray:
        """Inputs as an (n, n_inputs) float64 array in :attr:`inputs` order."""
        if isinstance(x, Mapping):
            missing = [n for n in self.inputs if n not in x]
            extra = [str(n) for n in x if n not in self.inputs]
            if missing or extra:
                raise ValueError(
                    f"surrogate inputs are {self.inputs}; missing {missing}, unknown {extra}"
                )
            cols = np.broadcast_arrays(*(np.asarray(x[n], dtype=np.float64) for n in self.inputs))
            return np.column_stack([c.ravel() for c in cols])
        a = np.asarray(x, dtype=np.float64)
        if a.ndim > 2 or a.shape[-1] != len(self.inputs):
            raise ValueError(f"expected inputs of shape (n, {len(self.inputs)}), got {a.shape}")
        return a.reshape(-1, len(self.inputs))

    def check_range(self, x: np.ndarray, strict: bool = False) -> None:
        """Warn (or raise ValueError if ``strict``) when inputs leave the validity range."""
        out = self.scaler.outside(x)
        if not out.any():
            return
        parts = [
            f"{n} in [{lo:.6g}, {hi:.6g}] {self.input_units[n]} ({int(out[:, i].sum())} point(s), "
            f"e.g. {x[out[:, i], i][0]:.6g})"
            for i, (n, (lo, hi)) in enumerate(self.bounds.items())
            if out[:, i].any()
        ]
        msg = "inputs outside the surrogate's validity range: " + "; ".join(parts)
        if strict:
            raise ValueError(msg)
        warnings.warn(msg, SurrogateRangeWarning, stacklevel=3)

    def predict(self, x: Mapping[str, Any] | np.ndarray, strict: bool = False) -> Prediction:
        """Mean and std of every scalar output and field for inputs ``x`` (SI).

        Runs torch and BLAS on one thread (these networks are small, and one thread is both the
        fastest and immune to a busy machine: threads waiting for each other cost 10x), except
        for a head with GPs on a large batch (:meth:`inference_threads`).
        """
        a = self.as_array(x)
        self.check_range(a, strict)
        xs = torch.from_numpy(self.scaler.transform(a))
        mean, std = {}, {}
        for head in [*self.scalar_heads, *self.field_heads.values()]:
            n = self.inference_threads(len(a), [head])
            with threads(n), blas_controller().limit(limits=n):
                m, s = head.mean_std(xs)
            if head.shape:
                name = head.names[0]
                mean[name], std[name] = (v.reshape(len(a), *head.shape) for v in (m, s))
            else:
                for j, name in enumerate(head.names):
                    mean[name], std[name] = m[:, j], s[:, j]
        return Prediction(mean, std)

    def inference_threads(self, n_points: int, heads: list[Head] | None = None) -> int:
        """Torch threads for predicting ``n_points`` with ``heads`` (default: the scalar ones):
        1, or every core torch uses where a head has GPs and the batch has at least
        ``KRIGING_PARALLEL_POINTS``: their triangular solves are large enough to share."""
        heads = self.scalar_heads if heads is None else heads
        big = n_points >= KRIGING_PARALLEL_POINTS and any(h.kriging is not None for h in heads)
        return torch.get_num_threads() if big else 1

    def torch_scalar(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Differentiable mean and std (n, len(outputs)) for SI inputs x (n, n_inputs) float64.

        Uses torch's current thread setting; ``twinkit.surrogates.mlp.one_thread()`` around a
        loop of calls is fastest for these small networks.
        """
        xs = self.scaler.transform_torch(x.to(torch.float64))
        if not self.scalar_heads:
            empty = xs.new_zeros((len(xs), 0))
            return empty, empty
        pairs = [h.mean_std_torch(xs) for h in self.scalar_heads]
        return torch.cat([m for m, _ in pairs], 1), torch.cat([s for _, s in pairs], 1)

    def save(self, path: str | os.PathLike) -> Path:
        """Write one self-describing file (atomic rename); load it with :func:`load_surrogate`."""
        path = Path(path)
        state = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "inputs": list(self.inputs),
            "input_units": dict(self.input_units),
            "scaler": self.scaler.state(),
            "scalar_heads": [h.state() for h in self.scalar_heads],
            "field_heads": {n: h.state() for n, h in self.field_heads.items()},
            "units": dict(self.units),
            "meta": plain(self.meta),
            "mesh": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.mesh.items()},
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
        return path


@functools.cache
def blas_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries, found once: looking them up (reading
    /proc/self/maps) took 7 ms per call, as long as 1000 predictions of a head."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def plain(obj: Any) -> Any:
    """Nested containers of str/int/float/bool/None only (what ``weights_only`` loading allows)."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, bool) or obj is None:
        return obj
    for t in (str, int, float):  # subclasses (torch's version string) become the plain type
        if isinstance(obj, t):
            return t(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in a surrogate file")


def load_surrogate(path: str | os.PathLike) -> Surrogate:
    """Load a surrogate saved by :meth:`Surrogate.save` (``torch.load(weights_only=True)``)."""
    try:
        s = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:
        raise ValueError(f"{path}: not a readable surrogate file ({e})") from None
    if not isinstance(s, dict) or s.get("format") != FORMAT:
        raise ValueError(f"{path}: not a twinkit surrogate file")
    if s["format_version"] < OLDEST_READ:
        raise ValueError(
            f"{path}: surrogate format version {s['format_version']} was written by an older "
            f"twinkit; this one reads versions {OLDEST_READ}-{FORMAT_VERSION}. Retrain it with "
            "`twinkit train`"
        )
    if s["format_version"] > FORMAT_VERSION:
        raise ValueError(
            f"{path}: surrogate format version {s['format_version']} is newer than this "
            f"version of surrogates reads ({FORMAT_VERSION})"
        )
    return Surrogate(
        inputs=list(s["inputs"]),
        input_units=dict(s["input_units"]),
        scaler=InputScaler.from_state(s["scaler"]),
        scalar_heads=[Head.from_state(h) for h in s["scalar_heads"]],
        field_heads={n: Head.from_state(h) for n, h in s["field_heads"].items()},
        units=dict(s["units"]),
        meta=s["meta"],
        mesh={k: v.numpy() for k, v in s["mesh"].items()},
    )
