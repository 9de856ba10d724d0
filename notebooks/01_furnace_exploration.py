# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Exploring the glass furnace
#
# Solve the melting tank (`cases/furnace.yaml`) once at its nominal point, look at the
# temperature field and the quantities of interest, then train a small surrogate on a handful of
# FE solves and ask it what-if questions: more electric boost, a worn refractory (a higher wall
# heat-transfer coefficient U), a darker glass (a higher absorption a_R). The last cell checks
# the surrogate against FE solves it has not seen.
#
# The batch steps are `twinkit` commands, exactly as in a terminal; the interactive part uses the
# surrogate from Python. Run this file as a script (`python notebooks/01_furnace_exploration.py`,
# ~2-3 min on 2 cores) or open it as a notebook
# (`jupytext --to ipynb notebooks/01_furnace_exploration.py`).

# %%
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
import yaml

root = Path.cwd() if (Path.cwd() / "cases").exists() else Path(__file__).resolve().parents[1]
# outputs go to runs/notebooks/ (the tests point TWINKIT_NOTEBOOK_RUNS at a fresh folder)
work = Path(os.environ.get("TWINKIT_NOTEBOOK_RUNS", root / "runs" / "notebooks"))
work.mkdir(parents=True, exist_ok=True)


def twinkit(*args, check=True):
    """Run `twinkit ARGS` (as in a terminal) and print what it printed."""
    print("$ twinkit", " ".join(map(str, args)))
    cmd = [sys.executable, "-m", "twinkit.cli", *map(str, args)]
    run = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    print(run.stdout[-3000:], run.stderr[-2000:])
    if check and run.returncode != 0:
        raise RuntimeError(f"twinkit {args[0]} failed with exit code {run.returncode}")
    return run.returncode


# %% [markdown]
# ## 1. One FE solve at the nominal point
#
# The first solve walks from pure conduction to the full buoyant flow (~15-30 s).

# %%
twinkit("solve", "cases/furnace.yaml", "--out", work / "furnace_nominal")
summary = json.loads((work / "furnace_nominal" / "summary.json").read_text())

# %%
fig, ax = plt.subplots(figsize=(10, 2.4))
ax.imshow(plt.imread(work / "furnace_nominal" / "temperature.png"))
ax.axis("off")
plt.show()

# %% [markdown]
# The quantities of interest and the eight thermocouples (SI units; temperatures also in °C):

# %%
rows = [
    (name, value, summary["units"][name])
    for group in ("qoi", "sensors")
    for name, value in summary[group].items()
]
table = pd.DataFrame(rows, columns=["output", "value", "unit"]).set_index("output")
table["°C"] = np.where(table["unit"] == "K", table["value"] - 273.15, np.nan)
table

# %% [markdown]
# The heat put in through the glass surface and by the boosting electrodes leaves through the
# walls, melts the batch, or is carried out by the pull. The fluxes are computed consistently
# with the discrete equations, so this balance closes to round-off:

# %%
q = summary["qoi"]
print(
    f"heat input {q['heat_input'] / 1e3:.1f} kW/m = walls {q['wall_losses'] / 1e3:.1f} "
    f"+ batch {q['batch_heat'] / 1e3:.1f} + pull {q['enthalpy_outflow'] / 1e3:.1f} kW/m; "
    f"relative imbalance {q['energy_imbalance']:.1e}"
)

# %% [markdown]
# ## 2. A small surrogate
#
# A full surrogate varies all six parameters over a few hundred solves. Here we vary three: the
# boost power (a design choice) and the two latent parameters U and a_R. We write a copy of the
# case with their ranges; the other parameters become `fixed` at their nominal values, and only
# the temperature field is kept. Notebook 3 (calibration) uses the same copy and sweep: a sweep is
# resumable, so running it again in the same folder computes nothing. The folder name carries the
# hashes of the case and of the solver code, so a changed case or solver gets a new sweep.

# %%
from twinkit.case import load_case
from twinkit.sweep.provenance import solver_hash

spec = yaml.safe_load((root / "cases" / "furnace.yaml").read_text())
spec["name"] = "furnace_small"
spec.pop("run", None)  # the `twinkit run` defaults of the full case
varied = {
    "boost_power": ["200 kW", "800 kW"],
    "wall_htc": ["1.5 W/(m^2*K)", "3.5 W/(m^2*K)"],
    "absorption": ["100 1/m", "250 1/m"],
}
for name, p in spec["parameters"].items():
    if name in varied:
        p["range"] = varied[name]
    else:  # held at its nominal value
        p.pop("range")
        p["role"] = "fixed"
spec["outputs"]["fields"] = ["temperature"]
# plausible readings only: the noise is estimated from the data (notebook 3)
spec["sensors"] = {n: {"range": ["800 degC", "1700 degC"]} for n in spec["probes"]}
case = work / "furnace_small.yaml"
case.write_text(yaml.safe_dump(spec, sort_keys=False))
small = work / f"furnace_small-{load_case(case).hash}-{solver_hash()}"

# %% [markdown]
# 16 Sobol points to train on and 4 held-out points to test on (a warm solve takes 1-3 s), then
# a deep ensemble of three small MLPs for the QoIs and sensors and POD + MLP for the field,
# scored on the held-out points next to an RBF and a Gaussian-process baseline.

# %%
twinkit("sample", case, "-n", 16, "--test", 4, "--out", small / "data")
if not (small / "surrogate.pt").exists():
    twinkit(
        "train",
        case,
        "--data",
        small / "data",
        "--out",
        small,
        "--members",
        3,
        "--epochs",
        500,
        "--no-curve",
    )
scores = json.loads((small / "train_summary.json").read_text())
held_out = pd.DataFrame(scores["surrogate"]["outputs"]).T[["r2", "rmse", "max_error"]]
for name, baseline in scores["baselines"].items():  # the same split, other methods
    held_out[f"{name} rmse"] = [baseline["outputs"][o]["rmse"] for o in held_out.index]
held_out

# %% [markdown]
# ## 3. What if?
#
# The surrogate answers in milliseconds, with an uncertainty. `what_if` predicts the temperature
# field and the bottom thermocouples. Two questions first, then sliders (with ipywidgets).

# %%
from matplotlib.tri import Triangulation

from twinkit.surrogates import load_surrogate

surrogate = load_surrogate(small / "surrogate.pt")
with xr.open_dataset(small / "data" / "dataset.nc") as ds:
    mesh = Triangulation(ds["node_x"].values, ds["node_y"].values, ds["cells"].values)
bottom = [n for n in spec["probes"] if n.startswith("TC_bottom")]


def what_if(boost_kW=400.0, wall_htc=2.5, absorption=150.0):
    p = surrogate.predict(
        {"boost_power": 1e3 * boost_kW, "wall_htc": wall_htc, "absorption": absorption}
    )
    fig, ax = plt.subplots(figsize=(10, 2.2))
    c = ax.tricontourf(mesh, p.mean["temperature"][0] - 273.15, levels=20, cmap="inferno")
    fig.colorbar(c, ax=ax, label="T [°C]")
    ax.set_aspect("equal")
    ax.set_title(f"boost {boost_kW:.0f} kW, U {wall_htc:.2f} W/(m²K), a_R {absorption:.0f} 1/m")
    plt.show()
    return {
        n: f"{p.mean[f'sensor_{n}'][0] - 273.15:.1f} ± {p.std[f'sensor_{n}'][0]:.1f} °C"
        for n in bottom
    }


print("800 kW boost:", what_if(800.0, 2.5, 150.0))
print("worn walls:  ", what_if(400.0, 3.5, 150.0))

# %%
try:  # sliders, in Jupyter with ipywidgets installed
    from ipywidgets import FloatSlider, interact
except ImportError:
    interact = None
if interact is not None:
    interact(
        what_if,
        boost_kW=FloatSlider(value=400, min=200, max=800, step=50),
        wall_htc=FloatSlider(value=2.5, min=1.5, max=3.5, step=0.1),
        absorption=FloatSlider(value=150, min=100, max=250, step=10),
    )

# %% [markdown]
# ## 4. Check: the surrogate against FE solves it has not seen
#
# On the 4 held-out samples of the sweep the predicted thermocouple readings should be within
# 10 K of the FE values (across the sweep they vary by about 100 K), and the nominal solve's
# energy balance closes.

# %%
with xr.open_dataset(small / "data" / "dataset.nc") as ds:
    test = ds.isel(sample=np.flatnonzero(ds["split"].values.astype(str) == "test")).load()
p = surrogate.predict(np.column_stack([test[n].values for n in surrogate.inputs]))
errors = np.array(
    [p.mean[f"sensor_{n}"] - test["sensors"].sel(sensor=n).values for n in spec["probes"]]
)
print(
    f"largest |surrogate - FE| over {errors.shape[1]} held-out solves and {len(errors)} "
    f"sensors: {np.abs(errors).max():.2f} K (RMSE {np.sqrt(np.mean(errors**2)):.2f} K)"
)
assert abs(q["energy_imbalance"]) < 1e-9
assert np.abs(errors).max() < 10.0, "the small surrogate should be within 10 K at every sensor"
