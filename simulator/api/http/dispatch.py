"""The HTTP API without the HTTP server: (method, target, headers, body) in, :class:`Reply` out.

Steps, each of which answers an AWS-shaped error when it fails:

1. **service**: the SigV4 credential scope (``iot``, ``iot-jobs-data``, ``iotdata``); with
   ``auth="none"`` and no Authorization header, the first service whose routes match, in the order
   ``iot``, ``iot-data``, ``iot-jobs-data`` (so shared paths go to the control plane);
2. **signature** (``auth="sigv4"``), see :mod:`.sigv4`;
3. **route**: the service's :class:`~.router.Router` on the URL-decoded path segments;
4. **parse and validate** the input (:mod:`.parse`);
5. **call** ``control_plane.<attribute>.<snake_case(operation)>(**kwargs)``;
6. **encode** a typed result with the operation's encoder from :data:`simulator.api.wire.ENCODERS`
   (every routed operation has one), then **serialise** it with orjson (raw bytes
   for a blob ``payload`` output; other ``bytes`` values, such as the jobs data plane's
   ``jobDocument``, become JSON strings).

Between 3 and 4, a :class:`~.throttle.Throttle` (``fleetsim serve --throttle``) may refuse the
request with ThrottlingException (429). One route is not AWS's: ``GET /fleetsim/ca.pem``
(:data:`CA_PATH`, no signature needed) answers the PEM of the CA that signs
CreateKeysAndCertificate's certificates, so ``fleetsim provision`` can give devices the CA.

Any exception other than :class:`~simulator.core.errors.AwsError` is logged and answered with the
one 500, ``InternalFailureException``.

Long work in steps: when the service also has ``start_<operation>`` (SearchIndex:
``IndexService.start_search_index``), step 5 calls it instead and :meth:`HttpApi.start` returns a
:class:`Pending` whose :meth:`~Pending.resume` does one bounded slice of the work at a time, so the
server can answer other requests in between (:meth:`HttpApi.handle` runs it to the end).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol
from urllib.parse import unquote

import orjson
from multidict import MultiMapping

from simulator.api.http import errors
from simulator.api.http.operations import Operation, compile_routes
from simulator.api.http.parse import build_kwargs
from simulator.api.http.router import Match, Router
from simulator.api.http.routes import SIGNING_NAMES, ServiceName
from simulator.api.http.sigv4 import Authorization, Verifier, parse_authorization
from simulator.api.http.throttle import RateExceeded, Throttle
from simulator.api.wire import ENCODERS, Encoder
from simulator.core.errors import AwsError

__all__ = ["CA_PATH", "AuthMode", "HttpApi", "Pending", "Reply", "Resumable"]

AuthMode = Literal["sigv4", "none"]

_log = logging.getLogger("simulator.api.http")
_FALLBACK_ORDER: Final[tuple[ServiceName, ...]] = ("iot", "iot-data", "iot-jobs-data")
_ALL: Final = 1 << 62  # a slice size no work reaches: run it to the end
#: fleetsim's own route: the emulator's CA certificate (PEM), unauthenticated.
CA_PATH: Final = "/fleetsim/ca.pem"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    error_type: str | None = None
    content_type: str = "application/json"


class Resumable(Protocol):
    """Work a service does in bounded slices (what ``start_<operation>`` returns)."""

    def step(self, max_items: int | None = None, /) -> bool:
        """Do one slice of at most ``max_items`` (None: the service's own size); return done."""
        ...

    def result(self) -> Any:
        """The operation's result, once done."""
        ...


class Pending:
    """A request whose answer is still being worked out: :meth:`resume` until it is a Reply."""

    __slots__ = ("_advance",)

    def __init__(self, advance: Callable[[int | None], Reply | None], /) -> None:
        self._advance = advance

    def resume(self, max_items: int | None = None, /) -> Reply | Pending:
        """Do one slice of the work: the reply once done, else this Pending again.

        Args:
            max_items: the slice's size in the work's own items (SearchIndex: documents);
                None lets the service choose.
        """
        reply = self._advance(max_items)
        return self if reply is None else reply


@dataclass(frozen=True, slots=True)
class _Handler:
    operation: Operation
    call: Callable[..., Any] | None
    #: Turns the service's typed result into JSON members (None: the service returns a dict).
    encode: Encoder | None
    #: ``start_<operation>``: the same call as resumable work (None: the service has none).
    start: Callable[..., Resumable] | None = None


def _bytes_as_text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _encode(operation: Operation, result: dict[str, Any]) -> bytes:
    if operation.output_payload is not None:
        payload = result.get(operation.output_payload)
        if payload is None:
            return b""
        if isinstance(payload, bytes):
            return payload
        return orjson.dumps(payload, default=_bytes_as_text)
    return orjson.dumps(result, default=_bytes_as_text)


def _ok(handler: _Handler, result: Any) -> Reply:
    if handler.encode is not None:
        result = handler.encode(result)
    return Reply(200, _encode(handler.operation, result))


def _fail(exc: Exception, service: ServiceName | None, method: str, target: str) -> Reply:
    """An AWS error's reply, or (anything else, logged) the one 500."""
    if isinstance(exc, AwsError):
        return Reply(errors.wire_status(exc, service), errors.encode_error(exc), exc.error_type)
    _log.error("unhandled error answering %s %s", method, target[:200], exc_info=exc)
    failure = errors.internal_failure()
    return Reply(failure.http_status, errors.encode_error(failure), failure.error_type)


class HttpApi:
    """Dispatches requests of the ``iot``, ``iot-jobs-data`` and ``iot-data`` APIs."""

    def __init__(
        self,
        control_plane: object,
        *,
        auth: AuthMode,
        verifier: Verifier | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        if auth == "sigv4" and verifier is None:
            raise ValueError("auth='sigv4' needs a verifier")
        self._auth = auth
        self._verifier = verifier
        self._throttle = throttle
        security = getattr(control_plane, "security", None)
        self._ca_pem: Callable[[], str] | None = getattr(security, "ca_certificate_pem", None)
        entries: dict[ServiceName, list[tuple[str, str, _Handler]]] = {}
        for operation in compile_routes():
            route = operation.route
            service = getattr(control_plane, route.attribute, None)
            call = getattr(service, operation.method_name, None)
            encode = ENCODERS.get((route.service, route.operation))
            start = getattr(service, f"start_{operation.method_name}", None)
            handler = _Handler(
                operation,
                call if callable(call) else None,
                encode,
                start if callable(start) else None,
            )
            entries.setdefault(route.service, []).append((route.method, route.uri, handler))
        self._routers = {name: Router(rows) for name, rows in entries.items()}

    def handle(self, method: str, target: str, headers: MultiMapping[str], body: bytes) -> Reply:
        """Answer one request, long work included; never raises."""
        reply = self.start(method, target, headers, body)
        while isinstance(reply, Pending):
            reply = reply.resume(_ALL)
        return reply

    def start(
        self, method: str, target: str, headers: MultiMapping[str], body: bytes
    ) -> Reply | Pending:
        """Answer one request, or return its :class:`Pending` (long work); never raises."""
        service: ServiceName | None = None
        try:
            if method == "GET" and target.partition("?")[0] == CA_PATH:
                return self._ca()
            auth = self._authenticate(method, target, headers, body)
            service = None if auth is None else SIGNING_NAMES.get(auth.service)
            if auth is not None and service is None:
                raise errors.invalid_signature(
                    f"Credential should be scoped to correct service: '{auth.service[:64]}'."
                )
            return self._dispatch(service, method, target, headers, body)
        except Exception as exc:  # answered, never raised: see _fail
            return _fail(exc, service, method, target)

    def _ca(self) -> Reply:
        if self._ca_pem is None:
            raise errors.unknown_operation("GET", CA_PATH)
        return Reply(200, self._ca_pem().encode(), content_type="application/x-pem-file")

    def _authenticate(
        self, method: str, target: str, headers: MultiMapping[str], body: bytes
    ) -> Authorization | None:
        header = headers.get("authorization")
        if self._auth == "none":
            if header is None:
                return None
            try:
                return parse_authorization(header)
            except AwsError:
                return None  # unauthenticated mode: a garbled header only loses its routing hint
        if header is None:
            raise errors.missing_token()
        auth = parse_authorization(header)
        assert self._verifier is not None
        self._verifier.verify(auth, method=method, target=target, headers=headers, body=body)
        return auth

    def _dispatch(
        self,
        service: ServiceName | None,
        method: str,
        target: str,
        headers: MultiMapping[str],
        body: bytes,
    ) -> Reply | Pending:
        path, _, query = target.partition("?")
        if not path.startswith("/"):
            raise errors.unknown_operation(method, path[:200])
        segments = [unquote(s, errors="surrogateescape") for s in path[1:].split("/")]
        match = self._route(service, method, segments)
        if match is None:
            raise errors.unknown_operation(method, path[:200])
        if match == "method":
            raise errors.method_not_allowed(method, path[:200])
        handler = match.value
        operation = handler.operation
        if handler.call is None:
            raise errors.not_implemented(operation.route.operation)
        throttle = self._throttle
        if throttle is not None and not throttle.admit(
            operation.route.service, operation.route.operation
        ):
            raise RateExceeded()
        kwargs = build_kwargs(operation, match.params, query, headers, body)
        if handler.start is not None:
            work = handler.start(**kwargs)

            def advance(max_items: int | None) -> Reply | None:
                try:
                    return _ok(handler, work.result()) if work.step(max_items) else None
                except Exception as exc:  # answered, never raised: see _fail
                    return _fail(exc, service, method, target)

            return Pending(advance)
        return _ok(handler, handler.call(**kwargs))

    def _route(
        self, service: ServiceName | None, method: str, segments: list[str]
    ) -> Match[_Handler] | Literal["method"] | None:
        if service is not None:
            router = self._routers.get(service)
            return None if router is None else router.match(method, segments)
        fallback: Literal["method"] | None = None
        for name in _FALLBACK_ORDER:
            found = self._routers[name].match(method, segments)
            if isinstance(found, Match):
                return found
            fallback = fallback or found
        return fallback
