"""The checks of the `alerts:` keys that need the rest of the case: forecasts name latent
parameters and give limits in their units; routes name valid topics, URLs and log files."""

from __future__ import annotations

from twinkit.case import units
from twinkit.case.alerting import log_path_error, topic_error, webhook_error
from twinkit.case.spec import CaseSpec
from twinkit.case.units import clip, clip_names


def alert_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """Forecasts name latent parameters with a limit in their units; routes name valid
    topics, URLs and log files."""
    a = case.alerts
    latent = [n for n, p in case.parameters.items() if p.role == "latent"]
    durations = [("alerts.escalate_after", a.escalate_after)] + [
        (f"alerts.forecast.{n}.{k}", getattr(f, k))
        for n, f in a.forecast.items()
        for k in ("horizon", "window", "clear_after")
    ]
    errors = [
        (key, f"'{clip(q.text)}': give a duration, not a parameter")
        for key, q in durations
        if q is not None and q.param is not None
    ]
    for name, f in a.forecast.items():
        key = f"alerts.forecast.{name}"
        if name not in latent:
            errors.append((key, f"not a latent parameter; latent: {clip_names(latent) or 'none'}"))
            continue
        p = case.parameters[name]
        try:
            dim, limit = str(units.dimension_of(f.limit)), units.si_value(f.limit)
        except units.UnitError as e:
            errors.append((f"{key}.limit", str(e)))
            continue
        if dim != p.dimension:
            example = p.value if p.value is not None else p.range[0]  # type: ignore[index]
            errors.append((f"{key}.limit", f"'{clip(f.limit)}' has dimension {dim}; expected "
                           f"units compatible with '{example}' ({p.dimension})"))  # fmt: skip
        elif limit == p.si:
            why = "a limit lies above it (wear upwards) or below it (downwards)"
            errors.append((f"{key}.limit", f"'{clip(f.limit)}' is the nominal value; {why}"))
        elif f.trend == "exponential" and (limit <= 0 or p.bounds[0] <= 0):
            errors.append((f"{key}.trend", "exponential needs a positive limit and range"))
    for i, r in enumerate(a.routes):
        for target, check in (("mqtt", topic_error), ("webhook", webhook_error),
                              ("log", log_path_error)):  # fmt: skip
            value = getattr(r, target)
            problem = check(value) if value is not None else None
            if problem:
                errors.append((f"alerts.routes[{i}].{target}", problem))
    return errors
