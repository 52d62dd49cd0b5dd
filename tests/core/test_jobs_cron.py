"""AWS ``cron(...)`` expressions: the parser against a brute-force reference, and its refusals.

The reference reads the expression's *structure* (what the strategy drew), not its text, and
decides each day and minute from first principles (the calendar, counted by hand); the parser's
``next_at_or_after`` must agree with a minute-by-minute (short horizons) or day-by-day (long
horizons) scan of it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.errors import InvalidRequestException
from simulator.core.jobs import (
    CronExpression,
    MaintenanceWindow,
    format_schedule_time,
    next_window,
    parse_cron,
    parse_maintenance_windows,
    upcoming_windows,
    window_open,
)
from tests.hypothesis_profiles import examples

DAY = 86400
BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

# -- the reference: items as drawn, with their meaning ----------------------------------------


@dataclass(frozen=True)
class Item:
    """One list item: its text, and the predicate of a value (or of a date for day rules)."""

    text: str
    values: frozenset[int] = frozenset()
    day_rule: Callable[[dt.date], bool] | None = None


def _aws_weekday(date: dt.date) -> int:
    return (date.weekday() + 1) % 7 + 1  # 1 Sunday .. 7 Saturday


def _month_days(date: dt.date) -> list[dt.date]:
    last = calendar.monthrange(date.year, date.month)[1]
    return [date.replace(day=d) for d in range(1, last + 1)]


def _nearest_weekday(n: int) -> Callable[[dt.date], bool]:
    def rule(date: dt.date) -> bool:
        days = _month_days(date)
        if n > len(days):
            return False
        weekdays = [d for d in days if d.weekday() < 5]
        best = min(weekdays, key=lambda d: abs(d.day - n))
        return date == best

    return rule


def _last_weekday(date: dt.date) -> bool:
    return date == [d for d in _month_days(date) if d.weekday() < 5][-1]


def _last_of_month(dow: int) -> Callable[[dt.date], bool]:
    return lambda date: date == [d for d in _month_days(date) if _aws_weekday(d) == dow][-1]


def _nth(dow: int, k: int) -> Callable[[dt.date], bool]:
    def rule(date: dt.date) -> bool:
        same = [d for d in _month_days(date) if _aws_weekday(d) == dow]
        return len(same) >= k and date == same[k - 1]

    return rule


def _plain(
    lo: int, hi: int, names: tuple[str, ...] = (), *, top: int | None = None
) -> st.SearchStrategy[Item]:
    """``n``, ``a-b``, ``*``, ``x/step`` items drawn in ``lo..hi`` (names for the values); ``*``
    and ``x/step`` run to the field's ``top`` (``hi`` unless given: the years' own range)."""
    first, end = (lo, hi) if top is None else (1970, top)

    def show(v: int) -> st.SearchStrategy[str]:
        choices = [st.just(str(v))]
        if names:
            choices.append(st.just(names[v - lo]))
        return st.one_of(choices)

    value = st.integers(lo, hi)
    single = value.flatmap(lambda v: show(v).map(lambda t: Item(t, frozenset({v}))))
    ranged = (
        st.tuples(value, value)
        .map(sorted)
        .flatmap(
            lambda ab: st.tuples(show(ab[0]), show(ab[1])).map(
                lambda tt: Item(f"{tt[0]}-{tt[1]}", frozenset(range(ab[0], ab[1] + 1)))
            )
        )
    )
    step = st.integers(1, hi - lo)
    stepped = st.one_of(
        step.map(lambda s: Item(f"*/{s}", frozenset(range(first, end + 1, s)))),
        st.tuples(value, step).map(
            lambda vs: Item(f"{vs[0]}/{vs[1]}", frozenset(range(vs[0], end + 1, vs[1])))
        ),
    )
    return st.one_of(single, ranged, stepped, st.just(Item("*", frozenset(range(first, end + 1)))))


def _field(items: st.SearchStrategy[Item]) -> st.SearchStrategy[list[Item]]:
    return st.lists(items, min_size=1, max_size=3)


_dom_item = st.one_of(
    _plain(1, 31),
    st.just(Item("L", day_rule=lambda d: d.day == calendar.monthrange(d.year, d.month)[1])),
    st.just(Item("LW", day_rule=_last_weekday)),
    st.integers(1, 31).map(lambda n: Item(f"{n}W", day_rule=_nearest_weekday(n))),
)
_dow_item = st.one_of(
    _plain(1, 7, _DAY_NAMES),
    st.just(Item("L", frozenset({7}))),
    st.integers(1, 7).map(lambda n: Item(f"{n}L", day_rule=_last_of_month(n))),
    st.tuples(st.integers(1, 7), st.integers(1, 5)).map(
        lambda nk: Item(f"{_DAY_NAMES[nk[0] - 1]}#{nk[1]}", day_rule=_nth(*nk))
    ),
)


@dataclass(frozen=True)
class Drawn:
    minutes: list[Item]
    hours: list[Item]
    dom: list[Item] | None
    months: list[Item]
    dow: list[Item] | None
    years: list[Item] | None

    @property
    def text(self) -> str:
        def show(items: list[Item] | None) -> str:
            return "?" if items is None else ",".join(i.text for i in items)

        years = "*" if self.years is None else show(self.years)
        parts = (self.minutes, self.hours, self.dom, self.months, self.dow)
        return f"cron({' '.join(show(p) for p in parts)} {years})"

    def day(self, date: dt.date) -> bool:
        if not _hit(self.months, date.month):
            return False
        if self.years is not None and not _hit(self.years, date.year):
            return False
        items = self.dom if self.dom is not None else self.dow
        assert items is not None
        value = date.day if self.dom is not None else _aws_weekday(date)
        return any(
            (i.day_rule(date) if i.day_rule is not None else value in i.values) for i in items
        )

    def minute(self, when: float, days: dict[dt.date, bool]) -> bool:
        """Whether it fires at ``when`` (``days`` memoises :meth:`day` over a scan)."""
        moment = dt.datetime.fromtimestamp(when, tz=dt.UTC)
        if not (_hit(self.minutes, moment.minute) and _hit(self.hours, moment.hour)):
            return False
        date = moment.date()
        if date not in days:
            days[date] = self.day(date)
        return days[date]


def _hit(items: list[Item], value: int) -> bool:
    return any(value in i.values for i in items)


@st.composite
def drawn(draw: st.DrawFn, *, frequent: bool) -> Drawn:
    """An expression; ``frequent`` keeps minutes and hours dense (short horizons find hits)."""
    if frequent:
        minutes = draw(_field(st.one_of(_plain(0, 59), st.just(Item("*", frozenset(range(60)))))))
        hours = [Item("*", frozenset(range(24)))]
    else:
        minutes, hours = draw(_field(_plain(0, 59))), draw(_field(_plain(0, 23)))
    on_dom = draw(st.booleans())
    dom = draw(_field(_dom_item)) if on_dom else None
    dow = None if on_dom else draw(_field(_dow_item))
    months = draw(_field(_plain(1, 12, _MONTH_NAMES)))
    years = draw(st.none() | _field(_plain(2026, 2029, top=2199)))
    return Drawn(minutes, hours, dom, months, dow, years)


# -- properties --------------------------------------------------------------------------------


@settings(max_examples=examples(60), deadline=None)
@given(drawn(frequent=True), st.integers(0, 3 * 365 * DAY), st.integers(0, 120))
def test_next_minute_matches_a_minute_by_minute_scan(expr: Drawn, offset: int, late_s: int) -> None:
    cron = parse_cron(expr.text)
    start = BASE + offset + late_s  # usually not on a whole minute
    horizon = start + 2 * DAY
    expected = None
    days: dict[dt.date, bool] = {}
    t = -(-start // 60) * 60
    while t <= horizon:
        if expr.minute(t, days):
            expected = t
            break
        t += 60
    assert cron.next_at_or_after(start, until=horizon) == expected


@settings(max_examples=examples(100), deadline=None)
@given(drawn(frequent=False), st.integers(0, 3 * 365 * DAY))
def test_next_occurrence_matches_a_day_by_day_scan(expr: Drawn, offset: int) -> None:
    cron = parse_cron(expr.text)
    start = BASE + offset
    horizon = start + 800 * DAY
    expected = None
    date = dt.datetime.fromtimestamp(start, tz=dt.UTC).date()
    first_day = True
    while expected is None:
        day_start = dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp()
        if day_start > horizon:
            break
        if expr.day(date):
            hours = sorted(set().union(*(i.values for i in expr.hours)))
            minutes = sorted(set().union(*(i.values for i in expr.minutes)))
            for h in hours:
                for m in minutes:
                    at = day_start + 3600 * h + 60 * m
                    if (not first_day or at >= start) and at <= horizon:
                        expected = at
                        break
                if expected is not None:
                    break
        date += dt.timedelta(days=1)
        first_day = False
    assert cron.next_at_or_after(start, until=horizon) == expected
    assert cron.matches_day(date - dt.timedelta(days=1)) == expr.day(date - dt.timedelta(days=1))


@settings(max_examples=examples(100), deadline=None)
@given(st.text(max_size=40) | st.from_regex(r"cron\([0-9A-Z*?/,#LW -]{0,30}\)", fullmatch=True))
def test_parse_it_or_refuse_it(text: str) -> None:
    try:
        cron = parse_cron(text)
    except InvalidRequestException:
        return
    assert isinstance(cron, CronExpression)
    cron.next_at_or_after(BASE, until=BASE + 400 * DAY)


# -- examples ----------------------------------------------------------------------------------


def _next(text: str, after: str) -> str | None:
    start = dt.datetime.fromisoformat(after).replace(tzinfo=dt.UTC).timestamp()
    found = parse_cron(text).next_at_or_after(start, until=start + 400 * DAY)
    if found is None:
        return None
    return dt.datetime.fromtimestamp(found, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        ("cron(0 10 * * ? *)", "2026-01-01T10:00", "2026-01-01T10:00"),  # at or after
        ("cron(0 10 * * ? *)", "2026-01-01T10:00:01", "2026-01-02T10:00"),
        ("cron(0/15 9-17 ? * MON-FRI *)", "2026-01-03T12:00", "2026-01-05T09:00"),  # Sat -> Mon
        ("cron(30 2 ? * 6#2 *)", "2026-01-01T00:00", "2026-01-09T02:30"),  # 2nd Friday
        ("cron(0 0 LW * ? *)", "2026-01-01T00:00", "2026-01-30T00:00"),  # Jan 31 is a Saturday
        ("cron(0 0 1W * ? *)", "2026-08-01T00:00", "2026-08-03T00:00"),  # Sat 1st -> Mon 3rd
        ("cron(0 0 L 2 ? *)", "2027-01-01T00:00", "2027-02-28T00:00"),
        ("cron(0 0 ? * 2L *)", "2026-01-01T00:00", "2026-01-26T00:00"),  # last Monday
        ("cron(0 0 ? * SATL *)", "2026-01-01T00:00", "2026-01-31T00:00"),  # not the 24th
        ("cron(0 0 ? * L *)", "2026-01-01T00:00", "2026-01-03T00:00"),  # Saturday
        ("cron(0 0 29 FEB ? *)", "2026-01-01T00:00", None),  # none within 400 days
        ("cron(0 0 1 1 ? 2025)", "2026-01-01T00:00", None),  # the year has passed
    ],
)
def test_examples(text: str, after: str, expected: str | None) -> None:
    assert _next(text, after) == expected


@pytest.mark.parametrize(
    "text",
    [
        "0 10 * * ? *",  # no cron(...)
        "cron(0 10 * * ?)",  # five fields
        "cron(0 10 * * * *)",  # neither day field is ?
        "cron(0 10 ? * ? *)",  # both are
        "cron(60 10 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 0 0 * ? *)",
        "cron(0 0 * 13 ? *)",
        "cron(0 0 ? * 8 *)",
        "cron(0 0 ? * MON#6 *)",
        "cron(0 0 * * ? 1969)",
        "cron(0 0 * * ? 2200)",
        "cron(5-1 0 * * ? *)",  # backwards
        "cron(*/0 0 * * ? *)",
        "cron(? 0 * * ? *)",
        "cron(0 0 32W * ? *)",
        "cron(0 0 * FOO ? *)",
        "cron(0 0 ²W * ? *)",
        "cron(0 0 L ? * *)",
    ],
)
def test_refused(text: str) -> None:
    with pytest.raises(InvalidRequestException):
        parse_cron(text)


def test_matches_a_minute() -> None:
    cron = parse_cron("cron(15 3 ? * SUN *)")
    sunday = dt.datetime(2026, 1, 4, 3, 15, 42, tzinfo=dt.UTC).timestamp()
    assert cron.matches(sunday)
    assert not cron.matches(sunday + 60)
    assert not cron.matches(sunday + DAY)


# -- maintenance windows over time --------------------------------------------------------------


def _windows(*spec: tuple[str, int]) -> tuple[MaintenanceWindow, ...]:
    raw = [{"startTime": text, "durationInMinutes": minutes} for text, minutes in spec]
    return parse_maintenance_windows(raw, "maintenanceWindows")


def test_a_window_is_open_from_its_start_for_its_length() -> None:
    nightly = _windows(("cron(0 2 * * ? *)", 30))
    two = BASE + 2 * 3600
    assert not window_open(nightly, two - 1)
    assert window_open(nightly, two)
    assert window_open(nightly, two + 30 * 60 - 0.001)
    assert not window_open(nightly, two + 30 * 60)
    assert next_window(nightly, two + 1, until=two + 2 * DAY) == two + DAY
    assert next_window(nightly, two + 1, until=two + DAY - 1) is None


def test_windows_merge() -> None:
    windows = _windows(("cron(0 2 * * ? *)", 30), ("cron(20 2 * * ? *)", 30))
    two = BASE + 2 * 3600
    assert all(window_open(windows, two + m * 60) for m in range(50))
    assert not window_open(windows, two + 50 * 60)
    shown = upcoming_windows(windows, two, count=3, until=two + 10 * DAY)
    assert shown == (two, two + 20 * 60, two + DAY)
    assert format_schedule_time(shown[2]) == "2026-01-02T02:00"
    assert upcoming_windows(windows, two, count=7, until=two + 60) == (two,)
