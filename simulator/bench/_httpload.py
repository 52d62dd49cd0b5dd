"""A closed-loop HTTP/1.1 load generator replaying one pre-built request (``fleetsim bench api``).

Each connection is a raw :class:`asyncio.Protocol`: it writes the request bytes, waits for one
complete reply (``Content-Length`` framing), records the latency and writes them again. No HTTP
library on the client side, so it costs far less CPU per request than the servers it measures.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Measurement", "load"]

_CONTENT_LENGTH: Final = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


@dataclass
class _Run:
    request: bytes
    host: str
    port: int
    measuring: bool = False
    running: bool = True
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    open_connections: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class _Connection(asyncio.Protocol):
    """One keep-alive connection replaying one request, closed loop (send, await reply, repeat)."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.buffer = b""
        self.sent = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.run.open_connections += 1
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.sent = time.perf_counter()
        self.transport.write(self.run.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end]
        length = _CONTENT_LENGTH.search(head)
        if length is None:
            raise RuntimeError(f"reply without Content-Length: {head[:200]!r}")
        total = end + 4 + int(length.group(1))
        if len(self.buffer) < total:
            return
        run = self.run
        if run.measuring:
            if head[9:12] == b"200":
                run.latencies.append(time.perf_counter() - self.sent)
            else:
                run.failures += 1
        self.buffer = self.buffer[total:]
        assert self.transport is not None
        if run.running and b"connection: close" not in head.lower():
            self._send()
        else:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        run = self.run
        run.open_connections -= 1
        if run.running:  # the server closed the connection: open another one
            asyncio.get_running_loop().create_task(_connect(run))
        elif run.open_connections == 0:
            run.finished.set()


async def _connect(run: _Run) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_connection(lambda: _Connection(run), run.host, run.port)


@dataclass(frozen=True)
class Measurement:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    failures: int
    client_cpu_s: float
    server_cpu_s: float
    seconds: float


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


async def load(
    url: str,
    request: bytes,
    *,
    connections: int,
    warmup: float,
    seconds: float,
    server_cpu: Callable[[], float],
) -> Measurement:
    """Replay ``request`` on ``connections`` connections to ``url``; measure ``seconds``.

    ``server_cpu`` reads the server's CPU seconds so far (sampled around the measured window).
    """
    host, port = url.removeprefix("http://").rsplit(":", 1)
    run = _Run(request, host, int(port))
    for _ in range(connections):
        await _connect(run)
    await asyncio.sleep(warmup)
    client0, server0, wall0 = time.process_time(), server_cpu(), time.perf_counter()
    run.measuring = True
    await asyncio.sleep(seconds)
    run.measuring = False
    wall = time.perf_counter() - wall0
    client_cpu, server_used = time.process_time() - client0, server_cpu() - server0
    run.running = False
    await asyncio.wait_for(run.finished.wait(), timeout=30)
    ordered = sorted(run.latencies)
    if not ordered:
        raise RuntimeError(f"{url}: no successful request ({run.failures} failures)")
    return Measurement(
        requests_per_s=len(ordered) / wall,
        p50_ms=_percentile(ordered, 0.50),
        p99_ms=_percentile(ordered, 0.99),
        failures=run.failures,
        client_cpu_s=client_cpu,
        server_cpu_s=server_used,
        seconds=wall,
    )
