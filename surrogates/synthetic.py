"""An analytic stand-in for a sweep: a heated fin plate, written as the dataset contract.

For tests, benchmarks and demos that need data without running the FE solver. Three inputs:
``power`` (W/m², linear), ``h`` (W/(m² K), log scale) and ``t_amb`` (K). The temperature field on a
square plate of side L = 0.1 m follows the fin solution along x with a mild variation along y,

    T(x, y) = t_amb + power / h · cosh(m (1 - x/L)) / cosh(m) · (1 + 0.3 (y/L)²),  m = sqrt(h / 10),

QoIs are the maximum temperature, the mean convective loss and the fin efficiency tanh(m)/m;
sensors are three temperatures (K) and a heat flux (W/m²), so sensors mix units.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import xarray as xr
from scipy.stats import qmc

L = 0.1
INPUTS = {  # name: (lower, upper, units, scale, role)
    "power": (1e3, 5e3, "W/m^2", "linear", "operating"),
    "h": (10.0, 100.0, "W/(m^2*K)", "log", "latent"),
    "t_amb": (273.15, 323.15, "K", "linear", "operating"),
}
SENSORS = {"T_root": (0.0, 0.5), "T_mid": (0.5, 0.5), "T_tip": (1.0, 1.0), "q_tip": (1.0, 0.0)}


def _points(n: int, seed: int, method: str) -> np.ndarray:
    d = len(INPUTS)
    if method == "sobol":
        with warnings.catch_warnings():  # any n will do for tests (balance needs powers of 2)
            warnings.simplefilter("ignore", UserWarning)
            u = qmc.Sobol(d, scramble=True, seed=seed).random(n)
    else:
        u = qmc.LatinHypercube(d, seed=seed).random(n)
    x = np.empty_like(u)
    for j, (lo, hi, _, scale, _) in enumerate(INPUTS.values()):
        if scale == "log":
            x[:, j] = np.exp(np.log(lo) + u[:, j] * (np.log(hi) - np.log(lo)))
        else:
            x[:, j] = lo + u[:, j] * (hi - lo)
    return x


def fin_temperature(x: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Temperature (n, node) for inputs x (n, 3) at node coordinates (node, 2)."""
    power, h, t_amb = (x[:, j : j + 1] for j in range(3))
    m = np.sqrt(h / 10.0)
    xi, eta = nodes[:, 0] / L, nodes[:, 1] / L
    shape = np.cosh(m * (1 - xi)) / np.cosh(m) * (1 + 0.3 * eta**2)
    return t_amb + power / h * shape


def fin_gradient(x: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """∇T (n, node, 2) of :func:`fin_temperature`."""
    power, h, _ = (x[:, j : j + 1] for j in range(3))
    m = np.sqrt(h / 10.0)
    xi, eta = nodes[:, 0] / L, nodes[:, 1] / L
    amp = power / h / np.cosh(m)
    dx = -amp * m * np.sinh(m * (1 - xi)) * (1 + 0.3 * eta**2) / L
    dy = amp * np.cosh(m * (1 - xi)) * 0.6 * eta / L
    return np.stack([dx, dy], axis=-1)


def fin_dataset(
    n_train: int = 64,
    n_test: int = 32,
    nx: int = 12,
    seed: int = 0,
    n_failed: int = 0,
    vector_field: bool = False,
) -> xr.Dataset:
    """The fin plate sweep as an xarray Dataset following the dataset contract.

    ``n_failed`` training samples are marked failed (NaN outputs); ``vector_field`` adds the
    temperature gradient as a (sample, node, component) field.
    """
    x = np.vstack([_points(n_train, seed, "sobol"), _points(n_test, seed + 1, "lhs")])
    g = np.linspace(0.0, L, nx)
    gx, gy = np.meshgrid(g, g, indexing="xy")
    nodes = np.column_stack([gx.ravel(), gy.ravel()])
    idx = np.arange(nx * nx).reshape(nx, nx)
    a, b, c, d = (
        idx[:-1, :-1].ravel(),
        idx[:-1, 1:].ravel(),
        idx[1:, 1:].ravel(),
        idx[1:, :-1].ravel(),
    )
    cells = np.vstack([np.column_stack([a, b, c]), np.column_stack([a, c, d])]).astype(np.int64)
    T = fin_temperature(x, nodes)
    sensor_nodes = [int(np.argmin(((nodes / L - p) ** 2).sum(1))) for p in SENSORS.values()]
    sensors = T[:, sensor_nodes].copy()
    sensors[:, 3] = x[:, 1] * (T[:, sensor_nodes[3]] - x[:, 2])  # convective flux at the tip
    m = np.sqrt(x[:, 1] / 10.0)
    qoi = {
        "T_max": (T.max(axis=1), "K"),
        "heat_loss": (x[:, 1] * (T - x[:, 2:3]).mean(axis=1), "W/m^2"),
        "efficiency": (np.tanh(m) / m, "1"),
    }
    n = len(x)
    status = np.array(["ok"] * n, dtype=object)
    status[:n_failed] = "failed"
    bad = status == "failed"
    data: dict[str, tuple] = {}
    for j, (name, (lo, hi, units, scale, role)) in enumerate(INPUTS.items()):
        attrs = {"units": units, "lower": lo, "upper": hi, "role": role, "scale": scale}
        data[name] = ("sample", x[:, j], attrs | {"kind": "input"})
    for name, (v, units) in qoi.items():
        data[f"qoi_{name}"] = ("sample", np.where(bad, np.nan, v), {"units": units, "kind": "qoi"})
    data["sensors"] = (("sample", "sensor"), np.where(bad[:, None], np.nan, sensors))
    data["field_temperature"] = (
        ("sample", "node"),
        np.where(bad[:, None], np.nan, T),
        {"units": "K"},
    )
    fields = ["temperature"]
    if vector_field:
        grad = np.where(bad[:, None, None], np.nan, fin_gradient(x, nodes))
        data["field_gradient"] = (("sample", "node", "component"), grad, {"units": "K/m"})
        fields.append("gradient")
    data["cells"] = (("cell", "cell_vertex"), cells, {"cell_type": "triangle"})
    data["status"] = ("sample", status.astype(str))
    data["message"] = ("sample", np.where(bad, "synthetic failure", "").astype(str))
    data["seconds"] = ("sample", np.full(n, 1.0))
    data["iterations"] = ("sample", np.ones(n, dtype=np.int64))
    data["split"] = ("sample", np.array(["train"] * n_train + ["test"] * n_test))
    coords = {
        "sensor": list(SENSORS),
        "sensor_x": ("sensor", [p[0] * L for p in SENSORS.values()]),
        "sensor_y": ("sensor", [p[1] * L for p in SENSORS.values()]),
        "sensor_z": ("sensor", np.zeros(len(SENSORS))),
        "sensor_units": ("sensor", ["K", "K", "K", "W/m^2"]),
        "node_x": ("node", nodes[:, 0]),
        "node_y": ("node", nodes[:, 1]),
        "node_z": ("node", np.zeros(len(nodes))),
    }
    attrs = {
        "case": "fin_synthetic",
        "case_hash": "synthetic",
        "twinkit_version": "0",
        "mesh_hash": f"grid{nx}",
        "seed": seed,
        "created": "1970-01-01T00:00:00",
        "doe": "sobol",
        "inputs": json.dumps(list(INPUTS)),
        "qois": json.dumps(list(qoi)),
        "fields": json.dumps(fields),
        "solver_options": json.dumps({"synthetic": True}),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike) -> str:
    """Write ``ds`` as the sampler does (engine h5netcdf); NetCDF3 (scipy) where h5py is missing.

    Returns the engine used.
    """
    try:
        import h5py  # noqa: F401
    except ImportError:
        ds.to_netcdf(path, engine="scipy")
        return "scipy"
    ds.to_netcdf(path, engine="h5netcdf")
    return "h5netcdf"
