"""Write the replayed plant data of the furnace case: `cases/furnace_sensors.csv` (+ truth sidecar).

One FE solve of `cases/furnace.yaml` at a latent point that is not the nominal one (worn
refractory, darker glass) and a metered pull rate off nominal gives the true thermocouple
temperatures; every 10 minutes over 6 hours each stream gets one reading with the noise the
case's `sensors:` section declares (2 K per thermocouple, 2 t/day = 1 % on the pull rate),
seeded by the case seed. `cases/furnace_sensors.truth.json` records the truth, so a calibration
can be checked against it.

    python scripts/make_furnace_sensors.py [--case cases/furnace.yaml] [--hours 6]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mpi4py import MPI  # noqa: F401  (loads libmpi before dolfinx)

ROOT = Path(__file__).resolve().parents[1]
TRUTH = {"wall_htc": "2.9 W/(m^2*K)", "absorption": "180 1/m", "pull_rate": "210 t/day"}
START = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
CADENCE = timedelta(minutes=10)


def main() -> None:
    import numpy as np

    from twinkit.case import load_case, units
    from twinkit.sensors.readings import rules_from_case
    from twinkit.solve.runner import CaseRunner

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", type=Path, default=ROOT / "cases" / "furnace.yaml")
    ap.add_argument("--out", type=Path, default=ROOT / "cases" / "furnace_sensors.csv")
    ap.add_argument("--hours", type=float, default=6.0)
    args = ap.parse_args()

    loaded = load_case(args.case)
    values = loaded.case.parameter_values(TRUTH)
    rules = rules_from_case(loaded)
    result = CaseRunner(loaded).solve(values)
    if not result.solver.converged:
        raise SystemExit(f"the furnace solve did not converge: {result.solver.message}")
    rng = np.random.default_rng(loaded.case.seed)
    # the plant reports °C and t/day; the truth is SI (K, kg/s)
    streams = {n: (v, "degC") for n, v in result.sensors.items()}
    streams["pull_rate"] = (values["pull_rate"], "t/day")
    steps = int(round(args.hours * 3600 / CADENCE.total_seconds())) + 1
    rows = []
    for k in range(steps):
        t = (START + k * CADENCE).isoformat().replace("+00:00", "Z")
        for name, (si, unit) in streams.items():
            noise = rules[name].noise or 0.01 * abs(si)  # SI, a difference
            slope = units.parse(f"1 {unit}", rules[name].unit) - units.parse(
                f"0 {unit}", rules[name].unit
            )
            offset = units.parse(f"0 {unit}", rules[name].unit)
            reading = (si + noise * rng.standard_normal() - offset) / slope
            rows.append([t, name, f"{reading:.2f}", unit])
    with args.out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["timestamp", "sensor", "value", "unit"])
        w.writerows(rows)
    truth = {
        "generated_by": "scripts/make_furnace_sensors.py",
        "case": loaded.name,
        "sensor_file": args.out.name,
        "seed": loaded.case.seed,
        "readings": {"every": "10 min", "hours": args.hours, "per_stream": steps},
        "truth": {n: {"value": values[n], "given": TRUTH[n]} for n in TRUTH},
        "noise": {n: rules[n].noise for n in streams},
        "fe_sensors": dict(result.sensors),
        "units": {n: rules[n].unit for n in streams},
        "solver": {"seconds": round(result.solver.seconds, 2), "converged": True},
    }
    sidecar = args.out.with_suffix(".truth.json")
    sidecar.write_text(json.dumps(truth, indent=2) + "\n")
    mean_tc = np.mean([v for n, v in result.sensors.items()]) - 273.15
    print(
        f"wrote {args.out} ({len(rows)} rows, {args.out.stat().st_size / 1e3:.1f} kB) and "
        f"{sidecar.name}; FE solve {result.solver.seconds:.1f} s; mean thermocouple "
        f"{mean_tc:.1f} °C; truth {TRUTH}"
    )
    assert math.isfinite(mean_tc)


if __name__ == "__main__":
    main()
