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
# Load a case file, solve it once, then sweep the (uncertain) air-side heat-transfer coefficient.
# The model compiles its forms once: each new value only updates a `fem.Constant`.
# Open it as a notebook (`jupytext --to ipynb`) or run it as a script with python.

# %%
from pathlib import Path

import numpy as np

from twinkit.case import load_case
from twinkit.solve.runner import CaseRunner

root = Path.cwd() if (Path.cwd() / "cases").exists() else Path(__file__).resolve().parents[1]
loaded = load_case(root / "cases" / "heatsink.yaml")
runner = CaseRunner(loaded)
nominal = loaded.case.parameter_values()
result = runner.solve(nominal)
print({k: round(v, 2) for k, v in result.qoi.items()})

# %% [markdown]
# ## Sweep the heat-transfer coefficient over its (log-scale) range

# %%
lo, hi = loaded.case.parameters["h_air"].bounds
hs = np.geomspace(lo, hi, 6)
t_max = []
for h in hs:
    r = runner.solve(nominal | {"h_air": h})
    t_max.append(r.qoi["T_max"] - 273.15)
    print(f"h = {h:6.1f} W/(m²K)  T_max = {t_max[-1]:7.1f} °C  Q_air = {r.qoi['Q_air']:.1f} W/m")

# %% [markdown]
# Whatever h is, all the heat put in at the base (40 kW/m² × 60 mm = 2400 W/m) leaves through
# the air-side surfaces: the energy balance closes to solver precision.

# %%
assert np.all(np.diff(t_max) < 0), "better cooling must lower the peak temperature"
assert abs(r.qoi["Q_air"] - 2400.0) < 1e-6 * 2400.0
print("energy balance closes:", r.qoi["Q_air"])
