"""ONNX export of a surrogate's scalar outputs (QoIs and sensors): SI inputs → mean, std."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from twinkit.surrogates.model import Surrogate


class _ScalarModule(torch.nn.Module):
    def __init__(self, surrogate: Surrogate):
        super().__init__()
        self.surrogate = surrogate
        for i, head in enumerate(surrogate.scalar_heads):
            self.add_module(f"head{i}", head.net)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.surrogate.torch_scalar(x)


def export_onnx(surrogate: Surrogate, path: str | os.PathLike) -> Path:
    """Write an ONNX graph with input ``x`` (n, n_inputs) float64 SI in ``surrogate.inputs`` order
    and outputs ``mean``, ``std`` (n, n_outputs) in ``surrogate.outputs`` order.

    No validity-range check happens inside the graph; the caller keeps inputs in
    ``surrogate.bounds``. Output names are stored as model metadata (``outputs``, comma-separated).
    Gaussian processes (``kriging``) export too; ONNX has no triangular solve, so their variance
    multiplies by the inverse Cholesky factor instead, and their std agrees with torch's to
    about 0.5 % (the mean to 1e-7).
    """
    if not surrogate.scalar_heads:
        raise ValueError("the surrogate has no scalar outputs to export")
    import onnx

    path = Path(path)
    for head in [*surrogate.scalar_heads, *(e.head for e in surrogate.extremes)]:
        if head.kriging is not None:
            head.kriging.for_onnx()
    module = _ScalarModule(surrogate).eval()
    lo = torch.tensor([b[0] for b in surrogate.bounds.values()], dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript-based exporter
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # constants are constants
        torch.onnx.export(
            module,
            (lo[None, :].clone(),),
            str(path),
            dynamo=False,
            input_names=["x"],
            output_names=["mean", "std"],
            dynamic_axes={"x": {0: "n"}, "mean": {0: "n"}, "std": {0: "n"}},
        )
    model = onnx.load(str(path))
    for key, value in (("inputs", surrogate.inputs), ("outputs", surrogate.outputs)):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, ",".join(value)
    onnx.save(model, str(path))
    return path
