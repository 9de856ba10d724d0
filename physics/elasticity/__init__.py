r"""Linear elasticity: 3D, 2D plane strain and plane stress, with optional thermal strain.

.. math::
    -\nabla\cdot\sigma = f \quad\text{in } \Omega,\qquad
    \sigma = 2\mu\,\operatorname{dev}_d\varepsilon(u) + K_d\,(\operatorname{tr}\varepsilon(u)
    - \vartheta)\,I,\qquad \varepsilon(u) = \tfrac12(\nabla u + \nabla u^\top),

written in the :math:`d`-dimensional split (:math:`d` = geometric dimension,
:math:`\operatorname{dev}_d\varepsilon = \varepsilon - \operatorname{tr}\varepsilon/d\,I`), which is
Hooke's law with the out-of-plane condition eliminated. With :math:`\mu = E/(2(1+\nu))` and
:math:`\Delta T = T - T_\mathrm{ref}`:

========================  ==============================  ==================================
model                     :math:`1/K_d`                   thermal strain :math:`\vartheta`
========================  ==============================  ==================================
3D                        :math:`3(1-2\nu)/E`             :math:`3\alpha\Delta T`
plane strain (εzz = 0)    :math:`2(1+\nu)(1-2\nu)/E`      :math:`2(1+\nu)\alpha\Delta T`
plane stress (σzz = 0)    :math:`2(1-\nu)/E`              :math:`2\alpha\Delta T`
========================  ==============================  ==================================

In plane strain :math:`\sigma_{zz} = \nu\operatorname{tr}\sigma - E\alpha\Delta T` enters the von
Mises stress. Boundary conditions on named regions: fixed or prescribed displacement components
(essential); traction, pressure :math:`t = -p\,n`, total force spread over the region's area
(natural); body force and gravity :math:`\rho g` in the volume. Unmentioned boundaries are free.

The ``"mixed"`` formulation (Taylor–Hood, :math:`P_{k+1}`/:math:`P_k`, k ≥ 1) adds the pressure-like
unknown :math:`p = K_d(\operatorname{tr}\varepsilon - \vartheta)` and the constraint
:math:`\int(\operatorname{tr}\varepsilon(u) - \vartheta - p/K_d)\,q = 0`; it stays accurate as
ν → 0.5 (1/K_d → 0), where the displacement formulation locks.

Modules: `problem` (what: materials, supports, loads, formulation), `forms` (constitutive law
and weak forms), `model` (`Elasticity`: set-up and solve), `solver` (PETSc helpers of the
linear solve), `outputs` (QoIs, probes, units), `recovery` (continuous stress and strain fields,
principal stresses, von Mises, Tresca).
"""

from twinkit.physics.elasticity.forms import (
    constitutive_law,
    external_work,
    internal_work,
    strain,
    stress,
    stress_zz,
    von_mises,
)
from twinkit.physics.elasticity.model import Elasticity
from twinkit.physics.elasticity.outputs import nodal_max
from twinkit.physics.elasticity.problem import (
    DISPLACEMENT_FIELDS,
    ELASTICITY_QOIS,
    FIELD_QOIS,
    PROBE_FIELDS,
    SCALAR_FIELDS,
    BodyForce,
    Displacement,
    ElasticBC,
    ElasticityProblem,
    ElasticLoad,
    ElasticMaterial,
    Fixed,
    Force,
    Gravity,
    Pressure,
    Traction,
)
from twinkit.physics.elasticity.recovery import (
    RECOVERY,
    STRAIN_FIELDS,
    STRESS_FIELDS,
    TENSOR_FIELDS,
    Recovery,
)
from twinkit.physics.elasticity.solver import rigid_body_modes

__all__ = [
    "DISPLACEMENT_FIELDS",
    "ELASTICITY_QOIS",
    "FIELD_QOIS",
    "PROBE_FIELDS",
    "RECOVERY",
    "SCALAR_FIELDS",
    "STRAIN_FIELDS",
    "STRESS_FIELDS",
    "TENSOR_FIELDS",
    "BodyForce",
    "Displacement",
    "ElasticBC",
    "ElasticLoad",
    "ElasticMaterial",
    "Elasticity",
    "ElasticityProblem",
    "Fixed",
    "Force",
    "Gravity",
    "Pressure",
    "Recovery",
    "Traction",
    "constitutive_law",
    "external_work",
    "internal_work",
    "nodal_max",
    "rigid_body_modes",
    "strain",
    "stress",
    "stress_zz",
    "von_mises",
]
