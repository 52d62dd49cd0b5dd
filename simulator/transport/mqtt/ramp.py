"""Pacing, as pure arithmetic on injected time: a token bucket for CONNECTs, jittered backoff.

Neither object reads a clock or sleeps: the pool passes ``now`` in and sleeps for what they say,
so the same seeded run makes the same decisions.
"""

from __future__ import annotations

import random

__all__ = ["Backoff", "TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; one token per CONNECT.

    Starts full, so the first ``burst`` connections go at once (at most the broker's listen
    backlog, see :class:`~simulator.transport.mqtt.pool.PoolOptions`).
    """

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, not {rate}, {burst}")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = now

    def take(self, now: float) -> float:
        """Take a token: 0.0 if one was available, else the seconds until one will be.

        A positive answer takes nothing: call again after waiting that long.
        """
        tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if tokens >= 1.0 - 1e-9:  # float dust: a caller that slept the full wait gets its token
            self._tokens = max(0.0, tokens - 1.0)
            return 0.0
        self._tokens = tokens
        return (1.0 - tokens) / self.rate


class Backoff:
    """Exponential backoff with "equal jitter": attempt ``k`` waits between d/2 and d,
    where d = min(cap, base * 2**k). The jitter spreads a whole fleet's reconnects after a
    broker restart instead of having every device retry in the same instant.
    """

    __slots__ = ("_rng", "base", "cap")

    def __init__(self, base: float, cap: float, rng: random.Random) -> None:
        if not 0 < base <= cap:
            raise ValueError(f"need 0 < base <= cap, not {base}, {cap}")
        self.base = base
        self.cap = cap
        self._rng = rng

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0 for the first retry)."""
        ceiling = self.cap if attempt >= 64 else min(self.cap, self.base * 2.0**attempt)
        return ceiling * (0.5 + 0.5 * self._rng.random())
