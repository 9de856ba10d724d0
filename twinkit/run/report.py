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

import twinkit
from twinkit.case import LoadedCase
from twinkit.run.report_html import CSS, esc, img, num, para, read_json, table

REPORT_VERSION = 3  # bump when the page changes, so `twinkit run` rebuilds it


def _case(loaded: LoadedCase) -> str:
    c = loaded.case
    rows = []
    for n, p in c.parameters.items():
        lo, hi = p.bounds
        rng = f"[{lo:.6g}, {hi:.6g}]" + (" log" if p.scale == "log" else "") if p.range else ""
        rows.append([n, p.role, num(p.si), rng, c.parameter_unit(n)])
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
        + table(["parameter", "role", "nominal (SI)", "range (SI)", "unit"], rows)
    )


def _nominal(out: Path) -> str:
    s = read_json(out / "nominal" / "summary.json")
    if s is None:
        return ""
    units = s.get("units", {})
    rows = [[n, num(v), units.get(n, "")] for k in ("qoi", "sensors") for n, v in s[k].items()]
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
        + table(["output", "value (SI)", "unit"], rows)
        + pics
    )


def _surrogate(out: Path) -> str:
    s = read_json(out / "train_summary.json")
    if s is None:
        return ""
    base = s.get("baselines", {})
    header = ["output", "R²", "RMSE", "max error", "±2σ coverage"]
    header += [f"{b} RMSE" for b in base] + ["unit"]
    rows = [
        [n, num(m["r2"], 5), num(m["rmse"], 4), num(m["max_error"], 4), f"{m['coverage']:.2f}"]
        + [num(b["outputs"].get(n, {}).get("rmse"), 4) for b in base.values()]
        + [s.get("units", {}).get(n, "")]
        for n, m in s["surrogate"]["outputs"].items()
    ]
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


def _calibration(out: Path, sensors: Path | None) -> str:
    s = read_json(out / "calibration" / "summary.json") if sensors else None
    if s is None:
        return "<h2>Calibration</h2>" + para("Not run: the case names no sensor file.")
    truth = (
        (read_json(sensors.with_suffix(".truth.json")) or {}).get("truth", {}) if sensors else {}
    )
    rows = [
        [n, num(e["value"], 5), num(e["std"], 3)]
        + ([num(truth.get(n, {}).get("value"), 5)] if truth else [])
        + [f"{e['std_ratio']:.3f}", "yes" if e["identifiable"] else "no", e["unit"]]
        for n, e in s["estimates"].items()
    ]
    header = ["parameter", "estimate", "± std"] + (["truth"] if truth else [])
    header += ["posterior/prior width", "identifiable", "unit"]
    sens = [
        [n, num(v["measured"]), num(v["fitted"]), num(v["normalized_residual"], 3), v["unit"]]
        for n, v in s["sensors"].items()
    ]
    q = s["data_quality"]
    return (
        "<h2>Calibration</h2>"
        + para(
            f"Sensor file {sensors} ({s['window']['start']} to {s['window']['end']}): "
            f"{q['accepted']} readings accepted, {q['rejected']} rejected, "
            f"{q['repaired']} repaired."
        )
        + table(header, rows)
        + table(["sensor", "measured (mean)", "calibrated twin", "residual / σ", "unit"], sens)
        + img(out / "calibration" / "fit.png", "calibration fit")
    )


def _optimisation(loaded: LoadedCase, out: Path) -> str:
    s = read_json(out / "optimize" / "summary.json")
    if s is None:
        return ""
    fe_units = (read_json(out / "nominal" / "summary.json") or {}).get("units", {})

    def unit(row: dict[str, Any], name: str) -> str:  # the FE solve's own units come first
        return str(fe_units.get(name) or row.get("unit", ""))

    goals = [f"{o['direction']} {o['output']} [{unit(o, o['output'])}]" for o in s["objectives"]]
    goals += [
        f"{c['output']} {'≤' if 'max' in c else '≥'} {num(c.get('max', c.get('min')))} "
        f"[{unit(c, c['output'])}]"
        for c in s["constraints"]
    ]
    t = s["trials"]
    parts = [
        "<h2>Optimisation</h2>",
        para(
            f"{'; '.join(goals)}. Study '{s['study']}' ({s['sampler']}): {t['complete']} trials "
            f"on the surrogate, {t['feasible']} feasible."
        ),
        table(
            ["fixed input", "value (SI)", "source"],
            [[n, num(v["value"]), v["source"]] for n, v in s["fixed"].items()],
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
                ["design parameter", "value (SI)", "unit"],
                [[n, num(x), c.parameter_unit(n)] for n, x in best["design"].items()],
            )
        )
        check = (v.get("checks") or [None])[0]
        rows = []
        for n, p in best["predicted"].items():
            fe = check["outputs"].get(n, {}) if check else {}
            err = fe.get("relative_error")
            rows.append(
                [
                    n,
                    num(p["mean"]),
                    num(p["std"], 3),
                    num(fe.get("fe")),
                    "–" if err is None else f"{100 * err:.2f} %",
                    unit(fe, n),
                ]
            )
        parts.append(table(["output", "surrogate", "± std", "FE", "error", "unit"], rows))
        if check:
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
    body = "".join(
        [
            f"<h1>{esc(title)}</h1>",
            para(
                f"twinkit {twinkit.__version__}, {time.strftime('%Y-%m-%d %H:%M')}; all values SI."
            ),
            _case(loaded),
            _nominal(out),
            _surrogate(out),
            _calibration(out, sensors),
            _optimisation(loaded, out),
            _timings(out),
        ]
    )
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{CSS}</style></head><body>{body}</body></html>\n"
    )
    path = out / "report.html"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)  # readers never see half a page
    return path
