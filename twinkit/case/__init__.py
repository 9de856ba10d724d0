"""The case file: YAML parsed once, at the edge, into typed, immutable objects with SI values.

Owns the schema (one module per group of sections), quantities with units (pint), the checks a
case must pass before anything is solved, and the errors that name the file, key and value.
Imports no FE, ML or optimisation code.
"""

from twinkit.case.base import CaseError
from twinkit.case.loading import Case, LoadedCase, check_mesh_regions, load_case

__all__ = ["Case", "CaseError", "LoadedCase", "check_mesh_regions", "load_case"]
