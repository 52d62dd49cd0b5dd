"""SigV4 as strict as AWS: signatures expire, a signed payload hash must be the body's.

In process, the :class:`~simulator.api.http.sigv4.Verifier` with a fake clock checks requests that
botocore's own ``SigV4Auth`` signed at a fixed time (``botocore.auth.get_current_datetime``
patched), and Hypothesis checks the date and header parsing. On the wire, a real boto3 client
whose clock is 20 minutes (or 5 years) behind, and hand-built requests with a tampered body, go
to a real ``fleetsim serve``.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import botocore.auth
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from simulator.api.http.sigv4 import (
    MAX_SKEW,
    Verifier,
    parse_amz_date,
    parse_authorization,
)
from simulator.core.errors import AwsError
from tests.api.conftest import Server, aws_error

_HAS_CRT = botocore.auth.AUTH_TYPE_MAPS["v4"] is not SigV4Auth
SIGNED_AT = datetime.datetime(2024, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
T0 = SIGNED_AT.timestamp()
BODY = b'{"attributePayload":{"attributes":{"a":"1"}}}'


def _sign(
    monkeypatch: pytest.MonkeyPatch,
    *,
    when: datetime.datetime = SIGNED_AT,
    url: str = "http://127.0.0.1:1",
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
) -> AWSRequest:
    """A ``POST /things/T`` signed by botocore at ``when`` (``headers`` are signed too)."""
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: when.replace(tzinfo=None))
    request = AWSRequest(
        method="POST", url=f"{url}/things/dev-{uuid.uuid4().hex[:8]}", data=body, headers=headers
    )
    SigV4Auth(Credentials("test", "test"), "iot", "us-east-1").add_auth(request)
    monkeypatch.undo()
    return request


def _verify(
    request: AWSRequest,
    *,
    now: float,
    body: bytes | None = None,
    unsigned_payload: bool = False,
) -> None:
    """Verify ``request`` (its body replaced by ``body``) as received at ``now``."""
    verifier = Verifier(
        {"test": "test"}, region="us-east-1", clock=lambda: now, unsigned_payload=unsigned_payload
    )
    prepared = request.prepare()
    headers: CIMultiDict[str] = CIMultiDict(Host="127.0.0.1:1")
    for name, value in prepared.headers.items():
        headers[name] = value
    target = prepared.url.split("127.0.0.1:1", 1)[1]
    verifier.verify(
        parse_authorization(headers["Authorization"]),
        method="POST",
        target=target,
        headers=CIMultiDictProxy(headers),
        body=BODY if body is None else body,
    )


def _ignore(value: object) -> None:
    del value


def _refused(call: Callable[[], None]) -> AwsError:
    with pytest.raises(AwsError) as info:
        call()
    return info.value


# -- clock skew ----------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, -MAX_SKEW, MAX_SKEW, 1.5, -299.9])
def test_accepted_within_five_minutes_either_way(
    monkeypatch: pytest.MonkeyPatch, offset: float
) -> None:
    _verify(_sign(monkeypatch), now=T0 + offset)


def test_expired_signature_has_aws_message(monkeypatch: pytest.MonkeyPatch) -> None:
    err = _refused(lambda: _verify(_sign(monkeypatch), now=T0 + MAX_SKEW + 1))
    assert (err.error_type, err.http_status) == ("InvalidSignatureException", 403)
    assert err.message == (
        "Signature expired: 20240101T120000Z is now earlier than 20240101T120001Z "
        "(20240101T120501Z - 5 min.)"
    )


def test_future_signature_has_aws_message(monkeypatch: pytest.MonkeyPatch) -> None:
    err = _refused(lambda: _verify(_sign(monkeypatch), now=T0 - MAX_SKEW - 1))
    assert (err.error_type, err.http_status) == ("InvalidSignatureException", 403)
    assert err.message == (
        "Signature not yet current: 20240101T120000Z is still later than 20240101T115959Z "
        "(20240101T115459Z + 5 min.)"
    )


@given(offset=st.integers(min_value=-2 * int(MAX_SKEW), max_value=2 * int(MAX_SKEW)))
def test_accepted_exactly_when_within_the_window(offset: int) -> None:
    """A botocore signature made at T0 verifies at T0 + offset iff |offset| <= 300 s."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        request = _sign(monkeypatch)
    try:
        _verify(request, now=T0 + offset)
    except AwsError as err:
        assert abs(offset) > MAX_SKEW, err
        assert err.error_type == "InvalidSignatureException"
        assert err.message.startswith("Signature expired" if offset > 0 else "Signature not yet")
    else:
        assert abs(offset) <= MAX_SKEW


# -- the X-Amz-Date and Authorization parsers ----------------------------------------------------


@given(st.datetimes(min_value=datetime.datetime(1970, 1, 1)))
def test_amz_date_round_trip(moment: datetime.datetime) -> None:
    moment = moment.replace(microsecond=0, tzinfo=datetime.UTC)
    assert parse_amz_date(moment.strftime("%Y%m%dT%H%M%SZ")) == moment.timestamp()


@given(st.text(max_size=40) | st.from_regex(r"[0-9]{8}T[0-9]{6}Z", fullmatch=True))
def test_amz_date_parses_or_is_an_aws_error(text: str) -> None:
    try:
        value = parse_amz_date(text)
    except AwsError as err:
        assert (err.error_type, err.http_status) == ("IncompleteSignatureException", 400)
        assert err.message.startswith("Date must be in ISO-8601 'basic format'.")
    else:
        assert isinstance(value, float)


@pytest.mark.parametrize(
    "text", ["2024-01-01T12:00:00Z", "20240101T120000", "20241301T120000Z", "20240230T000000Z"]
)
def test_amz_date_refuses_other_forms(text: str) -> None:
    err = _refused(lambda: _ignore(parse_amz_date(text)))
    assert err.error_type == "IncompleteSignatureException"


@given(st.text(max_size=300))
def test_authorization_parses_or_is_an_aws_error(value: str) -> None:
    try:
        parse_authorization(value)
    except AwsError as err:
        assert err.error_type == "IncompleteSignatureException"


@given(date=st.text(max_size=24), now=st.floats(min_value=-1e12, max_value=1e12))
def test_any_date_header_and_clock_give_an_aws_error(date: str, now: float) -> None:
    """Whatever X-Amz-Date a signed request carries and whatever the clock says: AwsError only."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        request = _sign(monkeypatch)
    del request.headers["X-Amz-Date"]
    request.headers["X-Amz-Date"] = date
    try:
        _verify(request, now=now)
    except AwsError as err:
        assert err.http_status in (400, 403)


# -- payload hash --------------------------------------------------------------------------------


def _hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def test_signed_payload_hash_must_match_the_body(monkeypatch: pytest.MonkeyPatch) -> None:
    request = _sign(monkeypatch, headers={"X-Amz-Content-SHA256": _hash(BODY)})
    _verify(request, now=T0)
    tampered = BODY.replace(b'"1"', b'"2"')
    err = _refused(lambda: _verify(request, now=T0, body=tampered))
    assert (err.error_type, err.http_status) == ("InvalidSignatureException", 403)
    assert err.message.startswith("The request signature we calculated does not match")


def test_unsigned_hash_header_is_ignored_the_body_is_hashed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = _sign(monkeypatch)
    request.headers["X-Amz-Content-SHA256"] = "0" * 64  # added after signing: not signed
    _verify(request, now=T0)
    _refused(lambda: _verify(request, now=T0, body=b"{}"))


def test_unsigned_payload_refused_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    request = _sign(monkeypatch, headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    err = _refused(lambda: _verify(request, now=T0))
    assert err.error_type == "InvalidSignatureException"
    _verify(request, now=T0, body=b"anything at all", unsigned_payload=True)


# -- on the wire ---------------------------------------------------------------------------------


def _send(request: AWSRequest, body: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    prepared = request.prepare()
    data = bytes(prepared.body) if body is None else body  # type: ignore[arg-type]
    raw = urllib.request.Request(
        prepared.url, data=data, method=prepared.method, headers=dict(prepared.headers)
    )
    try:
        with urllib.request.urlopen(raw, timeout=10) as response:
            return response.status, dict(response.headers), orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), orjson.loads(exc.read())


@pytest.mark.parametrize("behind", [datetime.timedelta(minutes=20), datetime.timedelta(days=1826)])
def test_boto3_with_a_slow_clock_is_refused(
    server: Server, monkeypatch: pytest.MonkeyPatch, behind: datetime.timedelta
) -> None:
    iot = server.client("iot", key="test", secret="test", region_name="us-east-1")
    assert "things" in iot.list_things()  # on time: accepted
    late = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - behind

    def slow_clock(remove_tzinfo: bool = True) -> datetime.datetime:
        return late if remove_tzinfo else late.replace(tzinfo=datetime.UTC)

    # boto3 signs with botocore's CRT signer when awscrt is installed, else with SigV4Auth.
    monkeypatch.setattr(botocore.auth, "get_current_datetime", slow_clock)
    if _HAS_CRT:
        monkeypatch.setattr(
            importlib.import_module("botocore.crt.auth"), "get_current_datetime", slow_clock
        )
    code, status, response = aws_error(iot.list_things)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert response["Error"]["Message"].startswith(
        f"Signature expired: {late:%Y%m%dT%H%M%SZ} is now earlier than "
    )
    assert response["Error"]["Message"].endswith(" - 5 min.)")


def test_request_from_the_future_is_refused(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=10)
    status, headers, body = _send(_sign(monkeypatch, when=ahead, url=server.url))
    assert (status, headers["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")
    assert body["message"].startswith("Signature not yet current: ")


def test_tampered_body_with_the_original_hash_is_refused(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.datetime.now(datetime.UTC)
    request = _sign(
        monkeypatch, when=now, url=server.url, headers={"X-Amz-Content-SHA256": _hash(BODY)}
    )
    assert _send(request)[0] == 200
    status, headers, body = _send(request, BODY.replace(b'"1"', b'"2"'))
    assert (status, headers["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")
    assert body["message"].startswith("The request signature we calculated does not match")


def test_unsigned_payload_on_the_wire(
    server: Server, start_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.datetime.now(datetime.UTC)
    unsigned = {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    status, headers, _ = _send(_sign(monkeypatch, when=now, url=server.url, headers=unsigned))
    assert (status, headers["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")
    lenient = start_server("--allow-unsigned-payload")
    assert _send(_sign(monkeypatch, when=now, url=lenient.url, headers=unsigned))[0] == 200


def test_auth_none_takes_an_expired_signature(
    start_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    open_server = start_server("--auth", "none")
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1826)
    assert _send(_sign(monkeypatch, when=old, url=open_server.url))[0] == 200
