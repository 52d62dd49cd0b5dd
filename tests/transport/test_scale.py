"""Many connections from one process, spread over loopback source addresses (scale: ``slow``)."""

from __future__ import annotations

from collections import Counter

import pytest

from simulator.transport.mqtt import ConnectionPool, loopback_sources
from tests.mqtt_broker import Mosquitto
from tests.transport.conftest import Inbox, eventually, notify_topic, pool_for, with_pool

DEVICES = 2_000

pytestmark = pytest.mark.slow  # scale


@pytest.mark.asyncio
async def test_two_thousand_connections_over_spread_source_addresses(broker: Mosquitto) -> None:
    names = [f"device-{i:06d}" for i in range(DEVICES)]
    sources = loopback_sources(16)
    inbox = Inbox()

    async def body(pool: ConnectionPool) -> None:
        await pool.wait_online(timeout=120)
        stats = pool.stats()
        assert (stats.online, stats.open, stats.connects) == (DEVICES, DEVICES, DEVICES)
        used: Counter[str] = Counter()
        for conn in pool.connections:
            sockname = conn.sockname
            assert sockname is not None
            assert sockname[0] == sources[conn.index % 16]  # device i binds sources[i % 16]
            used[sockname[0]] += 1
        assert used == dict.fromkeys(sources, DEVICES // 16)
        for i in range(0, DEVICES, 97):  # a sample of devices still gets its messages
            pool.publish((i + 1) % DEVICES, notify_topic(names[i]), b"hello %d" % i)
        await eventually(lambda: len(inbox.messages) == len(range(0, DEVICES, 97)), timeout=60)
        assert sorted(i for i, _, _ in inbox.messages) == list(range(0, DEVICES, 97))

    pool = pool_for(broker.uri, names, inbox, source_addresses=sources)
    await with_pool(pool, body, timeout=300)


@pytest.mark.asyncio
async def test_default_sources_for_a_loopback_broker(broker: Mosquitto) -> None:
    names = [f"device-{i:06d}" for i in range(70)]

    async def body(pool: ConnectionPool) -> None:
        await pool.wait_online(timeout=60)
        addresses = {conn.sockname[0] for conn in pool.connections if conn.sockname}
        assert addresses == set(loopback_sources(64))  # 64 by default: 70 devices use them all

    await with_pool(pool_for(broker.uri, names), body)
