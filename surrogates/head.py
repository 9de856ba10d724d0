"""One head of a surrogate: the codes of its outputs (networks, GPs or their blend), decoded.

A :class:`Head` predicts codes that a :class:`twinkit.surrogates.pod.LinearCodec` decodes into
its outputs: the scalar outputs of one kind (QoIs, sensors) or one field. Each code comes from a
deep ensemble (:class:`twinkit.surrogates.mlp.EnsembleMLP`), a Gaussian process
(:class:`twinkit.surrogates.kriging.KrigingCodes`) or their blend w GP + (1 − w) ensemble; the
std is the members' spread (times 1 − w) and the GP's std (times w), added in quadrature through
the decoder, times a calibration factor per output. An output may be modelled by its log
(``Head.log``): the head then predicts the median e^μ and the delta method's std e^μ σ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from twinkit.surrogates.kriging import KrigingCodes
from twinkit.surrogates.mlp import EnsembleMLP
from twinkit.surrogates.pod import LinearCodec


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
    # (p,) bool: outputs modelled by their log (`twinkit.surrogates.normalise.log_by_cv`)
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

    def mean_std(
        self, xs: torch.Tensor, skip: frozenset[int] = frozenset()
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std without forming every member's output at once (fields can be large).

        The same numbers as :meth:`mean_std_torch` but for the networks, which run in float32
        here (`EnsembleMLP.predict`), and only the codes that have networks are spread over the
        members: a head of GPs alone (every field) has no members' variance to decode. The GPs
        ``skip`` (`KrigingCodes.gp_mean_std`) may be left out: their outputs are not wanted.
        """
        c = self.codec
        rest = self.ensemble_codes()
        with torch.no_grad():
            members = self.net.predict(xs).numpy() if rest else None  # (m, n, len(rest))
            z_mean = np.zeros((len(xs), c.n_codes))
            gp_var: Any = 0.0
            if self.kriging is not None:
                zg, sg = (v.numpy() for v in self.kriging.mean_std(xs, skip))
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
