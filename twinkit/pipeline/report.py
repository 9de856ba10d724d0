"""`OUT/report.html` of `twinkit run`: one static, self-contained page (PNGs embedded, no JS).

Built from what the stages wrote: the case, `nominal/summary.json` and pictures,
`train_summary.json` + `parity.png`, `calibration/summary.json` + `fit.png` (with the truth when
the sensor file has a `<name>.truth.json` sidecar), `optimize/` and `verify/` summaries and
pictures, and the stage timings in `run.json`. Every piece of text is escaped.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from twinkit.case import LoadedCase
from twinkit.case.display import DisplayUnits, pretty
from twinkit.files import write_text
from twinkit.optimization.fe_text import ei_left
from twinkit.pipeline.report_html import CSS, esc, img, num, para, read_json, table
from twinkit.version import __version__

REPORT_VERSION = 4  # bump when the page changes, so `twinkit run` rebuilds it


class _Shown:
    """Numbers as the case shows them (its units, not SI): values, spreads, unit names."""

    def __init__(self, loaded: LoadedCase):
        self.d = DisplayUnits.from_case(loaded.case)

    def value(self, name: str, v: Any, unit: str, digits: int = 6) -> str:
        return "–" if v is None else num(float(self.d.value(name, v, unit)[0]), digits)

    def spread(self, name: str, v: Any, unit: str, digits: int = 3) -> str:
        return "–" if v is None else num(float(self.d.spread(name, v, unit)), digits)

    def unit(self, name: str, unit: str) -> str:
        return pretty(self.d.unit(name, unit))


def _short(name: str) -> str:
    """A surrogate output's case name: 'qoi_heat_input' → 'heat_input'."""
    return name.split("_", 1)[1] if name.startswith(("qoi_", "sensor_")) else name


def _case(loaded: LoadedCase, sh: _Shown) -> str:
    c = loaded.case
    rows = []
    for n, p in c.parameters.items():
        u = c.parameter_unit(n)
        lo, hi = (sh.value(n, b, u) for b in p.bounds)
        rng = f"[{lo}, {hi}]" + (" log" if p.scale == "log" else "") if p.range else ""
        rows.append([n, p.role, sh.value(n, p.si, u), rng, sh.unit(n, u)])
    facts = [
        ["model", c.model],
        ["case file", str(loaded.path)],
        ["case hash", loaded.hash],
        ["probes (sensors)", ", ".join(c.probes) or "none"],
        ["quantities of interest", ", ".join(c.outputs.qoi) or "none"],
    ]
    return (
        "<h2>Case</h2>"
        + (para(c.description, "") if c.description else "")
        + table(["", ""], facts)
        + table(["parameter", "role", "nominal", "range", "unit"], rows)
    )


def _nominal(out: Path, sh: _Shown) -> str:
    s = read_json(out / "nominal" / "summary.json")
    if s is None:
        return ""
    units = s.get("units", {})
    rows = [
        [n, sh.value(n, v, units.get(n, "")), sh.unit(n, units.get(n, ""))]
        for k in ("qoi", "sensors")
        for n, v in s[k].items()
    ]
    pics = "".join(
        img(out / "nominal" / f, f"nominal point: {f.removesuffix('.png')}")
        for f in s.get("files", [])
        if f.endswith(".png")
    )
    solver = s.get("solver", {})
    return (
        "<h2>Nominal solution</h2>"
        + para(
            f"FE solve: {s.get('dofs', '?')} DOFs, {solver.get('iterations')} iterations, "
            f"{num(solver.get('seconds'), 3)} s"
        )
        + table(["output", "value", "unit"], rows)
        + pics
    )


def _surrogate(out: Path, sh: _Shown) -> str:
    s = read_json(out / "train_summary.json")
    if s is None:
        return ""
    base = s.get("baselines", {})
    header = ["output", "R²", "RMSE", "max error", "±2σ coverage"]
    header += [f"{b} RMSE" for b in base] + ["unit"]
    rows = []
    for n, m in s["surrogate"]["outputs"].items():
        short, u = _short(n), s.get("units", {}).get(n, "")
        rows.append(
            [n, num(m["r2"], 5), sh.spread(short, m["rmse"], u, 4)]
            + [sh.spread(short, m["max_error"], u, 4), f"{m['coverage']:.2f}"]
            + [sh.spread(short, b["outputs"].get(n, {}).get("rmse"), u, 4) for b in base.values()]
            + [sh.unit(short, u)]
        )
    fields = [
        [n, f"{m['rel_l2']:.3e}", f"{m['rel_l2_max']:.3e}", f"{m['coverage']:.2f}"]
        + [num(base.get("rbf", {}).get("fields", {}).get(n, {}).get("rel_l2"), 3)]
        for n, m in s["surrogate"].get("fields", {}).items()
    ]
    inf = s.get("inference", {})
    return (
        "<h2>Surrogate</h2>"
        + para(
            f"{s['n_train']} training and {s['n_test']} held-out samples ({s['test_set']}); "
            f"{s['members']} ensemble members, trained in {s['training_seconds']:.1f} s; "
            f"{inf.get('batch', '?')} predictions in "
            f"{1e3 * inf.get('scalars_s', float('nan')):.1f} ms."
        )
        + "<h3>Held-out metrics, next to the baselines</h3>"
        + table(header, rows)
        + (
            table(["field", "rel. L2", "max rel. L2", "±2σ coverage", "POD + RBF rel. L2"], fields)
            if fields
            else ""
        )
        + img(out / "parity.png", "held-out parity: surrogate (± 2σ) and RBF against FE")
    )


def _calibration(out: Path, sensors: Path | None, sh: _Shown) -> str:
    s = read_json(out / "calibration" / "summary.json") if sensors else None
    if s is None:
        return "<h2>Calibration</h2>" + para("Not run: the case names no sensor file.")
    truth = (
        (read_json(sensors.with_suffix(".truth.json")) or {}).get("truth", {}) if sensors else {}
    )
    rows = [
        [n, sh.value(n, e["value"], e["unit"], 5), sh.spread(n, e["std"], e["unit"])]
        + ([sh.value(n, truth.get(n, {}).get("value"), e["unit"], 5)] if truth else [])
        + [f"{e['std_ratio']:.3f}", "yes" if e["identifiable"] else "no", sh.unit(n, e["unit"])]
        for n, e in s["estimates"].items()
    ]
    header = ["parameter", "estimate", "± std"] + (["truth"] if truth else [])
    header += ["posterior/prior width", "identifiable", "unit"]
    sens = [
        [n, sh.value(n, v["measured"], v["unit"]), sh.value(n, v["fitted"], v["unit"])]
        + [num(v["normalized_residual"], 3), sh.unit(n, v["unit"])]
        for n, v in s["sensors"].items()
    ]
    q = s["data_quality"]
    oor = s.get("out_of_range", {})  # estimates outside their range, inputs outside training

    def warning(n: str, e: dict[str, Any], bounds: list[float], where: str) -> str:
        lo, hi = (sh.value(n, b, e["unit"], 4) for b in bounds)
        value = f"{sh.value(n, e['value'], e['unit'], 4)} {sh.unit(n, e['unit'])}".strip()
        return f"Warning: {n} = {value} is outside {where} [{lo}, {hi}]."

    warn = [
        warning(n, s["estimates"][n], s["estimates"][n]["prior"]["range"], "its range in the case")
        for n in oor.get("estimates", [])
    ] + [
        warning(n, i, i["training_range"], f"the surrogate's training range ({i['source']})")
        for n in oor.get("inputs", [])
        for i in [s["inputs"][n]]
    ]
    return (
        "<h2>Calibration</h2>"
        + para(
            f"Sensor file {sensors} ({s['window']['start']} to {s['window']['end']}): "
            f"{q['accepted']} readings accepted, {q['rejected']} rejected, "
            f"{q['repaired']} repaired."
        )
        + "".join(para(w, "bad") for w in warn)
        + table(header, rows)
        + table(["sensor", "measured (mean)", "calibrated twin", "residual / σ", "unit"], sens)
        + img(out / "calibration" / "fit.png", "calibration fit")
    )


def _optimisation(loaded: LoadedCase, out: Path, sh: _Shown) -> str:
    s = read_json(out / "optimize" / "summary.json")
    if s is None:
        return ""
    fe_units = (read_json(out / "nominal" / "summary.json") or {}).get("units", {})

    def unit(row: dict[str, Any], name: str) -> str:  # the FE solve's own units come first
        return str(fe_units.get(name) or row.get("unit", ""))

    goals = [
        f"{o['direction']} {o['output']} [{sh.unit(o['output'], unit(o, o['output']))}]"
        for o in s["objectives"]
    ]
    for bound in s["constraints"]:
        n, u = bound["output"], unit(bound, bound["output"])
        limit = sh.value(n, bound.get("max", bound.get("min")), u)
        goals.append(f"{n} {'≤' if 'max' in bound else '≥'} {limit} {sh.unit(n, u)}")
    t = s["trials"]
    parts = [
        "<h2>Optimisation</h2>",
        para(
            f"{'; '.join(goals)}. Study '{s['study']}' ({s['sampler']}): {t['complete']} trials "
            f"on the surrogate, {t['feasible']} feasible."
        ),
        table(
            ["fixed input", "value", "unit", "source"],
            [
                [n, sh.value(n, v["value"], loaded.case.parameter_unit(n))]
                + [sh.unit(n, loaded.case.parameter_unit(n)), v["source"]]
                for n, v in s["fixed"].items()
            ],
        ),
    ]
    v = read_json(out / "verify" / "summary.json") or {}
    if not s["best"]:
        parts.append(para("No design was found.", "bad"))
    else:
        best = s["best"][0]
        parts.append(f"<h3>Best design (trial {best['trial']})</h3>")
        c = loaded.case
        parts.append(
            table(
                ["design parameter", "value", "unit"],
                [
                    [n, sh.value(n, x, c.parameter_unit(n)), sh.unit(n, c.parameter_unit(n))]
                    for n, x in best["design"].items()
                ],
            )
        )
        check = (v.get("checks") or [None])[0]
        rows = []
        for n, p in best["predicted"].items():
            fe = check["outputs"].get(n, {}) if check else {}
            err = fe.get("relative_error")
            u = unit(fe, n)
            rows.append(
                [
                    n,
                    sh.value(n, p["mean"], u),
                    sh.spread(n, p["std"], u),
                    sh.value(n, fe.get("fe"), u),
                    "–" if err is None else f"{100 * err:.2f} %",
                    sh.unit(n, u),
                ]
            )
        parts.append(table(["output", "predicted", "± std", "FE", "error", "unit"], rows))
        if check and s.get("fe"):
            parts.append(_fe_search(s, sh, unit, check["verified"]))
        elif check:
            ok = check["verified"]
            parts.append(
                para(
                    f"FE verification: {'verified' if ok else 'NOT verified'} (FE converged "
                    f"{check['fe_converged']}, constraints hold in FE {check['feasible']}, "
                    f"objective within {100 * v['tolerance']:g} %: "
                    f"{check['within_tolerance']}).",
                    "good" if ok else "bad",
                )
            )
    for f in ("history.png", "pareto.png"):
        parts.append(img(out / "optimize" / f, f"optimisation: {f.removesuffix('.png')}"))
    for f in v.get("files", []):
        parts.append(img(out / "verify" / f, f"best design, FE: {f.removesuffix('.png')}"))
    return "".join(parts)


def _fe_search(s: dict[str, Any], sh: _Shown, unit: Any, verified: bool) -> str:
    """The FE search's solves: the objective predicted before each solve, by FE, the miss in σ
    (the worst over the goal outputs too), feasibility; and why it stopped."""
    fe = s["fe"]
    name = s["objectives"][0]["output"]
    rows = []
    for r in fe["solves"]:
        o = r["outputs"][name]
        u = unit(s["objectives"][0], name)
        known = [x["miss_sigma"] for x in r["outputs"].values()]
        misses = [abs(m) for m in known if m is not None]
        rows.append(
            [
                str(r["solve"] + 1),
                "–" if o["predicted"] is None else sh.value(name, o["predicted"], u),
                "–" if o["std"] is None else sh.spread(name, o["std"], u),
                sh.value(name, o["fe"], u),
                "–" if o["miss_sigma"] is None else f"{o['miss_sigma']:+.1f}",
                f"{max(misses):.1f}" if misses else "–",
                "yes" if r["feasible"] else ("no" if r["converged"] else "failed"),
            ]
        )
    left = ei_left(fe, "(SI)")
    verdict = para(
        f"FE search ({fe['mode']}): {len(fe['solves'])} FE solves of at most {fe['budget']}; "
        f"stopped: {fe['stopped']}{left}. The best design is the best FE-feasible one solved: "
        + ("verified." if verified else "NOT verified (the search did not converge)."),
        "good" if verified else "bad",
    )
    head = [
        "FE solve", f"{name} predicted", "± std", "FE", "miss [σ]", "worst miss [σ]", "feasible"
    ]  # fmt: skip
    return "<h3>FE search</h3>" + table(head, rows) + verdict


def _timings(out: Path) -> str:
    r = read_json(out / "run.json") or {}
    rows = [
        [
            n,
            st.get("status"),
            num(st.get("seconds"), 4),
            st.get("finished", ""),
            st.get("note") or st.get("message", ""),
        ]
        for n, st in r.get("stages", {}).items()
    ]
    return "<h2>Stages</h2>" + table(["stage", "status", "seconds", "finished", "note"], rows)


def write_report(loaded: LoadedCase, out: Path, sensors: Path | None) -> Path:
    """Write `out/report.html` from the run folder; returns its path."""
    title = f"twinkit run: {loaded.name}"
    sh = _Shown(loaded)
    body = "".join(
        [
            f"<h1>{esc(title)}</h1>",
            para(
                f"twinkit {__version__}, {time.strftime('%Y-%m-%d %H:%M')}; values in the "
                "units the case file uses (the JSON files beside this page are SI)."
            ),
            _case(loaded, sh),
            _nominal(out, sh),
            _surrogate(out, sh),
            _calibration(out, sensors, sh),
            _optimisation(loaded, out, sh),
            _timings(out),
        ]
    )
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{CSS}</style></head><body>{body}</body></html>\n"
    )
    path = out / "report.html"
    write_text(path, page)  # readers never see half a page
    return path
