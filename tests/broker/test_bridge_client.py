"""The bridge in this process, on its one MQTT client (``transport.mqtt.Connection``): requests
and broadcasts on a real Mosquitto, its counters across a broker restart, and, against a scripted
peer, what Mosquitto will not do (refuse a subscription, stop answering pings).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from simulator.core.errors import UsageError
from simulator.transport.broker import REQUEST_FILTERS, Bridge, BridgeConfig
from simulator.transport.mqtt import ConnectionPool, PoolOptions, parse_broker_uri
from simulator.transport.mqtt.codec import (
    ConnAck,
    Connect,
    Decoder,
    Packet,
    PingReq,
    SubAck,
    Subscribe,
    encode,
)
from tests.mqtt_broker import Mosquitto
from tests.transport.conftest import Inbox, eventually

THING = "$aws/things/car-1"


class Echo:
    """A RequestHandler answering each request on ``{topic}/accepted`` with its payload."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    def handle(self, topic: str, payload: bytes, /) -> list[tuple[str, bytes]]:
        self.requests.append(topic)
        return [(f"{topic}/accepted", payload)]


def _config(uri: str, **options: Any) -> BridgeConfig:
    return BridgeConfig(
        broker=parse_broker_uri(uri), reconnect_base=0.05, reconnect_cap=0.2, **options
    )


@contextlib.asynccontextmanager
async def _device(uri: str, inbox: Inbox) -> AsyncIterator[ConnectionPool]:
    pool = ConnectionPool(
        parse_broker_uri(uri),
        ["car-1"],
        on_message=inbox,
        subscriptions=lambda _: [f"{THING}/jobs/#"],
        options=PoolOptions(backoff_base=0.05, backoff_cap=0.2, source_addresses=()),
    )
    await pool.start()
    try:
        await pool.wait_online(timeout=30)
        yield pool
    finally:
        await pool.close()


async def _round_trip(pool: ConnectionPool, inbox: Inbox, token: bytes) -> None:
    """A request answered; asked again every half second (the bridge may still be subscribing
    after a restart, and the broker drops a request nobody subscribes to)."""

    def answers() -> list[tuple[str, bytes]]:
        return [(topic, payload) for _, topic, payload in inbox.messages]

    async with asyncio.timeout(30):
        while True:
            pool.publish(0, f"{THING}/jobs/get", token)
            with contextlib.suppress(TimeoutError):
                # The bridge's answer, not the device's own request (its filter covers both).
                await eventually(
                    lambda: (f"{THING}/jobs/get/accepted", token) in answers(), timeout=0.5
                )
                return


@pytest.mark.asyncio
async def test_requests_replies_and_broadcasts_are_counted(tmp_path: Path) -> None:
    async with asyncio.timeout(120):
        with Mosquitto(tmp_path) as broker:
            bridge, handler, inbox = Bridge(_config(broker.uri)), Echo(), Inbox()
            await bridge.start(handler)
            try:
                async with _device(broker.uri, inbox) as pool:
                    await _round_trip(pool, inbox, b"one")
                    assert handler.requests == [f"{THING}/jobs/get"]
                    assert (f"{THING}/jobs/get/accepted", b"one") in [
                        (t, p) for _, t, p in inbox.messages
                    ]
                    # Outside a request: gathered, then written on the loop's next turn.
                    for n in range(3):
                        bridge.publish(f"{THING}/jobs/notify", b"note-%d" % n)
                    notes = [b"note-0", b"note-1", b"note-2"]
                    await eventually(lambda: [p for p in inbox.payloads() if p in notes] == notes)
            finally:
                await bridge.close()
            stats = bridge.stats
            assert (stats.requests, stats.replies, stats.broadcasts) == (1, 1, 3)
            assert (stats.dropped, stats.handler_errors, stats.reconnects) == (0, 0, 0)


@pytest.mark.asyncio
async def test_a_broker_restart_is_reconnected_and_counted(tmp_path: Path) -> None:
    async with asyncio.timeout(120):
        with Mosquitto(tmp_path) as broker:
            bridge, inbox = Bridge(_config(broker.uri, keepalive=5)), Inbox()
            await bridge.start(Echo())
            try:
                async with _device(broker.uri, inbox) as pool:
                    await _round_trip(pool, inbox, b"before")
                    broker.kill()  # SIGKILL: no DISCONNECT, subscriptions forgotten
                    await eventually(lambda: bridge.stats.reconnects == 1, what="noticed")
                    bridge.publish(f"{THING}/jobs/notify", b"lost")  # nowhere to go
                    assert bridge.stats.dropped == 1
                    broker.restart()
                    await pool.wait_online(timeout=30)
                    await _round_trip(pool, inbox, b"after")  # subscribed again
                    assert b"lost" not in inbox.payloads()
            finally:
                await bridge.close()
            assert bridge.stats.reconnects == 1 and bridge.stats.requests >= 2


@dataclass
class Peer:
    """A scripted broker: CONNACK ``connack``, SUBACK codes from ``suback``, PINGRESP or not;
    records the packets of every connection."""

    connack: int = 0
    suback: Callable[[Subscribe], tuple[int, ...]] = lambda s: tuple(q for _, q in s.filters)
    answer_pings: bool = True
    connections: list[list[Packet]] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        packets: list[Packet] = []
        self.connections.append(packets)
        decoder = Decoder()
        with contextlib.suppress(ConnectionError):  # the client aborted: that is its right
            while data := await reader.read(4096):
                for packet in decoder.feed(data):
                    packets.append(packet)
                    if isinstance(packet, Connect):
                        writer.write(encode(ConnAck(False, self.connack)))
                    elif isinstance(packet, Subscribe):
                        writer.write(encode(SubAck(packet.packet_id, self.suback(packet))))
                    elif isinstance(packet, PingReq) and self.answer_pings:
                        writer.write(b"\xd0\x00")
        writer.close()

    def of(self, kind: type[Any]) -> list[Any]:
        return [p for packets in self.connections for p in packets if isinstance(p, kind)]


@contextlib.asynccontextmanager
async def _peer(peer: Peer) -> AsyncIterator[str]:
    server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
    try:
        yield f"mqtt://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


@pytest.mark.asyncio
async def test_request_qos_is_the_subscriptions_qos() -> None:
    async with asyncio.timeout(60):
        peer = Peer()
        async with _peer(peer) as uri:
            bridge = Bridge(_config(uri, request_qos=0, client_id="emulator", username="u"))
            await bridge.start(Echo())
            await bridge.close()
        (connect,) = peer.of(Connect)
        assert (connect.client_id, connect.username, connect.clean_session) == (
            "emulator",
            "u",
            True,
        )
        filters = [f for sub in peer.of(Subscribe) for f in sub.filters]
        assert filters == [(topic, 0) for topic in REQUEST_FILTERS]


@pytest.mark.asyncio
async def test_a_refused_connect_or_subscription_is_a_usage_error_at_start() -> None:
    async with asyncio.timeout(60):
        async with _peer(Peer(connack=5)) as uri:
            with pytest.raises(UsageError, match="not authorized"):
                await Bridge(_config(uri)).start(Echo())

        def refuse_updates(sub: Subscribe) -> tuple[int, ...]:
            return tuple(0x80 if t == "$aws/things/+/jobs/+/update" else 1 for t, _ in sub.filters)

        async with _peer(Peer(suback=refuse_updates)) as uri:
            with pytest.raises(UsageError) as refused:
                await Bridge(_config(uri, connections=2)).start(Echo())
        assert "refused the subscription to $aws/things/+/jobs/+/update" in str(refused.value)


@pytest.mark.asyncio
async def test_an_unanswered_keepalive_reconnects() -> None:
    async with asyncio.timeout(60):
        peer = Peer(answer_pings=False)
        async with _peer(peer) as uri:
            bridge = Bridge(_config(uri, keepalive=1))
            await bridge.start(Echo())
            try:
                await eventually(lambda: bridge.stats.reconnects >= 1, what="gave up")
                assert peer.of(PingReq)  # it asked before giving up
                await eventually(lambda: len(peer.of(Subscribe)) >= 4, what="subscribed again")
            finally:
                await bridge.close()
