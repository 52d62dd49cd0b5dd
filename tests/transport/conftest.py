"""A real Mosquitto per test (``tests/mqtt_broker.py``); helpers for the pools' async tests.

The tests are ``@pytest.mark.asyncio`` coroutines on pytest-asyncio's loop; each bounds itself
(:func:`with_pool`, :func:`eventually`, ``wait_online(timeout=...)``) so a hang fails, not stalls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from simulator.transport.mqtt import BrokerConfig, ConnectionPool, PoolOptions, parse_broker_uri
from tests.mqtt_broker import Mosquitto

T = TypeVar("T")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "broker") as running:
        yield running


async def eventually(check: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Poll ``check`` until it holds (generous timeouts: the machine may be busy)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)
    assert check(), what


class Inbox:
    """Collects ``on_message`` calls."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, str, bytes]] = []

    def __call__(self, index: int, topic: str, payload: bytes) -> None:
        self.messages.append((index, topic, payload))

    def payloads(self, index: int | None = None) -> list[bytes]:
        return [p for i, _, p in self.messages if index is None or i == index]


def notify_topic(name: str) -> str:
    return f"$aws/things/{name}/jobs/notify-next"


def pool_for(
    address: str | BrokerConfig,
    names: list[str],
    inbox: Callable[[int, str, bytes], None] | None = None,
    *,
    on_online: Callable[[int, bool], None] | None = None,
    on_offline: Callable[[int], None] | None = None,
    **options: Any,
) -> ConnectionPool:
    """A pool whose device ``i`` subscribes to its own notify-next topic."""
    broker = parse_broker_uri(address) if isinstance(address, str) else address
    return ConnectionPool(
        broker,
        names,
        on_message=inbox or Inbox(),
        subscriptions=lambda i: [notify_topic(names[i])],
        on_online=on_online,
        on_offline=on_offline,
        options=PoolOptions(**options),
    )


async def with_pool(
    pool: ConnectionPool,
    body: Callable[[ConnectionPool], Awaitable[T]],
    timeout: float = 120.0,
) -> T:
    """Start ``pool``, run ``body`` on it within ``timeout`` seconds, close the pool."""
    await pool.start()
    try:
        async with asyncio.timeout(timeout):
            return await body(pool)
    finally:
        await pool.close()
