"""One of the bridge's connections to the broker, kept open: dial, subscribe, back off, again.

The MQTT protocol itself (CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBACK, keepalive pings, the
packet ids) is :class:`~simulator.transport.mqtt.connection.Connection`, the same client every
simulated device uses; a :class:`BrokerClient` is that connection's
:class:`~simulator.transport.mqtt.connection.Owner` with what only the bridge needs:

* **fail fast, then retry for ever.** Before the first connection succeeds, a refusal that
  retrying cannot fix (CONNACK "not authorized", a SUBACK failure from the ACL, a TLS
  certificate either side rejects) fails :attr:`BrokerClient.first` with
  :class:`~simulator.core.errors.UsageError`; a broker that is not up yet is retried, and so is
  everything after the first success (exponential backoff with jitter);
* **clean sessions, lost messages counted.** Publishes that the broker had not acknowledged
  when a connection dropped are forgotten rather than re-sent late; the bridge drops (and
  counts) what it publishes while the connection is not online;
* **a burst, one write.** Publishes made outside a read (broadcasts) are gathered until the
  loop's next turn (:meth:`Connection.cork`), as those made inside one are.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from simulator.core.errors import UsageError
from simulator.transport.mqtt.codec import Connect, encode
from simulator.transport.mqtt.connection import Connection, ConnectionState, MessageCallback
from simulator.transport.mqtt.errors import ConnectionRefused, MqttError, ProtocolError
from simulator.transport.mqtt.net import resolve
from simulator.transport.mqtt.ramp import Backoff
from simulator.transport.mqtt.tls import TlsConfig
from simulator.transport.mqtt.uri import BrokerConfig

__all__ = ["BrokerClient", "ClientOptions", "SubscriptionRefused"]

_log = logging.getLogger("simulator.transport.broker")
_S = ConnectionState
#: Unacknowledged QoS 1 publishes at most (packet ids run out at 65,535); more are dropped.
MAX_UNACKNOWLEDGED: Final = 65_000


class SubscriptionRefused(MqttError):
    """The broker answered SUBACK with failure (0x80) for a request filter: an ACL refusal."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientOptions:
    """What one connection of the bridge needs (a slice of its ``BridgeConfig``)."""

    broker: BrokerConfig
    tls: TlsConfig | None
    client_id: str
    username: str | None
    keepalive: int
    request_qos: Literal[0, 1]
    reconnect_base: float
    reconnect_cap: float
    connect_timeout: float


class BrokerClient:
    """Keeps one connection open and subscribed to ``filters``; ``deliver(index, ...)`` gets
    every request published on them, ``on_lost()`` runs when a serving connection drops.

    Owns one :class:`Connection` for its whole life (:attr:`connection`); :meth:`run` is its
    one task.
    """

    max_inflight: Final = MAX_UNACKNOWLEDGED

    def __init__(
        self,
        options: ClientOptions,
        index: int,
        filters: tuple[str, ...],
        deliver: MessageCallback,
        *,
        on_lost: Callable[[], None],
        rng: random.Random,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.options = options
        self.filters = filters
        self.connection = Connection(index, options.client_id, self, deliver)
        self.first: asyncio.Future[None] = loop.create_future()
        self._on_lost = on_lost
        self._loop = loop
        self._connect = encode(
            Connect(options.client_id, keepalive=options.keepalive, username=options.username)
        )
        self._backoff = Backoff(options.reconnect_base, options.reconnect_cap, rng)
        self._subscribed: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] | None = None
        self._ping: asyncio.TimerHandle | None = None

    @property
    def subscription_qos(self) -> Literal[0, 1]:
        return self.options.request_qos

    @property
    def serving(self) -> bool:
        """Connected and subscribed to every request filter."""
        return self.connection.state is _S.ONLINE

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, /) -> bool:
        """Publish at QoS 1, in the write of the read being handled (a reply) or, outside one,
        gathered with the rest of the burst until the loop's next turn (broadcasts).

        Returns False, having sent nothing, unless the connection is subscribed (or
        subscribing) and the broker acknowledges: a clean-session client drops what it
        cannot send, as AWS IoT does.
        """
        conn = self.connection
        if conn.cork():
            self._loop.call_soon(conn.uncork)
        return conn.publish(topic, payload, 1, queue=False)

    # -- the task -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve until the connection drops, back off, reconnect; until cancelled."""
        options = self.options
        client_id = options.client_id
        attempt = 0
        while True:
            try:
                await asyncio.wait_for(self._open(), options.connect_timeout)
            except (ConnectionRefused, SubscriptionRefused, ssl.SSLError, UsageError) as exc:
                if not self.first.done():  # retrying cannot fix it: report it and stop
                    self.first.set_exception(UsageError(f"mqtt: {describe(exc)}"))
                    return
                _log.warning("mqtt: %s: %s", client_id, describe(exc))
            except (OSError, TimeoutError, ProtocolError) as exc:
                delay = self._backoff.delay(attempt)
                _log.warning(
                    "mqtt: cannot reach %s (%s); retrying in %.1f s",
                    options.broker.uri,
                    describe(exc),
                    delay,
                )
                attempt += 1
                await asyncio.sleep(delay)
                continue
            except Exception:  # a bug must not end reconnecting for good
                _log.exception("mqtt: %s: connecting failed", client_id)
            else:
                if self.first.done():
                    _log.warning("mqtt: %s reconnected to %s", client_id, options.broker.uri)
                else:
                    self.first.set_result(None)
                attempt = 0
                assert self._closed is not None
                await asyncio.shield(self._closed)  # cancelling run() must not cancel it
                self._on_lost()
                _log.warning("mqtt: %s lost the broker connection; reconnecting", client_id)
            delay = self._backoff.delay(attempt)
            attempt += 1
            await asyncio.sleep(delay)

    async def _open(self) -> None:
        options, conn, loop = self.options, self.connection, self._loop
        self._subscribed = subscribed = loop.create_future()
        self._closed = loop.create_future()
        context: ssl.SSLContext | None = None
        sni: str | None = None
        if options.broker.tls:
            tls = options.tls or TlsConfig()
            context = tls.context(options.broker.port)
            sni = tls.server_hostname or options.broker.host
        try:
            addresses = await resolve(loop, options.broker.host, options.broker.port)
            for position, (family, address) in enumerate(addresses):
                conn.state = _S.CONNECTING
                try:
                    await conn.dial(family, address, context=context, server_hostname=sni)
                    break
                except OSError:  # as create_connection(host): try the next address
                    if conn.abort() or position == len(addresses) - 1:
                        raise
            await subscribed
        except BaseException:
            conn.abort()
            raise

    async def close(self, timeout: float) -> None:
        """DISCONNECT after what is queued; wait (at most ``timeout`` s) for the socket to go."""
        closed = self._closed
        self.connection.close()
        if closed is not None:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(closed)
            except TimeoutError:
                self.connection.abort()

    # -- Owner (called by the connection) -------------------------------------------------------

    def connect_packet(self, conn: Connection, /) -> bytes:
        return self._connect

    def subscriptions(self, index: int, /) -> Sequence[str]:
        return self.filters

    def opened(self, conn: Connection, /) -> None:
        if self.options.keepalive:
            self._ping = self._loop.call_later(self.options.keepalive / 2, self._keepalive)

    def online(self, conn: Connection, /) -> None:
        if self._subscribed is not None and not self._subscribed.done():
            self._subscribed.set_result(None)

    def offline(self, conn: Connection, dropped: bool, /) -> None:
        pass

    def lost(self, conn: Connection, /) -> None:
        if self._ping is not None:
            self._ping.cancel()
            self._ping = None
        conn.discard_unacknowledged()  # sessions are clean: the broker forgot them as well
        if conn.state is not _S.CLOSED:
            conn.state = _S.BACKOFF
        subscribed = self._subscribed
        if subscribed is not None and not subscribed.done():
            subscribed.set_exception(ConnectionResetError("connection closed by broker"))
            subscribed.exception()  # retrieved here: run() may be waiting on CONNACK instead
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def subscribe_failed(self, conn: Connection, refused: Sequence[str], /) -> None:
        subscribed = self._subscribed
        if subscribed is not None and not subscribed.done():
            subscribed.set_exception(
                SubscriptionRefused(f"broker refused the subscription to {', '.join(refused)}")
            )
        conn.abort()

    def _keepalive(self) -> None:
        self.connection.keepalive_tick()
        self._ping = self._loop.call_later(self.options.keepalive / 2, self._keepalive)


def describe(exc: BaseException) -> str:
    """One line for a failed connection attempt."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: the broker's certificate was rejected: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, UsageError):
        return exc.message
    return str(exc) or type(exc).__name__
