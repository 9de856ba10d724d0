"""Live twin reliability: memory over a long replay, and restarts during a replay, counted.

`memory`: 30 days of plant data at a reading a minute per stream (43,200 ticks; the furnace's 8
thermocouples and its operating inputs) replayed through `LiveTwin.handle` (validation, an EnKF
update a minute of plant time, alerts, forecasts, the virtual fields when due, every row into an
SQLite history) as fast as it goes: plant time comes from the readings, not the wall clock. The
process's RSS is sampled every `--every` messages; the report gives it at 10 %, 50 % and 100 % of
the replay and the ratio end / 10 % against the target (flat within ± 10 %), and the history's
size. `--tracemalloc` also compares Python's allocations at 10 % and at the end (slower).

`restarts`: `twinkit live` as a process, fed over MQTT (mosquitto on 127.0.0.1) by a publisher in
this process at `--rate` ticks a second, while (a) the broker is stopped and started again,
(b) PostgreSQL (the history) is restarted, (c) the twin is killed with SIGKILL and started again.
For each: readings published (acknowledged by the broker), accepted by the twin (its own counter,
in its state), stored in the history, missing, and the updates before and after: they must go on,
numbered without a gap. A replay runs 60 × `--rate` times faster than the plant, so the twin's
`--max-lateness` and `--max-jump` (plant time) are scaled to match: `--late-wall` seconds of the
replay (60; else a 3 s outage would be 30 min of plant time, and the first readings after it
beyond the default 1 h jump). `--slow-connect` holds the publisher's reconnect, as a loaded
machine does: readings published meanwhile overtake the backlog of the outage.

    .venv/bin/python benchmarks/soak.py memory                 # 30 days, about 10 min
    .venv/bin/python benchmarks/soak.py memory --days 3 --tracemalloc
    .venv/bin/python benchmarks/soak.py restarts               # broker, postgres, kill
    .venv/bin/python benchmarks/soak.py restarts --only kill --ticks 3000

The surrogate: `--surrogate`, else runs/furnace/surrogate.pt (`twinkit run cases/furnace.yaml`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "cases/furnace.yaml"
OUT = Path("runs/benchmarks/soak")
TARGET_RSS = 0.10  # end / 10 % within ± 10 %


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process (Linux /proc), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def db_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20


def plant_for(loaded: Any, s: Any, ticks: int, **kw: Any) -> Any:
    """The furnace plant: a tick a minute of plant time, wall_htc drifting +30 % over the run."""
    from twinkit.twin.plant import Plant, PlantOptions

    hi = loaded.case.parameters["wall_htc"].bounds[1]
    start = {"wall_htc": min(loaded.case.parameters["wall_htc"].si, 0.97 * hi / 1.3)}
    opts = PlantOptions(rate=1.0, speed=60.0, duration=ticks, start=start,
                        drift={"wall_htc": 0.3}, **kw)  # fmt: skip
    return Plant(loaded, s, opts)


# ---- memory ------------------------------------------------------------------------------------
def memory(args: argparse.Namespace) -> dict[str, Any]:
    import gc
    import tracemalloc

    from twinkit.case import load_case
    from twinkit.process import single_threaded
    from twinkit.training import read_surrogate as load
    from twinkit.twin.history import History
    from twinkit.twin.live import LiveOptions, LiveTwin

    single_threaded()  # as `twinkit live` does
    loaded, s = load_case(CASE, check_regions=False), load(args.surrogate)
    ticks = int(round(args.days * 1440))
    plant = plant_for(loaded, s, ticks)
    folder = OUT / args.name
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "history.sqlite"
    for p in folder.glob("history.sqlite*"):
        p.unlink()
    opts = LiveOptions(cadence=60.0, members=args.members, max_skew=None, run_dir=folder)
    twin = LiveTwin(loaded, s, opts)
    twin.attach(History(f"sqlite:///{db}"))
    streams = len(plant.probes) + len(plant.inputs)
    print(f"replaying {args.days:g} days: {ticks} ticks x {streams} streams "
          f"({len(plant.probes)} thermocouples, inputs {plant.inputs}), {args.members} members; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    samples: list[dict[str, float]] = []
    snaps: dict[str, Any] = {}
    n = 0
    t0 = time.perf_counter()
    marks = {int(ticks * f): f"{f:.0%}" for f in (0.1, 0.5)} | {ticks - 1: "100%"}
    for k in range(ticks):
        for topic, payload in plant.tick(k):
            twin.handle((time.perf_counter(), topic, payload))
            n += 1
            if n % args.every == 0:
                samples.append({"messages": n, "tick": k, "rss_mb": rss_mb(),
                                "s": time.perf_counter() - t0})  # fmt: skip
        if k in marks:
            twin.flush(wait=True)
            gc.collect()
            row = {"messages": n, "tick": k, "rss_mb": rss_mb(), "s": time.perf_counter() - t0,
                   "updates": twin.updates, "rows_written": twin.history.written,
                   "history_mb": db_size_mb(db)}  # fmt: skip
            samples.append(row)
            snaps[marks[k]] = row
            print(f"  {marks[k]:>4}: {n:,} messages, {twin.updates:,} updates, RSS "
                  f"{row['rss_mb']:.1f} MB, history {row['history_mb']:.1f} MB, "
                  f"{row['s']:.0f} s", flush=True)  # fmt: skip
            if args.tracemalloc:
                if marks[k] == "10%":
                    tracemalloc.start(10)
                    snaps["trace10"] = tracemalloc.take_snapshot()
                elif marks[k] == "100%":
                    top = tracemalloc.take_snapshot().compare_to(snaps.pop("trace10"), "lineno")
                    print("  tracemalloc, 10 % -> end, top growth:")
                    for st in top[:12]:
                        print(f"    {st}")
    twin.flush(wait=True)
    wall = time.perf_counter() - t0
    a, e = snaps["10%"]["rss_mb"], snaps["100%"]["rss_mb"]
    ratio = e / a
    res = {
        "days": args.days, "ticks": ticks, "streams": streams, "messages": n,
        "sent": dict(plant.sent), "accepted": twin.validator.accepted,
        "rejected": twin.validator.report()["rejected"], "updates": twin.updates,
        "rows_written": twin.history.written, "history_mb": db_size_mb(db),
        "rss_mb": {m: snaps[m]["rss_mb"] for m in ("10%", "50%", "100%")},
        "rss_ratio": ratio, "wall_s": wall, "messages_per_s": n / wall,
        "latency_deque": len(twin.latency), "load_average": os.getloadavg()[0],
        "samples": samples,
    }  # fmt: skip
    ok = "met" if abs(ratio - 1) <= TARGET_RSS else "MISSED"
    print(f"{n:,} messages ({res['accepted']:,} accepted, {res['rejected']:,} rejected), "
          f"{twin.updates:,} updates in {wall:.0f} s ({n / wall:,.0f} messages/s); RSS 10 % "
          f"{a:.1f} MB, 50 % {snaps['50%']['rss_mb']:.1f} MB, end {e:.1f} MB: end / 10 % = "
          f"{ratio:.3f} (target 1 ± {TARGET_RSS:.2f}: {ok}); history {res['history_mb']:.1f} MB, "
          f"{res['rows_written']:,} rows; load average {res['load_average']:.1f}")  # fmt: skip
    twin.history.close()
    return res


# ---- restarts -----------------------------------------------------------------------------------
def _servers() -> tuple[Any, Any]:
    sys.path.insert(0, str(ROOT / "tests/twinkit"))
    from mosquitto import Broker  # the tests' throw-away servers
    from postgres import PostgresServer

    return Broker, PostgresServer


class Publisher:
    """The plant's readings over MQTT at `rate` ticks a second, each QoS 1, kept to count which
    the broker acknowledged; `pause` holds it (the kill scenario waits for nothing).

    `slow_connect`: seconds paho's network thread is held when the broker accepts a reconnect,
    as on a loaded machine. Readings published meanwhile are sent at once, before the backlog
    queued during the outage (paho sends that once it has handled the CONNACK), so the backlog
    reaches the twin after newer readings: the reordering a broker restart causes under load."""

    def __init__(self, port: int, plant: Any, rate: float, slow_connect: float = 0.0):
        from twinkit.sensors.mqtt import BrokerConfig, Connection

        self.plant, self.rate = plant, rate
        self.conn = Connection(BrokerConfig("127.0.0.1", port, client_id="soak-plant",
                                            session=True))  # fmt: skip
        self.conn.client.max_queued_messages_set(0)  # no limit: nothing dropped here
        self.infos: list[tuple[float, tuple[str, float], Any]] = []  # (when, (sensor, t), info)
        self.acked = 0  # PUBACKs from the broker (a message queued while it was down counts
        self.conn.client.on_publish = self._acked  # once it is sent and acknowledged)
        if slow_connect:
            on_connect = self.conn.client.on_connect

            def slow(*a: Any) -> None:
                time.sleep(slow_connect)
                on_connect(*a)

            self.conn.client.on_connect = slow
        self.tick = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        assert self.conn.start(wait=10), "the publisher could not connect"
        self.thread.start()

    def _run(self) -> None:
        from twinkit.sensors.timestamps import parse_time

        start = time.monotonic()
        for k in range(self.plant.ticks):
            for topic, payload in self.plant.tick(k):
                info = self.conn.client.publish(topic, payload, qos=1)
                key = (topic.rsplit("/", 1)[-1], parse_time(json.loads(payload)["t"]))
                self.infos.append((time.time(), key, info))
            self.tick = k + 1
            delay = start + (k + 1) / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def _acked(self, client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        self.acked += 1


def _live(args: argparse.Namespace, folder: Path, port: int, url: str, log: Path) -> Any:
    window = args.late_wall * args.rate * 60  # plant s in --late-wall s of the replay
    cmd = [sys.executable, "-m", "twinkit.cli", "live", str(CASE), "--mqtt", f"127.0.0.1:{port}",
           "--surrogate", str(args.surrogate), "--state", str(folder / "live.json"),
           "--history", url, "--max-skew", "off", "--members", str(args.members),
           "--max-lateness", f"{window:g} s" if window else "off",
           "--max-jump", f"{max(3600, window):g} s"]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(cmd, stdout=log.open("a"), stderr=subprocess.STDOUT, env=env, cwd=folder)
    for _ in range(3000):  # a loaded machine: minutes for the imports
        if "connected to" in log.read_text() or p.poll() is not None:
            break
        time.sleep(0.1)
    if "connected to" not in log.read_text():
        p.kill()
        raise RuntimeError(f"twinkit live did not connect: {log.read_text()[-2000:]}")
    return p


def _history_counts(url: str) -> dict[str, Any]:
    from twinkit.twin.history_db import Database

    db = Database(url, create=False)
    try:
        rows = dict(db.run("SELECT status, COUNT(*) FROM readings GROUP BY status").fetchall())
        why = dict(db.run("SELECT reason, COUNT(*) FROM readings WHERE status = 'rejected' "
                          "GROUP BY reason").fetchall())  # fmt: skip
        dup = db.run("SELECT COUNT(*) FROM (SELECT sensor, t FROM readings WHERE status <> "
                     "'rejected' GROUP BY sensor, t HAVING COUNT(*) > 1) d")  # fmt: skip
        dup = dup.fetchone()[0]
        ups = [int(r[0]) for r in db.run("SELECT n FROM updates ORDER BY n").fetchall()]
        state = db.run("SELECT state FROM twin_state").fetchone()
        keys = {(r[0], float(r[1])) for r in db.run(
            "SELECT sensor, t FROM readings WHERE status <> 'rejected'").fetchall()}  # fmt: skip
        db.conn.commit()
    finally:
        db.close()
    return {"status": rows, "rejected_by": why, "duplicates": dup, "updates": ups, "keys": keys,
            "state": json.loads(state[0]) if state else None}  # fmt: skip


def scenario(args: argparse.Namespace, kind: str) -> dict[str, Any]:
    """One replay with one restart (`broker`, `postgres` or `kill`) at 40 % of it."""
    import shutil

    from twinkit.case import load_case
    from twinkit.training import read_surrogate as load

    Broker, PostgresServer = _servers()
    folder = (OUT / kind).resolve()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    broker = Broker(folder)
    conf = broker.conf.read_text() + "max_queued_messages 1000000\n"
    if args.persistence:  # sessions and their queued messages survive a broker restart
        db = folder / "mosquitto"  # writable by the user mosquitto drops to when run as root
        db.mkdir()
        db.chmod(0o777)
        conf += f"persistence true\npersistence_location {db}/\n"
    broker.conf.write_text(conf)
    broker.start()
    pg = PostgresServer() if kind == "postgres" else None
    url = pg.url if pg else f"sqlite:///{folder}/history.sqlite"
    loaded, s = load_case(CASE, check_regions=False), load(args.surrogate)
    plant = plant_for(loaded, s, args.ticks, bad=0.0, dropout=0.0)
    log = folder / "live.log"
    twin = _live(args, folder, broker.port, url, log)
    pub = Publisher(broker.port, plant, args.rate, args.slow_connect)
    event: dict[str, Any] = {"kind": kind}
    try:
        pub.start()
        while pub.tick < 0.4 * plant.ticks:
            time.sleep(0.05)
        event["at_tick"], event["t0"] = pub.tick, time.time()
        if kind == "broker":
            broker.proc.terminate()  # a clean stop (it saves its sessions when persistent)
            broker.proc.wait()
            time.sleep(args.down)
            broker.start()
        elif kind == "postgres":
            pg.stop()
            time.sleep(args.down)
            pg.start()
        else:
            twin.kill()  # SIGKILL: nothing is flushed
            twin.wait()
            event["updates_at_kill"] = max(_history_counts(url)["updates"], default=0)
            time.sleep(args.down)
            twin = _live(args, folder, broker.port, url, log)
        event["t1"] = time.time()
        pub.thread.join()
        # wait until the twin has stored all it will (the history stops growing)
        last, still = -1, 0
        while still < 6:
            time.sleep(1.0)
            c = _history_counts(url)
            got = sum(v for k, v in c["status"].items() if k != "rejected")
            still = still + 1 if got == last else 0
            last = got
        twin.send_signal(signal.SIGTERM)
        twin.wait(60)
        acked = pub.acked
        pub.conn.stop()
        c = _history_counts(url)
    finally:
        if twin.poll() is None:
            twin.kill()
        broker.kill()
        if pg is not None:
            pg.remove()
    st = json.loads((folder / "live.json").read_text())
    accepted, late = st["validator"]["accepted"], st["validator"].get("late", 0)
    stored = c["status"].get("accepted", 0) + c["status"].get("repaired", 0)
    sent = {key: w for w, key, _ in pub.infos}
    missing = sorted(w - event["t0"] for key, w in sent.items() if key not in c["keys"])
    ups = c["updates"]
    gaps = [b for a, b in zip(ups, ups[1:], strict=False) if b != a + 1]
    return {
        "kind": kind, "ticks": plant.ticks, "rate": args.rate, "down_s": args.down,
        "persistence": args.persistence, "slow_connect": args.slow_connect,
        "published": len(sent), "acked_by_broker": acked,
        "accepted_by_twin": accepted, "late": late, "stored": stored, "duplicates": c["duplicates"],
        "accepted_not_stored": accepted - stored, "published_not_stored": len(missing),
        "missing_sent_s": [missing[0], missing[-1]] if missing else None,
        "not_published": len(c["keys"] - set(sent)), "rejected": c["status"].get("rejected", 0),
        "rejected_by": c["rejected_by"],
        "updates": len(ups), "last_update": ups[-1] if ups else 0, "update_gaps": gaps,
        "updates_at_kill": event.get("updates_at_kill"), "at_tick": event["at_tick"],
        "event_s": event["t1"] - event["t0"], "resumed": "resumed from" in log.read_text(),
    }  # fmt: skip


def restarts(args: argparse.Namespace) -> list[dict[str, Any]]:
    out = []
    for kind in args.only or ("broker", "postgres", "kill"):
        print(f"{kind}: {args.ticks} ticks at {args.rate:g} ticks/s ...", flush=True)
        out.append(scenario(args, kind))
    print(f"\n{args.ticks} ticks x 12 streams at {args.rate:g} ticks/s, the restart at 40 %, "
          f"{args.down:g} s down; mosquitto persistence {'on' if args.persistence else 'off'}; "
          f"publisher's reconnect held {args.slow_connect:g} s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    head = ("restart", "published", "acked", "accepted", "late", "stored", "accepted-stored",
            "missing", "missing sent (s from it)", "dup", "rejected", "updates", "gaps",
            "resumed")  # fmt: skip
    print(" | ".join(head))
    for r in out:
        m = r["missing_sent_s"]
        when = f"{m[0]:+.2f} to {m[1]:+.2f}" if m else "-"
        row = (r["kind"], r["published"], r["acked_by_broker"], r["accepted_by_twin"], r["late"],
               r["stored"], r["accepted_not_stored"], r["published_not_stored"], when,
               r["duplicates"],
               ", ".join(f"{k} {n}" for k, n in sorted(r["rejected_by"].items())) or "0",
               f"{r['updates_at_kill'] or '-'} -> {r['last_update']}", len(r["update_gaps"]),
               r["resumed"])  # fmt: skip
        print(" | ".join(map(str, row)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("memory", "restarts"))
    ap.add_argument("--surrogate", type=Path, default=Path("runs/furnace/surrogate.pt"))
    ap.add_argument("--members", type=int, default=64)
    ap.add_argument("--days", type=float, default=30.0, help="memory: plant days replayed")
    ap.add_argument("--every", type=int, default=20_000, help="memory: messages per RSS sample")
    ap.add_argument("--tracemalloc", action="store_true")
    ap.add_argument("--name", default="memory", help="memory: the folder under " + str(OUT))
    ap.add_argument("--ticks", type=int, default=2400, help="restarts: ticks (minutes) replayed")
    ap.add_argument("--rate", type=float, default=40.0, help="restarts: ticks per wall second")
    ap.add_argument("--down", type=float, default=3.0, help="restarts: seconds down")
    ap.add_argument("--only", nargs="*", choices=("broker", "postgres", "kill"))
    ap.add_argument("--persistence", action="store_true", help="mosquitto keeps its sessions")
    ap.add_argument(
        "--late-wall",
        type=float,
        default=60.0,
        help="restarts: the twin's --max-lateness, in s of the replay (0: off)",
    )
    ap.add_argument(
        "--slow-connect",
        type=float,
        default=0.0,
        help="restarts: hold the publisher's reconnect this many s (a loaded machine)",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    args.surrogate = args.surrogate.resolve()
    res = memory(args) if args.what == "memory" else restarts(args)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
