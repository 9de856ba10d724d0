# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # What-if on a heat sink
#
# A user's own geometry: the `heatsink` example is a copper spreader with aluminium fins, meshed
# by gmsh from `heatsink.geo`, heated from below and cooled by air. Solve it once, then ask how
# hot it gets as the (uncertain) air-side heat-transfer coefficient h varies over its range.
# A few seconds per solve; the outputs go to `runs/notebooks/` under the folder the kernel runs in
# (or to `$TWINKIT_NOTEBOOK_RUNS`).

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import twinkit as tk

work = Path(os.environ.get("TWINKIT_NOTEBOOK_RUNS", "runs/notebooks")) / "heatsink"
if not (work / "heatsink.yaml").exists():  # copy the example (case file and .geo) once
    tk.example("heatsink", work)
case = tk.load_case(work / "heatsink.yaml")
case

# %%
nominal = case.solve(out=work / "nominal")
nominal

# %%
fig = nominal.plot("temperature")
plt.show()

# %% [markdown]
# ## Sweep h over its range (log-spaced), in the case's units

# %%
hs = np.geomspace(5, 100, 6)
runs = {h: case.solve(out=work / f"h_{h:.0f}", h_air=f"{h} W/(m^2*K)") for h in hs}
table = pd.DataFrame(
    {
        f"{h:.1f}": {
            "T_max [°C]": r.qoi["T_max"].to("degC").magnitude,
            "T_base [°C]": r.sensors["T_base"].to("degC").magnitude,
            "T_fin_tip [°C]": r.sensors["T_fin_tip"].to("degC").magnitude,
            "Q_air [W/m]": r.qoi["Q_air"].to("W/m").magnitude,
        }
        for h, r in runs.items()
    }
).T.rename_axis("h [W/(m²·K)]")
table

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogx(hs, table["T_max [°C]"], "o-", label="T_max")
ax.semilogx(hs, table["T_fin_tip [°C]"], "s-", label="fin tip")
ax.set_xlabel("h [W/(m²·K)]")
ax.set_ylabel("temperature [°C]")
ax.legend()
plt.show()

# %% [markdown]
# Whatever h is, all the heat put in at the base (40 kW/m² over the 60 mm wide heated edge of
# `heatsink.geo`, 2400 W/m) leaves through the air-side surfaces: the energy balance closes to
# solver precision. Better cooling lowers the peak temperature.

# %%
heated_width = 0.060  # m, the heated edge in heatsink.geo
q_in = case.parameters["power"].to("W/m^2").magnitude * heated_width
q_air = np.array([r.qoi.si("Q_air") for r in runs.values()])
print(f"heat in {q_in:.1f} W/m; Q_air from {q_air.min():.6f} to {q_air.max():.6f} W/m")
assert all(r.converged for r in runs.values())
assert np.all(np.diff(table["T_max [°C]"].to_numpy()) < 0), "better cooling lowers the peak"
assert np.allclose(q_air, q_in, rtol=1e-6), "the heat put in leaves through the air side"
