"""Optional parts of twinkit (`pip install 'twinkit[EXTRA]'`): one clear message when missing."""

from __future__ import annotations

import importlib.util

from twinkit.case.base import CaseError

EXTRAS = {
    "paho": "live",
    "asyncua": "opcua",
    "pyarrow": "parquet",
    "dask": "cluster",
    "distributed": "cluster",
    "psycopg2": "cluster",
    "cmaes": "cmaes",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "bokeh": "dashboard",
}


def require(module: str, purpose: str) -> None:
    """Raise CaseError naming the extra to install when `module` is not importable."""
    if importlib.util.find_spec(module) is None:
        extra = EXTRAS.get(module, "all")
        raise CaseError(
            f"{purpose} needs the '{module}' package, which is not installed: "
            f"pip install 'twinkit[{extra}]'"
        )
