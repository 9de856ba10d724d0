"""The dashboard of a fleet (`twinkit dashboard --fleet FILE`, `twinkit fleet --dashboard`): an
index at `/` listing the assets with their status read from their histories, each linking to
the asset's own page at `/<asset>` (the one-asset page, `twinkit.dashboard.page.Page`)."""

from __future__ import annotations

import html
import logging
from typing import Any

from bokeh.models import Div

from twinkit.dashboard.context import Context
from twinkit.dashboard.page import _time

log = logging.getLogger("twinkit.dashboard")
COLUMNS = ("asset", "case", "status", "last update (plant time, UTC)", "open alerts",
           "readings accepted", "rejected")  # fmt: skip


def asset_row(name: str, ctx: Context | None) -> dict[str, Any]:
    """What the index shows of one asset (None: it keeps no history)."""
    if ctx is None:
        return {"asset": name, "case": "", "status": "no history (history: off)", "link": None}
    s = ctx.source
    s.poll()
    counts = [sum(v for k, v in c.items() if k.startswith("rejected")) for c in s.quality.values()]
    accepted = sum(c["accepted"] + c["repaired"] for c in s.quality.values())
    opened = s.open_alerts()
    if s.error:
        status = f"history not readable: {s.error}"
    elif s.last_update is None:
        status = "waiting (no update yet)"
    else:
        status = f"alert ({len(opened)} open)" if opened else "ok"
    last = "" if s.last_update is None else f"{s.last_update[0]} at {_time(s.last_update[1])}"
    return {"asset": name, "case": ctx.loaded.name, "status": status, "link": f"/{name}",
            "last update (plant time, UTC)": last, "open alerts": len(opened),
            "readings accepted": accepted, "rejected": sum(counts)}  # fmt: skip


def index_html(fleet: str, rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th style='text-align:left;padding:4px 12px'>{c}</th>" for c in COLUMNS)
    body = []
    for r in rows:
        cells = []
        for c in COLUMNS:
            text = html.escape(str(r.get(c, "")))
            if c == "asset" and r["link"]:
                text = f"<a href='{html.escape(r['link'])}' name='asset:{text}'>{text}</a>"
            cells.append(f"<td style='padding:4px 12px'>{text}</td>")
        body.append(f"<tr data-asset='{html.escape(r['asset'])}'>{''.join(cells)}</tr>")
    return (f"<h2>twinkit fleet: {html.escape(fleet)}</h2><table>"
            f"<tr>{head}</tr>{''.join(body)}</table>")  # fmt: skip


class FleetIndex:
    """The index document: a table of the assets, refreshed every second."""

    def __init__(self, fleet: str, contexts: dict[str, Context | None], doc: Any):
        self.fleet, self.contexts = fleet, contexts
        self.div = Div(text=self.text(), name="fleet", sizing_mode="stretch_width")
        doc.add_root(self.div)
        doc.title = f"twinkit fleet: {fleet}"
        doc.add_periodic_callback(self.refresh, 1000)

    def text(self) -> str:
        return index_html(self.fleet, [asset_row(n, c) for n, c in self.contexts.items()])

    def refresh(self) -> None:
        self.div.text = self.text()


def contexts(fleet: Any, broker: Any = None) -> dict[str, Context | None]:
    """Each asset's dashboard context (None for an asset without history)."""
    from twinkit.dashboard.server import context

    return {n: None if a.history is None else context(a.case, a.history, broker, n, a.surrogate)
            for n, a in fleet.assets.items()}  # fmt: skip


def fleet_pages(name: str, ctxs: dict[str, Context | None]) -> dict[str, Any]:
    """The document function of each URL path: the index at `/`, each asset at `/<asset>`."""
    from twinkit.dashboard.server import PagePool

    def index(doc: Any) -> None:
        FleetIndex(name, ctxs, doc)

    def page(ctx: Context) -> Any:
        pool = PagePool(ctx, ahead=False)  # an asset's first page is built when asked for

        def document(doc: Any) -> None:
            doc.add_root(Div(text="<a href='/' name='back'>&larr; all assets of the fleet</a>"))
            pool(doc)

        return document

    return {"/": index} | {f"/{n}": page(c) for n, c in ctxs.items() if c is not None}


def start_fleet(fleet: Any, broker: Any, host: str, port: int) -> Any:
    """The fleet's dashboard on a thread of its own; returns the started Bokeh server."""
    from twinkit.dashboard.server import start_pages

    pages = fleet_pages(fleet.name, contexts(fleet, broker))  # cases and histories read here
    return start_pages(pages, host, port)


def serve_fleet(fleet: Any, broker: Any, host: str, port: int, ready: Any = None) -> None:
    """Serve the fleet's dashboard until SIGINT/SIGTERM."""
    from twinkit.dashboard.server import serve_pages

    ctxs = contexts(fleet, broker)
    pages = fleet_pages(fleet.name, ctxs)
    serve_pages(pages, [c for c in ctxs.values() if c is not None], host, port, ready)
