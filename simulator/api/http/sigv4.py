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

Not checked (unlike AWS): clock skew (AWS refuses requests more than five minutes old, which
would break replayed benchmark requests), session tokens and presigned (query-string) URLs.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials
from multidict import MultiMapping

from simulator.api.http import errors

__all__ = ["Authorization", "Verifier", "parse_authorization"]

_ALGORITHM = "AWS4-HMAC-SHA256"


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
    """Checks SigV4 signatures against a fixed set of access keys and one region."""

    def __init__(self, secrets: Mapping[str, str], *, region: str) -> None:
        self._secrets = dict(secrets)
        self._region = region
        self._signers: dict[tuple[str, str], _ReceivedRequestAuth] = {}

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
        if amz_date[:8] != auth.date:
            raise errors.invalid_signature(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{auth.date[:16]}' != '{amz_date[:8]}', from '{amz_date[:32]}'."
            )
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
