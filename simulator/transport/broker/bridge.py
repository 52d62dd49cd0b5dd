"""The emulator's side of an MQTT broker: requests in, replies and broadcasts out.

Devices publish Jobs and Shadow requests to the broker (Mosquitto); the bridge subscribes to the
request topics (:data:`REQUEST_FILTERS`), runs each through a :class:`RequestHandler` (in
practice :class:`simulator.api.mqtt.dispatch.MqttApi`, wired by ``fleetsim serve``: a transport
never imports the API layer) and publishes the replies. It is also the services'
:class:`~simulator.services.runtime.Publisher`: ``notify``, ``notify-next``, shadow
``/update/accepted``, ``/documents`` and ``/delta`` leave through it at QoS 1, whichever API
(HTTP or MQTT) made the change.

It never answers its own publications: the request filters and the reply/broadcast topics are
disjoint (a reply topic has one more level, or ends in ``accepted``/``rejected``/``delta``/
``documents``), and the codecs ignore reply topics anyway.

**Spreading the load.** ``connections=K`` opens K connections and gives each a share of the ten
request filters (round robin, start-next and ``{jobId}/update`` on different connections). MQTT 5
shared subscriptions (``$share/group/...``) would spread by message instead, but Mosquitto 2.0.11
(Debian's) never routes a ``$``-topic to a shared subscription: it files ``$share/g/$aws/...``
under the non-``$`` root of its subscription tree (measured; see the "MQTT bridge" section of
``benchmarks/RESULTS.md``). Everything runs on the one event loop, because the services are
single-threaded; the connections help when one socket, not the CPU, is the limit.

**Failures.** A connection that drops is reopened with exponential backoff and jitter, and the
subscriptions made again (sessions are clean: a broker killed with SIGKILL forgets them anyway).
Messages published while no connection is up are dropped and counted, as AWS IoT drops QoS 1
messages for a clean-session device that is offline. Before the first connection succeeds, a
refusal that retrying cannot fix (CONNACK "not authorized", a SUBACK failure from the ACL, a TLS
certificate the broker or the bridge rejects) raises :class:`~simulator.core.errors.UsageError`;
a broker that is merely not up yet is retried. A request whose handling raises is logged and
counted, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from simulator.core.errors import UsageError
from simulator.transport.broker.client import BrokerClient, ClientOptions
from simulator.transport.mqtt.tls import TlsConfig
from simulator.transport.mqtt.uri import BrokerConfig

__all__ = [
    "REQUEST_FILTERS",
    "Bridge",
    "BridgeConfig",
    "BridgeStats",
    "RequestHandler",
    "partition_filters",
]

_log = logging.getLogger("simulator.transport.broker")

#: The request topics of the Jobs and Device Shadow MQTT APIs, busiest first.
REQUEST_FILTERS: Final = (
    "$aws/things/+/jobs/start-next",
    "$aws/things/+/jobs/+/update",
    "$aws/things/+/shadow/name/+/update",
    "$aws/things/+/shadow/update",
    "$aws/things/+/jobs/get",
    "$aws/things/+/jobs/+/get",
    "$aws/things/+/shadow/name/+/get",
    "$aws/things/+/shadow/get",
    "$aws/things/+/shadow/name/+/delete",
    "$aws/things/+/shadow/delete",
)
MAX_CONNECTIONS: Final = len(REQUEST_FILTERS)


class RequestHandler(Protocol):
    """Serves one request publish; returns the (topic, payload) replies for the requester."""

    def handle(self, topic: str, payload: bytes, /) -> list[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeConfig:
    """How the bridge reaches the broker.

    Attributes:
        broker: host, port and TLS flag (``parse_broker_uri``).
        tls: CA and client certificate for ``mqtts://``; ``None`` uses the system CAs.
        client_id: MQTT client id; connection ``i`` of several uses ``{client_id}-{i}``.
        username: MQTT user name (the ACL identity on a broker without TLS identities).
        connections: how many connections share the request filters (1..10).
        keepalive: MQTT keep-alive, seconds.
        request_qos: QoS of the request subscriptions.
        reconnect_base: first reconnect delay, seconds (doubling, with jitter).
        reconnect_cap: longest reconnect delay, seconds.
        connect_timeout: seconds for TCP/TLS connect plus CONNACK and SUBACK.
    """

    broker: BrokerConfig
    tls: TlsConfig | None = None
    client_id: str = "fleetsim-emulator"
    username: str | None = None
    connections: int = 1
    keepalive: int = 60
    request_qos: Literal[0, 1] = 1
    reconnect_base: float = 0.25
    reconnect_cap: float = 30.0
    connect_timeout: float = 10.0

    def __post_init__(self) -> None:
        if not 1 <= self.connections <= MAX_CONNECTIONS:
            raise UsageError(
                f"--mqtt-connections must be 1..{MAX_CONNECTIONS} (one request filter each "
                f"at most), not {self.connections}"
            )
        if not self.client_id or len(self.client_id.encode()) > 60:
            raise UsageError("--mqtt-client-id must be 1-60 bytes")


@dataclass(slots=True)
class BridgeStats:
    """Counters since start (read by benchmarks and tests)."""

    requests: int = 0
    replies: int = 0
    broadcasts: int = 0
    dropped: int = 0
    handler_errors: int = 0
    reconnects: int = 0


def partition_filters(connections: int) -> list[tuple[str, ...]]:
    """Request filters of each connection: round robin over :data:`REQUEST_FILTERS`."""
    return [REQUEST_FILTERS[i::connections] for i in range(connections)]


class Bridge:
    """K connections to one broker, serving requests and publishing for the services.

    Create it before the control plane (it is the plane's publisher), then ``await
    start(handler)`` once the handler exists.
    """

    def __init__(self, config: BridgeConfig, *, rng: random.Random | None = None) -> None:
        self.config = config
        self.rng = rng or random.Random()
        self.stats = BridgeStats()
        self._handler: RequestHandler | None = None
        self._clients: list[BrokerClient] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._current: BrokerClient | None = None

    # -- Publisher -------------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, /) -> None:
        """Publish a broadcast at QoS 1.

        While a request is being served, on that request's connection (so a device sees the
        broadcasts its request caused in order with its reply); otherwise on the first open
        connection. Dropped and counted when none is open.
        """
        client = self._current or self._online_client()
        self.stats.broadcasts += 1
        if client is None or not client.publish(topic, payload):
            self.stats.dropped += 1

    def subscribed(self, topic: str, /) -> bool:
        # The broker knows who listens, the bridge does not: build every message.
        return True

    def _online_client(self) -> BrokerClient | None:
        for client in self._clients:
            if client.serving:
                return client
        return None

    # -- serving ---------------------------------------------------------------------------

    def _serve(self, index: int, topic: str, payload: bytes, /) -> None:
        handler = self._handler
        if handler is None:
            return
        self.stats.requests += 1
        self._current = client = self._clients[index]
        try:
            replies = handler.handle(topic, payload)
        except Exception:  # a bug must not take the emulator down: log it, keep serving
            self.stats.handler_errors += 1
            _log.exception("mqtt: request on %s failed", topic[:200])
            return
        finally:
            self._current = None
        self.stats.replies += len(replies)
        publish = client.connection.publish  # inside its read: the replies join its write
        for reply_topic, reply in replies:
            if not publish(reply_topic, reply, 1, queue=False):
                self.stats.dropped += 1

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, handler: RequestHandler) -> None:
        """Connect every connection and subscribe; return once all are serving.

        Retries while the broker is unreachable. Raises:
            UsageError: the broker refused the bridge (identity, ACL, TLS); nothing keeps
                running then.
        """
        if self._tasks:
            raise RuntimeError("bridge already started")
        self._handler = handler
        groups = partition_filters(self.config.connections)
        self._clients = [
            BrokerClient(
                self._client_options(i), i, filters, self._serve, on_lost=self._lost, rng=self.rng
            )
            for i, filters in enumerate(groups)
        ]
        self._tasks = [asyncio.create_task(client.run()) for client in self._clients]
        try:
            await asyncio.gather(*(client.first for client in self._clients))
        except BaseException:
            await self.close()
            raise

    def _lost(self) -> None:
        self.stats.reconnects += 1

    def _client_options(self, index: int) -> ClientOptions:
        config = self.config
        return ClientOptions(
            broker=config.broker,
            tls=config.tls,
            client_id=(
                config.client_id if config.connections == 1 else f"{config.client_id}-{index}"
            ),
            username=config.username,
            keepalive=config.keepalive,
            request_qos=config.request_qos,
            reconnect_base=config.reconnect_base,
            reconnect_cap=config.reconnect_cap,
            connect_timeout=config.connect_timeout,
        )

    async def close(self) -> None:
        """DISCONNECT every connection and stop reconnecting."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for client in self._clients:
            await client.close(timeout=2.0)
        self._tasks = []
