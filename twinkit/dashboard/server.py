"""Serving the dashboard: a Bokeh server (Tornado) embedded in the process, BokehJS served by
it (no CDN), one document per browser session, all sessions sharing one history poller."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from twinkit.dashboard.context import Acknowledger, Context, find_surrogate
from twinkit.dashboard.source import HistorySource

log = logging.getLogger("twinkit.dashboard")
# The BokehJS bundles a page loads. A Bokeh server offers all five to every page, since it cannot
# know what a document will hold; the dashboard draws on canvases (no WebGL), writes no math
# (TeX) and its tables are HTML (`twinkit.dashboard.tables`), so bokeh-gl, bokeh-mathjax and
# bokeh-tables (2.6 MB of the 4.3 MB the browser would parse before it draws) are left out.
BUNDLES = ["bokeh", "bokeh-widgets"]
REFILL_S = 10.0  # the next page is built this long after one was handed out, at the latest


def context(
    case: str | Path,
    history: str,
    broker: Any = None,
    asset: str = "plant",
    surrogate: Path | None = None,
) -> Context:
    """Load the case and the surrogate, and read the history once (the first page is then
    drawn from memory). `broker`: a `BrokerConfig` for acknowledgements, or None."""
    from twinkit.case import load_case
    from twinkit.extras import require
    from twinkit.twin.history_db import history_url

    require("bokeh", "the dashboard")
    loaded = load_case(case, check_regions=False)
    source = HistorySource(history_url(history), asset)
    source.poll(force=True)
    if source.error:
        log.warning("history %s: %s (will keep trying)", source.where(), source.error)
    sur, note = find_surrogate(loaded, surrogate)
    ack = Acknowledger(broker, asset) if broker is not None else None
    return Context(loaded, source, asset, ack, sur, note)


class PagePool:
    """The document function of a context's page, with one page built ahead: a session's
    document is then the prebuilt page attached (its data brought up to date), and the next one
    is built once that page's browser has drawn it (or REFILL_S after it was handed out, at the
    latest), so that building does not compete with the page being served. `ahead`: build the
    first one now. (Bokeh calls the document function on a worker thread; `fill` runs on the
    server's event loop.)"""

    def __init__(self, ctx: Context, ahead: bool = True):
        self.ctx, self.lock = ctx, threading.Lock()
        self.ready: Any = None  # a twinkit.dashboard.page.Page, not yet shown
        if ahead:
            self.fill()

    def fill(self) -> None:
        from twinkit.dashboard.page import Page

        with self.lock:
            if self.ready is not None:
                return
        page = Page(self.ctx, lazy=True)
        with self.lock:
            self.ready = self.ready or page

    def __call__(self, doc: Any) -> None:
        from twinkit.dashboard.page import Page

        with self.lock:
            page, self.ready = self.ready, None
        if page is None:
            page = Page(self.ctx, lazy=True)
        doc.add_timeout_callback(self.fill, int(REFILL_S * 1000))
        # the rest's changes are sent once the callback that built it returns
        page.attach(doc, lambda: doc.add_timeout_callback(self.fill, 500))


def bokeh_server(pages: dict[str, Any], host: str, port: int) -> Any:
    """A Bokeh server with a document function per URL path (`/`, `/<asset>`)."""
    from bokeh.application import Application
    from bokeh.application.handlers.function import FunctionHandler
    from bokeh.server.server import Server

    origins = ["*"] if host in ("0.0.0.0", "::", "") else [f"{host}:{port}"]
    if host in ("127.0.0.1", "localhost"):
        origins = [f"127.0.0.1:{port}", f"localhost:{port}"]
    apps = {path: Application(FunctionHandler(f)) for path, f in pages.items()}
    server = Server(apps, address=host, port=port, allow_websocket_origin=origins,
                    num_procs=1)  # fmt: skip
    tornado = getattr(server, "_tornado", None)  # bokeh.server.tornado.BokehTornado
    if tornado is not None and hasattr(tornado, "resources"):
        every = tornado.resources

        def resources(absolute_url: Any = None) -> Any:
            return every(absolute_url).clone(components=list(BUNDLES))

        tornado.resources = resources  # what its pages' HTML loads
    return server


def start_pages(pages: dict[str, Any], host: str, port: int) -> Any:
    """`bokeh_server(pages, ...)` serving on a thread of its own; returns it once it listens
    (it stops with the process), or a CaseError when it cannot (the port is taken)."""
    ready, box = threading.Event(), dict[str, Any]()

    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            box["server"] = server = bokeh_server(pages, host, port)
            server.start()
        except Exception as e:  # the port is taken: say so in the caller's thread
            box["error"] = e
            ready.set()
            return
        ready.set()
        server.io_loop.start()

    threading.Thread(target=run, name="dashboard", daemon=True).start()
    ready.wait(30)
    if "error" in box:
        from twinkit.case import CaseError

        raise CaseError(f"dashboard {host}:{port}: cannot serve ({box['error']})")
    return box["server"]


def start(
    case: str | Path,
    history: str,
    broker: Any = None,
    host: str = "127.0.0.1",
    port: int = 5006,
    asset: str = "plant",
    surrogate: Path | None = None,
) -> Any:
    """`serve` on a thread of its own (`twinkit live --dashboard`); returns the Bokeh `Server`
    once it listens (it stops with the process)."""
    ctx = context(case, history, broker, asset, surrogate)
    server = start_pages({"/": PagePool(ctx)}, host, port)
    log.info("dashboard at http://%s:%d/", host, port)
    return server


def serve(
    case: str | Path,
    history: str,
    broker: Any = None,
    host: str = "127.0.0.1",
    port: int = 5006,
    asset: str = "plant",
    surrogate: Path | None = None,
    ready: Any = None,
) -> None:
    """Serve the dashboard of `case` from its `history` (a URL or file) until SIGINT/SIGTERM.

    Parameters
    ----------
    broker
        A `twinkit.sensors.mqtt.BrokerConfig`: the acknowledge button publishes there; None
        disables it (the page says why).
    surrogate
        The surrogate file for the what-if panel (default runs/<case>/surrogate.pt, if there).
    ready
        Called with the URL once the server listens.
    """
    ctx = context(case, history, broker, asset, surrogate)
    serve_pages({"/": PagePool(ctx)}, [ctx], host, port, ready)


def serve_pages(
    pages: dict[str, Any], contexts: list[Context], host: str, port: int, ready: Any = None
) -> None:
    """`bokeh_server(pages, ...)` in this thread until SIGINT/SIGTERM; then the `contexts`'
    history pollers and acknowledgers are closed. `ready(url)` once it listens."""
    from twinkit.case import CaseError

    try:
        server = bokeh_server(pages, host, port)  # binds the port
        server.start()
    except OSError as e:
        raise CaseError(f"dashboard {host}:{port}: cannot serve ({e})") from None
    loop = server.io_loop
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.asyncio_loop.add_signal_handler(s, loop.stop)
    if ready is not None:
        ready(f"http://{host}:{port}/")
    try:
        loop.start()
    finally:
        server.stop()
        for c in contexts:
            c.source.close()
            if c.acknowledger is not None:
                c.acknowledger.close()
