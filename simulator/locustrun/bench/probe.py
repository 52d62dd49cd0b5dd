"""The measuring side of ``fleetsim bench locust`` inside a Locust process (both locustfiles).

Locust's own statistics cover the whole run, ramp included; the benchmark wants a steady window.
So each locustfile installs this probe, which talks to the benchmark through files in the
directory named by ``FLEETSIM_BENCH_DIR`` (nothing happens without it, so the locustfiles also
run by hand):

* every 0.25 s it writes ``status.json``: ``{"users", "online", "at"}`` (``online``: devices
  connected and subscribed, as the locustfile counts them);
* when ``start`` appears it begins to record every ``events.request`` (the response time of each
  successful ``start-next``, failures of any name); when ``stop`` appears it stops and writes
  ``result.json``: ``{"seconds", "requests", "failures", "p50_ms", "p99_ms", "max_ms",
  "failures_total", "errors"}``. ``failures_total`` counts failures from the process start.

Recording appends one float per request; the percentiles are computed once, at the end, exactly
(nearest rank over every response of the window), not from Locust's rounded histogram.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import gevent
from locust import events
from locust.env import Environment

__all__ = ["REQUEST_NAME", "install_probe", "raise_open_file_limit"]

#: The request both clients report (publish -> answer on ``start-next/accepted``).
REQUEST_NAME: Final = "start-next"
_POLL_S: Final = 0.25


def raise_open_file_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit (Locust itself stops at 10,000)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class _Probe:
    def __init__(self, directory: Path, online: Callable[[Environment], int]) -> None:
        self.directory = directory
        self.online = online
        self.recording = False
        self.times: list[float] = []
        self.failures = 0
        self.failures_total = 0
        self.errors: Counter[str] = Counter()

    def on_request(
        self, name: str, response_time: float, exception: BaseException | None, **_: Any
    ) -> None:
        if exception is not None:
            self.failures_total += 1
            if self.recording:
                self.failures += 1
                self.errors[f"{name}: {exception}"[:120]] += 1
        elif self.recording and name == REQUEST_NAME:
            self.times.append(response_time)

    def watch(self, environment: Environment) -> None:
        start, stop = self.directory / "start", self.directory / "stop"
        began = ended = 0.0
        while True:
            runner = environment.runner
            users = 0 if runner is None else runner.user_count
            self._write("status.json", {"users": users, "online": self.online(environment)})
            if not self.recording and not began and start.exists():
                self.times, self.failures, self.errors = [], 0, Counter()
                self.recording, began = True, time.time()
            elif self.recording and stop.exists():
                self.recording, ended = False, time.time()
                self._result(ended - began)
            gevent.sleep(_POLL_S)

    def _result(self, seconds: float) -> None:
        ordered = sorted(self.times)
        self._write(
            "result.json",
            {
                "seconds": seconds,
                "requests": len(ordered),
                "failures": self.failures,
                "p50_ms": _percentile(ordered, 0.50),
                "p99_ms": _percentile(ordered, 0.99),
                "max_ms": ordered[-1] if ordered else math.nan,
                "failures_total": self.failures_total,
                "errors": dict(self.errors.most_common(5)),
            },
        )

    def _write(self, name: str, data: dict[str, Any]) -> None:
        data["at"] = time.time()
        temporary = self.directory / f".{name}"
        temporary.write_text(json.dumps(data))
        temporary.replace(self.directory / name)  # readers never see half a file


def install_probe(online: Callable[[Environment], int]) -> None:
    """Hook the probe into Locust's events when ``FLEETSIM_BENCH_DIR`` is set."""
    raise_open_file_limit()
    directory = os.environ.get("FLEETSIM_BENCH_DIR")
    if not directory:
        return
    probe = _Probe(Path(directory), online)
    hooks: Any = events
    hooks.request.add_listener(probe.on_request)

    def _init(environment: Environment, **_: Any) -> None:
        gevent.spawn(probe.watch, environment)

    hooks.init.add_listener(_init)
