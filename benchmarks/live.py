"""Live twin: per-reading processing latency and EnKF update time (p50 / p99).

The simulated plant's messages go straight into `LiveTwin.process` (no broker), so the figures
are the twin's own cost: JSON parsing, validation, unit conversion, alert bookkeeping, and every
`--cadence` of plant time one ensemble update (one batched surrogate call of `--members` rows).

    .venv/bin/python benchmarks/live.py                                   # the fin surrogate
    .venv/bin/python benchmarks/live.py --case cases/furnace.yaml \
        --surrogate runs/furnace/surrogate.pt

Without --surrogate, a fin-plate surrogate (`surrogates.synthetic`; default architecture: 5 MLP
members, 3×32 tanh) is trained once into runs/benchmarks/ (about a minute) with a matching case.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

FIN_CASE = """\
name: fin
model: heat_conduction
mesh: {generator: rectangle, length: 0.1 m, height: 0.1 m, cells: [8, 8]}
parameters:
  power: {value: 3 kW/m^2, range: [1 kW/m^2, 5 kW/m^2], role: operating}
  h: {value: 30 W/(m^2*K), range: [10 W/(m^2*K), 100 W/(m^2*K)], role: latent, scale: log}
  t_amb: {value: 300 K, range: [273.15 K, 323.15 K], role: operating}
materials:
  plate: {conductivity: 200 W/(m*K)}
boundary_conditions:
  - {type: heat_flux, region: left, value: $power}
  - {type: convection, region: right, h: $h, ambient: $t_amb}
probes:
  T_root: {point: [0 m, 0.05 m]}
  T_mid: {point: [0.05 m, 0.05 m]}
  T_tip: {point: [0.1 m, 0.1 m]}
sensors:
  T_root: {range: [200 K, 2000 K]}
  T_mid: {range: [200 K, 2000 K]}
  T_tip: {range: [200 K, 2000 K]}
alerts:
  drift: {h: 0.3}
"""


def fin_surrogate(folder: Path) -> tuple[Path, Any]:
    """The fin case and a trained fin surrogate (trained once, then loaded from `folder`)."""
    from twinkit.calibrate import load

    folder.mkdir(parents=True, exist_ok=True)
    case, model = folder / "fin.yaml", folder / "fin_surrogate.pt"
    case.write_text(FIN_CASE)
    if model.exists():
        return case, load(model)
    from surrogates import fit_surrogate, from_dataset
    from surrogates.synthetic import fin_dataset

    print(f"training the fin surrogate into {model} (once) ...", flush=True)
    s = fit_surrogate(from_dataset(fin_dataset(64, 16)))
    s.save(model)
    return case, s


def pct(a: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(a) * 1e3, q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", type=Path)
    ap.add_argument("--surrogate", type=Path)
    ap.add_argument(
        "--drift", default=None, help="latent=relative change (default: first latent +50 %%)"
    )
    ap.add_argument("--ticks", type=int, default=3000)
    ap.add_argument("--members", type=int, default=64)
    ap.add_argument("--cadence", type=float, default=60.0, help="plant seconds between updates")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from twinkit.calibrate import load
    from twinkit.case import load_case
    from twinkit.live import LiveOptions, LiveTwin
    from twinkit.live_run import single_threaded
    from twinkit.plant import Plant, PlantOptions

    single_threaded()  # as `twinkit live` does
    if args.surrogate is None:
        args.case, s = fin_surrogate(Path("runs/benchmarks"))
        args.surrogate = Path("runs/benchmarks/fin_surrogate.pt")
    else:
        s = load(args.surrogate)
    loaded = load_case(args.case, check_regions=False)
    latent = [n for n in s.inputs if loaded.case.parameters[n].role == "latent"]
    name, _, rel = (args.drift or f"{latent[0]}=0.5").partition("=")
    popts = PlantOptions(rate=1.0, speed=6.0, duration=args.ticks, drift={name: float(rel)})
    plant = Plant(loaded, s, popts)
    twin = LiveTwin(loaded, s, LiveOptions(cadence=args.cadence, members=args.members))
    messages = [m for k in range(plant.ticks) for m in plant.tick(k)]  # the truth costs nothing
    reading, with_update = [], []
    for topic, payload in messages:
        n = twin.updates
        t0 = time.perf_counter()
        twin.process(topic, payload)
        dt = time.perf_counter() - t0
        (with_update if twin.updates > n else reading).append(dt)
    upd = list(twin.update_seconds)
    q = twin.validator.report()
    res = {
        "case": loaded.name,
        "surrogate": str(args.surrogate),
        "members": args.members,
        "messages": len(messages),
        "updates": twin.updates,
        "reading_ms": {"p50": pct(reading, 50), "p99": pct(reading, 99)},
        "update_ms": {"p50": pct(upd, 50), "p99": pct(upd, 99)},
        "reading_with_update_ms": {"p50": pct(with_update, 50), "p99": pct(with_update, 99)},
        "rejected": q["rejected"],
        "alerts": twin.alerts.count,
        "estimate": twin.doc["parameters"][name]["value"],
        "truth": plant.truth(twin.t)[name],
    }
    print(f"{res['messages']} messages, {res['updates']} updates ({args.members} members) on "
          f"{res['case']} ({args.surrogate})")  # fmt: skip
    for k in ("reading_ms", "update_ms", "reading_with_update_ms"):
        print(f"  {k:24s} p50 {res[k]['p50']:8.3f}   p99 {res[k]['p99']:8.3f}")
    print(f"  rejected {res['rejected']}, alerts {res['alerts']}; {name}: twin "
          f"{res['estimate']:.4g}, truth {res['truth']:.4g}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
