"""Random durations and probabilities for scenarios: parse a spec once, draw fast, reproducibly.

A spec is a number (a constant) or one of::

    constant(x)   uniform(a, b)   normal(mean, sd)   lognormal(median, sigma)   exponential(mean)

Negative draws are clipped to 0 (they are durations). Each :class:`Stream` owns a numpy generator
derived from the run's seed and the stream's name, and draws in batches: a draw costs a list index,
and adding a stream to a scenario never changes the numbers another stream produces.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from simulator.core.errors import UsageError

__all__ = ["Distribution", "Stream", "parse_distribution", "stream"]

_SPEC: Final = re.compile(r"\s*([a-z]+)\s*\(\s*([^)]*?)\s*\)\s*")
_ARITY: Final = {"constant": 1, "uniform": 2, "normal": 2, "lognormal": 2, "exponential": 1}
_BATCH: Final = 4096

Kind = Literal["constant", "uniform", "normal", "lognormal", "exponential"]


@dataclass(frozen=True, slots=True)
class Distribution:
    kind: Kind
    a: float
    b: float = 0.0

    def sample(self, rng: np.random.Generator, n: int) -> list[float]:
        """``n`` draws, clipped at 0."""
        if self.kind == "constant":
            return [max(self.a, 0.0)] * n
        if self.kind == "uniform":
            values = rng.uniform(self.a, self.b, n)
        elif self.kind == "normal":
            values = rng.normal(self.a, self.b, n)
        elif self.kind == "lognormal":
            values = rng.lognormal(np.log(self.a), self.b, n)
        else:
            values = rng.exponential(self.a, n)
        out: list[float] = np.maximum(values, 0.0).tolist()
        return out

    @property
    def mean(self) -> float:
        if self.kind in ("constant", "exponential"):
            return self.a
        if self.kind == "uniform":
            return (self.a + self.b) / 2
        if self.kind == "normal":
            return self.a
        return float(self.a * np.exp(self.b**2 / 2))


def parse_distribution(spec: object, *, field: str = "distribution") -> Distribution:
    """Parse a distribution spec.

    Raises:
        UsageError: naming ``field``, when the spec is not one of the forms above.
    """
    if isinstance(spec, bool):
        raise UsageError(f"{field}: expected a number or a distribution, got {spec!r}")
    if isinstance(spec, int | float):
        dist = Distribution("constant", float(spec))
        _check(dist, repr(spec), field)  # TOML has nan and inf: neither is a duration
        return dist
    if not isinstance(spec, str):
        raise UsageError(f"{field}: expected a number or a distribution, got {spec!r}")
    match = _SPEC.fullmatch(spec)
    if match is None or match[1] not in _ARITY:
        forms = ", ".join(f"{k}(...)" for k in _ARITY)
        raise UsageError(f"{field}: cannot read {spec!r}; use a number or one of {forms}")
    kind = match[1]
    try:
        args = [float(x) for x in match[2].split(",")] if match[2] else []
    except ValueError:
        raise UsageError(f"{field}: arguments of {spec!r} must be numbers") from None
    if len(args) != _ARITY[kind]:
        raise UsageError(f"{field}: {kind} takes {_ARITY[kind]} argument(s), got {spec!r}")
    dist = Distribution(kind, *args)  # type: ignore[arg-type]
    _check(dist, spec, field)
    return dist


def _check(dist: Distribution, spec: str, field: str) -> None:
    bad = (
        (dist.kind == "uniform" and dist.b < dist.a)
        or (dist.kind in ("normal", "lognormal") and dist.b < 0)
        or (dist.kind == "lognormal" and dist.a <= 0)
        or (dist.kind == "exponential" and dist.a <= 0)
        or any(not np.isfinite(x) for x in (dist.a, dist.b))
    )
    if bad:
        raise UsageError(f"{field}: invalid parameters in {spec!r}")


class Stream:
    """Buffered draws from one distribution with its own generator.

    ``stream()`` and ``stream.draw()`` give the next draw; ``draw`` is a C-level callable (a
    chain over the batches), for loops that draw millions of times: calling it costs a third of
    a Python ``__call__``.
    """

    __slots__ = ("_dist", "draw")

    def __init__(self, dist: Distribution, rng: np.random.Generator) -> None:
        self._dist = dist
        self.draw: Callable[[], float] = itertools.chain.from_iterable(_batches(dist, rng)).__next__

    def __call__(self) -> float:
        return self.draw()

    @property
    def distribution(self) -> Distribution:
        return self._dist


def _batches(dist: Distribution, rng: np.random.Generator) -> Iterator[list[float]]:
    while True:
        yield dist.sample(rng, _BATCH)


def stream(seed: int, name: str, dist: Distribution) -> Stream:
    """A stream whose draws depend only on ``seed`` and ``name``."""
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    return Stream(dist, np.random.default_rng([seed & 0xFFFFFFFFFFFFFFFF, key]))
