"""The MQTT transport against a real Mosquitto: QoS 1, sessions, keepalive, reconnects, ramp."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from simulator.transport.mqtt import ConnectionPool, ConnectionState, PoolOptions, parse_broker_uri
from simulator.transport.mqtt.codec import Connect, Decoder, SubAck, Subscribe, encode
from tests.mqtt_broker import Mosquitto
from tests.transport.conftest import Inbox, eventually, notify_topic, pool_for, with_pool

NAMES = [f"device-{i:06d}" for i in range(4)]


@pytest.mark.asyncio
async def test_qos1_publish_is_acknowledged_and_delivered(broker: Mosquitto) -> None:
    inbox = Inbox()
    online: list[tuple[int, bool]] = []

    async def body(pool: ConnectionPool) -> None:
        await pool.wait_online(timeout=30)
        assert sorted(online) == [(i, False) for i in range(4)]
        conn = pool.connections[0]
        assert conn.state is ConnectionState.ONLINE and conn.connected
        connect = Decoder().feed(pool.connect_packet(conn))[0]
        assert connect == Connect("device-000000", 30, True)  # client id = thing name

        assert pool.publish(0, notify_topic(NAMES[1]), b'{"execution": 1}')  # QoS 1
        assert conn.unacknowledged == 1
        await eventually(lambda: conn.unacknowledged == 0, what="PUBACK")
        await eventually(lambda: inbox.payloads(1) == [b'{"execution": 1}'])
        assert pool.publish(2, notify_topic(NAMES[3]), b"qos0", qos=0)
        await eventually(lambda: inbox.payloads(3) == [b"qos0"])
        assert [(i, t) for i, t, _ in inbox.messages] == [
            (1, notify_topic(NAMES[1])),
            (3, notify_topic(NAMES[3])),
        ]
        stats = pool.stats()
        assert (stats.online, stats.connects, stats.failures, stats.drops) == (4, 4, 0, 0)

    pool = pool_for(
        broker.uri,
        NAMES,
        inbox,
        on_online=lambda i, resumed: online.append((i, resumed)),
        keepalive=30,
    )
    await with_pool(pool, body)
    stats = pool.stats()
    assert (stats.online, stats.open) == (0, 0)
    assert pool.publish(0, "a/b", b"after close") is False
    assert all(c.state is ConnectionState.CLOSED for c in pool.connections)


@pytest.mark.asyncio
async def test_messages_published_before_connecting_are_sent_on_connect(
    broker: Mosquitto,
) -> None:
    inbox = Inbox()

    async def body(listener: ConnectionPool) -> None:
        await listener.wait_online(timeout=30)
        sender = pool_for(broker.uri, ["device-sender"])
        assert sender.publish(0, notify_topic("device-000000"), b"queued", qos=1)  # not started
        assert sender.publish(0, notify_topic("device-000000"), b"dropped", qos=0) is False
        assert sender.connections[0].unacknowledged == 1
        await sender.start()
        try:
            await eventually(lambda: inbox.payloads(0) == [b"queued"])
            await eventually(lambda: sender.connections[0].unacknowledged == 0)
        finally:
            await sender.close()

    await with_pool(pool_for(broker.uri, ["device-000000"], inbox), body)


@pytest.mark.asyncio
async def test_persistent_session_resumes_with_queued_qos1_messages(broker: Mosquitto) -> None:
    name = "device-persistent"
    subscribed: list[int] = []
    resumed: list[bool] = []
    inbox = Inbox()

    def persistent_pool() -> ConnectionPool:
        return ConnectionPool(
            parse_broker_uri(broker.uri),
            [name],
            on_message=inbox,
            subscriptions=lambda i: subscribed.append(i) or [notify_topic(name)],  # type: ignore[func-returns-value]
            on_online=lambda i, present: resumed.append(present),
            options=PoolOptions(clean_session=False, keepalive=30),
        )

    async with asyncio.timeout(120):
        first = persistent_pool()
        await first.start()
        await first.wait_online(timeout=30)
        await first.close()  # DISCONNECT: the broker keeps the session (clean_session=False)
        assert (subscribed, resumed) == ([0], [False])

        async def publish_while_away(publisher: ConnectionPool) -> None:
            await publisher.wait_online(timeout=30)
            for n in range(5):
                publisher.publish(0, notify_topic(name), b"while away %d" % n)
            await eventually(lambda: publisher.connections[0].unacknowledged == 0)

        await with_pool(pool_for(broker.uri, ["device-publisher"]), publish_while_away)

        second = persistent_pool()
        await second.start()
        try:
            await second.wait_online(timeout=30)
            assert second.connections[0].session_present
            assert resumed == [False, True]
            assert subscribed == [0]  # the resumed session kept the subscription: no SUBSCRIBE
            await eventually(lambda: len(inbox.messages) == 5)
            assert inbox.payloads() == [b"while away %d" % n for n in range(5)]
        finally:
            await second.close()


@pytest.mark.asyncio
async def test_keepalive_pings_hold_an_idle_connection_open(broker: Mosquitto) -> None:
    """Keepalive 2 s: Mosquitto drops a silent client after 3 s; the sweep's pings prevent it.

    The pool's connections go quiet (but for pings) before the silent client connects, so without
    pings the broker would drop them first (Mosquitto checks keepalives coarsely: up to ~3 s past
    the grace). No fixed sleep: the test waits for the silent client to be dropped, then
    for one more sweep pass pinging both connections, and checks that none dropped meanwhile.
    """

    async def silent_client_is_dropped() -> float:
        reader, writer = await asyncio.open_connection(broker.host, broker.port)
        writer.write(b"\x10\x10\x00\x04MQTT\x04\x02\x00\x02\x00\x04mute")  # keepalive 2, no pings
        started = time.monotonic()
        assert await reader.readexactly(4) == b"\x20\x02\x00\x00"
        assert await reader.read() == b""  # closed by the broker
        writer.close()
        return time.monotonic() - started

    async def body(pool: ConnectionPool) -> None:
        await pool.wait_online(timeout=30)
        assert 2.5 <= await silent_client_is_dropped() < 7.0  # the broker's 1.5x grace
        # The broker has closed any connection as quiet as that one by now; one more pass of
        # the sweep (it pings both connections while they are connected) lets such a drop
        # reach the pool before the counts are read.
        pings = pool.stats().pings
        await eventually(lambda: pool.stats().pings >= pings + 2, what="one more ping round")
        stats = pool.stats()
        assert (stats.online, stats.connects, stats.drops) == (2, 2, 0)
        assert stats.pings >= 4  # two connections, pinged from ~every second sweep
        pool.publish(0, notify_topic(NAMES[1]), b"still here")
        await eventually(lambda: inbox.payloads(1) == [b"still here"])

    inbox = Inbox()
    await with_pool(pool_for(broker.uri, NAMES[:2], inbox, keepalive=2), body)


@pytest.mark.asyncio
async def test_reconnect_with_backoff_after_the_broker_is_killed(broker: Mosquitto) -> None:
    names = [f"device-{i:06d}" for i in range(20)]
    inbox = Inbox()
    offline: list[int] = []

    async def body(pool: ConnectionPool) -> None:
        await pool.wait_online(timeout=30)
        broker.kill()  # SIGKILL: no DISCONNECT, and its in-memory sessions are gone
        await eventually(lambda: pool.stats().online == 0, what="all dropped")
        assert sorted(offline) == list(range(20))
        # A few failed attempts against the closed port before it listens again.
        await eventually(lambda: pool.stats().failures >= 3, what="failed attempts")
        await asyncio.to_thread(broker.restart)
        await pool.wait_online(timeout=60)
        stats = pool.stats()
        assert (stats.reconnects, stats.drops, stats.online) == (20, 20, 20)
        for i in range(20):  # delivery again: every device subscribed anew
            pool.publish(i, notify_topic(names[(i + 1) % 20]), b"after restart %d" % i)
        await eventually(lambda: len(inbox.messages) == 20)
        assert sorted(inbox.payloads()) == sorted(b"after restart %d" % i for i in range(20))

    pool = pool_for(
        broker.uri,
        names,
        inbox,
        on_offline=offline.append,
        backoff_base=0.2,
        backoff_cap=1.0,
        seed=3,
    )
    await with_pool(pool, body)


@pytest.mark.asyncio
async def test_unacknowledged_publish_is_resent_after_a_drop(broker: Mosquitto) -> None:
    inbox = Inbox()

    async def body(pool: ConnectionPool) -> None:
        await pool.wait_online(timeout=30)
        conn = pool.connections[0]
        pool.publish(0, notify_topic(NAMES[1]), b"must arrive")
        assert conn.abort()  # the PUBACK, if any, goes to a dead socket
        assert conn.unacknowledged == 1
        await eventually(lambda: conn.connects == 2 and conn.unacknowledged == 0, what="resent")
        await eventually(lambda: b"must arrive" in inbox.payloads(1))
        assert 1 <= len(inbox.payloads(1)) <= 2  # at least once (DUP re-send)

    await with_pool(pool_for(broker.uri, NAMES[:2], inbox, backoff_base=0.1, backoff_cap=0.2), body)


@pytest.mark.asyncio
async def test_connection_ramp_rate_is_honoured(broker: Mosquitto) -> None:
    names = [f"device-{i:06d}" for i in range(60)]
    stamps: list[float] = []

    async def body(pool: ConnectionPool) -> None:
        await pool.wait_online(timeout=60)

    pool = pool_for(
        broker.uri,
        names,
        on_online=lambda i, resumed: stamps.append(time.monotonic()),
        connect_rate=20.0,
        connect_burst=1,
    )
    await with_pool(pool, body)
    assert len(stamps) == 60
    # Not faster than 20/s: 59 paced connects take >= 2.95 s (less scheduling slack) ...
    assert stamps[-1] - stamps[0] >= 0.9 * 59 / 20
    # ... and no one-second window holds more than the rate plus the burst (+1 of slack).
    assert max(sum(1 for s in stamps if t <= s < t + 1.0) for t in stamps) <= 22


@pytest.mark.parametrize(
    ("answer", "refused", "error"),
    [
        (b"\x20\x02\x00\x05", 1, "not authorized"),  # CONNACK return code 5
        (b"\x20\x02\x00\x09", 0, "ProtocolError"),  # reserved return code: malformed
        (b"\x90\x03\x00\x01\x00", 0, "unexpected SubAck"),  # SUBACK before CONNACK
    ],
)
@pytest.mark.asyncio
async def test_refused_or_malformed_connack_is_retried(
    answer: bytes, refused: int, error: str
) -> None:
    async with asyncio.timeout(120):
        attempts = 0

        async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal attempts
            attempts += 1
            await reader.read(100)
            writer.write(answer)
            await writer.drain()
            await reader.read()
            writer.close()

        server = await asyncio.start_server(peer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = pool_for(
            f"mqtt://127.0.0.1:{port}", ["device-x"], backoff_base=0.05, backoff_cap=0.1
        )
        await pool.start()
        try:
            await eventually(lambda: pool.stats().failures >= 3)
            stats = pool.stats()
            assert stats.online == 0 and stats.connects == 0
            assert stats.refused >= refused * 3
            assert stats.last_error is not None and error in stats.last_error
            assert attempts >= 3
        finally:
            await pool.close()
            server.close()


def test_more_devices_than_file_descriptors_is_a_usage_error() -> None:
    """In a subprocess whose hard open-file limit is 500 (lowering it cannot be undone)."""
    script = """
import asyncio, resource
from simulator.core.errors import UsageError
from simulator.transport.mqtt import ConnectionPool, connection_capacity, parse_broker_uri
resource.setrlimit(resource.RLIMIT_NOFILE, (100, 500))
capacity = connection_capacity()  # raised to the hard limit, less what is open and a reserve
assert 0 < capacity < 500, capacity
pool = ConnectionPool(parse_broker_uri("mqtt://127.0.0.1:1"), ["d"] * 1000, on_message=print)
try:
    asyncio.run(pool.start())
except UsageError as exc:
    print(exc)
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "1000 MQTT connections" in proc.stdout
    assert "split the fleet into shards" in proc.stdout


@pytest.mark.asyncio
async def test_a_refused_subscription_is_counted_and_the_device_stays_online() -> None:
    """AWS IoT answers SUBACK 0x80 for a topic its policy denies (Mosquitto 2.0 does not)."""

    async with asyncio.timeout(120):

        async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            decoder = Decoder()
            while data := await reader.read(1000):
                for packet in decoder.feed(data):
                    if isinstance(packet, Connect):
                        writer.write(b"\x20\x02\x00\x00")
                    elif isinstance(packet, Subscribe):
                        writer.write(encode(SubAck(packet.packet_id, (0x80,))))
            writer.close()

        server = await asyncio.start_server(peer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = pool_for(f"mqtt://127.0.0.1:{port}", ["device-x"])
        await pool.start()
        try:
            await pool.wait_online(timeout=30)
            stats = pool.stats()
            assert (stats.online, stats.subscribe_failures) == (1, 1)
            assert "refused in SUBACK" in (stats.last_error or "")
        finally:
            await pool.close()
            server.close()
