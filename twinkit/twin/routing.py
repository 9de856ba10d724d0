"""Where alerts go besides the alerts topic: the case's `alerts.routes`, each a match (severity
and/or kind) and one target: an MQTT topic, a webhook URL or a log file in the run folder.

No target can stall the twin. A webhook is posted from a background thread through a bounded
queue (full: the alert is dropped for that webhook, counted and logged), each attempt with a
timeout, retried with exponential backoff on a connection error, a timeout, 429 or 5xx. A log
file is appended JSON lines; its path is checked to stay inside the run folder (symbolic links
included). A URL is never logged with its password or token.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from twinkit.case import CaseError, LoadedCase
from twinkit.case.alerting import RouteSpec
from twinkit.redaction import redact
from twinkit.twin.alerts import Alerts, Publish

log = logging.getLogger("twinkit.twin.routing")


@dataclass(frozen=True)
class WebhookOptions:
    timeout: float = 5.0  # s per attempt
    retries: int = 3  # attempts after the first
    backoff: float = 1.0  # s before the first retry, doubling
    queue: int = 1000  # alerts waiting to be posted


class Webhook:
    """Posts alerts as JSON to `url` from a thread of its own; `send` never blocks."""

    def __init__(self, url: str, opts: WebhookOptions | None = None):
        self.opts = opts or WebhookOptions()
        self.shown = redact(url)
        parts = urlsplit(url)
        self.headers = {"Content-Type": "application/json", "User-Agent": "twinkit"}
        if parts.username is not None:  # credentials travel as a header, not in the URL
            user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self.headers["Authorization"] = "Basic " + base64.b64encode(user.encode()).decode()
            host = parts.hostname or ""
            netloc = (f"[{host}]" if ":" in host else host) + (
                f":{parts.port}" if parts.port else ""
            )
            parts = parts._replace(netloc=netloc)
        self.url = urlunsplit(parts)
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue(self.opts.queue)
        self.sent = self.failed = self.dropped = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="webhook", daemon=True)
        self.thread.start()

    def send(self, doc: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(doc)
        except queue.Full:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("webhook %s: queue full, %d alerts dropped", self.shown, self.dropped)

    def _run(self) -> None:
        while True:
            doc = self.queue.get()
            if doc is None:
                return
            if self._post(doc):
                self.sent += 1
            else:
                self.failed += 1

    def _post(self, doc: dict[str, Any]) -> bool:
        body = json.dumps(doc, default=str).encode()
        for attempt in range(self.opts.retries + 1):
            if attempt and self.stop.wait(self.opts.backoff * 2 ** (attempt - 1)):
                return False
            req = urllib.request.Request(self.url, body, self.headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.opts.timeout) as r:  # noqa: S310
                    r.read(1024)
                return True
            except urllib.error.HTTPError as e:
                why, again = f"HTTP {e.code}", e.code == 429 or e.code >= 500
            except (OSError, ValueError) as e:  # refused, timed out, reset, a bad answer
                why, again = type(e).__name__, True
            log.warning("webhook %s: %s (attempt %d of %d)", self.shown, why, attempt + 1,
                        self.opts.retries + 1)  # fmt: skip
            if not again:
                return False
        return False

    def close(self, timeout: float = 1.0) -> None:
        """Post what is queued within `timeout` s, then stop (a hanging post is abandoned)."""
        try:
            self.queue.put(None, timeout=timeout)
        except queue.Full:
            pass
        self.thread.join(timeout)
        self.stop.set()


class LogFile:
    """Appends alerts as JSON lines to a file inside the run folder."""

    def __init__(self, run_dir: Path, relative: str, key: str = "log"):
        root = run_dir.resolve()
        path = (root / relative).resolve()
        if path != root and root not in path.parents:
            raise CaseError(f"{key}: '{relative}' leads to {path}, outside the run folder {root}")
        self.path = path

    def send(self, doc: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as f:
                f.write(json.dumps(doc, default=str) + "\n")
        except OSError as e:
            log.warning("alert log %s: %s", self.path, e)


class Routes:
    """The case's routes: `send(doc, publish)` passes an alert to every route it matches."""

    def __init__(self, routes: Sequence[RouteSpec], run_dir: Path,
                 webhook: WebhookOptions | None = None):  # fmt: skip
        self.routes = list(routes)
        self.targets: list[Any] = []
        for i, r in enumerate(self.routes):
            if r.webhook is not None:
                self.targets.append(Webhook(r.webhook, webhook))
            elif r.log is not None:
                self.targets.append(LogFile(run_dir, r.log, f"alerts.routes[{i}].log"))
            else:
                self.targets.append(r.mqtt)

    def send(self, doc: dict[str, Any], publish: Publish) -> None:
        for r, target in zip(self.routes, self.targets, strict=True):
            if not matches(r, doc):
                continue
            if isinstance(target, str):
                publish(target, doc, False)
            else:
                target.send(doc)

    def close(self, timeout: float = 1.0) -> None:
        end = time.monotonic() + timeout
        for t in self.targets:
            if isinstance(t, Webhook):
                t.close(max(0.0, end - time.monotonic()))


def matches(route: RouteSpec, doc: dict[str, Any]) -> bool:
    """Whether an alert's severity and kind are among those `route` takes."""
    for field in ("severity", "kind"):
        want = getattr(route.match, field)
        if want is not None and doc.get(field) not in ([want] if isinstance(want, str) else want):
            return False
    return True


def alerts_from_case(
    loaded: LoadedCase,
    topic: str,
    publish: Publish,
    run_dir: Path,
    clock: Any = time.time,
    webhook: WebhookOptions | None = None,
) -> Alerts:
    """The live twin's alerts with the case's severities, escalation and routes."""
    a = loaded.case.alerts
    try:
        routes = Routes(a.routes, run_dir, webhook) if a.routes else None
    except CaseError as e:
        raise CaseError(f"{loaded.path}: {e}") from None
    after = a.escalate_after.si if a.escalate_after is not None else None
    severity = {str(k): str(v) for k, v in a.severity.items()}
    return Alerts(topic, publish, severity, after, routes, clock)
