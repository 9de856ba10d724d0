"""HTML pieces of `report.html`: the style sheet, escaped text, tables, embedded PNGs."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

CSS = """body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;
color:#222}h1{margin-bottom:.2em}h2{border-bottom:2px solid #ccc;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}td,th{border:1px solid #ccc;
padding:.25em .6em;text-align:right}th{background:#f2f2f2}td:first-child,th:first-child{
text-align:left}img{max-width:100%;border:1px solid #ddd}figure{margin:1em 0}
figcaption{color:#555;font-size:.9em}.note{color:#666}.bad{color:#b00}.good{color:#070}"""


def esc(x: Any) -> str:
    return html.escape(str(x))


def num(v: Any, digits: int = 6) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    return f"{v:.{digits}g}"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def img(path: Path, caption: str) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{esc(caption)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def para(text: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{esc(text)}</p>'
