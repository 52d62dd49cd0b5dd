"""AWS's six-field ``cron(...)`` expressions, pure: parse once, then find occurrences.

``cron(Minutes Hours Day-of-month Month Day-of-week Year)``, in UTC, with the syntax AWS uses for
scheduled expressions (EventBridge's "Cron expressions" reference; IoT Jobs' maintenance windows
take the same ``cron(...)`` strings (inf: the IoT docs show no grammar of their own)):

* Minutes 0-59, Hours 0-23, Day-of-month 1-31, Month 1-12 or JAN-DEC, Day-of-week 1-7 or
  SUN-SAT (1 is Sunday), Year 1970-2199.
* ``,`` lists, ``-`` ranges, ``*`` all, ``/`` increments (``0/15``, ``*/10``, ``5-50/5``).
* Exactly one of Day-of-month and Day-of-week is ``?`` (AWS refuses both given, or both ``?``).
* Day-of-month: ``L`` (last day), ``LW`` (last weekday), ``nW`` (the weekday nearest day n,
  within the month). Day-of-week: ``L`` (the week's last day, Saturday), ``nL`` (the month's
  last day n), ``n#k`` (the k-th day n of the month, k 1-5).

Libraries were considered: croniter reads five or six fields with seconds first and knows no
``?`` in AWS's sense nor a year field; nothing on the project's index parses AWS's dialect, so
this is a small parser of our own, checked by a property test against a minute-by-minute scan.

Malformed text raises :class:`~simulator.core.errors.InvalidRequestException`, nothing else.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import math
from dataclasses import dataclass
from typing import Final

from simulator.core.errors import InvalidRequestException

__all__ = ["CronExpression", "parse_cron"]

_MONTHS: Final = {
    name: i + 1
    for i, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}
_DAYS: Final = {
    name: i + 1 for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))
}
_YEARS: Final = (1970, 2199)
_EPOCH_ORDINAL: Final = dt.date(1970, 1, 1).toordinal()
_DAY_S: Final = 86400


class _Bad(Exception):
    """Raised inside the parser; turned into InvalidRequestException with the whole text."""


@dataclass(frozen=True, slots=True)
class _DayOfMonth:
    days: frozenset[int] = frozenset()
    last: bool = False
    last_weekday: bool = False
    nearest_weekday: frozenset[int] = frozenset()

    def matches(self, day: int, weekday: int, last_day: int) -> bool:
        """``weekday``: Monday 0 .. Sunday 6 (Python's)."""
        if day in self.days or (self.last and day == last_day):
            return True
        if self.last_weekday and day == _nearest_weekday(last_day, last_day, day, weekday):
            return True
        return any(
            n <= last_day and day == _nearest_weekday(n, last_day, day, weekday)
            for n in self.nearest_weekday
        )


@dataclass(frozen=True, slots=True)
class _DayOfWeek:
    days: frozenset[int] = frozenset()  # 1 Sunday .. 7 Saturday
    last_of_month: frozenset[int] = frozenset()  # nL
    nth: frozenset[tuple[int, int]] = frozenset()  # n#k

    def matches(self, day: int, weekday: int, last_day: int) -> bool:
        aws = (weekday + 1) % 7 + 1
        if aws in self.days:
            return True
        if aws in self.last_of_month and day + 7 > last_day:
            return True
        return (aws, (day - 1) // 7 + 1) in self.nth


def _nearest_weekday(n: int, last_day: int, day: int, weekday: int) -> int:
    """The weekday nearest day ``n`` of the month that ``day`` (a ``weekday``) belongs to."""
    wd = (weekday + (n - day)) % 7  # the weekday of day n
    if wd == 5:  # Saturday: the Friday before, or the Monday after the 1st
        return n + 2 if n == 1 else n - 1
    if wd == 6:  # Sunday: the Monday after, or the Friday before the month's last day
        return n - 2 if n == last_day else n + 1
    return n


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A parsed ``cron(...)``; times are epoch seconds, UTC, on whole minutes."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: tuple[int, ...]
    day_of_month: _DayOfMonth | None
    day_of_week: _DayOfWeek | None

    def matches_day(self, date: dt.date) -> bool:
        """Whether the expression fires on ``date`` (at some minute)."""
        if date.month not in self.months or date.year not in self.years:
            return False
        last_day = calendar.monthrange(date.year, date.month)[1]
        weekday = date.weekday()
        rule = self.day_of_month or self.day_of_week
        assert rule is not None  # the parser guarantees exactly one
        return rule.matches(date.day, weekday, last_day)

    def matches(self, when: float) -> bool:
        """Whether the expression fires at the minute containing ``when``."""
        moment = dt.datetime.fromtimestamp(math.floor(when / 60) * 60, tz=dt.UTC)
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and self.matches_day(moment.date())
        )

    def next_at_or_after(self, when: float, *, until: float) -> float | None:
        """The first occurrence at or after ``when`` and at or before ``until``, if any."""
        first = math.ceil(when / 60) * 60
        if first > until:
            return None
        ordinal = _EPOCH_ORDINAL + first // _DAY_S
        minute_of_day = (first % _DAY_S) // 60
        years = self.years
        while True:
            day_start = (ordinal - _EPOCH_ORDINAL) * _DAY_S
            if day_start > until:
                return None
            date = dt.date.fromordinal(ordinal)
            if date.year not in years:
                i = bisect.bisect_right(years, date.year)
                if i == len(years):
                    return None
                ordinal, minute_of_day = dt.date(years[i], 1, 1).toordinal(), 0
                continue
            if date.month not in self.months:
                year, month = (
                    (date.year + 1, 1) if date.month == 12 else (date.year, date.month + 1)
                )
                ordinal, minute_of_day = dt.date(year, month, 1).toordinal(), 0
                continue
            if self.matches_day(date):
                found = self._first_minute(minute_of_day)
                if found is not None:
                    at = day_start + 60 * found
                    return at if at <= until else None
            ordinal, minute_of_day = ordinal + 1, 0

    def _first_minute(self, minute_of_day: int) -> int | None:
        """The first firing minute of a matching day at or after ``minute_of_day``."""
        hour, minute = divmod(minute_of_day, 60)
        hours, minutes = self.hours, self.minutes
        i = bisect.bisect_left(hours, hour)
        if i < len(hours) and hours[i] == hour:
            j = bisect.bisect_left(minutes, minute)
            if j < len(minutes):
                return hour * 60 + minutes[j]
            i += 1
        return None if i == len(hours) else hours[i] * 60 + minutes[0]


# -- parsing ----------------------------------------------------------------------------------


def parse_cron(text: object) -> CronExpression:
    """Parse ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``.

    Raises:
        InvalidRequestException: not a string, or not a valid expression (the reason named).
    """
    if not isinstance(text, str):
        raise InvalidRequestException("The cron expression must be a string.")
    try:
        return _parse(text)
    except _Bad as exc:
        raise InvalidRequestException(f"Invalid cron expression {text!r}: {exc}") from None


def _parse(text: str) -> CronExpression:
    body = text.strip()
    if not (body.startswith("cron(") and body.endswith(")")):
        raise _Bad("write it as cron(Minutes Hours Day-of-month Month Day-of-week Year)")
    fields = body[5:-1].split()
    if len(fields) != 6:
        raise _Bad(f"expected 6 fields, got {len(fields)}")
    minute, hour, dom, month, dow, year = (f.upper() for f in fields)
    if (dom == "?") == (dow == "?"):
        raise _Bad("exactly one of Day-of-month and Day-of-week must be ?")
    years = _values(year, "Year", *_YEARS, {})
    return CronExpression(
        text=text,
        minutes=tuple(sorted(_values(minute, "Minutes", 0, 59, {}))),
        hours=tuple(sorted(_values(hour, "Hours", 0, 23, {}))),
        months=frozenset(_values(month, "Month", 1, 12, _MONTHS)),
        years=tuple(sorted(years)),
        day_of_month=None if dom == "?" else _day_of_month(dom),
        day_of_week=None if dow == "?" else _day_of_week(dow),
    )


def _number(text: str, field: str, lo: int, hi: int, names: dict[str, int]) -> int:
    value = names.get(text)
    if value is None:
        if not (text.isascii() and text.isdigit()) or len(text) > 4:
            raise _Bad(f"{field}: {text!r} is not a value")
        value = int(text)
    if not lo <= value <= hi:
        raise _Bad(f"{field}: {value} is out of range {lo}-{hi}")
    return value


def _values(text: str, field: str, lo: int, hi: int, names: dict[str, int]) -> set[int]:
    """A list of ``*``, ``n``, ``a-b`` and ``x/step`` items."""
    out: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            step = _number(step_text, field, 1, hi, {})
        if base == "*":
            first, last = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _number(a, field, lo, hi, names), _number(b, field, lo, hi, names)
            if first > last:
                raise _Bad(f"{field}: range {base} runs backwards")
        else:
            first = _number(base, field, lo, hi, names)
            last = hi if slash else first
        out.update(range(first, last + 1, step))
    return out


def _day_of_month(text: str) -> _DayOfMonth:
    days: set[int] = set()
    nearest: set[int] = set()
    last = last_weekday = False
    for item in text.split(","):
        if item == "L":
            last = True
        elif item == "LW":
            last_weekday = True
        elif item.endswith("W"):
            nearest.add(_number(item[:-1], "Day-of-month", 1, 31, {}))
        else:
            days |= _values(item, "Day-of-month", 1, 31, {})
    return _DayOfMonth(frozenset(days), last, last_weekday, frozenset(nearest))


def _day_of_week(text: str) -> _DayOfWeek:
    days: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in text.split(","):
        if item == "L":
            days.add(7)  # the last day of the week
        elif item.endswith("L"):
            last.add(_number(item[:-1], "Day-of-week", 1, 7, _DAYS))
        elif "#" in item:
            day, _, k = item.partition("#")
            nth.add(
                (_number(day, "Day-of-week", 1, 7, _DAYS), _number(k, "Day-of-week #", 1, 5, {}))
            )
        else:
            days |= _values(item, "Day-of-week", 1, 7, _DAYS)
    return _DayOfWeek(frozenset(days), frozenset(last), frozenset(nth))
