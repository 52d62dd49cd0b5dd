"""The control planes a run plays its scenario against, behind one seam (:class:`Plane`).

* :class:`InProcessPlane` (:mod:`.local`): emulator and devices in this process, in-process bus;
* :class:`~.embedded.EmbeddedPlane`: the same emulator on a real MQTT broker;
* :class:`~.remote.RemotePlane`: an external ``fleetsim serve`` or AWS IoT, over boto3.

The two broker planes are imported when asked for (:func:`build_plane`), so an in-process run
loads neither the MQTT transport nor boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from simulator.engine.planes.base import JobInfo, Plane, job_info, job_summary
from simulator.engine.planes.local import InProcessPlane
from simulator.engine.scenario import Scenario

if TYPE_CHECKING:
    from simulator.engine.mqtt.link import TransportFactory
    from simulator.engine.mqtt.options import MqttOptions

__all__ = [
    "InProcessPlane",
    "JobInfo",
    "Plane",
    "build_plane",
    "job_info",
    "job_summary",
    "real_clock",
]

_REAL_CLOCK_NOTE = (
    "MQTT runs use the real clock: the scenario's simulated clock (and run.start) was replaced "
    "by the wall clock"
)


def real_clock(scenario: Scenario) -> Scenario:
    """The scenario on the real clock (MQTT runs cannot simulate time: the broker is real)."""
    if scenario.run.clock == "real":
        return scenario
    run = msgspec.structs.replace(scenario.spec.run, clock="real")
    return Scenario(msgspec.structs.replace(scenario.spec, run=run), scenario.path)


def build_plane(
    scenario: Scenario,
    options: MqttOptions | None = None,
    *,
    transport: TransportFactory | None = None,
) -> Plane:
    """The plane for a run: in process without ``options``, else over the broker they name,
    with the control plane they name (embedded, a URL, or AWS).

    Args:
        scenario: the validated scenario (an MQTT run moves it to the real clock, and says so
            in the report's notes).
        options: the MQTT run's options, or ``None`` for an in-process run.
        transport: the device-side client's constructor (default ``ConnectionPool``).
    """
    if options is None:
        return InProcessPlane(scenario)
    from simulator.transport.mqtt import ConnectionPool  # noqa: PLC0415 - MQTT runs only

    factory = ConnectionPool if transport is None else transport
    moved = scenario.run.clock != "real"
    scenario = real_clock(scenario)
    plane: Plane
    if options.kind == "embedded":
        from simulator.engine.planes.embedded import EmbeddedPlane  # noqa: PLC0415

        plane = EmbeddedPlane(scenario, options, transport=factory)
    else:
        from simulator.engine.planes.remote import RemotePlane  # noqa: PLC0415 - boto3

        plane = RemotePlane(scenario, options, transport=factory)
    if moved:
        plane.notes.insert(0, _REAL_CLOCK_NOTE)
    return plane
