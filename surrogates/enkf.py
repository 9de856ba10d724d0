"""Sequential calibration: a stochastic ensemble Kalman filter on a surrogate.

The state is the latent inputs in the prior-standardised coordinates u of
`twinkit.surrogates.calibrate.Calibration` (the prior is N(0, I)). Between updates the state
follows a random walk (the plant may drift): u ← u + q·√(Δt / 1 h)·ε. An update with observations y,
noise R and ensemble predictions Y = m(θ(u)) moves every member by the Kalman gain

    K = C_uy (C_yy + R)⁻¹,   u_i ← u_i + K (y + ε_i − Y_i),   ε_i ~ N(0, R),

where R also holds the surrogate's own variance. Pure torch; one batched surrogate call per update.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from twinkit.surrogates.calibrate import Calibration


class EnsembleFilter:
    """EnKF over the unknowns of `calibration`; `members` ensemble members, seeded."""

    def __init__(
        self,
        calibration: Calibration,
        members: int = 64,
        process_std: float = 0.1,
        seed: int = 0,
        clip: float = 4.0,
    ):
        self.cal, self.q, self.clip = calibration, process_std, clip
        self.g = torch.Generator().manual_seed(seed)
        d = len(calibration.names)
        self.U = torch.randn(members, d, generator=self.g, dtype=torch.float64)

    def forecast(self, dt: float) -> None:
        """Random-walk growth over `dt` seconds."""
        if dt > 0 and self.q > 0:
            e = torch.randn(self.U.shape, generator=self.g, dtype=torch.float64)
            self.U = self.U + self.q * math.sqrt(dt / 3600.0) * e

    def update(self, obs: Mapping[str, tuple[float, float]]) -> None:
        """Assimilate {output: (value, noise std)}."""
        if not obs:
            return
        outputs = self.cal.s.outputs
        idx = [outputs.index(o) for o in obs]
        y = torch.tensor([v for v, _ in obs.values()], dtype=torch.float64)
        r = torch.tensor([s**2 for _, s in obs.values()], dtype=torch.float64)
        with torch.no_grad():
            m, sd = self.cal.outputs(self.U)
        Y = m[:, idx]
        R = r + (sd[:, idx] ** 2).mean(0)
        n = len(self.U)
        dU, dY = self.U - self.U.mean(0), Y - Y.mean(0)
        C_uy, C_yy = dU.T @ dY / (n - 1), dY.T @ dY / (n - 1) + torch.diag(R)
        eps = torch.randn(Y.shape, generator=self.g, dtype=torch.float64) * R.sqrt()
        K = torch.linalg.solve(C_yy, C_uy.T).T
        self.U = (self.U + (y + eps - Y) @ K.T).clamp(-self.clip, self.clip)

    def estimate(self) -> tuple[dict[str, float], dict[str, float]]:
        """Ensemble mean and std of the unknowns (SI)."""
        θ = self.cal.theta(self.U)
        mean, std = θ.mean(0), θ.std(0)
        names = self.cal.names
        return (
            {k: float(v) for k, v in zip(names, mean, strict=True)},
            {k: float(v) for k, v in zip(names, std, strict=True)},
        )

    def predict(self) -> dict[str, tuple[float, float]]:
        """Every output over the ensemble: mean, std (ensemble spread ⊕ surrogate std)."""
        with torch.no_grad():
            m, sd = self.cal.outputs(self.U)
        std = (m.var(0) + (sd**2).mean(0)).sqrt()
        return {
            o: (float(a), float(b))
            for o, a, b in zip(self.cal.s.outputs, m.mean(0), std, strict=True)
        }

    def state(self) -> dict[str, Any]:
        return {"names": self.cal.names, "U": self.U.tolist(), "rng": self.g.get_state().tolist()}

    def load(self, state: Mapping[str, Any]) -> None:
        if list(state["names"]) != self.cal.names:
            raise ValueError(f"saved ensemble is over {state['names']}, not {self.cal.names}")
        self.U = torch.tensor(state["U"], dtype=torch.float64)
        self.g.set_state(torch.tensor(np.asarray(state["rng"], dtype=np.uint8)))
