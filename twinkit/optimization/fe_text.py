"""How the FE search's stop is told (report and console alike), from a summary's ``fe``: no
imports, so the console can use it without loading the search."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def ei_left(fe: Mapping[str, Any], unit: str = "") -> str:
    """'; expected improvement left <EI>[ <unit>]', and the outputs the last look widened after a
    missed prediction ('' if the search has no EI)."""
    ei = fe["expected_improvement"]
    if ei is None:
        return ""
    text = f"; expected improvement left {ei:.3g}" + (f" {unit}" if unit else "")
    if fe.get("widened"):  # the model that missed was widened and asked too
        each = ", ".join(f"{o} std ×{f:.3g}" for o, f in fe["widened"].items())
        text += f", also with the last solve's misses widened ({each})"
    return text
