"""Rollout pacing as pure arithmetic: how many queued targets may be released now.

A rollout releases at most ``rate`` new executions in each one-minute window, counted from the
moment the rollout starts ("notified of a pending job, per minute" [B]). The rate is
``maximumPerMinute``, or for an exponential rollout ``baseRatePerMinute`` multiplied by
``incrementFactor`` each time another ``rateIncreaseCriteria`` threshold of notified (or
succeeded) things is reached [AD:jobs-configurations-details]: base 50, factor 2, threshold 1000
gives 50/min until 1000 things, then 100/min until 2000, 200/min until 3000, 400/min until 4000.
Without a rollout config the rate is the default, "roughly 1000 per minute" [AD:job-limits].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from simulator.core.jobs.config import RolloutConfig

__all__ = ["WINDOW_S", "RolloutWindow", "plan_release", "rate_per_minute"]

WINDOW_S: Final = 60.0


def rate_per_minute(
    config: RolloutConfig | None,
    *,
    notified: int,
    succeeded: int,
    default: int,
    ceiling: int,
) -> int:
    """The rollout rate in force after ``notified`` / ``succeeded`` things.

    Args:
        config: the job's ``jobExecutionsRolloutConfig`` (``None``: the default rate).
        notified: things that have been notified of the job so far.
        succeeded: things whose execution has SUCCEEDED so far.
        default: the rate without a config.
        ceiling: the highest rate an exponential rollout reaches.
    """
    if config is None or (config.maximum_per_minute is None and config.exponential_rate is None):
        return default
    if config.maximum_per_minute is not None:
        return config.maximum_per_minute
    exp = config.exponential_rate
    assert exp is not None
    if exp.number_of_notified_things is not None:
        steps = notified // exp.number_of_notified_things
    else:
        assert exp.number_of_succeeded_things is not None
        steps = succeeded // exp.number_of_succeeded_things
    base = exp.base_rate_per_minute
    if base >= ceiling:
        return base
    # Compare in logarithms so that thousands of steps never overflow a float.
    if steps * math.log(exp.increment_factor) >= math.log(ceiling / base):
        return ceiling
    return min(ceiling, math.floor(base * exp.increment_factor**steps + 1e-9))


@dataclass(frozen=True, slots=True)
class RolloutWindow:
    """The current one-minute window of a rollout and how many it has released."""

    start: float
    released: int = 0

    def at(self, now: float, length: float = WINDOW_S) -> RolloutWindow:
        """The window containing ``now`` (a fresh one once this one has passed)."""
        if now < self.start + length:
            return self
        elapsed = math.floor((now - self.start) / length)
        return RolloutWindow(self.start + elapsed * length, 0)


def plan_release(
    config: RolloutConfig | None,
    window: RolloutWindow,
    *,
    now: float,
    backlog: int,
    notified: int,
    succeeded: int,
    default: int,
    ceiling: int,
) -> tuple[int, RolloutWindow]:
    """How many of ``backlog`` waiting targets to release at ``now``, and the updated window.

    Releasing raises ``notified``, which can raise an exponential rate within the window; the
    loop accounts for that, so the result does not depend on how often it is called.
    """
    window = window.at(now)
    total = 0
    while total < backlog:
        rate = rate_per_minute(
            config,
            notified=notified + total,
            succeeded=succeeded,
            default=default,
            ceiling=ceiling,
        )
        room = rate - window.released - total
        if room <= 0:
            break
        step = min(room, backlog - total)
        if config is not None and config.exponential_rate is not None:
            threshold = config.exponential_rate.number_of_notified_things
            if threshold is not None:  # stop at the next threshold: the rate may change there
                step = min(step, threshold - (notified + total) % threshold)
        total += step
    return total, RolloutWindow(window.start, window.released + total)
