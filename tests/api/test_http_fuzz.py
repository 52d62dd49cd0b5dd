"""Hypothesis over the HTTP API: no input yields a 5xx, every error is AWS-shaped, the server lives.

Requests are built around the route table (right and wrong methods, path labels of random text,
``%``-garbage, over-long values; query strings with the operation's parameters and others; bodies
of malformed JSON, wrong types, huge numbers, deep nesting, unicode), then

* signed correctly with botocore's SigV4Auth (so they get past authentication into routing,
  parsing and the services) for a SigV4-verifying API;
* unsigned, for an ``--auth none`` API (the same depth without a signature) and for the verifying
  one (which must refuse them all with 4xx).

The bulk of the examples go in-process to the sans-IO :class:`~simulator.api.http.HttpApi`, built
as ``fleetsim serve`` builds it (:func:`~simulator.api.http.build_api`), with the headers as
aiohttp would hand them over. A short run sends the same kind of requests, and every example in
:data:`NASTY`, over a real socket to ``fleetsim serve`` subprocesses, which must stay healthy.

The fuzzed requests are valid HTTP/1.1 (http.client refuses to send anything else); what aiohttp
answers to malformed HTTP itself is out of scope.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import http.client
import json
import logging
import re
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from simulator.api.http import ROUTES, HttpApi, Route, ServerConfig, build_api
from simulator.api.http.operations import compile_routes, service_model
from simulator.api.http.patterns import compile_java, translate
from tests.api.conftest import Server
from tests.hypothesis_profiles import examples

OPERATIONS = {op.route: op for op in compile_routes()}
METHODS = ("GET", "PUT", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "FOO")
SIGNING_NAMES = ("iot", "iot-jobs-data", "iotdata")
LABEL = re.compile(r"\{[^}]+\}")
#: Headers the fuzzer must not set (framing and what SigV4/http.client set themselves).
RESERVED = {"host", "content-length", "transfer-encoding", "authorization", "x-amz-date", "expect"}
FUZZ = settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: In-process. ``no_unhandled_errors`` (function scope) spans all the examples of a test, as meant.
FUZZ_IN_PROCESS = settings(
    FUZZ,
    suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture],
)
#: Over the socket: the framing, aiohttp's header and body handling, and the servers' health.
#: The explicit examples (:data:`NASTY`) always run on top of these.
FUZZ_SOCKET = settings(FUZZ, max_examples=examples(25))
#: The URL the in-process requests are signed for (its host is the ``Host`` header).
IN_PROCESS_URL = "http://127.0.0.1:8000"

Request = tuple[str, str, dict[str, str], bytes, str]


def example_each(values: list[Request], name: str, **fixed: Any) -> Callable[[Any], Any]:
    """``@example(name=value, **fixed)`` for each value: always run, before the random ones."""

    def decorate(test: Any) -> Any:
        for value in values:
            test = example(**{name: value}, **fixed)(test)
        return test

    return decorate


# -- strategies ------------------------------------------------------------------------------

garbage = st.sampled_from(
    ["%", "%z", "%zz", "%FF", "%C3%28", "%ED%A0%80", "%00", "%2F", "%24next", "$next", "..", "."]
)
text = st.text(max_size=40)
segment = st.one_of(
    st.from_regex(r"[a-zA-Z0-9_:-]{1,20}", fullmatch=True),
    text.map(lambda s: urllib.parse.quote(s, safe="")),
    garbage,
    st.tuples(st.from_regex(r"[a-z0-9]{0,5}", fullmatch=True), garbage).map("".join),
    st.integers(-(2**70), 2**70).map(str),
    st.integers(1, 3000).map(lambda n: "a" * n),
    st.just(""),
)
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.sampled_from([2**64, -(2**64), 2**70]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.integers(1, 5000).map(lambda n: "z" * n),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


# Shape-conforming values: requests that pass validation and reach the services.

_INT_BOUNDS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


@functools.cache  # strategies are built once: building them costs more than drawing from them
def _pattern_strategy(pattern: str, low: int, high: int) -> st.SearchStrategy[str]:
    compiled = compile_java(pattern)
    translated = translate(pattern)
    try:
        base = st.from_regex(re.compile(translated or ""), fullmatch=True)
    except re.error:  # \p{...} classes: stdlib re cannot generate them; filter plain text
        base = st.text(min_size=low, max_size=high)
    return base.filter(
        lambda v: low <= len(v) <= high and (compiled is None or compiled.fullmatch(v) is not None)
    )


@functools.cache  # botocore's shapes are built once per (cached) service model
def conforming(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "string":
        assert isinstance(shape, StringShape)
        if shape.enum:
            return st.sampled_from(shape.enum)
        low, high = int(meta.get("min", 0)), min(int(meta.get("max", 64)), 64)
        pattern = meta.get("pattern")
        if pattern:
            return _pattern_strategy(pattern, low, max(low, high))
        return st.text(min_size=low, max_size=max(low, high))
    if kind in _INT_BOUNDS:
        lowest, highest = _INT_BOUNDS[kind]
        return st.integers(int(meta.get("min", lowest)), int(meta.get("max", highest)))
    if kind in ("float", "double"):
        return st.floats(meta.get("min"), meta.get("max"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.integers(0, 2**31)
    if kind == "blob":
        return st.binary(max_size=20).map(lambda b: base64.b64encode(b).decode())
    if kind == "list":
        assert isinstance(shape, ListShape)
        low = int(meta.get("min", 0))
        return st.lists(conforming(shape.member, depth + 1), min_size=low, max_size=max(low, 2))
    if kind == "map":
        assert isinstance(shape, MapShape)
        return st.dictionaries(
            conforming(shape.key, depth + 1), conforming(shape.value, depth + 1), max_size=2
        )
    assert isinstance(shape, StructureShape)
    required = {n: conforming(shape.members[n], depth + 1) for n in shape.required_members}
    optional = {
        n: conforming(m, depth + 1)
        for n, m in shape.members.items()
        if n not in shape.required_members and depth < 3
    }
    return st.fixed_dictionaries(required, optional=optional)


def _input(route: Route) -> StructureShape | None:
    shape = service_model(route.service).operation_model(route.operation).input_shape
    assert shape is None or isinstance(shape, StructureShape)
    return shape


shadow_documents = st.fixed_dictionaries(
    {},
    optional={
        "state": st.fixed_dictionaries(
            {}, optional={"desired": json_value, "reported": json_value}
        ),
        "version": st.integers(-2, 5),
        "clientToken": st.text(max_size=70),
    },
)


@st.composite
def conforming_request(draw: st.DrawFn, route: Route) -> tuple[str, bytes]:
    """A target and body whose members all conform to the input shape."""
    op = OPERATIONS[route]
    shape = _input(route)
    members = {} if shape is None else shape.members
    values: dict[str, Any] = {}
    if shape is not None:
        values = draw(conforming(shape))
    path = route.uri
    for member in op.uri:
        value = values.get(member.name)
        if value is None:
            value = draw(conforming(members[member.name]))
        text_value = str(value).lower() if isinstance(value, bool) else str(value)
        path = path.replace("{" + member.wire_name + "}", urllib.parse.quote(text_value, safe=""))
    query = [
        (
            m.wire_name,
            str(values[m.name]).lower()
            if isinstance(values[m.name], bool)
            else str(values[m.name]),
        )
        for m in op.query.values()
        if m.name in values
    ]
    target = path + (
        "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote) if query else ""
    )
    if op.payload is not None:
        return target, json.dumps(draw(shadow_documents)).encode()
    body = {m.wire_name: values[m.name] for m in op.body if m.name in values}
    send_empty_object: bool = draw(st.booleans())
    return target, json.dumps(body).encode() if body or send_empty_object else b""


@st.composite
def bodies(draw: st.DrawFn, route: Route) -> bytes:
    op = OPERATIONS[route]
    names = [m.wire_name for m in op.body] or ["state", "x"]
    choice = draw(st.integers(0, 6))
    if choice == 0:
        return b""
    if choice == 1:
        return draw(st.binary(max_size=200))
    if choice == 2:
        return draw(st.sampled_from([b"{", b"[1,2", b'{"a":}', b"nul", b"\xff\xfe", b'"\\ud800"']))
    if choice == 3:
        depth = draw(st.integers(1, 3000))
        return b"[" * depth + b"]" * depth
    if choice == 4:
        return json.dumps(draw(json_value)).encode()
    members = draw(st.dictionaries(st.sampled_from(names), json_value, max_size=len(names)))
    return json.dumps(members, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def targets(draw: st.DrawFn, route: Route) -> str:
    if draw(st.integers(0, 9)) == 0:
        path = "/" + "/".join(draw(st.lists(segment, max_size=6)))
    else:
        path = LABEL.sub(lambda _: draw(segment), route.uri)
    op = OPERATIONS[route]
    keys = st.one_of(st.sampled_from(sorted(op.query) or ["name"]), st.text(max_size=8))
    values = st.one_of(segment, st.sampled_from(["true", "false", "0", "-1", "250", "1e9"]))
    pairs = draw(st.lists(st.tuples(keys, values), max_size=5))
    if not pairs:
        return path
    query = "&".join(f"{urllib.parse.quote(k, safe='')}={v}" for k, v in pairs)
    if draw(st.booleans()):
        query += draw(st.sampled_from(["&", "&&", "=", "&=x", "&%", "&a=%zz"]))
    return f"{path}?{query}"


header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True).filter(
    lambda n: n.lower() not in RESERVED
)
ascii_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
latin1_values = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60
)
header_values = st.one_of(ascii_values, ascii_values, ascii_values, latin1_values).map(str.strip)
SIGNING = {"iot": "iot", "iot-jobs-data": "iot-jobs-data", "iot-data": "iotdata"}


@functools.cache
def _per_route(
    route: Route,
) -> tuple[st.SearchStrategy[tuple[str, bytes]], st.SearchStrategy[str], st.SearchStrategy[bytes]]:
    """A route's conforming requests, targets and bodies, built once."""
    return conforming_request(route), targets(route), bodies(route)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes, str]:
    route = draw(st.sampled_from(ROUTES))
    service = (
        SIGNING[route.service] if draw(st.integers(0, 4)) else draw(st.sampled_from(SIGNING_NAMES))
    )
    headers = draw(st.dictionaries(header_names, header_values, max_size=3))
    if draw(st.booleans()):
        # Shape-conforming: gets past validation into the service (or its "not wired" error).
        target, body = draw(_per_route(route)[0])
        return route.method, target, headers, body, service
    method = route.method if draw(st.integers(0, 4)) else draw(st.sampled_from(METHODS))
    if draw(st.booleans()):
        headers["Content-Type"] = draw(
            st.sampled_from(["application/json", "text/plain", "application/x-amz-json-1.1"])
        )
    return method, draw(_per_route(route)[1]), headers, draw(_per_route(route)[2]), service


# -- sending and the invariant ----------------------------------------------------------------


def _send(
    server: Server, method: str, target: str, headers: dict[str, str], body: bytes
) -> tuple[int, http.client.HTTPMessage, bytes]:
    netloc = urllib.parse.urlsplit(server.url).netloc
    host, port = netloc.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", netloc)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def _handle(
    api: HttpApi, method: str, target: str, headers: dict[str, str], body: bytes
) -> tuple[int, str | None, bytes]:
    """What :func:`_send` does, without the socket: (status, x-amzn-ErrorType, body).

    The headers are what aiohttp hands the dispatcher for the bytes http.client sends: ``Host``,
    the given ones, ``Content-Length``; values travel as latin-1 and arrive decoded as UTF-8 with
    surrogate escapes.
    """
    received: CIMultiDict[str] = CIMultiDict(Host=urllib.parse.urlsplit(IN_PROCESS_URL).netloc)
    for name, value in headers.items():
        received.add(name, value.encode("latin-1").decode("utf-8", "surrogateescape"))
    received.add("Content-Length", str(len(body)))
    reply = api.handle(method, target, CIMultiDictProxy(received), body)
    return reply.status, reply.error_type, reply.body


def _sign(url: str, request: Request) -> dict[str, str]:
    method, target, headers, body, service = request
    signed = AWSRequest(method=method, url=url + target, headers=headers, data=body)
    SigV4Auth(Credentials("test", "test"), service, "us-east-1").add_auth(signed)
    return dict(signed.headers.items())


def _check_reply(status: int, error_type: str | None, body: bytes, *, has_body: bool) -> None:
    """The invariant: never a 5xx; an error carries its AWS type and a JSON ``message``."""
    assert status < 500, (status, body[:300])
    event(f"{status} {error_type or ''}")
    if status >= 400:
        assert error_type, (status, body[:300])
        if has_body:
            document = json.loads(body)
            assert isinstance(document, dict)
            assert isinstance(document["message"], str)


def _check(method: str, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
    # A reply to HEAD has no body on the wire.
    _check_reply(status, headers.get("x-amzn-ErrorType"), body, has_body=method != "HEAD")


@pytest.fixture(scope="module")
def apis() -> Iterator[dict[str, HttpApi]]:
    """In-process APIs as ``fleetsim serve`` builds them: SigV4 (default) and ``--auth none``.

    Their timers go to a loop that never runs: the fuzz is about answering requests.
    """
    loop = asyncio.new_event_loop()
    try:
        yield {
            "sigv4": build_api(ServerConfig(), loop),
            "none": build_api(ServerConfig(auth="none"), loop),
        }
    finally:
        loop.close()


@pytest.fixture
def no_unhandled_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The dispatcher logs every unexpected exception (the one 500): there must be none."""
    with caplog.at_level(logging.ERROR, logger="simulator.api.http"):
        yield
    assert not caplog.records, caplog.text


@pytest.fixture(scope="module")
def open_server(start_server: Callable[..., Server]) -> Iterator[Server]:
    yield start_server("--auth", "none")


def _still_healthy(server: Server) -> None:
    assert server.alive()
    assert "things" in server.client("iot").list_things(maxResults=1)
    assert "unhandled error" not in server.stderr()


#: Inputs that once broke something, or that random generation finds too rarely.
NASTY: list[Request] = [
    ("PUT", "/packages/%FF", {}, b"", "iot"),  # undecodable bytes quoted in an error message
    ("GET", "/things/%C3%28/shadow?name=%ED%A0%80", {}, b"", "iotdata"),
    ("GET", "/things/x%00y/jobs/%24next?includeJobDocument=maybe", {}, b"", "iot-jobs-data"),
    ("POST", "/things/x", {}, b'{"attributePayload":{"attributes":{"k":"\\ud800"}}}', "iot"),
    ("POST", "/things/x/shadow", {}, b"[" * 5000 + b"]" * 5000, "iotdata"),
    ("PUT", "/things/x/jobs/$next", {}, b'{"stepTimeoutInMinutes":1e400}', "iot-jobs-data"),
    ("GET", "/things?maxResults=99999999999999999999999&nextToken=%zz", {}, b"", "iot"),
    ("GET", "/things/" + "a" * 3000, {"X-Note": "\xe9t\xe9"}, b"", "iot"),
    ("FOO", "/", {}, b"", "iot"),
    ("DELETE", "/things/t/jobs/j/executionNumber/-99999999999999999999999", {}, b"", "iot"),
    ("POST", "/things/x", {"Content-Encoding": "gzip"}, b"not gzip at all", "iot"),
    ("POST", "/things/x", {"Content-Encoding": "deflate"}, b"\x00\x01", "iot"),
]
AUTHORIZATIONS = st.one_of(
    st.none(),
    header_values,
    st.just("AWS4-HMAC-SHA256 Credential=a/b/c/iot/aws4_request, SignedHeaders=host, Signature=x"),
)


# -- in-process: the sans-IO dispatcher ---------------------------------------------------------


@FUZZ_IN_PROCESS
@given(request=requests())
@example_each(NASTY, "request")
def test_signed_requests(
    apis: dict[str, HttpApi],
    no_unhandled_errors: None,
    request: tuple[str, str, dict[str, str], bytes, str],
) -> None:
    method, target, _, body, _ = request
    signed = _sign(IN_PROCESS_URL, request)
    _check_reply(*_handle(apis["sigv4"], method, target, signed, body), has_body=True)


@FUZZ_IN_PROCESS
@given(request=requests(), authorization=AUTHORIZATIONS)
@example_each(NASTY, "request", authorization=None)
def test_unsigned_requests(
    apis: dict[str, HttpApi],
    no_unhandled_errors: None,
    request: tuple[str, str, dict[str, str], bytes, str],
    authorization: str | None,
) -> None:
    method, target, headers, body, _ = request
    if authorization is not None:
        headers = {**headers, "Authorization": authorization}
    status, error_type, reply = _handle(apis["sigv4"], method, target, headers, body)
    _check_reply(status, error_type, reply, has_body=True)
    assert 400 <= status < 500  # nothing passes without a valid signature
    _check_reply(*_handle(apis["none"], method, target, headers, body), has_body=True)


# -- over the socket: fleetsim serve ------------------------------------------------------------
#
# Each test checks, after all its examples, that the servers still answer valid requests: in the
# test itself, so that it holds however the tests are spread over pytest-xdist's workers.


def test_signed_requests_over_the_socket(server: Server) -> None:
    @FUZZ_SOCKET
    @given(request=requests())
    @example_each(NASTY, "request")
    def fuzz(request: Request) -> None:
        method, target, _, body, _ = request
        signed = _sign(server.url, request)
        status, reply_headers, reply = _send(server, method, target, signed, body)
        _check(method, status, reply_headers, reply)

    fuzz()
    _still_healthy(server)


def test_unsigned_requests_over_the_socket(server: Server, open_server: Server) -> None:
    @FUZZ_SOCKET
    @given(request=requests(), authorization=AUTHORIZATIONS)
    @example_each(NASTY, "request", authorization=None)
    def fuzz(request: Request, authorization: str | None) -> None:
        method, target, headers, body, _ = request
        if authorization is not None:
            headers = {**headers, "Authorization": authorization}
        status, reply_headers, reply = _send(server, method, target, headers, body)
        _check(method, status, reply_headers, reply)
        assert 400 <= status < 500  # nothing passes without a valid signature
        status, reply_headers, reply = _send(open_server, method, target, headers, body)
        _check(method, status, reply_headers, reply)

    fuzz()
    _still_healthy(server)
    _still_healthy(open_server)


def test_oversized_body_is_413(server: Server) -> None:
    body = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    headers = _sign(server.url, ("POST", "/things/big", {}, body, "iot"))
    status, reply_headers, reply = _send(server, "POST", "/things/big", headers, body)
    assert status == 413
    assert reply_headers["x-amzn-ErrorType"] == "RequestEntityTooLargeException"
    assert "message" in json.loads(reply)
