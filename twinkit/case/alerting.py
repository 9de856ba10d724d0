"""The `alerts:` keys of event management and forecasts: severities, routes, escalation and
forecasts of wear (checked across sections by `twinkit.case.alert_checks`).

Values that may hold a secret (a webhook URL's password or token) are checked here rather than
by pydantic, so that no error message shows them unredacted.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from twinkit.case.base import Q, Strict, quantity
from twinkit.case.units import clip
from twinkit.redaction import redact

Severity = Literal["info", "warning", "critical"]
AlertKind = Literal["sensor_fault", "drift", "residual", "qoi_limit", "forecast"]
Duration = Annotated[Q, quantity("s", "positive")]
Delay = Annotated[Q, quantity("s", "nonnegative")]


class ForecastSpec(Strict):
    """When a latent parameter's trend is predicted to reach `limit` (in the parameter's units)
    within `horizon`, a `forecast` alert is raised (`twinkit.twin.forecast`)."""

    limit: str | float
    horizon: Duration = Field("30 d", validate_default=True)  # type: ignore[assignment]
    trend: Literal["linear", "exponential", "auto"] = "linear"
    window: Duration | None = None  # fit only the estimates of this last stretch of time
    level: float = Field(0.95, ge=0.5, lt=1)  # confidence of the crossing-time interval
    # the alert clears once no crossing within 1.25 horizons has been predicted this long
    # (plant time; an off-delay against a forecast flickering in and out; 0 s: at once);
    # default: a tenth of the horizon
    clear_after: Delay | None = None


class RouteMatch(Strict):
    """Which alerts a route takes: all of the given severities and kinds (none given: all)."""

    severity: Severity | list[Severity] | None = None
    kind: AlertKind | list[AlertKind] | None = None


class RouteSpec(Strict):
    """Where matching alerts also go: exactly one of an MQTT topic, a webhook URL (HTTP POST of
    the alert as JSON) or a log file of JSON lines inside the run folder."""

    match: RouteMatch = RouteMatch()
    mqtt: str | None = None
    webhook: str | None = None
    log: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> RouteSpec:
        given = [k for k in ("mqtt", "webhook", "log") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of mqtt, webhook, log; got {', '.join(given) or 'none'}"
            )
        return self


def webhook_error(url: str) -> str | None:
    """What is wrong with a webhook URL (None if nothing); the message shows it redacted."""
    shown = f"'{clip(redact(url), 200)}'"
    if len(url) > 2048 or any(c.isspace() or ord(c) < 32 for c in url):
        return f"{shown}: expected a URL of at most 2048 characters without spaces"
    try:
        parts = urlsplit(url)
        _ = parts.port  # a bad port raises
    except ValueError as e:
        return f"{shown}: not a valid URL ({e})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{shown}: expected an http:// or https:// URL with a host"
    return None


def topic_error(topic: str) -> str | None:
    """What is wrong with an MQTT topic to publish on (None if nothing)."""
    from twinkit.redaction import redact_all

    shown = clip(redact_all(topic[:4096]))  # a URL given as a topic may hold a password
    if not topic or len(topic) > 256 or "\x00" in topic:
        return f"'{shown}': expected a topic of 1 to 256 characters"
    if "+" in topic or "#" in topic or topic.startswith("$"):
        return f"'{shown}': a topic to publish on has no wildcards (+, #) and no leading $"
    if "://" in topic:  # a broker's URL (perhaps with its password), not a topic: it goes there
        return f"'{shown}': expected a topic on the twin's broker (e.g. plant/alerts), not a URL"
    return None


def log_path_error(path: str) -> str | None:
    """What is wrong with a log file's path, relative to the run folder (None if nothing)."""
    from pathlib import PurePosixPath, PureWindowsPath

    if not path or len(path) > 1024 or "\x00" in path:
        return f"'{clip(path)}': expected a file name of 1 to 1024 characters"
    p = PurePosixPath(path)
    if p.is_absolute() or PureWindowsPath(path).is_absolute() or path.startswith("~"):
        return f"'{clip(path)}': give a path relative to the run folder, not an absolute one"
    if ".." in p.parts or ".." in PureWindowsPath(path).parts:
        return f"'{clip(path)}': the log file stays inside the run folder (no '..')"
    return None
