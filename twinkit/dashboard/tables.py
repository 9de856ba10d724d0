"""The dashboard's tables (alerts, data quality, what-if) as HTML in a Bokeh `Div`.

They are read, not edited or sorted, and a Bokeh `DataTable` (SlickGrid) is a heavy view: its
bundle, bokeh-tables, is 0.5 MB of the BokehJS a page parses before it draws, and the grid lays
out and measures its cells. A `Div` of HTML is drawn by the browser as any page is. Every value
is escaped (alert messages and sensor names come from MQTT/OPC UA). A script in the page reads a
table from the `Div`'s HTML (`Bokeh.documents[0].get_model_by_name("alerts").text`); the server
side keeps the rows as columns (`Table.data`).
"""

from __future__ import annotations

import html
from typing import Any

from bokeh.models import Div

STYLE = ("<style>table{border-collapse:collapse;font-size:9pt;width:100%}"
         "th{text-align:left;background:#f2f2f2;position:sticky;top:0}"
         "td,th{padding:2px 6px;border-bottom:1px solid #ddd;white-space:nowrap}"
         "td.wrap{white-space:normal}</style>")  # fmt: skip


class Table:
    """A table of `columns` (field → title) in a `Div` named `name`, at most `height` px tall
    (it scrolls); `wrap`: the columns whose text may break over lines."""

    def __init__(self, columns: dict[str, str], name: str, height: int, wrap: tuple[str, ...] = (),
                 **div: Any):  # fmt: skip
        self.columns, self.height, self.wrap = columns, height, wrap
        self.data: dict[str, list] = {c: [] for c in columns}
        self.div = Div(text=self.html(), name=name, **div)

    def set(self, data: dict[str, list]) -> None:
        """Show these rows (columns of equal length); the page is sent only what changed."""
        self.data = {c: list(data.get(c, [])) for c in self.columns}
        text = self.html()
        if text != self.div.text:
            self.div.text = text

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(t)}</th>" for t in self.columns.values())
        n = len(next(iter(self.data.values()), []))
        body = []
        for i in range(n):
            cells = "".join(
                f"<td{' class=wrap' if c in self.wrap else ''}>"
                f"{html.escape(str(self.data[c][i]))}</td>"
                for c in self.columns
            )
            body.append(f"<tr>{cells}</tr>")
        rows = "".join(body)
        return (f"{STYLE}<div style='max-height:{self.height}px;overflow:auto'><table>"
                f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>")  # fmt: skip
