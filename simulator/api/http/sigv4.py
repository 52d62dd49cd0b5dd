"""SigV4 on the server side: read the ``Authorization`` header, check the signature with botocore.

The credential scope (``AKID/DATE/REGION/SERVICE/aws4_request``) names the service the client
signed for: ``iot``, ``iot-jobs-data`` or ``iotdata``. That is how requests are routed, since the
jobs control and data planes share paths.

Verification recomputes the canonical request, string to sign and signature with botocore's own
:class:`botocore.auth.SigV4Auth` over the request exactly as received (raw path and query, the
headers named in ``SignedHeaders``, the body), using the request's ``X-Amz-Date``, and compares the
signatures in constant time. Two changes for speed keep botocore's algorithms: the request is a
light duck-typed container instead of an ``AWSRequest`` (whose ``email.message`` headers dominate
the cost), and the derived signing key is cached per day.

Checked as AWS does before the signature:

* **Clock skew.** "In most cases, a request must reach AWS within five minutes of the time stamp
  in the request" (IAM User Guide, *Elements of an AWS API request signature*). A request whose
  ``X-Amz-Date`` is more than :data:`MAX_SKEW` seconds before or after the injected clock gets
  ``InvalidSignatureException`` with AWS's wording, ``Signature expired: 20240101T000000Z is now
  earlier than 20240101T115500Z (20240101T120000Z - 5 min.)`` or ``Signature not yet current:
  ... is still later than ... (... + 5 min.)``. A replay inside the window is accepted, as by AWS.
* **Payload hash.** When ``x-amz-content-sha256`` is a signed header, botocore's signer puts its
  value in the canonical request instead of hashing the body; so unless it is the body's SHA-256
  the request is refused with the signature-mismatch error (what a server that hashes the body it
  received computes). ``UNSIGNED-PAYLOAD`` is documented for Amazon S3 only; it is refused unless
  the verifier is built with ``unsigned_payload=True`` (``fleetsim serve
  --allow-unsigned-payload``), since whether AWS IoT accepts it could not be verified.

Not checked (unlike AWS): session tokens and presigned (query-string) URLs.
"""

from __future__ import annotations

import calendar
import datetime
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, cast

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials
from multidict import MultiMapping

from simulator.api.http import errors

__all__ = ["MAX_SKEW", "Authorization", "Verifier", "parse_amz_date", "parse_authorization"]

_ALGORITHM = "AWS4-HMAC-SHA256"
#: Seconds a request's ``X-Amz-Date`` may be away from the server's clock (AWS: five minutes).
MAX_SKEW: Final = 300.0
UNSIGNED_PAYLOAD: Final = "UNSIGNED-PAYLOAD"
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")


@dataclass(frozen=True, slots=True)
class Authorization:
    """The parts of an ``AWS4-HMAC-SHA256`` Authorization header."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> Authorization:
    """Split an Authorization header; raises ``IncompleteSignatureException`` when malformed."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != _ALGORITHM:
        raise errors.incomplete_signature(
            f"Authorization header requires the {_ALGORITHM} algorithm"
        )
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            parts[key] = val
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not parts.get(k)]
    if missing:
        raise errors.incomplete_signature(
            f"Authorization header requires '{missing[0]}' parameter. Authorization={value[:200]}"
        )
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise errors.incomplete_signature(
            "Credential should be scoped with a valid terminator: 'aws4_request', "
            f"not '{parts['Credential'][:200]}'."
        )
    return Authorization(
        access_key=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(parts["SignedHeaders"].split(";")),
        signature=parts["Signature"],
    )


def parse_amz_date(value: str) -> float:
    """Seconds since the epoch of an ``X-Amz-Date`` (``YYYYMMDD'T'HHMMSS'Z'``, UTC).

    Raises ``IncompleteSignatureException`` for anything else (another ISO-8601 form, an
    impossible date such as month 13).
    """
    if _AMZ_DATE.fullmatch(value) is not None:
        try:
            moment = datetime.datetime(  # validates the ranges (no 30 February)
                int(value[0:4]),
                int(value[4:6]),
                int(value[6:8]),
                int(value[9:11]),
                int(value[11:13]),
                int(value[13:15]),
            )
        except ValueError:
            pass
        else:
            return float(calendar.timegm(moment.timetuple()))
    raise errors.incomplete_signature(
        f"Date must be in ISO-8601 'basic format'. Got '{value[:64]}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


def _stamp(seconds: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(int(seconds)))


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _SignedHeaders:
    """The signed headers of a received request, in the shape botocore's signer reads.

    botocore iterates header names, calls ``get_all(name)`` and tests ``name in headers``
    (case-insensitively); ``email.message``-based ``HTTPHeaders`` does that too, at several times
    the cost, so this plain container stands in for it.
    """

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()][0]

    def get_all(self, name: str) -> list[str]:
        return self._values.get(name.lower(), [])


@dataclass(slots=True)
class _ReceivedRequest:
    """What :class:`SigV4Auth` reads from a request (method, url, headers, body, context)."""

    method: str
    url: str
    headers: _SignedHeaders
    body: bytes
    context: dict[str, Any]
    params: dict[str, str] = field(default_factory=dict)


class _ReceivedRequestAuth(SigV4Auth):
    """botocore's signer, told to sign exactly the headers the client says it signed.

    The signing key (four chained HMACs of the secret, date, region and service) is derived with
    botocore's ``_sign`` once per day and scope instead of once per request.
    """

    # Inherited from botocore but missing from its type stubs.
    _sign: Callable[[bytes, str, bool], Any]
    _region_name: str
    _service_name: str

    def __init__(self, credentials: Credentials, service_name: str, region_name: str) -> None:
        super().__init__(credentials, service_name, region_name)
        self._keys: dict[str, bytes] = {}

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return request.headers

    def signature(self, string_to_sign: str, request: AWSRequest) -> str:
        date = request.context["timestamp"][0:8]
        key = self._keys.get(date)
        if key is None:
            if len(self._keys) > 4:  # one date a day is normal; do not grow on forged dates
                self._keys.clear()
            secret = self.credentials.secret_key
            k_date = self._sign(f"AWS4{secret}".encode(), date, False)
            k_region = self._sign(k_date, self._region_name, False)
            k_service = self._sign(k_region, self._service_name, False)
            key = self._keys[date] = self._sign(k_service, "aws4_request", False)
        return str(self._sign(key, string_to_sign, True))


class Verifier:
    """Checks SigV4 signatures against a fixed set of access keys and one region.

    ``clock`` gives the current time (seconds since the epoch) that ``X-Amz-Date`` must be within
    ``max_skew`` of; ``unsigned_payload`` accepts ``x-amz-content-sha256: UNSIGNED-PAYLOAD``.
    """

    def __init__(
        self,
        secrets: Mapping[str, str],
        *,
        region: str,
        clock: Callable[[], float],
        max_skew: float = MAX_SKEW,
        unsigned_payload: bool = False,
    ) -> None:
        self._secrets = dict(secrets)
        self._region = region
        self._clock = clock
        self._max_skew = max_skew
        self._unsigned_payload = unsigned_payload
        self._signers: dict[tuple[str, str], _ReceivedRequestAuth] = {}

    def _check_skew(self, amz_date: str, signed_at: float) -> None:
        now = self._clock()
        minutes = f"{self._max_skew / 60:g} min."
        if signed_at < now - self._max_skew:
            raise errors.invalid_signature(
                f"Signature expired: {amz_date} is now earlier than "
                f"{_stamp(now - self._max_skew)} ({_stamp(now)} - {minutes})"
            )
        if signed_at > now + self._max_skew:
            raise errors.invalid_signature(
                f"Signature not yet current: {amz_date} is still later than "
                f"{_stamp(now + self._max_skew)} ({_stamp(now)} + {minutes})"
            )

    def _check_payload_hash(self, declared: list[str], body: bytes) -> None:
        """A signed ``x-amz-content-sha256`` must be the body's hash (botocore trusts it)."""
        if declared == [UNSIGNED_PAYLOAD] and self._unsigned_payload:
            return
        if declared != [hashlib.sha256(body).hexdigest()]:
            raise errors.invalid_signature()

    def _signer(self, access_key: str, secret: str, service: str) -> _ReceivedRequestAuth:
        signer = self._signers.get((access_key, service))
        if signer is None:
            credentials = Credentials(access_key, secret)
            signer = _ReceivedRequestAuth(credentials, service, self._region)
            if len(self._signers) < 64:  # services are few; do not grow on garbage scopes
                self._signers[access_key, service] = signer
        return signer

    def verify(
        self,
        auth: Authorization,
        *,
        method: str,
        target: str,
        headers: MultiMapping[str],
        body: bytes,
    ) -> None:
        """Raise the AWS 4xx error a real endpoint would for a request that does not verify."""
        secret = self._secrets.get(auth.access_key)
        if secret is None:
            raise errors.unrecognized_client()
        if auth.region != self._region:
            raise errors.invalid_signature(
                f"Credential should be scoped to a valid region, not '{auth.region[:64]}'."
            )
        amz_date = headers.get("x-amz-date")
        if amz_date is None:
            raise errors.incomplete_signature(
                "Authorization header requires existence of either a 'X-Amz-Date' or a "
                "'Date' header."
            )
        signed_at = parse_amz_date(amz_date)
        if amz_date[:8] != auth.date:
            raise errors.invalid_signature(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{auth.date[:16]}' != '{amz_date[:8]}', from '{amz_date[:32]}'."
            )
        self._check_skew(amz_date, signed_at)
        if "host" not in auth.signed_headers:
            raise errors.invalid_signature(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
            )
        values: dict[str, list[str]] = {}
        for name in auth.signed_headers:
            found = headers.getall(name, ())
            if not all(_is_utf8(v) for v in found):
                # Bytes that are not UTF-8 (kept as surrogates) cannot be in a canonical
                # request, which is UTF-8: no client could have signed them.
                raise errors.invalid_signature()
            if found:
                values[name.lower()] = list(found)
        declared = values.get("x-amz-content-sha256")
        if declared is not None:
            self._check_payload_hash(declared, body)
        received = _ReceivedRequest(
            method, f"http://fleetsim{target}", _SignedHeaders(values), body, {}
        )
        received.context["timestamp"] = amz_date
        request = cast(AWSRequest, received)  # duck-typed: only the attributes botocore reads
        signer = self._signer(auth.access_key, secret, auth.service)
        try:
            canonical = signer.canonical_request(request)
            expected = signer.signature(signer.string_to_sign(request, canonical), request)
        except (UnicodeError, ValueError):
            # A path urlsplit refuses: botocore could not have produced this signature either.
            raise errors.invalid_signature() from None
        given = auth.signature.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(expected.encode(), given):
            raise errors.invalid_signature()
