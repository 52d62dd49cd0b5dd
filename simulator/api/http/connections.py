"""Bounded connections for ``fleetsim serve``: deadlines, a connection cap, a quiet error log.

What aiohttp already provides and :mod:`.app` only configures: the idle (keep-alive) timeout
(``keepalive_timeout``, which also closes a connection that sends nothing), the listen backlog
(``TCPSite(backlog=...)``) and the grace period at shutdown (``ServerRunner(shutdown_timeout=)``).

What aiohttp lacks and this module adds, in :class:`BoundedRequestHandler`:

* **header deadline**: a request's line and headers must be complete within
  ``header_timeout`` of its first byte (or of the connection opening); otherwise the connection
  is closed without an answer, as nginx does on ``client_header_timeout``. aiohttp's keep-alive
  timer does not fire while bytes trickle in, so a slowloris would otherwise hold the socket;
* **body deadline**: its body must then arrive within ``body_timeout``; otherwise the handler's
  read fails with :class:`BodyTimeout`, answered ``RequestTimeoutException`` (408) and closed;
* **connection cap**: beyond ``max_connections`` open connections a new one is *refused*, not
  queued: it gets ``503 ServiceUnavailableException`` (which botocore retries with backoff) and is
  closed at once, so a flood costs a descriptor for microseconds rather than a parser each;
* **one log line** per malformed request or dropped connection, at most ``log_per_second`` a
  second, with ``suppressed K more lines like these`` once a second while a flood lasts
  (:class:`LineLimiter`, pure, with the time passed in).
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Any, Final, cast

import orjson
from aiohttp import web
from aiohttp.streams import StreamReader

__all__ = [
    "BodyTimeout",
    "BoundedRequestHandler",
    "BoundedServer",
    "ConnectionLimits",
    "LineLimiter",
    "one_line",
]

_log = logging.getLogger("simulator.api.http")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Bounds on the connections of ``fleetsim serve`` (times in seconds).

    ``backlog``: the listen queue (Linux caps it at ``net.core.somaxconn``, 4096 by default since
    5.4); ``shutdown_timeout``: how long a stopping server lets in-flight requests finish before
    cancelling them (aiohttp waits up to twice this in all).
    """

    max_connections: int = 10_000
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 60.0
    backlog: int = 4096
    shutdown_timeout: float = 2.0
    log_per_second: int = 10

    def __post_init__(self) -> None:
        if self.max_connections < 1 or self.backlog < 1 or self.log_per_second < 1:
            raise ValueError("max_connections, backlog and log_per_second must be >= 1")
        timeouts = (self.header_timeout, self.body_timeout, self.idle_timeout)
        if not all(math.isfinite(t) and t > 0 for t in timeouts) or self.shutdown_timeout < 0:
            raise ValueError("timeouts must be positive and finite")


class BodyTimeout(web.RequestPayloadError):
    """The request's body did not arrive within ``body_timeout``."""


def one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line (aiohttp's parser errors span several), shortened to ``limit``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class LineLimiter:
    """At most ``per_second`` lines in each whole second; the others are counted.

    ``admit(now)`` says whether to log a line now and how many were suppressed in an earlier
    second and not reported yet (to log first); ``drain()`` takes that count at a timer.
    """

    __slots__ = ("_count", "_pending", "_per_second", "_second")

    def __init__(self, per_second: int) -> None:
        self._per_second = per_second
        self._second = -1
        self._count = 0
        self._pending = 0

    def admit(self, now: float) -> tuple[bool, int]:
        second = math.floor(now)
        if second != self._second:
            self._second = second
            self._count = 0
        if self._count < self._per_second:
            self._count += 1
            return True, self.drain()
        self._pending += 1
        return False, 0

    def drain(self) -> int:
        pending, self._pending = self._pending, 0
        return pending


def _refusal(limit: int) -> bytes:
    message = f"fleetsim serve has {limit} connections open (--max-connections); retry later"
    body = orjson.dumps({"message": message})
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json\r\n"
        "x-amzn-ErrorType: ServiceUnavailableException\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class BoundedServer(web.Server):
    """aiohttp's low-level server with :class:`ConnectionLimits` and the rate-limited log."""

    def __init__(self, handler: Any, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.limits = limits
        self.open_connections = 0
        self.refusal: Final = _refusal(limits.max_connections)
        self._lines = LineLimiter(limits.log_per_second)
        self._summary: asyncio.TimerHandle | None = None

    def warn(self, message: str) -> None:
        """Log ``message`` as one WARNING line unless the flood limit is reached."""
        loop = self._loop
        admitted, suppressed = self._lines.admit(loop.time())
        if suppressed:
            _log.warning("suppressed %d more lines like these", suppressed)
        if admitted:
            _log.warning("%s", message)
        elif self._summary is None:
            self._summary = loop.call_at(math.floor(loop.time()) + 1, self._flush)

    def _flush(self) -> None:
        self._summary = None
        suppressed = self._lines.drain()
        if suppressed:
            _log.warning("suppressed %d more lines like these", suppressed)

    def close_log(self) -> None:
        """Report what is still suppressed (at shutdown)."""
        if self._summary is not None:
            self._summary.cancel()
        self._flush()


class BoundedRequestHandler(web.RequestHandler):
    """aiohttp's connection handler with the header and body deadlines and the cap.

    One timer per connection, re-armed lazily (as aiohttp's keep-alive timer is): arming only
    moves ``_deadline``; an early firing reschedules itself.
    """

    __slots__ = (
        "_bounded",
        "_counted",
        "_deadline",
        "_deadline_handle",
        "_handle_at",
        "_refused",
        "_waiting",
    )

    def __init__(self, manager: BoundedServer, *, loop: asyncio.AbstractEventLoop, **kw: Any):
        super().__init__(manager, loop=loop, keepalive_timeout=manager.limits.idle_timeout, **kw)
        self._bounded = manager
        self._counted = False
        self._refused = False
        self._deadline = 0.0
        self._deadline_handle: asyncio.TimerHandle | None = None
        self._handle_at = 0.0
        #: What the armed deadline waits for: None (nothing), "headers" or the body's stream.
        self._waiting: StreamReader | str | None = None

    # -- connection cap ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        server = self._bounded
        if server.open_connections >= server.limits.max_connections:
            self._refused = True
            peer = transport.get_extra_info("peername")
            server.warn(f"refused a connection from {_host(peer)}: --max-connections reached")
            writer = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio subclass
            writer.write(server.refusal)
            writer.close()
            return
        self._counted = True
        server.open_connections += 1
        super().connection_made(transport)
        self._arm("headers", server.limits.header_timeout)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._refused:
            return
        if self._counted:
            self._counted = False
            self._bounded.open_connections -= 1
        self._waiting = None
        if self._deadline_handle is not None:
            self._deadline_handle.cancel()
            self._deadline_handle = None
        super().connection_lost(exc)

    # -- deadlines -----------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        # The first bytes of a request (aiohttp also calls with b"" after a body: not a request;
        # arming then would close an idle keep-alive connection after the header timeout).
        if self._waiting is None and data:
            self._arm("headers", self._bounded.limits.header_timeout)
        before = self._request_count
        super().data_received(data)
        if self._request_count != before and self._messages:  # headers complete
            payload = self._messages[-1][1]
            if payload.is_eof():
                self._disarm()
            else:
                self._arm(payload, self._bounded.limits.body_timeout)
                payload.on_eof(self._body_complete)

    def _body_complete(self) -> None:
        if isinstance(self._waiting, StreamReader):
            self._disarm()

    def _arm(self, waiting: StreamReader | str, timeout: float) -> None:
        self._waiting = waiting
        self._deadline = deadline = self._loop.time() + timeout
        handle = self._deadline_handle
        if handle is None or self._handle_at > deadline:
            if handle is not None:
                handle.cancel()
            self._schedule(deadline)

    def _schedule(self, when: float) -> None:
        self._handle_at = when
        self._deadline_handle = self._loop.call_at(when, self._expire)

    def _disarm(self) -> None:
        # The handle stays scheduled and finds nothing to do (cheaper than cancelling it on
        # every request and scheduling a new one for the next).
        self._waiting = None

    def _expire(self) -> None:
        self._deadline_handle = None
        waiting = self._waiting
        if waiting is None or self.transport is None:
            return
        now = self._loop.time()
        if now < self._deadline:
            self._schedule(self._deadline)
            return
        self._waiting = None
        peer = _host(self.transport.get_extra_info("peername"))
        limits = self._bounded.limits
        if isinstance(waiting, StreamReader):
            self._bounded.warn(
                f"request body from {peer} not received within {limits.body_timeout:g} s"
            )
            waiting.set_exception(
                BodyTimeout(f"request body not received within {limits.body_timeout:g} s")
            )
            return
        self._bounded.warn(
            f"closed a connection from {peer}: request headers not received within "
            f"{limits.header_timeout:g} s"
        )
        self.force_close()


def _host(peer: object) -> str:
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return "unknown peer"
