"""S3 URLs in presigned-URL placeholders: parse them, and presign with SigV4 query auth.

Signing is botocore's own SigV4 (``S3SigV4QueryAuth``): only the clock is injected, so a URL
minted here is byte-identical to ``s3.generate_presigned_url`` for the same credentials, time and
expiry (a test checks exactly that).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import quote, unquote

from botocore.auth import SIGV4_TIMESTAMP, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from simulator.core.errors import DocumentError

__all__ = ["Presigner", "S3Object", "parse_s3_url"]

MSG_INVALID_URL: Final = "Provided argument for presigned url is invalid"

_VIRTUAL: Final = re.compile(
    r"https://(?P<bucket>[^/]+?)\.s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?"
    r"/(?P<key>.*)"
)
_PATH: Final = re.compile(
    r"https://s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?"
    r"/(?P<bucket>[^/]+)(?:/(?P<key>.*))?"
)
_BUCKET: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]")  # legacy names too
_DNS_BUCKET: Final = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


@dataclass(frozen=True, slots=True)
class S3Object:
    """Bucket, key, optional object version and the region named by the URL (if any)."""

    bucket: str
    key: str
    version_id: str | None = None
    region: str | None = None


def parse_s3_url(url: str, form: Literal["v1", "v2", "upload"]) -> S3Object:
    """Parse the URL of a presigned-URL placeholder.

    ``v1`` URLs are unencoded and carry no version; ``v2`` URLs are S3-SDK-encoded and may end in
    ``%3FversionId%3D<id>`` (path or virtual-hosted style). Upload URLs follow v1 rules and may
    omit the key (a key is generated later from the execution).

    Raises:
        DocumentError: ``Provided argument for presigned url is invalid``.
    """
    version_id: str | None = None
    text = url
    if form == "v2":
        for marker in ("%3FversionId%3D", "?versionId="):
            if marker in text:
                text, version_id = text.split(marker, 1)
                if not version_id:
                    raise DocumentError(MSG_INVALID_URL)
                break
    elif "?" in text:
        raise DocumentError(MSG_INVALID_URL)
    match = _VIRTUAL.fullmatch(text) or _PATH.fullmatch(text)
    if match is None or not _BUCKET.fullmatch(match["bucket"]):
        raise DocumentError(MSG_INVALID_URL)
    key = match["key"] or ""
    if form == "v2":
        # The whole v2 URL is encoded, version id included (ids may hold '+' and '/'); left
        # encoded, the signer would encode it a second time.
        key = unquote(key)
        version_id = version_id and unquote(version_id)
    if not key and form != "upload":
        raise DocumentError(MSG_INVALID_URL)
    return S3Object(match["bucket"], key, version_id, match["region"])


class _FixedTimeAuth(S3SigV4QueryAuth):
    """botocore's S3 query signer with the signing time passed in instead of read from a clock."""

    def __init__(
        self, credentials: Credentials, region: str, expires: int, when: dt.datetime
    ) -> None:
        super().__init__(credentials, "s3", region, expires=expires)
        self._when = when

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._when.strftime(SIGV4_TIMESTAMP)
        # The two hooks below are botocore's own (private, so absent from the type stubs).
        self._modify_request_before_signing(request)  # type: ignore[attr-defined]
        canonical = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical)
        signature = self.signature(string_to_sign, request)
        self._inject_signature_to_request(request, signature)  # type: ignore[attr-defined]


class Presigner:
    """Mints presigned S3 URLs (GET for downloads, PUT for uploads) at an injected time."""

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        session_token: str | None = None,
        *,
        region: str = "us-east-1",
    ) -> None:
        self._credentials = Credentials(access_key, secret_key, session_token)
        self.region = region
        # SigV4 signs with a one-second timestamp, so every URL minted within one second for the
        # same object, method and expiry is the same string: mint it once per second.
        self._second = -1
        self._minted: dict[tuple[S3Object, str, int], str] = {}

    def url_base(self, obj: S3Object, region: str) -> str:
        key = quote(obj.key, safe="/~")
        if _DNS_BUCKET.fullmatch(obj.bucket):
            return f"https://{obj.bucket}.s3.{region}.amazonaws.com/{key}"
        return f"https://s3.{region}.amazonaws.com/{obj.bucket}/{key}"

    def presign(
        self,
        obj: S3Object,
        *,
        now: float,
        expires: int,
        method: Literal["GET", "PUT"] = "GET",
    ) -> str:
        """A SigV4 presigned URL for ``obj``, valid ``expires`` seconds from ``now``."""
        second = int(now)
        if second != self._second:
            self._second = second
            self._minted.clear()
        key = (obj, method, expires)
        url = self._minted.get(key)
        if url is None:
            url = self._minted[key] = self._mint(obj, float(second), expires, method)
        return url

    def _mint(self, obj: S3Object, now: float, expires: int, method: str) -> str:
        region = obj.region or self.region
        params = {"versionId": obj.version_id} if obj.version_id else {}
        request = AWSRequest(method=method, url=self.url_base(obj, region), params=params)
        when = dt.datetime.fromtimestamp(now, tz=dt.UTC).replace(tzinfo=None)
        _FixedTimeAuth(self._credentials, region, expires, when).add_auth(request)
        minted: str = request.prepare().url
        return minted
