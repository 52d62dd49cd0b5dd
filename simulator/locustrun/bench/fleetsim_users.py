"""Locustfile of ``fleetsim bench locust``, client ``fleetsim``: our :class:`DeviceUser`.

    locust -f simulator/locustrun/bench/fleetsim_users.py --headless -u 2000 -r 1000 -t 60s \
        --scenario SCENARIO --broker mqtt://127.0.0.1:1883 --only-summary

(``SCENARIO``: the benchmark's, :data:`simulator.bench.locust.SCENARIO`; it names things only.)

Each Locust user is one device on the worker's :class:`~simulator.engine.mqtt.elastic.ElasticFleet`
(one MQTT connection per device, client id = thing name, the 5 Jobs filters of
:func:`~simulator.engine.mqtt.link.device_topics`). The device is :class:`PingDevice`, not the
scenario's: once online it publishes ``{"clientToken": ...}`` on
``$aws/things/<name>/jobs/start-next`` every 10 s, the first at a random offset in [0, 10) s so
that the fleet's requests spread evenly, and ignores every message. The fleet's
:class:`~simulator.engine.mqtt.requests.RequestTimer` pairs each request with the responder's
``start-next/accepted`` by clientToken and reports it as a Locust request ``MQTT start-next``
(a request unanswered for the scenario's ``response_timeout_s``, 10 s, is a failure).
"""

from __future__ import annotations

import random
from typing import Final

import orjson
from locust.env import Environment

from simulator.core.device import Device, DeviceState
from simulator.core.device.profile import DeviceProfile
from simulator.engine.mqtt.link import MqttDeviceLink
from simulator.locustrun import DeviceUser, install
from simulator.locustrun.bench.probe import install_probe

__all__ = ["DeviceUser", "PingDevice", "make_ping_device"]

PERIOD_S: Final = 10.0
#: Unused by PingDevice (it draws nothing, runs no job); Device wants one.
_PROFILE: Final = DeviceProfile(seed=0, steps={})
_OFFSETS: Final = random.Random(0)


class PingDevice(Device):
    """A device whose whole behaviour is one ``start-next`` request every :data:`PERIOD_S`."""

    __slots__ = ("_due", "_offset", "_requests", "_topic")

    def __init__(
        self, index: int, name: str, inventory: dict[str, str], io: MqttDeviceLink, offset: float
    ) -> None:
        super().__init__(index, name, inventory, _PROFILE, io)
        self._offset = offset
        self._due = 0.0
        self._requests = 0
        self._topic = f"$aws/things/{name}/jobs/start-next"

    def connect(self, delay: float) -> None:
        # IDLE from the start: the link's bookkeeping only looks for REQUESTING -> RUNNING etc.
        self.state = DeviceState.IDLE
        self._due = self._io.now() + delay + self._offset
        self._io.set_timer(self, delay + self._offset, 0)

    def on_timer(self, token: int) -> None:
        self._requests += 1
        body = {"clientToken": f"{self.name}:{self._requests}"}
        self._io.publish(self, self._topic, orjson.dumps(body))
        # A fixed schedule, not "10 s from now": a timer that runs late sees the heap's ``now``
        # at the wall time of the latest message, so rescheduling from it would shift every
        # late device to the same instant, and the fleet's requests would clump into bursts.
        self._due += PERIOD_S
        self._io.set_timer(self, self._due - self._io.now(), 0)

    def on_message(self, topic: str, payload: bytes) -> None:
        return  # the answer is timed by the link's RequestTimer


def make_ping_device(
    slot: int, name: str, inventory: dict[str, str], io: MqttDeviceLink, /
) -> Device:
    return PingDevice(slot, name, inventory, io, _OFFSETS.uniform(0.0, PERIOD_S))


def _online(environment: Environment) -> int:
    fleet = getattr(getattr(environment, "fleetsim", None), "fleet", None)
    return 0 if fleet is None else int(fleet.online())


install(device_factory=make_ping_device, operator=False)
install_probe(_online)
