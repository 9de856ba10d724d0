"""`twinkit dashboard` in a real headless browser (Debian's Chromium driven by Playwright), beside
`twinkit live` and a simulated plant on a mosquitto broker, all as processes: the page loads, a
reading published on the broker reaches its chart, the estimated field is drawn, an alert reaches
the table and is acknowledged by a click (the twin then records the acknowledgement in its
history)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mosquitto import running_broker
from test_live_cli import FIN_CASE

ROOT = Path(__file__).parents[2]
# the README's screenshot: TWINKIT_SCREENSHOT=docs/images/dashboard.png pytest -k in_a_browser
SCREENSHOT = os.environ.get("TWINKIT_SCREENSHOT")


def test_thin_keeps_the_ends_and_at_most_max_points():
    from twinkit.dashboard.source import thin

    assert thin(5, 10).tolist() == [0, 1, 2, 3, 4]
    i = thin(100_000, 2000)
    assert len(i) <= 2000 and i[0] == 0 and i[-1] == 99_999 and np.all(np.diff(i) > 0)


@pytest.fixture(scope="module")
def fin(tmp_path_factory):
    """The fin case of the live tests and a tiny real surrogate of it."""
    from twinkit.surrogates import FitConfig, TrainConfig, fit_surrogate, from_dataset
    from twinkit.surrogates.synthetic import fin_dataset

    d = tmp_path_factory.mktemp("fin")
    (d / "fin.yaml").write_text(FIN_CASE)
    cfg = FitConfig(train=TrainConfig(members=2, hidden=(16,), epochs=60))
    fit_surrogate(from_dataset(fin_dataset(32, 8)), cfg).save(d / "fin.pt")
    return d / "fin.yaml", d / "fin.pt"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_source_reads_only_what_is_new(backend, tmp_path, request):
    """The dashboard's poller: one asset's rows, by kind, each row once however often it polls,
    from a history that did not exist at the first poll (SQLite) or on PostgreSQL."""
    from twinkit.dashboard.source import HistorySource
    from twinkit.twin.history import History

    url = str(tmp_path / "h.sqlite") if backend == "sqlite" else request.getfixturevalue("postgres")
    src = HistorySource(url, "a1")
    if backend == "sqlite":
        assert src.poll(force=True) == 0 and "no such file" in src.error
    h, other = History(url, "a1"), History(url, "a2")
    h.reading(100.0, "T0", 350.0, "K", "accepted")
    h.reading(100.5, "T0", None, None, "rejected", "out_of_range")
    h.reading(100.0, "T1", 351.0, "K", "repaired")
    other.reading(100.0, "T0", 999.0, "K", "accepted")
    h.update(1, 100.0, {}, [("parameter", "h", 30.0, 1.5, None, None, "W/(m^2*K)"),
                            ("sensor", "T0", 349.0, 0.5, 350.0, 2.0, "K"),
                            ("forecast", "h", 2e9, None, None, None, "s"),
                            ("forecast", "h:upper", 2.1e9, None, None, None, "s")])  # fmt: skip
    h.alert(100.0, {"state": "raised", "kind": "drift", "key": "drift:h", "message": "m",
                    "severity": "warning"})  # fmt: skip
    for w in (h, other):
        w.commit()
        assert w.sync(timeout=10)
    v = src.poll(force=True)
    assert src.error is None and v >= 1
    assert src.readings["T0"].value == [350.0] and src.readings["T1"].t == [100.0]
    assert src.quality["T0"] == {"accepted": 1, "rejected: out_of_range": 1}
    assert src.quality["T1"] == {"repaired": 1}
    est = src.updates["parameter"]["h"]
    assert (est.t, est.value, est.std, est.unit) == ([100.0], [30.0], [1.5], "W/(m^2*K)")
    assert src.forecast == {"h": {"crossing": 2e9, "upper": 2.1e9}}
    assert src.alerts[0]["severity"] == "warning" and src.open_alerts() == ["drift:h"]
    assert src.poll(force=True) == v  # nothing new: nothing read twice
    h.reading(160.0, "T0", 352.0, "K", "accepted")
    h.alert(101.0, {"state": "acknowledged", "kind": "drift", "key": "drift:h", "message": "m"})
    h.commit()
    assert h.sync(timeout=10)
    assert src.poll(force=True) == v + 1
    assert src.readings["T0"].t == [100.0, 160.0] and src.open_alerts() == []
    src.close()
    h.close()
    other.close()


def test_a_page_on_a_long_history_without_broker_or_surrogate(tmp_path):
    """The Bokeh document of one session, built in-process: a line of 5,000 readings reaches the
    page as at most 2,000 points ending with the newest; without --broker the button is off and
    says why, without a surrogate the what-if panel says where it looked."""
    from bokeh.document import Document

    from twinkit.dashboard.page import Page
    from twinkit.dashboard.server import context
    from twinkit.twin.history import History

    (case := tmp_path / "fin.yaml").write_text(FIN_CASE)
    h = History(url := str(tmp_path / "h.sqlite"))
    for k in range(5000):
        h.reading(1.7e9 + 60.0 * k, "T_tip", 300.0 + k / 100, "K", "accepted")
    h.commit()
    assert h.sync(timeout=10)
    page = Page(context(case, url, surrogate=tmp_path / "none.pt"), doc := Document())
    points = doc.get_model_by_name("readings:T_tip").data
    assert len(points["x"]) == 2000 and points["x"][-1] == (1.7e9 + 60.0 * 4999) * 1000
    assert points["y"][-1] == pytest.approx(349.99)
    assert page.ack.disabled and "--broker" in page.ack_note.text
    assert "none.pt" in doc.get_model_by_name("whatif-note").text
    assert page.quality.data["accepted"] == [5000]
    assert "<td>5000</td>" in doc.get_model_by_name("quality").text
    h.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _process(args: list, log: Path, ready: str) -> subprocess.Popen:
    """`twinkit ARGS` logging to `log`; returns once `ready` is in the log."""
    with log.open("w") as out:
        p = subprocess.Popen([sys.executable, "-m", "twinkit.cli", *map(str, args)], cwd=ROOT,
                             stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    for _ in range(600):
        if ready in log.read_text() or p.poll() is not None:
            break
        time.sleep(0.1)
    assert ready in log.read_text(), log.read_text()
    return p


def _wait(page, script: str, what: str, timeout: float = 15.0):
    """Evaluate `script` in the page until it is truthy (at most `timeout` s)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = page.evaluate(script)
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not seen within {timeout} s: {what}")


def _data(name: str, column: str) -> str:
    return (f"(() => {{ const d = Bokeh.documents[0]; const m = d && d.get_model_by_name("
            f"'{name}'); return m ? Array.from(m.data.get ? m.data.get('{column}') "
            f": m.data['{column}']) : null; }})()")  # fmt: skip


def _cells(name: str, column: str) -> str:
    """The cells of `column` of the page's HTML table `name` (`twinkit.dashboard.tables`)."""
    return (f"(() => {{ const d = Bokeh.documents[0]; const m = d && d.get_model_by_name("
            f"'{name}'); if (!m) return null; const t = new DOMParser().parseFromString(m.text, "
            f"'text/html'); const i = [...t.querySelectorAll('th')].findIndex(h => h.textContent "
            f"=== '{column}'); return [...t.querySelectorAll('tbody tr')].map(r => "
            f"r.children[i].textContent); }})()")  # fmt: skip


@pytest.mark.slow
def test_dashboard_in_a_browser(fin, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:  # scripts/servers.sh installs it; CI must not skip
        pytest.fail("no chromium on PATH: run scripts/servers.sh")
    from playwright.sync_api import sync_playwright

    shot = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "dashboard.png"

    from twinkit.sensors.mqtt import BrokerConfig, Connection
    from twinkit.twin.history_read import read_history

    case, model = fin
    broker = next(gen := running_broker(tmp_path))
    procs: list[subprocess.Popen] = []
    try:
        addr, db, port = f"127.0.0.1:{broker.port}", tmp_path / "h.sqlite", _free_port()
        live = ["live", case, "--mqtt", addr, "--surrogate", model, "--state",
                tmp_path / "live.json", "--history", db, "--drift-rate", "1",
                "--max-skew", "off"]  # fmt: skip
        procs.append(_process(live, tmp_path / "live.log", "connected to"))
        plant = subprocess.run(
            [sys.executable, "-m", "twinkit.cli", "plant", case, "--mqtt", addr, "--truth", model,
             "--duration", "6", "--rate", "20", "--speed", "300", "--drift", "h=0.5",
             "--set", "h=40 W/(m^2*K)", "--bad", "0.05"],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert plant.returncode == 0, plant.stdout + plant.stderr
        procs.append(_process(["dashboard", case, "--history", db, "--broker", addr, "--port",
                               port, "--surrogate", model], tmp_path / "dash.log",
                              "dashboard at"))  # fmt: skip
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            _wait(page, _data("readings:T_tip", "y") + "?.length > 10", "the readings chart")
            assert _wait(page, _data("prediction:T_tip", "y") + "?.length > 2", "the prediction")
            # a reading sent now, a second after the plant's last, is drawn without reloading
            last = read_history(str(db))["t"].max().timestamp()
            pub = Connection(BrokerConfig("127.0.0.1", broker.port))
            assert pub.start(wait=5)
            pub.publish("plant/plant/sensors/T_tip", {"t": last + 1, "value": 777.25, "unit": "K"})
            _wait(page, f"{_data('readings:T_tip', 'y')}?.some(v => Math.abs(v - 777.25) < 1e-6)",
                  "the new reading on the T_tip chart", timeout=10)  # fmt: skip
            keys = _wait(page, _cells("alerts", "state") + "?.includes('raised')", "an alert")
            assert keys
            assert _wait(page, _cells("quality", "rejected") + "?.some(v => +v > 0)", "rejections")
            assert _wait(page, _cells("whatif", "QoI") + "?.length > 0", "the what-if prediction")
            # the twin's virtual temperature field, mean and std, on the mesh's cells
            assert _wait(page, _data("field", "std") + "?.length > 0", "the field picture")
            page.get_by_role("button", name="Acknowledge").click()
            acked = _wait(page, _cells("alerts", "state") + "?.includes('acknowledged')",
                          "the acknowledgement in the table", timeout=10)  # fmt: skip
            assert acked
            page.screenshot(path=str(shot), full_page=True)
            # a 256-colour PNG for the README: a third of the size, the charts unchanged to the eye
            from PIL import Image

            Image.open(shot).convert("RGB").quantize(256).save(shot, optimize=True)
            browser.close()
        pub.stop()
    finally:
        for p in procs[::-1]:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
        next(gen, None)
    alerts = read_history(str(db), "alerts")
    assert "acknowledged" in set(alerts["state"]), alerts
    data = json.loads(alerts[alerts["state"] == "acknowledged"]["data"].iloc[0])
    assert data.get("by") == "dashboard" or "dashboard" in json.dumps(data)
    assert 10_000 < shot.stat().st_size < 300_000  # a picture, small enough for the README


@pytest.mark.slow
def test_live_serves_the_dashboard_beside_the_twin(fin, tmp_path):
    """`twinkit live --dashboard HOST:PORT`: the same page, served by a thread of the twin, with
    BokehJS from the server itself (no CDN: a plant network may have no internet)."""
    import urllib.request

    case, model = fin
    broker = next(gen := running_broker(tmp_path))
    port = _free_port()
    try:
        live = _process(["live", case, "--mqtt", f"127.0.0.1:{broker.port}", "--surrogate", model,
                         "--state", tmp_path / "live.json", "--dashboard", f"127.0.0.1:{port}"],
                        tmp_path / "live.log", "connected to")  # fmt: skip
        try:
            assert f"dashboard at http://127.0.0.1:{port}/" in (tmp_path / "live.log").read_text()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
                html = r.read().decode()
            assert r.status == 200 and "cdn.bokeh.org" not in html
            script = html.split('src="', 2)[1].split('"', 1)[0]  # the first script: BokehJS
            assert "/static/js/bokeh" in script
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{script}", timeout=10) as r:
                assert r.status == 200 and len(r.read()) > 100_000
        finally:
            live.send_signal(signal.SIGTERM)
            assert live.wait(30) == 0, (tmp_path / "live.log").read_text()
    finally:
        next(gen, None)
