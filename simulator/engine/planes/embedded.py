"""The emulator in this process on a real MQTT broker: :class:`EmbeddedPlane`.

:class:`BrokerWorld` is :class:`~simulator.engine.world.World` (catalog, registry, groups,
``$package``, jobs, writers and the consistency tracker built exactly as for an in-process run)
with its transport hooks pointed at a broker: the services publish through the emulator's
:class:`~simulator.transport.broker.Bridge` (its own connection(s)), the devices talk through an
:class:`~simulator.engine.mqtt.link.MqttDeviceLink` on their own connections
(:class:`~simulator.engine.mqtt.devices.BrokerDevices`), the heap runs on the wall clock, and
devices come online when their connections do. The world is also the bridge's request handler:
a request is served on the wall clock and attributed to its writer as on the bus.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from typing import Any

from simulator.core.arn import Scope
from simulator.core.errors import UsageError
from simulator.engine.eventlog import EventLog
from simulator.engine.heap import WallClockHeap
from simulator.engine.mqtt.devices import BrokerDevices
from simulator.engine.mqtt.link import MqttDeviceLink, TransportFactory
from simulator.engine.mqtt.options import MqttOptions
from simulator.engine.planes.local import WorldPlane
from simulator.engine.scenario import Scenario
from simulator.engine.world import EngineLink, World
from simulator.services.controlplane import EmulatorOptions
from simulator.services.runtime import Publisher
from simulator.transport.broker import Bridge, BridgeStats
from simulator.transport.mqtt import ConnectionPool

__all__ = ["BridgePublisher", "BrokerWorld", "EmbeddedPlane"]


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


class BrokerWorld(World):
    """A scenario's world whose devices and services meet on a broker (real clock)."""

    def __init__(
        self, scenario: Scenario, bridge: Bridge, *, rollout_per_minute: int | None = None
    ) -> None:
        assert scenario.run.clock == "real", "a broker runs on the real clock"
        self.bridge = bridge
        self.rollout_per_minute = rollout_per_minute
        super().__init__(scenario)
        self.mqtt_link.attach(self.devices)

    # -- World's transport hooks ------------------------------------------------------------

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
        assert isinstance(self.heap, WallClockHeap)
        self.wall_heap = self.heap
        self.mqtt_link = MqttDeviceLink(self.heap, self._inventory_changed)
        return self.mqtt_link

    def _connect_devices(self) -> None:
        """Nothing to schedule: a device comes online when its MQTT connection does."""

    # -- the bridge's RequestHandler --------------------------------------------------------

    def handle(self, topic: str, payload: bytes, /) -> list[tuple[str, bytes]]:
        self.wall_heap.advance(time.time())
        return self._dispatch(topic, payload)


class EmbeddedPlane(WorldPlane):
    """The emulator in this process, on the broker through its bridge; the devices on their
    own connections.

    Args:
        scenario: the validated scenario, on the real clock.
        options: broker, TLS, pacing (``control_plane`` is ``embedded``).
        transport: the device-side client's constructor.
        open_timeout_s: how long the bridge may take to connect.
    """

    def __init__(
        self,
        scenario: Scenario,
        options: MqttOptions,
        *,
        transport: TransportFactory = ConnectionPool,
        open_timeout_s: float = 30.0,
    ) -> None:
        self.bridge = Bridge(options.bridge_config(), rng=random.Random(scenario.run.seed))
        world = BrokerWorld(scenario, self.bridge, rollout_per_minute=options.rollout_per_minute)
        super().__init__(world)
        self.world: BrokerWorld = world
        self.link = world.mqtt_link
        self.open_timeout_s = open_timeout_s
        self.broker = BrokerDevices(world.mqtt_link, options, transport)
        if scenario.faults:
            self.notes.append(
                "the scenario's [[faults]] are played on the in-process bus only; this run "
                "over MQTT plays none"
            )
        if options.rollout_per_minute is not None:
            self.notes.append(
                f"the embedded emulator released up to {options.rollout_per_minute:,} "
                "executions per minute per job (--rollout-rate; AWS IoT: about 1,000)"
            )

    @property
    def transport(self) -> str:
        return "mqtt"

    async def open(self) -> None:
        self.broker.check_credentials(self.devices)
        config = self.bridge.config
        try:
            async with asyncio.timeout(self.open_timeout_s):
                await self.bridge.start(self.world)
        except TimeoutError:
            raise UsageError(
                f"the emulator could not connect to the broker {config.broker.uri} within "
                f"{self.open_timeout_s:g} s"
            ) from None

    async def connect(self, log: EventLog | None) -> None:
        self.link.log = log
        if log is not None:
            self.world.record_history(log)
        await self.broker.start()

    async def close(self) -> None:
        await self.broker.close()
        await self.bridge.close()

    def check(self) -> None:
        self.broker.check()

    def online(self) -> int:
        return self.broker.online()

    def messages(self) -> tuple[int, int]:
        return self.link.sent, self.link.received

    def extra(self) -> dict[str, Any]:
        stats: BridgeStats = self.bridge.stats
        return {
            **self.broker.extra(),
            "bridge_requests": stats.requests,
            "bridge_replies": stats.replies,
            "bridge_broadcasts": stats.broadcasts,
            "bridge_dropped": stats.dropped,
            "bridge_handler_errors": stats.handler_errors,
            "bridge_reconnects": stats.reconnects,
        }
