"""Human-readable numbers for the HTML report and chart labels."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Final

from simulator.report.model import status_order

__all__ = ["count", "duration", "mib", "pct", "short_arn", "statuses", "time_unit"]

#: (upper bound in seconds, divisor, unit): the first row whose bound is >= the span is used.
_TIME_UNITS: Final = (
    (180.0, 1.0, "s"),
    (3 * 3600.0, 60.0, "min"),
    (3 * 86400.0, 3600.0, "h"),
    (math.inf, 86400.0, "d"),
)
DASH: Final = "–"


def time_unit(span_s: float | None) -> tuple[float, str]:
    """The unit to show a span of ``span_s`` seconds in: ``(seconds per unit, unit name)``.

    Chosen so that axis numbers stay between about 0 and 180: seconds up to 3 minutes, then
    minutes up to 3 hours, hours up to 3 days, then days.
    """
    span = 0.0 if span_s is None or not math.isfinite(span_s) else abs(span_s)
    for bound, divisor, unit in _TIME_UNITS:
        if span <= bound:
            return divisor, unit
    return _TIME_UNITS[-1][1], _TIME_UNITS[-1][2]  # pragma: no cover - inf bound always matches


def duration(seconds: float | None) -> str:
    """``12.3 s``, ``4.52 min``, ``1.25 h``; an en dash for ``None``."""
    if seconds is None or not math.isfinite(seconds):
        return DASH
    divisor, unit = time_unit(seconds)
    value = seconds / divisor
    text = f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return f"{text} {unit}"


def pct(value: float | None) -> str:
    """``42.1 %``; near 100 two decimals rounded down, so 99.995 is not shown as 100."""
    if value is None or not math.isfinite(value):
        return DASH
    if value in {0.0, 100.0}:
        return f"{value:.0f} %"
    if value >= 99.0:
        return f"{math.floor(value * 100) / 100:.2f} %"
    if value < 1.0:
        return f"{value:.2g} %"
    return f"{value:.1f} %"


def count(value: int | None) -> str:
    """``12,345``; an en dash for ``None``."""
    return DASH if value is None else f"{value:,}"


def mib(value: float | None) -> str:
    """``512 MiB``; an en dash for ``None``."""
    if value is None or not math.isfinite(value):
        return DASH
    return f"{value:,.0f} MiB" if value >= 10 else f"{value:.3g} MiB"


def statuses(counts: Mapping[str, int]) -> str:
    """``SUCCEEDED 9,800 · FAILED 200``: counts in status order, zeros left out."""
    parts = [f"{s} {counts[s]:,}" for s in status_order(counts) if counts[s]]
    return " · ".join(parts) or DASH


_VERSION_ARN: Final = re.compile(r"^arn:[^:]+:iot:[^:]*:[^:]*:package/([^/]+)/version/(.+)$")


def short_arn(arn: str) -> str:
    """``samplePackage 2.1.5`` for a package version ARN; anything else unchanged."""
    match = _VERSION_ARN.match(arn)
    return f"{match[1]} {match[2]}" if match else arn
