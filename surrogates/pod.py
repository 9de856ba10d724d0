"""Linear output codes: standardisation and proper orthogonal decomposition (POD).

Every output group (QoIs, sensors, one field) is learnt as a small vector of codes z, decoded by

    y = offset + ((z * z_scale) @ modes.T) * scale

For scalar QoIs the modes are the identity (plain standardisation). For sensors and fields the modes
are the leading left singular vectors of the centred, scaled snapshot matrix, truncated by an energy
criterion: keep the fewest modes whose squared singular values hold ``energy`` of the total. One
common ``z_scale`` (the spread of the first code) keeps the training loss proportional to the
reconstruction error, so the network spends its accuracy on the energetic modes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch

from twinkit.surrogates.normalise import column_scale, constant_columns


@dataclass(frozen=True)
class LinearCodec:
    """Decoder y = offset + ((z * z_scale) @ modes.T) * scale and its least-squares encoder."""

    offset: np.ndarray  # (p,)
    scale: np.ndarray  # (p,)
    modes: np.ndarray  # (p, k), orthonormal columns
    z_scale: float
    singular_values: np.ndarray  # all of them, for the energy report

    @classmethod
    def standardise(cls, y: np.ndarray) -> LinearCodec:
        """Identity modes: codes are the outputs standardised column by column.

        A (numerically) constant column gets no code: it decodes to its mean exactly, rather than
        to the mean plus the network's error on a code that only holds round-off.
        """
        p = y.shape[1]
        varying = ~constant_columns(y)
        if not varying.any():
            varying[:1] = True  # one code to keep the shapes; its target is 0
        sv = np.concatenate([np.ones(varying.sum()), np.zeros(p - varying.sum())])
        return cls(y.mean(axis=0), column_scale(y), np.eye(p)[:, varying], 1.0, sv)

    @classmethod
    def pod(
        cls, y: np.ndarray, energy: float, per_column: bool, max_modes: int | None = None
    ) -> LinearCodec:
        """POD of snapshots ``y`` (n, p).

        Parameters
        ----------
        energy
            Fraction of the snapshot variance the kept modes must hold, e.g. 0.99999.
        per_column
            Standardise each column before the SVD (sensors with different units); otherwise one
            common scale (one field).
        max_modes
            Upper limit on the number of modes (default: no limit beyond n - 1).
        """
        if not 0 < energy <= 1:
            raise ValueError(f"POD energy must lie in (0, 1], got {energy}")
        offset = y.mean(axis=0)
        if per_column:
            scale = column_scale(y)
        else:
            s = float(np.sqrt(((y - offset) ** 2).mean()))
            scale = np.full(y.shape[1], s if s > 0 else 1.0)
        _, sv, vt = np.linalg.svd((y - offset) / scale, full_matrices=False)
        k = n_modes(sv, energy)
        if max_modes is not None:
            k = min(k, max_modes)
        modes = vt[:k].T
        z_first = sv[0] / np.sqrt(len(y)) if sv[0] > 0 else 1.0
        return cls(offset, scale, modes, float(z_first), sv)

    @property
    def n_codes(self) -> int:
        return int(self.modes.shape[1])

    @property
    def energy(self) -> float:
        """Fraction of the snapshot variance held by the kept modes."""
        e = self.singular_values**2
        return float(e[: self.n_codes].sum() / e.sum()) if e.sum() > 0 else 1.0

    def encode(self, y: np.ndarray) -> np.ndarray:
        return ((y - self.offset) / self.scale) @ self.modes / self.z_scale

    @cached_property
    def decoder(self) -> np.ndarray:
        """(k, p): the modes with z_scale and scale folded in, so that decoding is one product
        and one sum (for 1,000 fields of 2,522 values, two passes over 20 MB fewer)."""
        return np.ascontiguousarray((self.modes * (self.z_scale * self.scale)[:, None]).T)

    def decode(self, z: np.ndarray) -> np.ndarray:
        out = np.asarray(z) @ self.decoder
        out += self.offset
        return out

    def decode_deviation(self, dz: np.ndarray) -> np.ndarray:
        """Decode a difference of codes (no offset): the output change it makes."""
        return np.asarray(dz) @ self.decoder

    def decode_torch(self, z: torch.Tensor) -> torch.Tensor:
        """Differentiable :meth:`decode`; z (..., k) → (..., p)."""
        offset = torch.as_tensor(self.offset, dtype=z.dtype)
        return offset + z @ torch.as_tensor(self.decoder, dtype=z.dtype)

    def state(self) -> dict[str, Any]:
        return {
            "offset": torch.from_numpy(self.offset.copy()),
            "scale": torch.from_numpy(self.scale.copy()),
            "modes": torch.from_numpy(np.ascontiguousarray(self.modes)),
            "z_scale": float(self.z_scale),
            "singular_values": torch.from_numpy(self.singular_values.copy()),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LinearCodec:
        arrays = {
            n: state[n].numpy().astype(np.float64)
            for n in ("offset", "scale", "modes", "singular_values")
        }
        return cls(z_scale=float(state["z_scale"]), **arrays)


def truncation_rms(y: np.ndarray, codec: LinearCodec, fold: np.ndarray, n_folds: int) -> np.ndarray:
    """Per output (p,) the RMS error of projecting held-out snapshots on ``codec``'s number of
    modes from a POD of the other folds: the part of a new snapshot the kept modes miss (in the
    training snapshots' own POD it is smaller, as they span the basis)."""
    if codec.n_codes >= min(len(y) - 1, y.shape[1]) or bool(np.all(codec.singular_values == 0)):
        return np.zeros(y.shape[1])
    sq, count = np.zeros(y.shape[1]), 0
    for f in range(n_folds):
        held = fold == f
        if not held.any() or held.all():
            continue
        rest = (y[~held] - y[~held].mean(0)) / codec.scale
        vt = np.linalg.svd(rest, full_matrices=False)[2][: codec.n_codes]
        d = (y[held] - y[~held].mean(0)) / codec.scale
        sq += (((d - d @ vt.T @ vt) * codec.scale) ** 2).sum(0)
        count += int(held.sum())
    return np.sqrt(sq / max(count, 1))


def n_modes(singular_values: np.ndarray, energy: float) -> int:
    """Fewest leading modes whose squared singular values hold ``energy`` of the total (≥ 1)."""
    e = singular_values**2
    if e.sum() == 0:
        return 1
    k = int(np.searchsorted(np.cumsum(e) / e.sum(), energy - 1e-15)) + 1
    return min(k, len(e))
