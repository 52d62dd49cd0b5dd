"""Parse ``schedulingConfig`` (and job templates' ``maintenanceWindows``).

``maintenanceWindows`` are validated and stored, but **not enforced**: a scheduled job rolls
out at its start time whatever its windows say.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from simulator.core.jobs.fields import choice, drop_none, fail, int_, object_, req

__all__ = [
    "MaintenanceWindow",
    "SchedulingConfig",
    "parse_maintenance_windows",
    "parse_scheduling_config",
]

EndBehavior = Literal["STOP_ROLLOUT", "CANCEL", "FORCE_CANCEL"]
#: [B] SchedulingConfig docs: start >= now + 30 min, <= now + 1 year; end >= start + 30 min,
#: end <= now + 2 years and end - start <= 2 years.
_MIN_LEAD_S: Final = 30 * 60
_YEAR_S: Final = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    start_time: str
    duration_in_minutes: int

    def to_wire(self) -> dict[str, Any]:
        return {"startTime": self.start_time, "durationInMinutes": self.duration_in_minutes}


@dataclass(frozen=True, slots=True)
class SchedulingConfig:
    """``schedulingConfig``; ``start``/``end`` are the times as epoch seconds (UTC)."""

    start_time: str | None = None
    end_time: str | None = None
    end_behavior: EndBehavior | None = None
    maintenance_windows: tuple[MaintenanceWindow, ...] = ()
    start: float | None = None
    end: float | None = None

    def to_wire(self) -> dict[str, Any]:
        return drop_none(
            {
                "startTime": self.start_time,
                "endTime": self.end_time,
                "endBehavior": self.end_behavior,
                "maintenanceWindows": [w.to_wire() for w in self.maintenance_windows] or None,
            }
        )


def _date_time(obj: Mapping[str, Any], key: str, path: str) -> tuple[str | None, float | None]:
    value = obj.get(key)
    if value is None:
        return None, None
    if isinstance(value, str) and 1 <= len(value) <= 64:
        text = value.removesuffix("Z")
        for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
            try:
                when = dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
            except ValueError:
                continue
            return value, when.timestamp()
    raise fail(f"{path}.{key}", "must be a UTC date and time as YYYY-MM-DDTHH:MM")


def parse_maintenance_windows(raw: object, path: str) -> tuple[MaintenanceWindow, ...]:
    """Parse a ``maintenanceWindows`` list (stored, not enforced)."""
    if not isinstance(raw, list):
        raise fail(path, "must be a list")
    windows: list[MaintenanceWindow] = []
    for i, item in enumerate(raw):
        ipath = f"{path}[{i}]"
        win = object_(item, ipath, frozenset({"startTime", "durationInMinutes"}))
        cron = win.get("startTime")
        if not isinstance(cron, str) or not 1 <= len(cron) <= 256:
            raise fail(f"{ipath}.startTime", "must be a cron expression of 1 to 256 characters")
        duration = req(int_(win, "durationInMinutes", ipath, 1, 1430), f"{ipath}.duration")
        windows.append(MaintenanceWindow(cron, duration))
    return tuple(windows)


def parse_scheduling_config(raw: object, *, now: float) -> SchedulingConfig:
    """Parse ``schedulingConfig`` and check its times against ``now`` (rules from [B] docs)."""
    path = "schedulingConfig"
    obj = object_(
        raw, path, frozenset({"startTime", "endTime", "endBehavior", "maintenanceWindows"})
    )
    start_text, start = _date_time(obj, "startTime", path)
    end_text, end = _date_time(obj, "endTime", path)
    behavior = choice(obj, "endBehavior", path, ("STOP_ROLLOUT", "CANCEL", "FORCE_CANCEL"))
    windows_raw = obj.get("maintenanceWindows")
    windows = () if windows_raw is None else parse_maintenance_windows(windows_raw, path)
    if start is not None and not now + _MIN_LEAD_S <= start <= now + _YEAR_S:
        raise fail(f"{path}.startTime", "must be 30 minutes to 1 year from now")
    if end is not None:
        if not now + _MIN_LEAD_S <= end <= now + 2 * _YEAR_S:
            raise fail(f"{path}.endTime", "must be 30 minutes to 2 years from now")
        if start is not None and not start + _MIN_LEAD_S <= end <= start + 2 * _YEAR_S:
            raise fail(f"{path}.endTime", "must be 30 minutes to 2 years after startTime")
    return SchedulingConfig(
        start_text,
        end_text,
        behavior,  # type: ignore[arg-type]
        windows,
        start,
        end,
    )
