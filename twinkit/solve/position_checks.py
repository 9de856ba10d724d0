"""Formulas of position (a graded Young's modulus, a prescribed temperature, a viscosity's depth
term) checked at the mesh's nodes before a solve: `validate` samples a generated mesh's bounding
box, but only the mesh knows where a mesh file's nodes lie."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from twinkit.case import CaseError, LoadedCase
from twinkit.case import expressions as ex
from twinkit.case.base import rule_error
from twinkit.case.spec import quantities
from twinkit.case.units import clip

_NUMPY = {
    "sqrt": np.sqrt,
    "abs": np.abs,
    "exp": np.exp,
    "log": np.log,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "min": lambda *a: np.minimum.reduce(np.broadcast_arrays(*a)),
    "max": lambda *a: np.maximum.reduce(np.broadcast_arrays(*a)),
}


def check_position_formulas(loaded: LoadedCase, domain: Any, values: Mapping[str, float]) -> None:
    """CaseError naming the key and a node where a formula of x, y, z is not finite or breaks
    its key's rule (e.g. a modulus that is not positive), at the parameter values of the solve."""
    x = domain.mesh.geometry.x
    xyz = {"x": x[:, 0], "y": x[:, 1], "z": x[:, 2]}
    for path, q in quantities(loaded.case):
        if not q.steady:
            continue
        tree = ex.parse(q.text)
        with np.errstate(all="ignore"):
            v = np.broadcast_to(
                np.asarray(ex.evaluate(tree, ex.resolver(dict(values) | xyz), _NUMPY), float),
                x[:, 0].shape,
            )
        bad = [
            i for i in (int(np.argmin(v)), int(np.argmax(v))) if rule_error(q.rule, v[i], q.unit)
        ]
        bad += [int(i) for i in np.flatnonzero(~np.isfinite(v))[:1]]
        problem = None
        if bad:
            i = bad[-1]
            where = ", ".join(f"{c:.6g}" for c in x[i, : domain.gdim])
            why = rule_error(q.rule, float(v[i]), q.unit) or "not finite"
            problem = f"{loaded.path}: {path}: '{clip(q.text)}' at the node ({where}) m: {why}"
        # every rank raises the same error (each holds a part of the mesh)
        found = [p for p in domain.mesh.comm.allgather(problem) if p]
        if found:
            raise CaseError(found[0])
