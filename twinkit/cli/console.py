"""What the commands print: rich tables of the API's objects, in the units the case used."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twinkit.case.display import DisplayUnits, pretty
from twinkit.optimization.fe_text import ei_left


def _console() -> Console:
    return Console(highlight=False)


MAX_ROWS = 100  # of the parameter table; a longer one is cut, saying how many it leaves out


def case_table(case: Any) -> None:
    """`twinkit validate`: the case is valid; its parameters as written (the first `MAX_ROWS`)."""
    con = _console()
    con.print(
        f"[green]ok[/green] {case.path}: case '{case.name}', model {case.model}, "
        f"hash {case.loaded.hash}"
    )
    n = len(case.loaded.case.parameters)
    if n:
        t = Table("parameter", "role", "nominal", "range", "unit")
        for row in case.rows(MAX_ROWS):
            t.add_row(*row)
        con.print(t)
    if n > MAX_ROWS:
        con.print(f"... and {n - MAX_ROWS} more parameters (the notebook API lists them all)")


def result_table(result: Any) -> None:
    """`twinkit solve`: QoIs and sensors, and the solver's status."""
    con = _console()
    t = Table("output", "value", "unit", title="results")
    for q in (result.qoi, result.sensors):
        for row in q.rows():
            t.add_row(*row)
    con.print(t)
    s = result.solver
    con.print(
        f"solver: converged={s.converged} iterations={s.iterations} seconds={s.seconds:.2f}; "
        f"wrote {result.summary_path}"
    )
    for w in s.warnings:
        con.print(f"warning: {w}", markup=False, highlight=False)


def sweep_line(sweep: Any) -> list[str]:
    """`twinkit sample`: counts and timings; returns the lines about failed samples."""
    s = sweep.summary
    c, t = s["counts"], s["timings"]
    mean = f"{t['mean_solve_seconds']:.3g} s" if t["mean_solve_seconds"] is not None else "-"
    con = _console()
    con.print(
        f"{c['ok']} ok, {c['failed']} failed of {c['total']} samples ({c['reused']} already "
        f"done); wall {t['wall_seconds']:.1f} s, mean {mean} per sample; wrote "
        f"{s['folder']}/dataset.nc"
    )
    if "adaptive" in s:
        rounds = s["adaptive"]["rounds"]
        sizes = ", ".join(str(len(r)) for r in rounds)
        con.print(f"adaptive design: {len(rounds)} rounds of {sizes} training samples")
    for f in s["failures"][:5]:
        con.print(f"  sample {f['sample']} failed: {f['message']}")
    return [f["message"] for f in s["failures"]]


def _short(name: str) -> str:
    """An output's name as the case writes it: without its "qoi_" or "sensor_" prefix."""
    return name.split("_", 1)[1] if name.startswith(("qoi_", "sensor_")) else name


def train_table(summary: dict[str, Any], path: Any, display: DisplayUnits) -> None:
    """`twinkit train`: held-out metrics next to the baselines'; errors in the case's units."""
    con = _console()
    base = summary["baselines"]

    def err(name: str, v: float) -> str:  # an error of output `name` in the case's unit
        return f"{display.spread(_short(name), v, summary['units'].get(name, '')):.4g}"

    def unit(name: str) -> str:
        return pretty(display.unit(_short(name), summary["units"].get(name, "")))

    rows = []
    for name, m in summary["surrogate"]["outputs"].items():
        baselines = [err(name, b["outputs"][name]["rmse"]) for b in base.values()]
        rows.append([name, f"{m['r2']:.5f}", err(name, m["rmse"]), err(name, m["max_error"]),
                     f"{m['coverage']:.2f}", *baselines, unit(name)])  # fmt: skip
    # the numbers in full: on a narrow terminal the names fold instead (80 columns hold all)
    t = Table(title=f"held-out ({summary['n_test']} samples)", box=box.SIMPLE_HEAD,
              pad_edge=False, collapse_padding=True)  # fmt: skip
    t.add_column("output", overflow="fold")
    for i, col in enumerate(
        ("R²", "RMSE", "max err", "±2σ", *(f"{b} RMSE" for b in base), "unit"), 1
    ):
        t.add_column(col, no_wrap=True, min_width=max(len(r[i]) for r in rows))
    for row in rows:
        t.add_row(*row)
    con.print(t)
    for name, m in summary["surrogate"]["fields"].items():
        rbf = base.get("rbf", {}).get("fields", {}).get(name)
        extra = f"; POD + RBF {rbf['rel_l2']:.2e}" if rbf else ""
        con.print(
            f"field {name}: rel. L2 mean {m['rel_l2']:.2e}, max {m['rel_l2_max']:.2e}, "
            f"coverage {m['coverage']:.2f}{extra}"
        )
    for e in summary["training"].get("extremes", []):
        if e["kept"]:
            o = e["output"]
            con.print(
                f"{o}: the {e['kind']} of field {e['field']} ({e['nodes']} nodes), "
                f"cross-validated RMSE {err(o, e['cv_rmse_extreme'])} against "
                f"{err(o, e['cv_rmse_own'])} {unit(o)} of its own model"
            )
    inf = summary["inference"]
    speed = (
        f", {inf['speedup_scalars']:.3g}x faster per sample than FE"
        if "speedup_scalars" in inf
        else ""
    )
    threads = inf.get("threads", 1)
    con.print(
        f"trained in {summary['training_seconds']:.1f} s on {summary['n_train']} samples; "
        f"{inf['batch']} predictions in {1e3 * inf['scalars_s']:.1f} ms "
        f"({threads} thread{'s' if threads > 1 else ''}){speed}"
    )
    if summary["case_changed"]:
        con.print("[yellow]warning: the case file changed since the dataset was sampled[/yellow]")
    con.print(f"wrote {path}")


def calibration_table(cal: Any) -> None:
    """`twinkit calibrate`: estimates ± std in the case's units, data-quality counts."""
    con = _console()
    t = Table(
        "parameter",
        "estimate ± std",
        "unit",
        "posterior/prior width",
        "inside range",
        title="calibration",
    )
    for row in cal.rows():
        t.add_row(*row)
    con.print(t)
    for w in cal.warnings():
        con.print(f"[yellow]warning: {escape(w)}[/yellow]")
    q, s = cal.summary["data_quality"], cal.summary
    check = s.get("verification")
    if check:  # --verify: one FE solve at the calibrated point; outputs of different units
        diffs = [(abs(d["difference"]) / max(abs(d["fe"]), 1e-300), n, d)
                 for k in ("sensors", "qoi") for n, d in check[k].items()]  # fmt: skip
        line = "FE check at the calibrated point: " + ("converged" if check["converged"] else
                                                        "NOT converged")  # fmt: skip
        if diffs:
            rel, name, d = max(diffs, key=lambda t: t[0])
            line += f"; largest relative surrogate - FE: {name} {rel:.2%} (FE {d['fe']:.6g})"
        con.print(line + " (every output in summary.json, verification)")
    con.print(
        f"readings: {q['accepted']} accepted, {q['rejected']} rejected, {q['repaired']} repaired "
        f"{q['by_reason'] or ''}; {s['calibration']['seconds']:.2f} s; wrote {cal.path}"
    )


def fe_progress(case: Any, units: dict[str, str]) -> Any:
    """A callback printing one line per FE solve of `twinkit optimize --fe-budget` (stderr):
    each goal output by FE, with the prediction made before the solve and its miss in σ;
    `units`: each output's SI unit."""
    d = case.display
    err = Console(stderr=True, highlight=False)

    def show(row: dict[str, Any]) -> None:
        parts = []
        for name, o in row["outputs"].items():
            if o["fe"] is None:
                continue
            si = units.get(name, "")
            text = d.format(name, o["fe"], si)
            if o["miss_sigma"] is not None:
                guess = d.format(name, o["predicted"], si)
                text += f" (predicted {guess}, {o['miss_sigma']:+.1f}σ)"
            parts.append(f"{name} {text}")
        state = "feasible" if row["feasible"] else ("infeasible" if row["converged"] else "failed")
        err.print(f"FE solve {row['solve'] + 1}: {state}; " + "; ".join(parts), soft_wrap=True)

    return show


def optimization_table(opt: Any) -> str | None:
    """`twinkit optimize`: the chosen designs, predicted vs FE; returns why it failed, or None."""
    con = _console()
    s = opt.summary
    t = s["trials"]
    fe = s.get("fe")
    if t["complete"] or not fe:
        con.print(
            f"study '{s['study']}' ({s['sampler']}): {t['complete']} trials on the surrogate "
            f"({t['this_run']} new, {t['feasible']} feasible) in {s['seconds']:.1f} s"
        )
    for i, d in enumerate(s["best"]):
        v = d.get("verification")
        title = f"best FE solve ({d['trial'] + 1})" if fe else f"trial {d['trial']}"
        table = Table(*opt.HEADER, title=title)
        for row in opt.rows(i):
            table.add_row(*row)
        con.print(table)
        if v and fe:
            left = ei_left(fe)
            con.print(f"verified: {v['verified']} (FE-feasible {v['feasible']}{left})")
        elif v:
            con.print(
                f"verified: {v['verified']} (feasible {v['feasible']}, objective error "
                f"within {100 * s['tolerance']:g} %: {v['within_tolerance']})"
            )
    if fe:
        con.print(
            f"FE search ({fe['mode']}): {len(fe['solves'])} FE solves ({fe['this_run']} new, "
            f"budget {fe['budget']}); stopped: {fe['stopped']}"
        )
    con.print(f"wrote {opt.path}")
    if fe and not fe["solves"]:
        return "no FE solve was made (--fe-budget 0?)"
    if fe:
        if not s["best"] or not s["best"][0]["verification"]["feasible"]:
            return "no FE-feasible design found within the FE budget"
        return None
    if not opt.feasible:
        return "no feasible design found on the surrogate"
    if any(d.get("verification", {}).get("verified") is False for d in s["best"]):
        return "FE verification failed (see summary.json; try --fe-budget N)"
    return None
