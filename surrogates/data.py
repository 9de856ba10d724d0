"""Training data read from a sweep's dataset (the contract in docs/sweeps.md), plain xarray."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np
import xarray as xr


@dataclass(frozen=True)
class TrainingData:
    """Inputs and outputs of the successful samples of a sweep, SI units.

    ``qoi`` and ``sensors`` are (n, p) with names in ``qoi_names`` ("qoi_<name>") and
    ``sensor_names`` ("sensor_<name>"); ``fields`` maps a field name to (n, node[, component]).
    """

    inputs: list[str]
    input_units: dict[str, str]
    bounds: dict[str, tuple[float, float]]
    log_inputs: dict[str, bool]
    x: np.ndarray
    qoi_names: list[str]
    qoi: np.ndarray
    sensor_names: list[str]
    sensors: np.ndarray
    fields: dict[str, np.ndarray]
    units: dict[str, str]  # output or field name → unit
    mesh: dict[str, np.ndarray] = field(default_factory=dict)  # node_x/y/z, cells
    seconds: np.ndarray | None = None  # FE solve time per sample
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.x)

    @property
    def outputs(self) -> list[str]:
        return self.qoi_names + self.sensor_names

    @property
    def scalars(self) -> np.ndarray:
        """(n, p) QoIs then sensors: the values of `outputs`, column by column."""
        return np.hstack([self.qoi, self.sensors])

    def subset(self, index: np.ndarray) -> TrainingData:
        """The samples selected by an index or boolean mask."""
        return replace(
            self,
            x=self.x[index],
            qoi=self.qoi[index],
            sensors=self.sensors[index],
            fields={k: v[index] for k, v in self.fields.items()},
            seconds=None if self.seconds is None else self.seconds[index],
        )


def _required(ds: xr.Dataset, name: str, source: str) -> xr.DataArray:
    if name not in ds.variables:
        raise ValueError(f"{source}: the dataset has no variable '{name}' (dataset contract)")
    return ds[name]


def from_dataset(ds: xr.Dataset, source: str = "dataset") -> TrainingData:
    """All samples with status "ok" of a contract dataset; ``source`` names it in errors."""
    status = np.asarray(_required(ds, "status", source).values).astype(str)
    if not (status == "ok").any():
        seen = ", ".join(repr(str(v)[:20]) for v in np.unique(status)[:5]) or "none"
        raise ValueError(
            f"{source}: no sample with status 'ok' to train on (statuses: {seen}); every FE solve "
            "of the sweep failed, or the file was changed"
        )
    ok = status == "ok"
    inputs = [n for n, v in ds.data_vars.items() if v.attrs.get("kind") == "input"]
    if not inputs:
        raise ValueError(f"{source}: no input variables (attrs kind='input')")
    for name in inputs:
        for key in ("units", "lower", "upper"):
            if key not in ds[name].attrs:
                raise ValueError(f"{source}: input '{name}' has no attribute '{key}'")
    qoi_names = [str(n) for n, v in ds.data_vars.items() if v.attrs.get("kind") == "qoi"]
    units = {n: str(ds[n].attrs.get("units", "")) for n in qoi_names}
    sensor_names: list[str] = []
    sensors = np.zeros((ds.sizes["sample"], 0))
    if "sensors" in ds.variables and ds.sizes.get("sensor", 0) > 0:
        names = [str(s) for s in ds["sensor"].values]
        sensor_names = [f"sensor_{s}" for s in names]
        su = ds["sensor_units"].values if "sensor_units" in ds.variables else [""] * len(names)
        units |= {f"sensor_{s}": str(u) for s, u in zip(names, su, strict=True)}
        sensors = np.asarray(ds["sensors"].transpose("sample", "sensor").values, dtype=np.float64)
    listed = json.loads(ds.attrs["fields"]) if "fields" in ds.attrs else None
    field_vars = [str(n) for n in ds.data_vars if str(n).startswith("field_")]
    fields = {}
    for var in field_vars:
        name = var.removeprefix("field_")
        if listed is not None and name not in listed:
            continue
        fields[name] = np.asarray(ds[var].values, dtype=np.float64)[ok]
        units[name] = str(ds[var].attrs.get("units", ""))
    mesh = {
        k: np.asarray(ds[k].values) for k in ("node_x", "node_y", "node_z") if k in ds.variables
    }
    if "cells" in ds.variables:
        mesh["cells"] = np.asarray(ds["cells"].values, dtype=np.int64)
    x = np.column_stack([np.asarray(ds[n].values, dtype=np.float64) for n in inputs])[ok]
    qoi = np.zeros((len(ok), len(qoi_names)))
    for j, n in enumerate(qoi_names):
        qoi[:, j] = np.asarray(ds[n].values, dtype=np.float64)
    data = TrainingData(
        inputs=[str(n) for n in inputs],
        input_units={str(n): str(ds[n].attrs["units"]) for n in inputs},
        bounds={str(n): (float(ds[n].attrs["lower"]), float(ds[n].attrs["upper"])) for n in inputs},
        log_inputs={str(n): ds[n].attrs.get("scale", "linear") == "log" for n in inputs},
        x=x,
        qoi_names=qoi_names,
        qoi=qoi[ok],
        sensor_names=sensor_names,
        sensors=sensors[ok],
        fields=fields,
        units=units,
        mesh=mesh,
        seconds=np.asarray(ds["seconds"].values, dtype=np.float64)[ok] if "seconds" in ds else None,
        attrs={k: str(v) for k, v in ds.attrs.items()},
    )
    _check_finite(data, source)
    return data


def _check_finite(data: TrainingData, source: str) -> None:
    arrays = {"inputs": data.x, "QoIs": data.qoi, "sensors": data.sensors}
    arrays |= {f"field_{k}": v for k, v in data.fields.items()}
    for what, a in arrays.items():
        bad = ~np.isfinite(a).reshape(len(a), -1).all(axis=1)
        if bad.any():
            raise ValueError(
                f"{source}: {what} of {int(bad.sum())} sample(s) with status 'ok' are not finite"
            )


def split(ds: xr.Dataset, seed: int, test_fraction: float = 0.2) -> tuple[xr.Dataset, xr.Dataset]:
    """Train and test parts: the dataset's ``split`` variable, else a seeded random hold-out."""
    labels = np.asarray(ds["split"].values).astype(str) if "split" in ds else None
    if labels is not None and (labels == "test").any() and (labels == "train").any():
        return ds.isel(sample=labels == "train"), ds.isel(sample=labels == "test")
    n = ds.sizes["sample"]
    test = np.zeros(n, dtype=bool)
    test[np.random.default_rng(seed).permutation(n)[: max(1, round(test_fraction * n))]] = True
    return ds.isel(sample=~test), ds.isel(sample=test)
