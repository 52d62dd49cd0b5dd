"""The fleet driver: N device connections to one broker from one process.

Built for 10k+ devices (STYLE habit 12): one :class:`~simulator.transport.mqtt.connection.
Connection` object per device and no task or timer per device. Three shared mechanisms do all
the scheduling:

* **the dialer**, one task: takes device indices from a queue (every device at start, then
  reconnects whose backoff is due, kept in one heap), spends one token of a
  :class:`~simulator.transport.mqtt.ramp.TokenBucket` per CONNECT, and keeps at most
  ``max_handshakes`` connections between ``connect()`` and CONNACK; each of those is a
  short-lived task that ends at CONNACK;
* **the keepalive sweep**, one ``call_later`` chain: every second it visits the next slice of
  the connections, so that each is visited once per ``keepalive / 2`` s and the pings of a
  fleet are spread evenly instead of arriving at the broker in one burst; a visit pings only a
  connection that has been quiet (see :meth:`Connection.keepalive_tick`). At 19,000
  connections and keepalive 60 s that is ~630 visits and ~320 pings a second (measured: a
  visit costs ~0.6 µs, a ping ~8 µs);
* **the backoff heap**: a dropped or refused connection is pushed with its due time
  (:class:`~simulator.transport.mqtt.ramp.Backoff`, seeded by ``PoolOptions.seed``).

Received messages reach ``on_message(client_index, topic, payload)`` synchronously, inside the
read callback; whatever it publishes leaves in the same write as the PUBACK.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import ipaddress
import math
import random
import socket
import ssl
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from simulator.core.errors import FleetsimError, UsageError
from simulator.transport.mqtt.codec import Connect, encode
from simulator.transport.mqtt.connection import Connection, ConnectionState, MessageCallback
from simulator.transport.mqtt.errors import ConnectionRefused
from simulator.transport.mqtt.net import connection_capacity, default_sources, resolve
from simulator.transport.mqtt.ramp import Backoff, TokenBucket
from simulator.transport.mqtt.tls import TlsConfig
from simulator.transport.mqtt.uri import BrokerConfig

__all__ = ["ConnectionPool", "PoolOptions", "PoolStats"]

_S = ConnectionState


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolOptions:
    """How the pool connects. Defaults suit a local broker; for AWS IoT Core lower
    ``connect_rate`` to the account's CONNECT quota (500/s in large regions, ~100/s elsewhere).

    Attributes:
        keepalive: MQTT keepalive in seconds (0 disables pings; AWS accepts 30..1200).
        clean_session: False asks the broker to keep the session (subscriptions and queued
            QoS 1 messages) while the device is away.
        connect_rate: CONNECTs per second, initial ramp and reconnects together.
        connect_burst: CONNECTs that may go at once before the rate applies.
        max_handshakes: connections at most between TCP connect and CONNACK; keep it at or
            below the broker's listen backlog (Mosquitto: 100) or SYNs get dropped.
        connect_timeout: seconds from TCP connect to CONNACK before the attempt counts failed.
        backoff_base: first reconnect delay (jittered between half and all of it), in seconds.
        backoff_cap: longest reconnect delay.
        max_inflight: unacknowledged QoS 1 publishes per connection (AWS IoT: 100); more wait.
        seed: seeds the backoff jitter.
        source_addresses: local addresses to spread connections over (device ``i`` binds
            ``source_addresses[i % len]``); None picks 64 loopback addresses for a 127.x
            broker and lets the kernel choose otherwise; ``()`` never binds.
        tls: certificates and ALPN for ``mqtts://``; None uses the system CAs.
        username: MQTT user name (e.g. for an AWS IoT custom authorizer).
        password: MQTT password.
    """

    keepalive: int = 60
    clean_session: bool = True
    connect_rate: float = 2000.0
    connect_burst: int = 50
    max_handshakes: int = 100
    connect_timeout: float = 10.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_inflight: int = 100
    seed: int = 0
    source_addresses: tuple[str, ...] | None = None
    tls: TlsConfig | None = None
    username: str | None = None
    password: bytes | None = None

    def __post_init__(self) -> None:
        checks = {
            "keepalive must be 0..65535": 0 <= self.keepalive <= 0xFFFF,
            "connect_rate must be > 0": self.connect_rate > 0,
            "connect_burst must be >= 1": self.connect_burst >= 1,
            "max_handshakes must be >= 1": self.max_handshakes >= 1,
            "connect_timeout must be > 0": self.connect_timeout > 0,
            "need 0 < backoff_base <= backoff_cap": 0 < self.backoff_base <= self.backoff_cap,
            "max_inflight must be 1..65000": 1 <= self.max_inflight <= 65000,
        }
        for message, ok in checks.items():
            if not ok:
                raise UsageError(f"MQTT pool options: {message}")


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A snapshot of the pool's counters."""

    devices: int
    online: int
    open: int  # sockets open (any state)
    backoff: int  # waiting to reconnect
    connects: int  # accepted CONNACKs
    reconnects: int  # accepted CONNACKs after a device's first
    failures: int  # attempts that failed before CONNACK (refused, timeout, socket error)
    refused: int  # of which CONNACK return code != 0
    drops: int  # online connections lost
    subscribe_failures: int  # topic filters refused in SUBACKs
    pings: int  # PINGREQs sent by the keepalive sweep
    last_error: str | None


class ConnectionPool:
    """Connect ``client_ids`` (device ``i`` = ``client_ids[i]``, the thing name) to ``broker``.

    ``subscriptions(i)`` gives the topic filters device ``i`` subscribes to (QoS 1) on every
    connect whose session was not resumed; ``on_online(i, session_present)`` runs when the
    subscriptions are acknowledged, ``on_offline(i)`` when an online connection drops.
    """

    def __init__(
        self,
        broker: BrokerConfig,
        client_ids: Sequence[str],
        *,
        on_message: MessageCallback,
        subscriptions: Callable[[int], Sequence[str]] | None = None,
        on_online: Callable[[int, bool], None] | None = None,
        on_offline: Callable[[int], None] | None = None,
        options: PoolOptions | None = None,
    ) -> None:
        self.broker = broker
        self.options = options = options or PoolOptions()
        self.max_inflight = options.max_inflight
        self.subscription_qos: Literal[0, 1] = 1
        self.connections = [
            Connection(i, cid, self, on_message) for i, cid in enumerate(client_ids)
        ]
        self._on_message = on_message
        self._subscriptions = subscriptions
        self._capacity = 0
        self._on_online = on_online
        self._on_offline = on_offline
        self._backoff = Backoff(
            options.backoff_base, options.backoff_cap, random.Random(options.seed)
        )
        self._queue: deque[int] = deque()
        self._retry: list[tuple[float, int, int]] = []  # (due, sequence, index)
        self._sequence = 0
        self._handshakes = 0
        self._dials: set[asyncio.Task[None]] = set()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._online = self._open = 0
        self._failures = self._refused = self._drops = self._subscribe_failures = 0
        self._pings = self._cursor = 0
        self._last_error: str | None = None
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._dialer: asyncio.Task[None] | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._addresses: list[tuple[int, tuple[str, int]]] = []
        self._sources: tuple[str, ...] = ()
        self._context: ssl.SSLContext | None = None
        self._sni: str | None = None
        self._all_closed: asyncio.Future[None] | None = None
        self._bucket: TokenBucket | None = None

    # -- public ---------------------------------------------------------------------------------

    async def start(self, *, dial: bool = True) -> None:
        """Check limits, resolve the broker, and start connecting every device at the ramp rate
        (or none of them with ``dial=False``: devices then connect as :meth:`add` brings them).

        Raises:
            UsageError: more devices than this process may open sockets for, source addresses
                of the wrong family, or unreadable TLS files.
        """
        if self._dialer is not None or self._closing:
            raise RuntimeError("a ConnectionPool starts once")
        loop = self._loop = asyncio.get_running_loop()
        capacity = connection_capacity()
        if len(self.connections) > capacity:
            raise UsageError(
                f"{len(self.connections)} MQTT connections need as many file descriptors, but "
                f"this process can open only {capacity} more (RLIMIT_NOFILE, already raised to "
                "its hard limit): split the fleet into shards run by separate processes"
            )
        self._addresses = await _resolve(loop, self.broker)
        family = self._addresses[0][0]
        sources = self.options.source_addresses
        self._sources = default_sources(self._addresses[0][1][0]) if sources is None else sources
        for source in self._sources:
            if (ipaddress.ip_address(source).version == 6) != (family == socket.AF_INET6):
                raise UsageError(f"source address {source} is not of the broker's address family")
        if self.broker.tls:
            tls = self.options.tls or TlsConfig()
            self._sni = tls.server_hostname or self.broker.host
            if tls.device_credentials is None:
                self._context = tls.context(self.broker.port)
            else:
                tls.context(self.broker.port)  # fail now on a bad CA file
        self._bucket = TokenBucket(
            self.options.connect_rate, self.options.connect_burst, loop.time()
        )
        self._wake = asyncio.Event()
        if dial:
            self._queue.extend(range(len(self.connections)))
        self._capacity = capacity - len(self.connections)
        self._dialer = loop.create_task(self._dial_loop(), name="mqtt-pool-dialer")
        if self.options.keepalive:
            self._sweeper = loop.call_later(min(1.0, self.options.keepalive / 2), self._sweep)

    def add(self, client_id: str, /) -> int:
        """One more device, dialled at the ramp rate after the devices already waiting.

        For fleets that grow while they run (one device per Locust user); call it after
        :meth:`start`, on the pool's loop. Returns the device's index.

        Raises:
            UsageError: this process may not open another socket (RLIMIT_NOFILE).
        """
        assert self._wake is not None and not self._closing, "start() first; not after close()"
        if self._capacity <= 0:
            raise UsageError(
                f"{len(self.connections) + 1} MQTT connections need as many file descriptors, "
                "more than this process may open (RLIMIT_NOFILE at its hard limit): spread the "
                "devices over more worker processes (locust --processes N)"
            )
        self._capacity -= 1
        index = len(self.connections)
        self.connections.append(Connection(index, client_id, self, self._on_message))
        self._queue.append(index)
        self._wake.set()
        return index

    def hang_up(self, index: int, /) -> None:
        """DISCONNECT device ``index`` for good (it never reconnects)."""
        conn = self.connections[index]
        if conn.state is not _S.CLOSED:
            conn.close()
            self._capacity += 1

    async def wait_online(self, count: int | None = None, *, timeout: float | None = None) -> None:
        """Wait until at least ``count`` (default: all) devices are online at the same time."""
        target = len(self.connections) if count is None else count
        if self._online >= target:
            return
        assert self._loop is not None, "start() first"
        future: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append((target, future))
        async with asyncio.timeout(timeout):
            await future

    def publish(self, index: int, topic: str, payload: bytes, qos: Literal[0, 1] = 1) -> bool:
        """Publish as device ``index`` (see :meth:`Connection.publish`)."""
        return self.connections[index].publish(topic, payload, qos)

    def stats(self) -> PoolStats:
        connects = sum(c.connects for c in self.connections)
        return PoolStats(
            devices=len(self.connections),
            online=self._online,
            open=self._open,
            backoff=sum(1 for c in self.connections if c.state is _S.BACKOFF),
            connects=connects,
            reconnects=connects - sum(1 for c in self.connections if c.connects),
            failures=self._failures,
            refused=self._refused,
            drops=self._drops,
            subscribe_failures=self._subscribe_failures,
            pings=self._pings,
            last_error=self._last_error,
        )

    async def close(self, *, timeout: float = 5.0) -> None:
        """DISCONNECT every device and wait (at most ``timeout`` s) for the sockets to close."""
        self._closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        tasks = [*self._dials, *([self._dialer] if self._dialer else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for conn in self.connections:
            conn.close()
        if self._open and self._loop is not None:
            self._all_closed = self._loop.create_future()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._all_closed
        for conn in self.connections:
            conn.abort()

    # -- Owner protocol (called by the connections) ------------------------------------------

    def connect_packet(self, conn: Connection, /) -> bytes:
        opts = self.options
        return encode(
            Connect(
                conn.client_id, opts.keepalive, opts.clean_session, opts.username, opts.password
            )
        )

    def subscriptions(self, index: int, /) -> Sequence[str]:
        return self._subscriptions(index) if self._subscriptions is not None else ()

    def opened(self, conn: Connection, /) -> None:
        self._open += 1

    def online(self, conn: Connection, /) -> None:
        self._online += 1
        if self._on_online is not None:
            self._on_online(conn.index, conn.session_present)
        if self._waiters:
            still = []
            for target, future in self._waiters:
                if self._online >= target:
                    if not future.done():
                        future.set_result(None)
                else:
                    still.append((target, future))
            self._waiters = still

    def offline(self, conn: Connection, dropped: bool, /) -> None:
        self._online -= 1
        self._drops += dropped
        if self._on_offline is not None:
            self._on_offline(conn.index)

    def lost(self, conn: Connection, /) -> None:
        self._open -= 1
        if conn.state is _S.CLOSED or self._closing:
            conn.state = _S.CLOSED
            if not self._open and self._all_closed is not None and not self._all_closed.done():
                self._all_closed.set_result(None)
            return
        self._schedule_retry(conn)

    def subscribe_failed(self, conn: Connection, refused: Sequence[str], /) -> None:
        self._subscribe_failures += len(refused)
        self._last_error = (
            f"{conn.client_id}: {len(refused)} topic filter(s) refused in SUBACK "
            f"({', '.join(refused)})"
        )

    # -- scheduling -------------------------------------------------------------------------------

    def _schedule_retry(self, conn: Connection) -> None:
        if conn.state is _S.BACKOFF or conn.state is _S.CLOSED or self._closing:
            return
        conn.state = _S.BACKOFF
        assert self._loop is not None and self._wake is not None
        due = self._loop.time() + self._backoff.delay(conn.attempts)
        conn.attempts += 1
        self._sequence += 1
        heapq.heappush(self._retry, (due, self._sequence, conn.index))
        self._wake.set()

    async def _dial_loop(self) -> None:
        loop, wake, queue, retry = self._loop, self._wake, self._queue, self._retry
        assert loop is not None and wake is not None
        limit, bucket = self.options.max_handshakes, self._bucket
        assert bucket is not None
        while True:
            now = loop.time()
            while retry and retry[0][0] <= now:
                queue.append(heapq.heappop(retry)[2])
            if queue and self._handshakes < limit:
                wait = bucket.take(now)
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                conn = self.connections[queue.popleft()]
                if conn.state is _S.CLOSED:
                    continue
                conn.state = _S.CONNECTING
                self._handshakes += 1
                task = loop.create_task(self._dial(conn))
                self._dials.add(task)
                task.add_done_callback(self._dials.discard)
                continue
            wake.clear()
            timeout = max(0.0, retry[0][0] - now) if retry and not queue else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await wake.wait()

    def _tls_context(self, index: int) -> ssl.SSLContext | None:
        if not self.broker.tls or self._context is not None:
            return self._context
        tls = self.options.tls
        assert tls is not None and tls.device_credentials is not None
        return tls.context(self.broker.port, tls.device_credentials(index))

    async def _dial(self, conn: Connection) -> None:
        loop = self._loop
        assert loop is not None
        family, address = self._addresses[conn.index % len(self._addresses)]
        sources = self._sources
        try:
            context = self._tls_context(conn.index)
            async with asyncio.timeout(self.options.connect_timeout):
                await conn.dial(
                    family,
                    address,
                    source=sources[conn.index % len(sources)] if sources else None,
                    context=context,
                    server_hostname=self._sni,
                )
        except (OSError, TimeoutError, FleetsimError) as exc:  # incl. SSLError, MqttError
            self._failures += 1
            self._refused += isinstance(exc, ConnectionRefused)
            self._last_error = f"{conn.client_id}: {exc!r}"
            if not conn.abort():  # with a socket, connection_lost schedules the retry
                self._schedule_retry(conn)
        finally:
            self._handshakes -= 1
            if self._wake is not None:
                self._wake.set()

    def _sweep(self) -> None:
        conns = self.connections
        period = self.options.keepalive / 2  # each connection is visited once per period
        step = min(1.0, period)
        count = min(len(conns), math.ceil(len(conns) * step / period))
        start = self._cursor
        pings = 0
        for k in range(start, start + count):
            pings += conns[k % len(conns)].keepalive_tick()
        self._cursor = (start + count) % len(conns) if conns else 0
        self._pings += pings
        assert self._loop is not None
        self._sweeper = self._loop.call_later(step, self._sweep)


async def _resolve(
    loop: asyncio.AbstractEventLoop, broker: BrokerConfig
) -> list[tuple[int, tuple[str, int]]]:
    """The broker's addresses (device ``i`` dials address ``i % len``)."""
    try:
        return await resolve(loop, broker.host, broker.port)
    except OSError as exc:
        raise UsageError(f"cannot resolve MQTT broker {broker.host!r}: {exc}") from None
