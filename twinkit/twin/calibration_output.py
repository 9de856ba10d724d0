"""What `twinkit calibrate` writes besides summary.json: the fit picture, the calibrated twin's
predicted fields (with parameter uncertainty) and an optional FE check of the calibrated point."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from twinkit.case.display import DisplayUnits, pretty
from twinkit.surrogates.plots import default_style


@default_style
def write_plot(summary: dict[str, Any], path: Path, display: DisplayUnits | None = None) -> str:
    """fit.png: measured vs fitted sensors (±2σ) in the case's units, normalised residuals,
    estimates vs prior."""
    from matplotlib.figure import Figure

    sens, est = summary["sensors"], summary["estimates"]
    names = list(sens)
    i = np.arange(len(names))
    fig = Figure(figsize=(13, 4))
    ax = fig.subplots(1, 3, width_ratios=[3, 2, 2])
    d = display or DisplayUnits.si()

    def shown(n: str, key: str) -> float:
        return float(d.value(n, sens[n][key], sens[n]["unit"])[0])

    def spread(n: str, v: float) -> float:
        return float(d.spread(n, v, sens[n]["unit"]))

    meas = np.array([shown(n, "measured") for n in names])
    fit = np.array([shown(n, "fitted") for n in names])
    e_meas = [spread(n, 2 * sens[n]["noise"] / np.sqrt(sens[n]["n"])) for n in names]
    ax[0].errorbar(i - 0.1, meas, yerr=e_meas, fmt="o", label="measured (window mean ± 2σ)")
    e_fit = [spread(n, 2 * sens[n]["fitted_std"]) for n in names]
    ax[0].errorbar(i + 0.1, fit, yerr=e_fit, fmt="s", label="calibrated twin ± 2σ")
    unit = pretty(d.unit(names[0], sens[names[0]]["unit"])) if names else ""
    ax[0].set(xticks=i, xticklabels=names, ylabel=unit, title="sensors")
    ax[0].legend(fontsize=8)
    ax[1].bar(i, [sens[n]["normalized_residual"] for n in names], color="tab:gray")
    for y in (-2, 2):
        ax[1].axhline(y, color="tab:red", lw=0.8, ls="--")
    ax[1].set(xticks=i, xticklabels=names, title="residual / σ")
    p = list(est)
    j = np.arange(len(p))
    nominal = np.array([est[n]["prior"]["nominal"] for n in p])
    ax[2].errorbar(
        j, [est[n]["value"] for n in p] / nominal, yerr=[2 * est[n]["std"] for n in p] / nominal,
        fmt="o", capsize=4,
    )  # fmt: skip
    lo = [est[n]["prior"]["range"][0] for n in p] / nominal
    hi = [est[n]["prior"]["range"][1] for n in p] / nominal
    ax[2].vlines(j + 0.15, lo, hi, color="tab:gray", lw=4, alpha=0.4, label="prior range")
    ax[2].set(xticks=j, xticklabels=p, ylabel="estimate / nominal", title="latent parameters ± 2σ")
    ax[2].legend(fontsize=8)
    for a in ax[:2]:
        a.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path.name


def write_fields(surrogate: Any, summary: dict[str, Any], post: Any, path: Path) -> dict:
    """Predicted fields (mean, std over the posterior draws) to NetCDF; returns virtual sensors
    (minimum and maximum of each scalar field)."""
    import xarray as xr

    X = np.array([[summary["inputs"][n]["value"] for n in surrogate.inputs]] * len(post.draws))
    for k, n in enumerate(post.names):
        X[:, surrogate.inputs.index(n)] = post.draws[:, k]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = surrogate.predict(X)
    data, virtual = {}, {}
    mesh = getattr(surrogate, "mesh", {}) or {}
    units = getattr(surrogate, "units", {}) or {}
    for f in surrogate.fields:
        m, s = np.asarray(pred.mean[f]), np.asarray(pred.std[f])
        mean, std = m.mean(0), np.sqrt(m.var(0) + (s**2).mean(0))
        dims = ("node", "component")[: mean.ndim]
        attrs = {"units": units.get(f, "")}
        data[f"{f}_mean"] = xr.Variable(dims, mean, attrs)
        data[f"{f}_std"] = xr.Variable(dims, std, attrs)
        if mean.ndim == 1:
            k_min, k_max = int(mean.argmin()), int(mean.argmax())
            virtual[f"{f}_min"] = {"value": float(mean[k_min]), "std": float(std[k_min])}
            virtual[f"{f}_max"] = {"value": float(mean[k_max]), "std": float(std[k_max])}
    coords = {k: ("node", np.asarray(mesh[k])) for k in ("node_x", "node_y", "node_z") if k in mesh}
    ds = xr.Dataset(data, coords=coords, attrs={"case": summary["case"], "kind": "calibrated"})
    if "cells" in mesh:
        ds["cells"] = (("cell", "cell_vertex"), np.asarray(mesh["cells"], dtype=np.int32))
    try:
        ds.to_netcdf(path, engine="h5netcdf")
    except ImportError:  # h5netcdf without h5py: NetCDF3 through scipy
        ds.to_netcdf(path, engine="scipy")
    return virtual


def verify_fe(loaded: Any, summary: dict[str, Any]) -> dict[str, Any]:
    """One FE solve at the calibrated point: FE vs surrogate at the sensors and QoIs."""
    from mpi4py import MPI

    from twinkit.solve.runner import CaseRunner

    values = loaded.case.parameter_values() | {n: v["value"] for n, v in summary["inputs"].items()}
    result = CaseRunner(loaded, MPI.COMM_WORLD).solve(values)
    out: dict[str, Any] = {"converged": result.solver.converged, "sensors": {}, "qoi": {}}
    for kind, fitted in (("sensors", summary["sensors"]), ("qoi", summary["virtual"])):
        for n, fe in getattr(result, kind).items():
            if n in fitted:
                sur = fitted[n]["fitted" if kind == "sensors" else "value"]
                out[kind][n] = {"fe": fe, "surrogate": sur, "difference": sur - fe}
    return out
