"""The dashboard on a long history: first paint with 30 days of 1-minute readings from 8 sensors
(target < 2 s, downsampled server-side to at most 2,000 points a line).

A history is written directly (no twin): a fin plate with six temperature probes and two measured
inputs, one reading a minute each, and one update a minute (the latent estimate ± std, the
inputs, every sensor's prediction ± std), 345,600 readings and 43,200 updates for 30 days. Then
`twinkit dashboard` starts as a process and headless Chromium (Debian's, driven by Playwright)
opens the page. Printed: the server's start-up (the whole history read once), the first paint
(navigation until every sensor chart holds its data, as a reader sees it), when the server's
answer (the page's HTML, sent once it has built the session's document) arrived, when the whole
page was there (the panels below the first screen, which a served page adds once the browser has
drawn the first: the what-if panel's note is the last), and the points sent per line.

    .venv/bin/python benchmarks/dashboard.py [--days 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

PROBES = {f"T{i}": (0.02 * i, 0.05) for i in range(6)}
CASE = """\
name: fin8
model: heat_conduction
mesh: {generator: rectangle, length: 0.1 m, height: 0.1 m, cells: [4, 4]}
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
""" + "".join(f"  {n}: {{point: [{x} m, {y} m]}}\n" for n, (x, y) in PROBES.items())


def write_history(path: Path, days: float, seed: int = 0) -> tuple[int, int]:
    """A fresh SQLite history of `days` days; returns (readings, updates)."""
    from twinkit.twin.history_db import Database

    path.unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    rng = np.random.default_rng(seed)
    t0, n = 1.77e9, int(days * 24 * 60)
    t = t0 + 60.0 * np.arange(n)
    wear = 30.0 + 10.0 * np.arange(n) / n  # h grows over the run
    streams = {name: 350.0 - 5 * i + 0.01 * (wear - 30) for i, name in enumerate(PROBES)}
    streams |= {"power": np.full(n, 3000.0), "t_amb": np.full(n, 300.0)}
    units = {name: "K" for name in PROBES} | {"power": "W/m^2", "t_amb": "K"}
    readings, updates, values = [], [], []
    for name, y in streams.items():
        noisy = y * (1 + 0.002 * rng.standard_normal(n))
        readings += [("plant", tk, tk, name, float(v), units[name], "accepted", None, None, None)
                     for tk, v in zip(t, noisy, strict=True)]  # fmt: skip
    for k in range(n):
        updates.append(("plant", k + 1, t[k], "case", "sur", t[k] - 60, t[k], 8.0, 0.002))
        values.append(("plant", k + 1, "parameter", "h", wear[k], 1.5, None, None, "W/(m^2*K)"))
        values += [("plant", k + 1, "input", i, float(streams[i][k]), None, None, None, units[i])
                   for i in ("power", "t_amb")]  # fmt: skip
        values += [("plant", k + 1, "sensor", p, float(streams[p][k]), 0.8, None, None, "K")
                   for p in PROBES]  # fmt: skip
    for table, rows in (("readings", readings), ("updates", updates), ("update_values", values)):
        db.insert(table, rows)
    db.conn.commit()
    db.close()
    return len(readings), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--folder", type=Path, default=Path("runs/benchmarks/dashboard"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    (case := args.folder / "fin8.yaml").write_text(CASE)
    start = time.perf_counter()
    n_readings, n_updates = write_history(db := args.folder / "history.sqlite", args.days)
    print(f"history: {n_readings} readings, {n_updates} updates over {args.days:g} days "
          f"(written in {time.perf_counter() - start:.1f} s)", flush=True)  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = args.folder / "dashboard.log"
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "twinkit.cli", "dashboard", str(case),
                                 "--history", str(db), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        while "dashboard at" not in log.read_text():
            if proc.poll() is not None:
                raise SystemExit(log.read_text())
            time.sleep(0.05)
        startup = time.perf_counter() - start
        from playwright.sync_api import sync_playwright

        names = [f"readings:{p}" for p in PROBES] + [f"prediction:{p}" for p in PROBES]
        ready = (f"(() => {{ const d = Bokeh.documents[0]; if (!d) return null; "
                 f"const n = {json.dumps(names)}.map(k => d.get_model_by_name(k)?.data.x?.length "
                 f"?? 0); return n.every(v => v > 0) ? Math.max(...n) : null; }})()")  # fmt: skip
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
            paints, answers, wholes = [], [], []
            whole = ("(() => { const d = Bokeh.documents[0]; "
                     "return !!d.get_model_by_name('whatif-note'); })()")  # fmt: skip
            for _ in range(3):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                t = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_function(f"{ready} !== null", timeout=60_000, polling=20)
                paints.append(time.perf_counter() - t)
                points = page.evaluate(ready)
                page.wait_for_function(whole, timeout=60_000, polling=20)
                wholes.append(time.perf_counter() - t)
                nav = "performance.getEntriesByType('navigation')[0].responseEnd / 1000"
                answers.append(page.evaluate(nav))
                page.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(30)
    result = {"days": args.days, "readings": n_readings, "updates": n_updates,
              "startup_s": startup, "first_paint_s": paints, "html_s": answers,
              "whole_page_s": wholes, "points_per_line": points}  # fmt: skip
    print(f"server start-up (history read once): {startup:.2f} s")
    print(f"first paint (navigation → every sensor chart drawn): "
          f"{', '.join(f'{p:.2f}' for p in paints)} s (target < 2 s)")  # fmt: skip
    print(f"  the server's answer (HTML) after {', '.join(f'{p:.2f}' for p in answers)} s; "
          f"the whole page after {', '.join(f'{p:.2f}' for p in wholes)} s")  # fmt: skip
    print(f"points per line sent: {points} (of {n_updates} updates, {n_readings // 8} readings)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
