"""Weak forms of heat conduction: conductivity k(T), diffusion, boundary outflow, sources."""

from __future__ import annotations

from twinkit.physics.domain import RegionMesh
from twinkit.physics.heat.problem import (
    STEFAN_BOLTZMANN,
    Convection,
    HeatBC,
    HeatFlux,
    Radiation,
    ThermalMaterial,
)
from twinkit.physics.params import ConstantPool, Param


def conductivity(m: ThermalMaterial, T, c: ConstantPool):
    """k(T) = k0 + k1 (T − T_ref); just k0 when k1 is a literal 0 (keeps the form linear)."""
    if not isinstance(m.conductivity_slope, Param) and m.conductivity_slope == 0.0:
        return c(m.conductivity)
    return c(m.conductivity) + c(m.conductivity_slope) * (T - c(m.reference_temperature))


def diffusion(domain: RegionMesh, materials, T, v, c: ConstantPool):
    """∫ k(T) ∇T·∇v over each material's regions."""
    import ufl

    terms = []
    for m in materials:
        k = conductivity(m, T, c)
        for dx in _measures(domain, m.regions):
            terms.append(k * ufl.inner(ufl.grad(T), ufl.grad(v)) * dx)
    return sum(terms[1:], terms[0])


def boundary_fluxes(domain: RegionMesh, bcs, T, v, c: ConstantPool):
    """Outflow terms ∫ q_out(T) v ds of the natural boundary conditions (0 if none)."""
    terms = [bc_outflow(bc, T, c) * v * domain.ds(bc.region) for bc in bcs if bc_outflow(bc, T, c)]
    return sum(terms[1:], terms[0]) if terms else None


def bc_outflow(bc: HeatBC, T, c: ConstantPool):
    """Heat flux leaving the body through a natural boundary condition (W/m^2)."""
    if isinstance(bc, HeatFlux):
        return -c(bc.value)
    if isinstance(bc, Convection):
        return c(bc.h) * (T - c(bc.ambient))
    if isinstance(bc, Radiation):
        return STEFAN_BOLTZMANN * c(bc.emissivity) * (T**4 - c(bc.ambient) ** 4)
    return None


def volume_sources(domain: RegionMesh, sources, v, c: ConstantPool):
    terms = [c(s.value) * v * domain.dx(s.region) for s in sources]
    return sum(terms[1:], terms[0]) if terms else None


def _measures(domain: RegionMesh, regions):
    return [domain.dx(None)] if not regions else [domain.dx(r) for r in regions]
