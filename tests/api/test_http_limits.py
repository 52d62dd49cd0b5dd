"""Bounded connections: header and body deadlines, the connection cap, the backlog, shutdown, logs.

In process (:func:`running`: :func:`simulator.api.http.serve` on a free port, raw asyncio streams
as clients) for the deadlines that ``fleetsim serve`` has no flag for and for the log lines; a
real ``fleetsim serve`` process with real sockets and a boto3 client for the rest. Nothing waits
a fixed time to prove that something did not happen: every wait is for an event, with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
import selectors
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from simulator.api.http import ServerConfig, serve
from simulator.api.http.connections import ConnectionLimits, LineLimiter, one_line
from simulator.commands import serve as serve_command
from tests.api.conftest import Server, finish, launch
from tests.fleetsim_cli import fleetsim

PARTIAL = b"POST /things/slow HTTP/1.1\r\nHost: fleetsim\r\nX-Slow: "
CA = b"GET /fleetsim/ca.pem HTTP/1.1\r\nHost: fleetsim\r\n\r\n"


# -- pure parts -----------------------------------------------------------------------------------


def test_line_limiter_admits_n_a_second_and_reports_the_rest() -> None:
    limiter = LineLimiter(3)
    assert [limiter.admit(10.0 + i / 10) for i in range(5)] == [
        (True, 0),
        (True, 0),
        (True, 0),
        (False, 0),
        (False, 0),
    ]
    assert limiter.admit(11.2) == (True, 2)  # the next second: its first line reports the two
    assert limiter.drain() == 0
    for _ in range(4):
        limiter.admit(12.0)
    assert limiter.drain() == 1  # what a timer reports when no line follows
    assert limiter.admit(13.0) == (True, 0)


def test_one_line() -> None:
    assert one_line("400, message:\n  Invalid header token:\n\n    b'x y'\n  ^") == (
        "400, message: Invalid header token: b'x y' ^"
    )
    assert len(one_line("x" * 500)) == 200


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_connections": 0},
        {"header_timeout": 0},
        {"body_timeout": float("inf")},
        {"idle_timeout": float("nan")},
        {"backlog": 0},
        {"shutdown_timeout": -1},
    ],
)
def test_limits_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ConnectionLimits(**kwargs)


@pytest.mark.parametrize(
    "args",
    [
        ["--max-connections", "0"],
        ["--max-connections", "many"],
        ["--header-timeout", "0"],
        ["--header-timeout", "-1"],
        ["--idle-timeout", "nan"],
        ["--idle-timeout", "inf"],
    ],
)
def test_bad_limit_flags_are_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    def started(*args: object) -> None:
        raise AssertionError("fleetsim serve got past checking its flags")

    monkeypatch.setattr(serve_command, "_run_loop", started)
    proc = fleetsim("serve", *args)
    assert proc.returncode == 2, proc
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_flags_reach_the_server_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[ServerConfig] = []
    monkeypatch.setattr(serve_command, "_run_loop", lambda config, mqtt, state: seen.append(config))
    monkeypatch.setattr("simulator.transport.mqtt.net.connection_capacity", lambda: 100_000)
    args = ["--max-connections", "77", "--header-timeout", "2.5", "--idle-timeout", "9"]
    assert fleetsim("serve", *args, "--allow-unsigned-payload").returncode == 0
    (config,) = seen
    assert config.unsigned_payload
    limits = config.limits
    assert (limits.max_connections, limits.header_timeout, limits.idle_timeout) == (77, 2.5, 9)


def test_cap_is_lowered_to_what_the_open_file_limit_allows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[ServerConfig] = []
    monkeypatch.setattr(serve_command, "_run_loop", lambda config, mqtt, state: seen.append(config))
    monkeypatch.setattr("simulator.transport.mqtt.net.connection_capacity", lambda: 1256)
    quiet = fleetsim("serve")  # the default is lowered silently
    loud = fleetsim("serve", "--max-connections", "5000")
    assert [c.limits.max_connections for c in seen] == [1000, 1000]
    assert quiet.stderr == ""
    assert "--max-connections 5000" in loud.stderr and "at most 1000" in loud.stderr


# -- in process -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running(limits: ConnectionLimits) -> AsyncIterator[tuple[str, int]]:
    """``serve`` with ``limits`` on a free port of 127.0.0.1, stopped at the end."""
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(ServerConfig(limits=limits), on_ready=ready.set_result, stop=stop)
    )
    try:
        url = await asyncio.wait_for(asyncio.shield(ready), 30)
        host, port = url.removeprefix("http://").rsplit(":", 1)
        yield host, int(port)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def _read_all(reader: asyncio.StreamReader, timeout: float) -> bytes:
    """Everything until the server closes the connection (an error if it does not in time)."""
    with contextlib.suppress(ConnectionResetError):
        return await asyncio.wait_for(reader.read(), timeout)
    return b""


def test_stalled_body_gets_408_within_the_body_timeout() -> None:
    async def main() -> tuple[float, bytes]:
        async with running(ConnectionLimits(body_timeout=0.5, header_timeout=5)) as address:
            reader, writer = await asyncio.open_connection(*address)
            started = time.monotonic()
            writer.write(b"PUT /things/x HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n{")
            reply = await _read_all(reader, 10)
            writer.close()
            return time.monotonic() - started, reply

    elapsed, reply = asyncio.run(main())
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), reply
    assert b"x-amzn-ErrorType: RequestTimeoutException" in head
    assert orjson.loads(body)["message"] == "request body not received within 0.5 s"
    assert 0.45 <= elapsed < 5


def test_header_deadline_applies_again_after_a_request_with_a_body() -> None:
    """The timer armed for a long body deadline must not delay the next, shorter header one."""

    async def main() -> tuple[bytes, float]:
        limits = ConnectionLimits(header_timeout=0.5, body_timeout=30)
        async with running(limits) as address:
            reader, writer = await asyncio.open_connection(*address)
            writer.write(b"PUT /things/x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n")
            await writer.drain()
            writer.write(b"{}")  # a separate write: the body deadline is armed in between
            first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = int(re.search(rb"Content-Length: (\d+)", first)[1])  # type: ignore[index]
            await reader.readexactly(length)
            started = time.monotonic()
            writer.write(PARTIAL)
            rest = await _read_all(reader, 10)
            writer.close()
            return first + rest, time.monotonic() - started

    reply, elapsed = asyncio.run(main())
    assert reply.startswith(b"HTTP/1.1 "), reply
    assert reply.count(b"HTTP/1.1") == 1  # the partial request got no answer: just closed
    assert 0.45 <= elapsed < 5


def test_an_idle_keep_alive_connection_outlives_the_header_timeout() -> None:
    """Idle after a request with a body, a connection is bound by the idle timeout only."""

    async def request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        writer.write(b"PUT /thing-groups/g HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n")
        await writer.drain()
        writer.write(b"{}")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = int(re.search(rb"Content-Length: (\d+)", head)[1])  # type: ignore[index]
        await reader.readexactly(length)
        return head

    async def main() -> tuple[bytes, bytes]:
        limits = ConnectionLimits(header_timeout=0.3, idle_timeout=30)
        async with running(limits) as address:
            reader, writer = await asyncio.open_connection(*address)
            first = await request(reader, writer)
            await asyncio.sleep(0.9)  # three header timeouts, well inside the idle timeout
            second = await request(reader, writer)
            writer.close()
            return first, second

    first, second = asyncio.run(main())
    assert first.startswith(b"HTTP/1.1 "), first
    assert second.startswith(b"HTTP/1.1 "), second


def test_one_rate_limited_line_per_malformed_request(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        async with running(ConnectionLimits(log_per_second=5)) as address:
            for _ in range(30):
                reader, writer = await asyncio.open_connection(*address)
                writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
                reply = await _read_all(reader, 10)
                assert b"x-amzn-ErrorType: InvalidRequestException" in reply
                writer.close()

    caplog.set_level(logging.WARNING, logger="simulator.api.http")
    asyncio.run(main())
    records = [r for r in caplog.records if r.name == "simulator.api.http"]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in records)
    lines = [r.getMessage() for r in records if "malformed request" in r.getMessage()]
    assert lines[0] == (
        "malformed request from 127.0.0.1: 400 Invalid header token: b'Bad Header' ^"
    )
    suppressed = [
        int(m[1]) for r in records if (m := re.match(r"suppressed (\d+) more", r.getMessage()))
    ]
    assert len(lines) + sum(suppressed) == 30  # every request counted, the summary flushed
    assert suppressed, "30 requests should not all fit in 5 lines a second here"


# -- a real fleetsim serve ------------------------------------------------------------------------


def _address(server: Server) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _socket(key: selectors.SelectorKey) -> socket.socket:
    assert isinstance(key.fileobj, socket.socket)
    return key.fileobj


def _wait_closed(
    sockets: dict[socket.socket, float], deadline: float, trickle: Iterable[socket.socket] = ()
) -> dict[socket.socket, float]:
    """Wait until the server has closed every socket; when each closed (monotonic time).

    The ``trickle`` sockets send one more header byte every 0.2 s while open.
    """
    closed: dict[socket.socket, float] = {}
    last_byte = dict.fromkeys(trickle, time.monotonic())
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        while len(closed) < len(sockets):
            now = time.monotonic()
            assert now < deadline, f"{len(sockets) - len(closed)} sockets still open"
            for key, _ in selector.select(0.05):
                sock = _socket(key)
                try:
                    data = sock.recv(4096)
                except ConnectionResetError:
                    data = b""
                assert data == b"", data  # closed without an answer
                closed[sock] = time.monotonic()
                selector.unregister(sock)
            for sock, sent in last_byte.items():
                if sock not in closed and now - sent >= 0.2:
                    with contextlib.suppress(OSError):  # closed meanwhile: seen by select
                        sock.send(b"a")
                    last_byte[sock] = now
    return closed


@pytest.mark.slow  # 1,000 connections held for the header timeout
def test_slowloris_is_cut_off_while_boto3_is_answered() -> None:
    timeout = 3.0
    server = launch("--header-timeout", str(timeout))
    sockets: dict[socket.socket, float] = {}
    try:
        for _ in range(1000):
            sock = socket.create_connection(_address(server))
            sock.sendall(PARTIAL)
            sockets[sock] = time.monotonic()
        trickle = set(list(sockets)[:20])
        iot = server.client("iot")
        thing = f"dev-{uuid.uuid4().hex[:8]}"
        iot.create_thing(thingName=thing)
        assert iot.describe_thing(thingName=thing)["thingName"] == thing
        answered = time.monotonic()
        closed = _wait_closed(sockets, answered + timeout + 15, trickle)
        first_close = min(closed.values())
        assert answered < first_close, "boto3 was answered while the slowloris held its sockets"
        for sock, opened in sockets.items():
            held = closed[sock] - opened
            assert timeout - 0.05 <= held <= timeout + 5, held
        assert "Traceback" not in server.stderr()
    finally:
        for sock in sockets:
            sock.close()
        finish(server)


def test_connection_beyond_the_cap_gets_503_and_is_closed() -> None:
    server = launch("--max-connections", "3", "--header-timeout", "60")
    held = [socket.create_connection(_address(server)) for _ in range(3)]
    try:
        # The server accepts in order: the fourth is handled after the three are open.
        with socket.create_connection(_address(server), timeout=10) as extra:
            reply = b""
            while chunk := extra.recv(4096):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 "), reply
        assert b"x-amzn-ErrorType: ServiceUnavailableException" in head
        assert "--max-connections" in orjson.loads(body)["message"]
        for sock in held:
            sock.close()
        iot = server.client("iot")
        deadline = time.monotonic() + 20
        while True:  # the server sees the three close soon; until then it may refuse
            try:
                assert "things" in iot.list_things()
                break
            except (ClientError, ConnectionClosedError, EndpointConnectionError):
                assert time.monotonic() < deadline
        assert "refused a connection from 127.0.0.1: --max-connections reached" in (server.stderr())
    finally:
        for sock in held:
            sock.close()
        finish(server)


@pytest.mark.slow  # 2,000 connections
def test_two_thousand_clients_connect_at_once() -> None:
    """All handshakes complete in under a second: none lost its SYN to a full listen queue
    (a dropped SYN is sent again after 1 s; with aiohttp's default backlog of 128, over half
    of them were, here)."""
    server = launch()
    address = _address(server)
    started: dict[socket.socket, float] = {}
    try:
        with selectors.DefaultSelector() as selector:
            for _ in range(2000):
                sock = socket.socket()
                sock.setblocking(False)
                assert sock.connect_ex(address) in (0, errno.EINPROGRESS)
                started[sock] = time.monotonic()
                selector.register(sock, selectors.EVENT_WRITE)
            connect_times: list[float] = []
            deadline = time.monotonic() + 30
            while len(connect_times) < len(started):
                assert time.monotonic() < deadline
                for key, _ in selector.select(1):
                    sock = _socket(key)
                    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
                    connect_times.append(time.monotonic() - started[sock])
                    selector.modify(sock, selectors.EVENT_READ)
                    sock.send(CA)
            assert max(connect_times) < 1.0, sorted(connect_times)[-5:]
            answered = 0
            while answered < len(started):  # every connection gets its answer
                assert time.monotonic() < deadline
                for key, _ in selector.select(1):
                    sock = _socket(key)
                    assert sock.recv(64).startswith(b"HTTP/1.1 200 ")
                    selector.unregister(sock)
                    answered += 1
    finally:
        for sock in started:
            sock.close()
        finish(server)


def _stalled_upload(server: Server) -> socket.socket:
    """A connection whose PUT body stalls, known to be in the server's hands.

    The complete GET and the PUT's head leave in one write, so they arrive and are parsed
    together: the GET's answer proves the PUT is being read.
    """
    sock = socket.create_connection(_address(server), timeout=10)
    sock.sendall(CA + b"PUT /things/x HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n{")
    assert sock.recv(64).startswith(b"HTTP/1.1 200 ")
    return sock


@pytest.mark.slow  # end to end: the server process and its signals
def test_sigterm_exits_within_5_s_with_a_stalled_upload() -> None:
    server = launch()
    upload = _stalled_upload(server)
    try:
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=30)
        assert time.monotonic() - started < 5
        assert code == 0, server.stderr()
    finally:
        upload.close()
        finish(server)


@pytest.mark.slow  # end to end: the server process and its signals
def test_second_signal_exits_at_once() -> None:
    server = launch()
    upload = _stalled_upload(server)  # keeps the graceful stop waiting
    try:
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while True:  # the first signal is handled once the port stops accepting
            try:
                socket.create_connection(_address(server), timeout=1).close()
            except (ConnectionRefusedError, ConnectionResetError):  # listener closed
                break
            assert time.monotonic() < deadline
        assert server.alive(), "the graceful stop was expected to wait for the upload"
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=30)
        assert time.monotonic() - started < 1
        assert code == 128 + signal.SIGTERM
        assert "second signal, exiting now" in server.stderr()
    finally:
        upload.close()
        server.stderr_path.unlink(missing_ok=True)
