"""The aiohttp server around :class:`~.dispatch.HttpApi`, and the runtime it drives.

aiohttp's low-level server (no router: routing is ours, by credential scope first) reads the body,
hands (method, raw target, headers, body) to the dispatcher and writes its reply. The control plane
runs on the real clock, with timers on the asyncio loop (:class:`LoopScheduler`) and the publisher
it is given: the MQTT broker bridge under ``fleetsim serve --mqtt``, else a
:class:`~simulator.services.runtime.NullPublisher`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

from aiohttp import web
from aiohttp.http import HttpProcessingError

from simulator.api.http import errors
from simulator.api.http.connections import (
    BodyTimeout,
    BoundedRequestHandler,
    BoundedServer,
    ConnectionLimits,
    one_line,
)
from simulator.api.http.dispatch import AuthMode, HttpApi, Reply
from simulator.api.http.sigv4 import Verifier
from simulator.api.http.slices import finish
from simulator.api.http.throttle import Throttle, ThrottleSpec
from simulator.api.mqtt.notices import attach as attach_notices
from simulator.core.arn import Scope
from simulator.core.errors import AwsError
from simulator.services.controlplane import ControlPlane, EmulatorOptions
from simulator.services.registry.ca import CertificateIssuer, LocalCA
from simulator.services.registry.security import SecurityOptions
from simulator.services.runtime import Clock, NullPublisher, Publisher, Runtime

__all__ = ["MAX_BODY", "LoopScheduler", "ServerConfig", "build_api", "build_plane", "serve"]

#: Largest request body accepted (aiohttp's default); larger ones get a 413.
MAX_BODY: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Options of ``fleetsim serve``.

    ``ca``: the PEM certificate and key of the CA that signs CreateKeysAndCertificate's
    certificates (``--ca-dir``); None generates one in memory at start. ``endpoint_address``:
    DescribeEndpoint's answer (None: ``host``). ``throttle``: request-rate limits (None: none).
    ``rollout_per_minute``: the release rate of jobs without a rollout configuration and the
    ceiling of every rollout (None: AWS's 1,000 a minute). ``unsigned_payload``: accept SigV4's
    ``UNSIGNED-PAYLOAD`` (:mod:`.sigv4`). ``limits``: timeouts, connection cap, backlog
    (:mod:`.connections`).
    """

    host: str = "127.0.0.1"
    port: int = 0
    region: str = "us-east-1"
    account_id: str = "123456789012"
    access_key_id: str = "test"
    secret_access_key: str = "test"
    auth: AuthMode = "sigv4"
    ca: tuple[bytes, bytes] | None = None
    endpoint_address: str | None = None
    throttle: ThrottleSpec | None = None
    rollout_per_minute: int | None = None
    unsigned_payload: bool = False
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)


class LoopScheduler:
    """A :class:`~simulator.services.runtime.Scheduler` on an asyncio loop.

    Services ask for epoch times; the loop counts in its own monotonic time, so each request is
    converted with the clock's current reading (a timer due in the past runs on the next turn).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: Clock) -> None:
        self._loop = loop
        self._clock = clock

    def call_at(self, when: float, callback: Callable[[], None], /) -> asyncio.TimerHandle:
        delay = max(0.0, when - self._clock())
        return self._loop.call_at(self._loop.time() + delay, callback)


def build_plane(
    config: ServerConfig,
    loop: asyncio.AbstractEventLoop,
    publisher: Publisher | None = None,
    *,
    runtime: Runtime | None = None,
    issuer: CertificateIssuer | None = None,
) -> ControlPlane:
    """A fresh control plane on the real clock, with timers on ``loop``.

    ``publisher`` carries the services' MQTT broadcasts (the broker bridge of ``fleetsim serve
    --mqtt``); without one they are dropped. ``runtime`` and ``issuer`` replace the defaults
    (``--state-dir`` records and replays through them: :mod:`simulator.api.durable`).
    """
    if runtime is None:
        runtime = Runtime(
            clock=time.time,
            scheduler=LoopScheduler(loop, time.time),
            publisher=publisher if publisher is not None else NullPublisher(),
        )
    scope = Scope(region=config.region, account=config.account_id)
    security = SecurityOptions(endpoint_address=config.endpoint_address or config.host)
    if issuer is None:
        issuer = (
            LocalCA.generate(runtime.clock()) if config.ca is None else LocalCA.from_pem(*config.ca)
        )
    options = EmulatorOptions(scope=scope, security=security)
    if config.rollout_per_minute is not None:
        rate = config.rollout_per_minute
        jobs = dataclasses.replace(
            options.jobs, default_rollout_per_minute=rate, max_rollout_per_minute=rate
        )
        options = dataclasses.replace(options, jobs=jobs)
    plane = ControlPlane(runtime, options, issuer=issuer)
    if publisher is not None:
        # The broadcasts leave as MQTT messages from the first request on, before the bridge
        # (and its MqttApi, which wires the same) is up.
        attach_notices(plane)
    return plane


def build_api(
    config: ServerConfig, loop: asyncio.AbstractEventLoop, plane: object | None = None
) -> HttpApi:
    """The HTTP dispatcher over ``plane`` (a fresh one from :func:`build_plane` by default;
    anything with the control plane's service attributes, such as a journaled view)."""
    control_plane = plane if plane is not None else build_plane(config, loop)
    verifier = Verifier(
        {config.access_key_id: config.secret_access_key},
        region=config.region,
        clock=time.time,
        unsigned_payload=config.unsigned_payload,
    )
    throttle = None if config.throttle is None else Throttle(config.throttle, time.monotonic)
    return HttpApi(control_plane, auth=config.auth, verifier=verifier, throttle=throttle)


#: Request ids are UUID-shaped like AWS's: a random prefix per process and a counter, which
#: costs a fraction of ``uuid4()`` per request.
_REQUEST_ID_PREFIX: Final = str(uuid.uuid4())[:24]
_request_numbers = itertools.count(1)


def _response(reply: Reply) -> web.Response:
    request_id = f"{_REQUEST_ID_PREFIX}{next(_request_numbers) % (1 << 48):012x}"
    headers = {"Content-Type": reply.content_type, "x-amzn-RequestId": request_id}
    if reply.error_type is not None:
        headers["x-amzn-ErrorType"] = reply.error_type
    return web.Response(status=reply.status, body=reply.body, headers=headers)


class Durability(Protocol):
    """The journal writer of ``--state-dir``: a reply waits until what it may show is on disk."""

    @property
    def pending(self) -> bool: ...

    def durable(self) -> Awaitable[None]: ...


def _handler(
    api: HttpApi, durability: Durability | None = None
) -> Callable[[web.BaseRequest], Awaitable[web.Response]]:
    async def handle(request: web.BaseRequest) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            err = errors.too_large(MAX_BODY)
            return _response(Reply(err.http_status, errors.encode_error(err), err.error_type))
        except BodyTimeout as exc:  # the connection's body deadline (connections.py)
            err = AwsError(str(exc), code="RequestTimeoutException", status=408)
            response = _response(Reply(err.http_status, errors.encode_error(err), err.error_type))
            response.force_close()
            return response
        except (web.RequestPayloadError, HttpProcessingError) as exc:  # a body aiohttp refused
            detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
            err = AwsError(
                f"Malformed HTTP request body: {detail}"[:300],
                code="InvalidRequestException",
                status=400,
            )
            return _response(Reply(err.http_status, errors.encode_error(err), err.error_type))
        # A connection lost mid-body (which is also how aiohttp ends a request whose chunked
        # body is malformed) leaves nobody to answer: aiohttp logs it and closes the socket.
        # Long work (SearchIndex) goes one slice per loop turn: other clients are answered between.
        reply = await finish(api.start(request.method, request.raw_path, request.headers, body))
        if durability is not None and durability.pending:
            await durability.durable()  # group commit: one fdatasync for the replies of a burst
        return _response(reply)

    return handle


class _AwsErrorsRequestHandler(BoundedRequestHandler):
    """aiohttp's connection handler, answering malformed HTTP with AWS-shaped errors too.

    aiohttp answers what its parser refuses (a method llhttp does not know, a bad request line or
    header, a body over the limit) with a plain-text page and a logged traceback before any
    handler runs; this keeps aiohttp's connection handling, replaces the page and logs one
    rate-limited line instead (a traceback only for a 5xx, which is a bug here).
    """

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
        else:
            detail = one_line(message or str(exc or "") or "malformed request")
            self._bounded.warn(f"malformed request from {request.remote}: {status} {detail}")
        if request.writer.output_size > 0:  # as aiohttp: a reply started, the connection is lost
            raise ConnectionError("Response is sent already, cannot send the error response")
        if status == 413:
            err = errors.too_large(MAX_BODY)
        elif status >= 500:
            err = errors.internal_failure()
        else:
            detail = (message or str(exc or "") or "malformed request").splitlines()[0][:200]
            err = AwsError(
                f"Malformed HTTP request: {detail}", code="InvalidRequestException", status=status
            )
        response = _response(Reply(err.http_status, errors.encode_error(err), err.error_type))
        response.force_close()
        return response


class _AwsErrorsServer(BoundedServer):
    def __call__(self) -> web.RequestHandler:
        # aiohttp's default access logger stays silent below INFO, which ``serve`` never enables.
        # Bodies are not decompressed: SigV4 signs the bytes on the wire, and AWS IoT's APIs
        # take plain JSON (a gzip body fails JSON parsing with the operation's 400).
        return _AwsErrorsRequestHandler(
            self, loop=asyncio.get_running_loop(), auto_decompress=False
        )


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(
    config: ServerConfig,
    *,
    on_ready: Callable[[str], None],
    stop: asyncio.Event,
    plane: object | None = None,
    durability: Durability | None = None,
) -> None:
    """Listen on ``config.host:config.port`` until ``stop`` is set.

    ``on_ready`` receives the base URL (with the real port when ``config.port`` is 0) once the
    socket is listening. ``plane`` is the control plane to serve (shared with the MQTT bridge);
    a fresh one by default. With ``durability`` (``--state-dir``) each reply is sent once the
    journal records it may show are on disk. Raises :class:`OSError` when the address cannot be
    bound.
    """
    api = build_api(config, asyncio.get_running_loop(), plane)
    # What exists now (botocore's service models, the routes, a restored state) lives as long as
    # the process: frozen out of the collector's generations, a full collection no longer walks
    # it. Measured: 78k such objects made each gen-2 pass hold the loop 150-180 ms.
    gc.freeze()
    limits = config.limits
    server = _AwsErrorsServer(_handler(api, durability), limits=limits)
    runner = web.ServerRunner(
        server, handle_signals=False, shutdown_timeout=limits.shutdown_timeout
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, backlog=limits.backlog)
        await site.start()
        port = runner.addresses[0][1]
        on_ready(_url(config.host, port))
        await stop.wait()
    finally:
        await runner.cleanup()
        server.close_log()
