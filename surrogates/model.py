"""The trained surrogate: predict mean ± std of QoIs, sensors and fields; save and load one file.

A :class:`Surrogate` is a set of heads (:class:`twinkit.surrogates.head.Head`) on one input
scaling: one for the QoIs, one for the sensors, one per field. Each head predicts codes that a
:class:`twinkit.surrogates.pod.LinearCodec` decodes into its outputs, from a deep ensemble, a
Gaussian process or their blend, whichever cross-validated best, with a std calibrated per
output (fitted on out-of-fold residuals); an output may be modelled by its log.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from twinkit.surrogates.extremes import Extreme
from twinkit.surrogates.head import Head
from twinkit.surrogates.mlp import one_thread_inference
from twinkit.surrogates.normalise import InputScaler

FORMAT = "twinkit-surrogate"
FORMAT_VERSION = 6  # 6: outputs predicted as a field's extreme; 5: a mixture may take its std
# from its first GP; 4: a code may be a mixture of GPs (a field's); 3: kernels per code
OLDEST_READ = 3  # older files: retrain


class SurrogateRangeWarning(UserWarning):
    """A prediction was asked for outside the surrogate's validity range (its training box)."""


@dataclass
class Prediction:
    """Ensemble mean and std per output or field name (SI units)."""

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]


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
    # outputs predicted as the extreme of a field's prediction (`twinkit.surrogates.extremes`):
    # they replace those outputs' heads' mean and std
    extremes: list[Extreme] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = [e.output for e in self.extremes if e.output not in self.outputs]
        if unknown:
            raise ValueError(f"extremes of outputs the surrogate does not have: {unknown}")

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

        Runs torch and BLAS on one thread (`one_thread_inference`).
        """
        a = self.as_array(x)
        self.check_range(a, strict)
        xs = torch.from_numpy(self.scaler.transform(a))
        mean, std = {}, {}
        with one_thread_inference():
            for head in [*self.scalar_heads, *self.field_heads.values()]:
                m, s = head.mean_std(xs, self._replaced(head))
                if head.shape:
                    name = head.names[0]
                    mean[name], std[name] = (v.reshape(len(a), *head.shape) for v in (m, s))
                else:
                    for j, name in enumerate(head.names):
                        mean[name], std[name] = m[:, j], s[:, j]
            for e in self.extremes:
                mean[e.output], std[e.output] = e.mean_std(xs)
        return Prediction(mean, std)

    def _replaced(self, head: Head) -> frozenset[int]:
        """The GPs of ``head`` whose outputs an extreme replaces (each the code of that output
        alone: all its GPs, a mixture's too): `predict` need not evaluate them. The code's value
        (its GPs' share 0) and its variance then reach that output only."""
        k, gps = head.kriging, list[int]()
        replaced = [e.output for e in self.extremes if e.output in head.names]
        if not replaced or k is None:  # (a field's head: never)
            return frozenset()
        used = head.codec.modes != 0
        mix = np.eye(len(k.index)) if k.mix is None else k.mix.numpy()  # (codes, GPs)
        for output in replaced:
            codes = np.flatnonzero(used[head.names.index(output)])
            if len(codes) == 1 and used[:, codes[0]].sum() == 1 and int(codes[0]) in k.index:
                gps.extend(int(j) for j in np.flatnonzero(mix[k.index.index(int(codes[0]))]))
        return frozenset(gps)

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
        mean, std = torch.cat([m for m, _ in pairs], 1), torch.cat([s for _, s in pairs], 1)
        names = self.outputs
        for e in self.extremes:  # a one-hot column, not index assignment: differentiable
            m, s = e.mean_std_torch(xs)
            one = torch.zeros(len(names), dtype=mean.dtype)
            one[names.index(e.output)] = 1.0
            mean = mean * (1.0 - one) + m[:, None] * one
            std = std * (1.0 - one) + s[:, None] * one
        return mean, std

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
            "extremes": [e.state() for e in self.extremes],
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
        return path


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
    _stored_only(path)
    try:
        s = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:
        if "weights only load failed" in str(e).lower():  # (its advice: weights_only=False, unsafe)
            raise ValueError(
                f"{path}: not a twinkit surrogate file: not only tensors and plain data (damaged, "
                "or holding Python objects, whose loading could run code: refused)"
            ) from None
        raise ValueError(f"{path}: not a readable surrogate file ({e})") from None
    if not isinstance(s, dict) or s.get("format") != FORMAT:
        raise ValueError(f"{path}: not a twinkit surrogate file")
    if not isinstance(s.get("format_version"), int):
        raise ValueError(f"{path}: a twinkit surrogate file without a format version")
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
    try:
        sur = Surrogate(
            inputs=list(s["inputs"]),
            input_units=dict(s["input_units"]),
            scaler=InputScaler.from_state(s["scaler"]),
            scalar_heads=[Head.from_state(h) for h in s["scalar_heads"]],
            field_heads={n: Head.from_state(h) for n, h in s["field_heads"].items()},
            units=dict(s["units"]),
            meta=s["meta"],
            mesh={k: v.numpy() for k, v in s["mesh"].items()},
            extremes=[Extreme.from_state(e) for e in s.get("extremes", [])],
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as e:
        raise ValueError(f"{path}: a damaged surrogate file ({type(e).__name__}: {e})") from None
    _predicts(sur, path)
    return sur


def _stored_only(path: str | os.PathLike) -> None:
    """ValueError naming ``path`` if it is a zip file (as `torch.save` writes) with compressed
    entries, or entries larger than the file: `torch.save` stores them uncompressed, and
    `torch.load` inflates compressed ones (0.5 MB of deflated zeros had it fill 1 GiB). Stored,
    what it reads is at most the file's own size. Other files are `torch.load`'s to refuse."""
    try:
        if not zipfile.is_zipfile(path):
            return
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable surrogate file ({e})") from None
    packed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED]
    if packed:
        raise ValueError(
            f"{path}: not a twinkit surrogate file: {len(packed)} compressed entries "
            f"({packed[0]}, ...), which could expand to any size; twinkit stores them uncompressed"
        )
    if sum(i.file_size for i in infos) > os.path.getsize(path):
        raise ValueError(f"{path}: a damaged surrogate file (its entries are larger than it)")


def _predicts(sur: Surrogate, path: str | os.PathLike) -> None:
    """ValueError naming ``path`` unless the loaded surrogate predicts finite values at the centre
    of its box: a file whose tensors were cut, reshaped or overwritten loads, and would fail (or
    answer NaN) only later, inside a calibration or an optimisation."""
    lo, hi = (np.array([b[i] for b in sur.bounds.values()], dtype=float) for i in (0, 1))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = sur.predict((lo + hi)[None] / 2.0)
    except Exception as e:  # shapes that do not fit, a singular factor, ...
        raise ValueError(
            f"{path}: a damaged surrogate file (it cannot predict: {type(e).__name__}: {e})"
        ) from None
    bad = [n for n in p.mean if not (np.isfinite(p.mean[n]).all() and np.isfinite(p.std[n]).all())]
    if bad:
        raise ValueError(
            f"{path}: a damaged surrogate file (no finite prediction of {', '.join(bad[:5])} at "
            "the centre of its input box)"
        )
