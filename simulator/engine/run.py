"""``run_scenario``: build the plane a run asks for and play the scenario over it to the end.

The run loop is :class:`~simulator.engine.runner.Runner`; the planes are in
:mod:`simulator.engine.planes`. An in-process run turns the garbage collector off while it
builds and runs its world: a run allocates millions of short-lived objects and hardly any
cycles, and full collections over 100k devices' state would cost more than the simulation.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import uvloop

from simulator.engine.planes import build_plane
from simulator.engine.runner import Progress, Runner
from simulator.engine.scenario import Scenario
from simulator.report import RunResult

if TYPE_CHECKING:
    from simulator.engine.mqtt.link import TransportFactory
    from simulator.engine.mqtt.options import MqttOptions

__all__ = ["Progress", "run_scenario"]


def run_scenario(
    scenario: Scenario,
    options: MqttOptions | None = None,
    *,
    progress: Callable[[Progress], None] | None = None,
    event_log: Path | None = None,
    transport: TransportFactory | None = None,
) -> RunResult:
    """Build and run a scenario to its end; returns the result (also when interrupted).

    Args:
        scenario: the validated scenario.
        options: an MQTT run's options (broker, control plane...); ``None`` runs in process.
        progress: called a few times a second with a :class:`Progress` snapshot.
        event_log: where to write the gzip event log (see :mod:`.eventlog`); none if ``None``.
        transport: an MQTT run's device-side client constructor (default ``ConnectionPool``).
    """
    wall_start = time.perf_counter()
    with _collector_off(enabled=options is None):
        plane = build_plane(scenario, options, transport=transport)
        if options is None:
            gc.freeze()  # what set-up built, out of the collector's way
        runner = Runner(plane, progress=progress, event_log=event_log, wall_start=wall_start)
        result: RunResult = uvloop.run(runner.run())
        return result


@contextmanager
def _collector_off(*, enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
