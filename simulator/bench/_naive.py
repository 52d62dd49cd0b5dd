"""The naive stdlib implementation the substitution benchmarks compare fleetsim with.

What a first implementation would do, with the standard library only: ``json.loads`` the
document, walk every key and value, ``re.sub`` with a callback on every string, ``json.dumps``.
Phase two signs each URL with ``hmac``/``hashlib`` as the SigV4 documentation describes it,
deriving the signing key for every URL. Its outputs are checked against fleetsim's (as parsed
JSON) before anything is timed; it covers package attributes, all-attributes, artifact and S3
presigned URLs, uploads with ``${thingName}``/``${jobId}``/``${executionNumber}``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from simulator.core.catalog import Catalog
from simulator.core.substitution import S3Object, parse_s3_url

__all__ = ["Credentials", "NaiveFetch", "naive_prepare", "naive_presign", "walk"]

_PACKAGE: Final = re.compile(
    r"\$\{aws:iot:package:([^:}]*):version:([^:}]*):"
    r"(attributes(?::([^}]*))?|artifact-location:s3-presigned-url|artifact:s3-presigned-url)\}"
)
_ARTIFACT: Final = re.compile(
    r"\$\{aws:iot:package:([^:}]*):version:([^:}]*):(artifact-location|artifact):s3-presigned-url\}"
)
_S3: Final = re.compile(r"\$\{aws:iot:s3-presigned-url(-v2)?:([^{}]*)\}")
_UPLOAD: Final = re.compile(r"\$\{aws:iot:s3-presigned-url-upload:((?:[^{}]|\$\{[A-Za-z]+\})*)\}")

Replace = Callable[[re.Match[str]], Any]


def walk(node: Any, pattern: re.Pattern[str], replace: Replace) -> Any:
    """Every string of ``node`` (keys too) with ``pattern`` substituted; a string that is one
    whole match may become another JSON value (the callback's result)."""
    if isinstance(node, str):
        whole = pattern.fullmatch(node)
        if whole is not None:
            return replace(whole)
        return pattern.sub(lambda m: str(replace(m)), node)
    if isinstance(node, dict):
        return {
            pattern.sub(lambda m: str(replace(m)), k): walk(v, pattern, replace)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [walk(item, pattern, replace) for item in node]
    return node


def _destinations(arns: Sequence[str], catalog: Catalog) -> dict[tuple[str, str], str]:
    """``(package, version as written)`` -> concrete version, checking each is deployable."""
    resolved: dict[tuple[str, str], str] = {}
    for arn in arns:
        package, version = arn.split(":package/", 1)[1].split("/version/", 1)
        if version == "$null":  # an uninstall: nothing to resolve
            resolved[(package, version)] = version
            continue
        concrete = catalog.default_version_of(package) if version == "$default" else version
        found = None if concrete is None else catalog.find_version(package, concrete)
        if found is None or not found.status.deployable:
            raise ValueError(f"{arn} cannot be deployed")
        resolved[(package, version)] = found.name
    return resolved


def naive_prepare(document: bytes, arns: Sequence[str], catalog: Catalog) -> bytes:
    """Phase one (CreateJob): resolve package placeholders, re-emit artifact ones concretely."""
    targets = _destinations(arns, catalog)

    def replace(match: re.Match[str]) -> Any:
        package, version, what, key = match.groups()
        if not package:
            [(package, _)] = targets  # the only destination
            version = targets[(package, _)]
        else:
            version = targets[(package, version)]
        if what.startswith("artifact"):
            return f"${{aws:iot:package:{package}:version:{version}:{what}}}"
        attributes = catalog.find_version(package, version).attributes  # type: ignore[union-attr]
        return dict(attributes) if key is None else attributes[key]

    return json.dumps(walk(json.loads(document), _PACKAGE, replace)).encode()


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str
    region: str


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def naive_presign(creds: Credentials, obj: S3Object, method: str, when: float, expires: int) -> str:
    """SigV4 query signing step by step, as the S3 documentation lays it out."""
    region = obj.region or creds.region
    stamp = dt.datetime.fromtimestamp(int(when), tz=dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    date = stamp[:8]
    scope = f"{date}/{region}/s3/aws4_request"
    path = quote(obj.key, safe="/~")
    if re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", obj.bucket):
        host, path = f"{obj.bucket}.s3.{region}.amazonaws.com", f"/{path}"
    else:
        host, path = f"s3.{region}.amazonaws.com", f"/{obj.bucket}/{path}"
    operation = {"versionId": obj.version_id} if obj.version_id else {}
    auth = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{creds.access_key}/{scope}",
        "X-Amz-Date": stamp,
        "X-Amz-Expires": str(expires),
        "X-Amz-SignedHeaders": "host",
    }
    params = {**operation, **auth}
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items())
    )
    canonical = f"{method}\n{path}\n{canonical_query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest}"
    key = _hmac(("AWS4" + creds.secret_key).encode(), date)
    for part in (region, "s3", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    query = "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in params.items())
    return f"https://{host}{path}?{query}&X-Amz-Signature={signature}"


@dataclass(frozen=True, slots=True)
class NaiveFetch:
    """Phase two (device fetch) of one stored document, naively: walk, sign, dump."""

    stored: bytes
    artifacts: Mapping[tuple[str, str], S3Object]
    creds: Credentials
    expires: int

    def __call__(self, thing: str, job_id: str, number: int, when: float) -> bytes:
        tree = json.loads(self.stored)

        def artifact(match: re.Match[str]) -> str:
            obj = self.artifacts[(match[1], match[2])]
            return naive_presign(self.creds, obj, "GET", when, self.expires)

        def download(match: re.Match[str]) -> str:
            obj = parse_s3_url(match[2], "v2" if match[1] else "v1")
            return naive_presign(self.creds, obj, "GET", when, self.expires)

        def upload(match: re.Match[str]) -> str:
            text = (
                match[1]
                .replace("${thingName}", thing)
                .replace("${jobId}", job_id)
                .replace("${executionNumber}", str(number))
            )
            obj = parse_s3_url(text, "upload")
            if not obj.key:
                obj = S3Object(obj.bucket, f"{job_id}/{thing}/{number}", None, obj.region)
            return naive_presign(self.creds, obj, "PUT", when, self.expires)

        for pattern, replace in ((_ARTIFACT, artifact), (_S3, download), (_UPLOAD, upload)):
            tree = walk(tree, pattern, replace)
        return json.dumps(tree).encode()
