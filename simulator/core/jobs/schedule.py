"""``schedulingConfig`` (and job templates' ``maintenanceWindows``): parsing and window arithmetic.

Rules, from the ``iot`` model's documentation [B] (SchedulingConfig, MaintenanceWindow):

* ``startTime`` / ``endTime`` are UTC date and time strings, ``YYYY-MM-DDTHH:MM`` (seconds and
  a trailing ``Z`` are accepted too (inf: AWS points at the CLI's timestamp syntax)).
* ``startTime`` is 30 minutes to 1 year from now; ``endTime`` 30 minutes to 2 years from now and
  30 minutes to 2 years after ``startTime``. The 30 minutes are parameters (``min_lead_s``,
  ``min_duration_s``) so that a test server or a scenario may shorten them.
* ``endBehavior`` applies only with an ``endTime``.
* ``maintenanceWindows[].startTime`` is a ``cron(...)`` expression (:mod:`.cron`), and
  ``durationInMinutes`` 1-1430 [B]. A window is open from each occurrence for its duration;
  rollout happens only while one is open (:func:`window_open`). Overlapping windows merge.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from simulator.core.errors import InvalidRequestException
from simulator.core.jobs.cron import CronExpression, parse_cron
from simulator.core.jobs.fields import choice, drop_none, fail, int_, object_, req

__all__ = [
    "MaintenanceWindow",
    "SchedulingConfig",
    "format_schedule_time",
    "next_window",
    "parse_maintenance_windows",
    "parse_scheduling_config",
    "upcoming_windows",
    "window_open",
]

EndBehavior = Literal["STOP_ROLLOUT", "CANCEL", "FORCE_CANCEL"]
#: [B] SchedulingConfig docs: start >= now + 30 min, <= now + 1 year; end >= start + 30 min,
#: end <= now + 2 years and end - start <= 2 years.
_MIN_LEAD_S: Final = 30 * 60
_YEAR_S: Final = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """One recurring window: its ``cron(...)`` text, parsed, and its length."""

    start_time: str
    duration_in_minutes: int
    expression: CronExpression = field(compare=False, repr=False, kw_only=True)

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
    """Parse a ``maintenanceWindows`` list (each ``startTime`` a valid ``cron(...)``)."""
    if not isinstance(raw, list):
        raise fail(path, "must be a list")
    windows: list[MaintenanceWindow] = []
    for i, item in enumerate(raw):
        ipath = f"{path}[{i}]"
        win = object_(item, ipath, frozenset({"startTime", "durationInMinutes"}))
        cron = win.get("startTime")
        if not isinstance(cron, str) or not 1 <= len(cron) <= 256:
            raise fail(f"{ipath}.startTime", "must be a cron expression of 1 to 256 characters")
        try:
            expression = parse_cron(cron)
        except InvalidRequestException as exc:
            raise fail(f"{ipath}.startTime", exc.message) from None
        duration = req(int_(win, "durationInMinutes", ipath, 1, 1430), f"{ipath}.duration")
        windows.append(MaintenanceWindow(cron, duration, expression=expression))
    return tuple(windows)


def parse_scheduling_config(
    raw: object,
    *,
    now: float | None,
    min_lead_s: float = _MIN_LEAD_S,
    min_duration_s: float = _MIN_LEAD_S,
) -> SchedulingConfig:
    """Parse ``schedulingConfig`` and check its times against ``now`` (rules from [B] docs).

    Args:
        raw: the wire member.
        now: the time of the request; ``None`` checks the syntax only (a scenario file whose
            jobs are created on a wall clock).
        min_lead_s: how far ahead ``startTime`` and ``endTime`` must be: 30 minutes [B].
        min_duration_s: the least time from ``startTime`` to ``endTime``: 30 minutes [B].
    """
    path = "schedulingConfig"
    obj = object_(
        raw, path, frozenset({"startTime", "endTime", "endBehavior", "maintenanceWindows"})
    )
    start_text, start = _date_time(obj, "startTime", path)
    end_text, end = _date_time(obj, "endTime", path)
    behavior = choice(obj, "endBehavior", path, ("STOP_ROLLOUT", "CANCEL", "FORCE_CANCEL"))
    windows_raw = obj.get("maintenanceWindows")
    windows = () if windows_raw is None else parse_maintenance_windows(windows_raw, path)
    if now is not None:
        if start is not None and not now + min_lead_s <= start <= now + _YEAR_S:
            raise fail(f"{path}.startTime", _ahead(min_lead_s, "1 year from now"))
        if end is not None and not now + min_lead_s <= end <= now + 2 * _YEAR_S:
            raise fail(f"{path}.endTime", _ahead(min_lead_s, "2 years from now"))
    if (
        start is not None
        and end is not None
        and not start + min_duration_s <= end <= start + 2 * _YEAR_S
    ):
        raise fail(f"{path}.endTime", _ahead(min_duration_s, "2 years after startTime"))
    return SchedulingConfig(
        start_text,
        end_text,
        behavior,  # type: ignore[arg-type]
        windows,
        start,
        end,
    )


def _ahead(least_s: float, most: str) -> str:
    return f"must be {least_s / 60:g} minutes to {most}"


# -- maintenance windows over time ------------------------------------------------------------


def window_open(windows: tuple[MaintenanceWindow, ...], now: float) -> bool:
    """Whether one of ``windows`` is open at ``now`` (an occurrence in ``(now - length, now]``)."""
    for window in windows:
        length = 60.0 * window.duration_in_minutes
        # The first whole minute strictly after now - length.
        after = math.floor((now - length) / 60) * 60 + 60
        if window.expression.next_at_or_after(after, until=now) is not None:
            return True
    return False


def next_window(
    windows: tuple[MaintenanceWindow, ...], now: float, *, until: float
) -> float | None:
    """When the next window opens at or after ``now`` (no later than ``until``), if ever."""
    found: float | None = None
    for window in windows:
        at = window.expression.next_at_or_after(now, until=until if found is None else found)
        if at is not None and (found is None or at < found):
            found = at
    return found


def upcoming_windows(
    windows: tuple[MaintenanceWindow, ...], now: float, *, count: int, until: float
) -> tuple[float, ...]:
    """The next ``count`` window openings at or after ``now`` and before ``until``, in order."""
    times: set[float] = set()
    for window in windows:
        at: float | None = now
        for _ in range(count):
            assert at is not None
            at = window.expression.next_at_or_after(at, until=until)
            if at is None:
                break
            times.add(at)
            at += 60
    return tuple(sorted(times)[:count])


def format_schedule_time(when: float) -> str:
    """Epoch seconds as a ``StringDateTime``: ``YYYY-MM-DDTHH:MM``, UTC."""
    return dt.datetime.fromtimestamp(when, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M")
