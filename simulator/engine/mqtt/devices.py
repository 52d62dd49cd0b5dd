"""The devices of this process on their own broker connections, for the planes that use a broker.

:class:`BrokerDevices` owns the device side of an MQTT run: it checks the credentials before
anything connects, raises the open-file limit (a descriptor per device), builds the connection
pool (one connection per device, client id = thing name) around the run's
:class:`~simulator.engine.mqtt.link.MqttDeviceLink`, and reports the pool's and the ledger's
numbers. Until a first device is online it also decides when a run must give up: once every
device has failed to connect (a certificate or an ACL the broker refuses never fixes itself by
retrying).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simulator.core.device import Device
from simulator.core.errors import UsageError
from simulator.engine.mqtt.link import DeviceTransport, MqttDeviceLink, TransportFactory
from simulator.engine.mqtt.options import MqttOptions
from simulator.transport.mqtt import raise_open_file_limit

__all__ = ["BrokerDevices"]


class BrokerDevices:
    """The connection pool of one run's devices, with its checks and numbers.

    Args:
        link: the devices' link (their :class:`~simulator.core.device.DeviceIO`).
        options: broker, TLS, pacing, shard, control plane.
        factory: the device-side client's constructor (``ConnectionPool``; benchmarks swap in
            a baseline client with the same signature).
    """

    def __init__(
        self, link: MqttDeviceLink, options: MqttOptions, factory: TransportFactory
    ) -> None:
        self.link = link
        self.options = options
        self._factory = factory
        self.pool: DeviceTransport | None = None
        self._connected = False

    def check_credentials(self, devices: Sequence[Device]) -> None:
        """Refuse a run whose devices have no certificate (before anything connects)."""
        self.options.check_credentials([device.name for device in devices])

    async def start(self) -> None:
        """Connect every device (the pool's ramp paces the CONNECTs)."""
        link = self.link
        names = [device.name for device in link.devices]
        raise_open_file_limit()  # a descriptor per device (the pool checks it fits)
        self.pool = pool = self._factory(
            self.options.broker,
            names,
            on_message=link.deliver,
            subscriptions=link.subscriptions,
            on_online=link.online,
            on_offline=link.offline,
            options=self.options.pool_options(names),
        )
        link.transport = pool
        await pool.start()

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    def online(self) -> int:
        return 0 if self.pool is None else self.pool.stats().online

    def check(self) -> None:
        """Until a first device is online: give up once every device has failed to connect."""
        if self._connected or self.pool is None:
            return
        stats = self.pool.stats()
        if stats.connects:
            self._connected = True
        elif stats.failures >= max(1, stats.devices) and stats.last_error is not None:
            raise UsageError(
                f"no device could connect to {self.options.broker.uri}; last error: "
                f"{stats.last_error}"
            )

    def extra(self) -> dict[str, Any]:
        """The broker side of the report's ``extra``."""
        options, ledger = self.options, self.link.ledger
        extra: dict[str, Any] = {
            "broker": options.broker.uri,
            "control_plane": options.control_plane,
            "shard": f"{options.shard.index}/{options.shard.count}",
            "terminal_answers": ledger.terminal_answers,
            "session_wakeups": ledger.wakeups,
            "devices_repeating_an_execution": len(ledger.repeated_runs()),
            **ledger.window(),
        }
        if self.pool is not None:
            stats = self.pool.stats()
            extra.update(
                connects=stats.connects,
                reconnects=stats.reconnects,
                connect_failures=stats.failures,
                connection_drops=stats.drops,
                subscribe_failures=stats.subscribe_failures,
            )
            if stats.last_error:
                extra["last_connect_error"] = stats.last_error
        return extra
