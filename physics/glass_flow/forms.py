"""Weak forms of buoyant Stokes flow and heat transport: viscosity η(T) (UFL, and evaluated
numerically), conductivity k(T), momentum, continuity, energy with SUPG."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from twinkit.physics.glass_flow.problem import (
    ConstantViscosity,
    Melt,
    VFTViscosity,
    Viscosity,
)
from twinkit.physics.heat import STEFAN_BOLTZMANN
from twinkit.physics.params import ConstantPool, value_of


def viscosity(law: Viscosity, T, c: ConstantPool):
    import ufl

    if isinstance(law, ConstantViscosity):
        return c(law.value)
    if isinstance(law, VFTViscosity):
        # guard the pole at T_V; with a cap, log₁₀ η never exceeds log₁₀ η_max
        log_eta = c(law.A) + c(law.B) / ufl.max_value(T - c(law.T_V), 1.0)
        if law.max_viscosity is not None:
            log_eta = ufl.min_value(log_eta, ufl.ln(c(law.max_viscosity)) / np.log(10.0))
        return 10**log_eta
    return c(law.eta0) * ufl.exp(-c(law.gamma) * (T - c(law.T_ref)))


def viscosity_value(law: Viscosity, T: float, params: Mapping[str, float]) -> float:
    """The viscosity law evaluated numerically (for scales and continuation)."""
    v = lambda s: value_of(s, params)  # noqa: E731
    if isinstance(law, ConstantViscosity):
        return v(law.value)
    if isinstance(law, VFTViscosity):
        log_eta = v(law.A) + v(law.B) / max(T - v(law.T_V), 1.0)
        if law.max_viscosity is not None:
            log_eta = min(log_eta, float(np.log10(v(law.max_viscosity))))
        return float(10**log_eta)
    return float(v(law.eta0) * np.exp(-v(law.gamma) * (T - v(law.T_ref))))


def conductivity(m: Melt, T, c: ConstantPool):
    k = c(m.conductivity)
    if m.absorption is not None:
        n = c(m.refractive_index)
        k = k + 16 * n**2 * STEFAN_BOLTZMANN * T**3 / (3 * c(m.absorption))
    return k


def momentum(u, p, v, eta, buoyancy, dx):
    """Stokes: ∫ 2η ε(u):ε(v) − p ∇·v − f·v."""
    import ufl

    eps = ufl.sym(ufl.grad(u))
    return (
        2 * eta * ufl.inner(eps, ufl.sym(ufl.grad(v))) - p * ufl.div(v) - ufl.dot(buoyancy, v)
    ) * dx


def continuity(u, q, dx):
    import ufl

    return -q * ufl.div(u) * dx


def energy(u, T, s, rho_cp, k, source, supg: bool, h, dx):
    """Advection–diffusion with SUPG: ∫ ρc u·∇T s + k∇T·∇s − q s + τ (u·∇s) R(T).

    The advective form is used rather than ∇·(uT): Taylor–Hood velocities are divergence-free
    only weakly, and the spurious source ρc T ∇·u_h of the divergence form overheats melts with
    an inflow and strong viscosity contrast. The discrete energy balance stays exact because the
    advected heat is reported as the same integral, ∫ ρc u·∇T dx.
    """
    import ufl

    adv = rho_cp * ufl.dot(u, ufl.grad(T))
    F = (adv * s + k * ufl.inner(ufl.grad(T), ufl.grad(s)) - source * s) * dx
    if supg:
        speed = ufl.sqrt(ufl.dot(u, u) + 1e-30)
        alpha = k / rho_cp
        tau = 1 / ufl.sqrt((2 * speed / h) ** 2 + (4 * alpha / h**2) ** 2)
        residual = adv - ufl.div(k * ufl.grad(T)) - source
        F += tau * ufl.dot(u, ufl.grad(s)) * residual * dx
    return F
