"""The embedded control plane on a broker: the in-process world, wired to MQTT instead of the bus.

:class:`MqttWorld` is :class:`~simulator.engine.world.World` (catalog, registry, groups,
``$package``, jobs, writers and the consistency tracker built exactly as for an in-process run)
with its transport hooks pointed at a broker: the services publish through the emulator's
:class:`~simulator.transport.broker.Bridge` (its own connection(s)), the devices talk through an
:class:`~simulator.engine.mqtt.link.MqttDeviceLink`, the heap runs on the wall clock, and
devices come online when their connections do. The world is also the bridge's request handler:
a request is served on the wall clock and attributed to its writer as on the bus.
"""

from __future__ import annotations

import dataclasses
import time

from simulator.core.arn import Scope
from simulator.engine.world import EngineLink, World
from simulator.engine.heap import EventHeap
from simulator.engine.mqtt.clock import WallClockHeap
from simulator.engine.mqtt.link import MqttDeviceLink
from simulator.engine.scenario import Scenario
from simulator.services.controlplane import EmulatorOptions
from simulator.services.runtime import Publisher
from simulator.transport.broker import Bridge

__all__ = ["BridgePublisher", "MqttWorld"]


class BridgePublisher:
    """The services' publisher: the bridge, for the topics some device subscribes to."""

    __slots__ = ("_bridge", "_wanted", "delivered")

    def __init__(self, bridge: Bridge, wanted: Publisher) -> None:
        self._bridge = bridge
        self._wanted = wanted
        self.delivered = 0

    def publish(self, topic: str, payload: bytes, /) -> None:
        self.delivered += 1
        self._bridge.publish(topic, payload)

    def subscribed(self, topic: str, /) -> bool:
        return self._wanted.subscribed(topic)


class MqttWorld(World):
    """A scenario's world whose devices and services meet on a broker."""

    def __init__(
        self, scenario: Scenario, bridge: Bridge, *, rollout_per_minute: int | None = None
    ) -> None:
        self.bridge = bridge
        self.rollout_per_minute = rollout_per_minute
        super().__init__(scenario)
        self.mqtt_link.attach(self.devices)

    # -- World's transport hooks ------------------------------------------------------------

    def _new_heap(self, start: float) -> EventHeap:
        self.wall_heap = WallClockHeap(start)
        return self.wall_heap

    def _emulator_options(self, scope: Scope) -> EmulatorOptions:
        options = super()._emulator_options(scope)
        rate = self.rollout_per_minute
        if rate is None:
            return options
        # Beyond AWS (~1,000/min): a real-clock run of a large fleet would take minutes per
        # thousand devices, and a throughput benchmark would measure the rollout rate.
        jobs = dataclasses.replace(
            options.jobs, default_rollout_per_minute=rate, max_rollout_per_minute=rate
        )
        return dataclasses.replace(options, jobs=jobs)

    def _publisher(self) -> Publisher:
        # The in-process CloudLink knows which topics the fleet's devices subscribe to.
        self.publisher = BridgePublisher(self.bridge, self.cloud)
        return self.publisher

    def _device_link(self) -> EngineLink:
        self.mqtt_link = MqttDeviceLink(self.wall_heap, self._inventory_changed)
        return self.mqtt_link

    def _connect_devices(self) -> None:
        """Nothing to schedule: a device comes online when its MQTT connection does."""

    # -- the bridge's RequestHandler --------------------------------------------------------

    def handle(self, topic: str, payload: bytes, /) -> list[tuple[str, bytes]]:
        self.wall_heap.advance(time.time())
        return self._dispatch(topic, payload)
