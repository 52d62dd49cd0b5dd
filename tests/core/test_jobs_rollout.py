"""Rollout arithmetic: constant and exponential rates, and one-minute windows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simulator.core.jobs import (
    ExponentialRate,
    RolloutConfig,
    RolloutWindow,
    plan_release,
    rate_per_minute,
)

DOC_EXAMPLE = RolloutConfig(exponential_rate=ExponentialRate(50, 2.0, 1000, None))


def rate(config: RolloutConfig | None, notified: int = 0, succeeded: int = 0) -> int:
    return rate_per_minute(
        config, notified=notified, succeeded=succeeded, default=1000, ceiling=1000
    )


def test_default_and_constant_rates() -> None:
    assert rate(None) == 1000
    assert rate(RolloutConfig()) == 1000
    assert rate(RolloutConfig(maximum_per_minute=7), notified=10**6) == 7


def test_documented_exponential_example() -> None:
    # Base 50, factor 2, 1000 notified things per step: 50 -> 100 -> 200 -> 400, the rate
    # changing at 1000, 2000 and 3000 notified things (and 800 after 4000).
    assert [rate(DOC_EXAMPLE, n) for n in (0, 999)] == [50, 50]
    assert [rate(DOC_EXAMPLE, n) for n in (1000, 1999)] == [100, 100]
    assert [rate(DOC_EXAMPLE, n) for n in (2000, 2999)] == [200, 200]
    assert [rate(DOC_EXAMPLE, n) for n in (3000, 3999)] == [400, 400]
    assert rate(DOC_EXAMPLE, 4000) == 800


def test_documented_example_timeline() -> None:
    """Release minute by minute: each 1000-thing stage takes 1000/rate minutes.

    Stage one is 20 windows of 50 (minutes 0-19); stage two 10 of 100 (done in minute 29);
    stage three 5 of 200 (minute 34); stage four 2.5 of 400 (minute 36).
    """
    window = RolloutWindow(0.0)
    notified = 0
    minutes_at: dict[int, float] = {}
    now = 0.0
    while notified < 4000:
        count, window = plan_release(
            DOC_EXAMPLE,
            window,
            now=now,
            backlog=4000 - notified,
            notified=notified,
            succeeded=0,
            default=1000,
            ceiling=1000,
        )
        notified += count
        for stage in (1000, 2000, 3000, 4000):
            if notified >= stage and stage not in minutes_at:
                minutes_at[stage] = now / 60
        now += 60
    assert minutes_at == {1000: 19, 2000: 29, 3000: 34, 4000: 36}


def test_succeeded_criteria() -> None:
    config = RolloutConfig(exponential_rate=ExponentialRate(10, 1.5, None, 5))
    assert rate(config, notified=100, succeeded=4) == 10
    assert rate(config, succeeded=5) == 15
    assert rate(config, succeeded=10) == 22


def test_ceiling_without_overflow() -> None:
    config = RolloutConfig(exponential_rate=ExponentialRate(10, 5.0, 1, None))
    assert rate(config, notified=10**9) == 1000


def test_windows_roll_over() -> None:
    config = RolloutConfig(maximum_per_minute=3)
    kwargs = {"notified": 0, "succeeded": 0, "default": 1000, "ceiling": 1000}
    count, window = plan_release(config, RolloutWindow(0.0), now=0.0, backlog=10, **kwargs)
    assert (count, window) == (3, RolloutWindow(0.0, 3))
    count, window = plan_release(config, window, now=59.9, backlog=7, **kwargs)
    assert count == 0
    count, window = plan_release(config, window, now=60.0, backlog=7, **kwargs)
    assert (count, window) == (3, RolloutWindow(60.0, 3))
    count, window = plan_release(config, window, now=200.0, backlog=4, **kwargs)
    assert (count, window) == (3, RolloutWindow(180.0, 3))


@given(
    st.integers(1, 100),
    st.lists(st.floats(0, 30, allow_nan=False), min_size=1, max_size=30),
    st.integers(0, 500),
)
def test_never_more_than_the_rate_in_any_window(
    per_minute: int, gaps: list[float], backlog: int
) -> None:
    config = RolloutConfig(maximum_per_minute=per_minute)
    window = RolloutWindow(0.0)
    now = 0.0
    released_in: dict[float, int] = {}
    for gap in gaps:
        now += gap
        count, window = plan_release(
            config,
            window,
            now=now,
            backlog=backlog,
            notified=0,
            succeeded=0,
            default=1000,
            ceiling=1000,
        )
        backlog -= count
        assert backlog >= 0
        released_in[window.start] = released_in.get(window.start, 0) + count
    assert all(n <= per_minute for n in released_in.values())
