"""The substitution-parameter grammar: find placeholders in a string and parse each one.

Forms (see the AWS reference, section 1.1)::

    ${aws:iot:package:PKG:version:VER:attributes:KEY}      one attribute (KEY may contain ':')
    ${aws:iot:package:PKG:version:VER:attributes}          all attributes, as a JSON object
    ${aws:iot:package:PKG:version:VER:artifact-location:s3-presigned-url}   (also ':artifact:')
    ${aws:iot:s3-presigned-url:URL}                        v1, unencoded URL
    ${aws:iot:s3-presigned-url-v2:URL}                     v2, S3-SDK-encoded URL, ?versionId=
    ${aws:iot:s3-presigned-url-upload:URL}                 upload; key may hold ${thingName},
                                                           ${jobId}, ${executionNumber}
    ${aws:iot:parameter:KEY}                               documentParameters of a template

PKG and VER may both be empty (taken from ``destinationPackageVersions``); VER may be ``$default``.
A URL may itself be one single-attribute placeholder (the only legal second layer).

``${...}`` whose body does not start with ``aws:`` is literal text (job documents carry shell
commands), except the three local placeholder names, which are only valid inside an upload URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from simulator.core.arn import DEFAULT_VERSION, NULL_VERSION, PACKAGE_NAME_RE, VERSION_NAME_RE
from simulator.core.errors import DocumentError

__all__ = [
    "LOCAL_PLACEHOLDERS",
    "AllAttributes",
    "ArtifactUrl",
    "Attribute",
    "PackageRef",
    "Parameter",
    "Placeholder",
    "S3Url",
    "UploadUrl",
    "format_placeholder",
    "scan",
]

LOCAL_PLACEHOLDERS: Final = ("thingName", "jobId", "executionNumber")

MSG_UNTERMINATED: Final = "One or more parameters or placeholders are not terminated."
MSG_ALL_ATTRIBUTES: Final = (
    "The package version attribute placeholder for all attributes has to be a json value by "
    "itself and not appended with other strings or nested with other placeholders."
)
MSG_ARTIFACT_NESTED: Final = (
    "${aws:iot:package:[...]:artifact:s3-presigned-url} cannot be nested inside another "
    "placeholder."
)
MSG_NULL: Final = "$null is not allowed to be referenced as a package version in job documents."
MSG_PAIR: Final = "Empty package name and version name have to be used in pair."

_PACKAGE_PREFIX: Final = "aws:iot:package:"
_ATTRIBUTE_KEY_RE: Final = re.compile(r"[a-zA-Z0-9:_-]+")
_PARAMETER_KEY_RE: Final = re.compile(r"[a-zA-Z0-9_-]{1,128}")
_INNER_REF: Final = r"aws:iot:package:[^:}]*:version:[^:}]*:"
_NESTED_ARTIFACT: Final = re.compile(_INNER_REF + r"artifact(?:-location)?:s3-presigned-url\}")
_NESTED_ALL_ATTRIBUTES: Final = re.compile(_INNER_REF + r"attributes\}")
_PATH_STYLE_HOST: Final = re.compile(r"https://s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?")
_S3_FORMS: Final[dict[str, Literal["v1", "v2", "upload"]]] = {
    "aws:iot:s3-presigned-url:": "v1",
    "aws:iot:s3-presigned-url-v2:": "v2",
    "aws:iot:s3-presigned-url-upload:": "upload",
}


@dataclass(frozen=True, slots=True)
class PackageRef:
    """A package/version pair as written in a document; ``("", "")`` is the empty pair."""

    package: str
    version: str

    @property
    def is_empty(self) -> bool:
        return not self.package

    def text(self) -> str:
        return f"aws:iot:package:{self.package}:version:{self.version}"


@dataclass(frozen=True, slots=True)
class Attribute:
    ref: PackageRef
    key: str


@dataclass(frozen=True, slots=True)
class AllAttributes:
    ref: PackageRef


@dataclass(frozen=True, slots=True)
class ArtifactUrl:
    ref: PackageRef
    spelling: Literal["artifact-location", "artifact"]


@dataclass(frozen=True, slots=True)
class S3Url:
    """``s3-presigned-url`` (v1) or ``-v2``; ``url`` may be a nested attribute placeholder."""

    version: Literal["v1", "v2"]
    url: str | Attribute


@dataclass(frozen=True, slots=True)
class UploadUrl:
    url: str | Attribute


@dataclass(frozen=True, slots=True)
class Parameter:
    key: str


Placeholder = Attribute | AllAttributes | ArtifactUrl | S3Url | UploadUrl | Parameter


def format_placeholder(ph: Placeholder) -> str:
    """The ``${...}`` text of a placeholder (inverse of parsing, used to re-emit phase-2 ones)."""
    match ph:
        case Attribute(ref, key):
            return f"${{{ref.text()}:attributes:{key}}}"
        case AllAttributes(ref):
            return f"${{{ref.text()}:attributes}}"
        case ArtifactUrl(ref, spelling):
            return f"${{{ref.text()}:{spelling}:s3-presigned-url}}"
        case S3Url(version, url):
            prefix = "s3-presigned-url" if version == "v1" else "s3-presigned-url-v2"
            inner = url if isinstance(url, str) else format_placeholder(url)
            return f"${{aws:iot:{prefix}:{inner}}}"
        case UploadUrl(url):
            inner = url if isinstance(url, str) else format_placeholder(url)
            return f"${{aws:iot:s3-presigned-url-upload:{inner}}}"
        case Parameter(key):
            return f"${{aws:iot:parameter:{key}}}"


def _package_ref(package: str, version: str, body: str) -> PackageRef:
    if bool(package) != bool(version):
        raise DocumentError(MSG_PAIR)
    if version == NULL_VERSION:
        raise DocumentError(MSG_NULL)
    if package and not PACKAGE_NAME_RE.fullmatch(package):
        raise DocumentError(f"Invalid package name in placeholder ${{{body}}}.")
    if version and version != DEFAULT_VERSION and not VERSION_NAME_RE.fullmatch(version):
        raise DocumentError(f"Invalid version name in placeholder ${{{body}}}.")
    return PackageRef(package, version)


def _parse_package(body: str) -> Placeholder:
    # aws:iot:package:PKG:version:VER:<rest>; PKG and VER contain no ':'.
    parts = body[len(_PACKAGE_PREFIX) :].split(":", 3)
    if len(parts) < 3 or parts[1] != "version":
        raise DocumentError(f"Invalid placeholder ${{{body}}}.")
    ref = _package_ref(parts[0], parts[2], body)
    rest = parts[3] if len(parts) == 4 else None
    if rest == "attributes":
        return AllAttributes(ref)
    if rest is not None and rest.startswith("attributes:"):
        key = rest[len("attributes:") :]
        if not _ATTRIBUTE_KEY_RE.fullmatch(key):
            raise DocumentError(f"Invalid attribute key in placeholder ${{{body}}}.")
        return Attribute(ref, key)
    if rest == "artifact-location:s3-presigned-url":
        return ArtifactUrl(ref, "artifact-location")
    if rest == "artifact:s3-presigned-url":
        return ArtifactUrl(ref, "artifact")
    raise DocumentError(f"Invalid placeholder ${{{body}}}.")


def _parse_inner(body: str, outer: str) -> Attribute:
    """The second layer of a nested placeholder: only a single package attribute is legal."""
    if body.startswith(_PACKAGE_PREFIX):
        inner = _parse_package(body)
        if isinstance(inner, ArtifactUrl):
            raise DocumentError(MSG_ARTIFACT_NESTED)
        if isinstance(inner, AllAttributes):
            raise DocumentError(MSG_ALL_ATTRIBUTES)
        assert isinstance(inner, Attribute)
        return inner
    if body.startswith("aws:"):
        head = body.split(":", 3)
        name = ":".join(head[1:3])
        raise DocumentError(f"${{aws:{name}[...]}} should not be the second layer pattern.")
    raise DocumentError(f"Undefined placeholder, ${{{body}}}, inside of {outer}.")


def _check_upload_locals(url: str) -> None:
    """Local placeholders: only in the key, at most two of each, nothing undefined."""
    scheme_end = url.find("://")
    path_start = url.find("/", scheme_end + 3) if scheme_end >= 0 else -1
    host = url[: path_start if path_start >= 0 else len(url)]
    counts = dict.fromkeys(LOCAL_PLACEHOLDERS, 0)
    for match in re.finditer(r"\$\{([^}]*)\}", url):
        name = match[1]
        if name not in counts:
            raise DocumentError(
                f"Undefined placeholder, ${{{name}}}, inside of presign url upload parameter"
            )
        counts[name] += 1
    if "${" in host or _upload_bucket_has_placeholder(url, path_start):
        raise DocumentError(
            "S3 bucket name in presigned url upload is not allowed to contain any placeholders"
        )
    for name, count in counts.items():
        if count > 2:
            raise DocumentError(
                f"The occurrence of local placeholder ${{{name}}} within S3 presigned url upload "
                "placeholder exceeds limit of 2."
            )


def _upload_bucket_has_placeholder(url: str, path_start: int) -> bool:
    # Path-style URLs (https://s3.REGION.amazonaws.com/BUCKET/KEY) carry the bucket in the path.
    # The whole host must be the endpoint: a virtual-hosted bucket may be named "s3-logs".
    host = url[:path_start] if path_start >= 0 else url
    if path_start < 0 or not _PATH_STYLE_HOST.fullmatch(host):
        return False
    bucket = url[path_start + 1 :].split("/", 1)[0]
    return "${" in bucket


def _parse(body: str) -> Placeholder:
    """Parse one placeholder body (the text between ``${`` and its ``}``)."""
    for prefix, form in _S3_FORMS.items():
        if body.startswith(prefix):
            url_text = body[len(prefix) :]
            url: str | Attribute
            if url_text.startswith("${") and _closing(url_text, 0) == len(url_text):
                url = _parse_inner(url_text[2:-1], "presign url parameter")
            elif "${" in url_text and form != "upload":
                local = re.search(r"\$\{(thingName|jobId|executionNumber)\}", url_text)
                if local:
                    raise DocumentError(
                        f"Local placeholder, ${{{local[1]}}}, is only valid inside of "
                        "presign url upload"
                    )
                raise DocumentError(f"Invalid placeholder ${{{body}}}.")
            else:
                url = url_text
            if form == "upload":
                if isinstance(url, str):
                    _check_upload_locals(url)
                return UploadUrl(url)
            return S3Url(form, url)
    if "${" in body:
        inner = body[body.index("${") + 2 :]
        # Match the inner placeholder's whole tail: an attribute *key* may also contain
        # "artifact" or end in ":attributes" (``...:attributes:x:attributes``).
        if _NESTED_ARTIFACT.match(inner):
            raise DocumentError(MSG_ARTIFACT_NESTED)
        if _NESTED_ALL_ATTRIBUTES.match(inner):
            raise DocumentError(MSG_ALL_ATTRIBUTES)
        raise DocumentError(f"Invalid placeholder ${{{body}}}: placeholders cannot be nested here.")
    if body.startswith(_PACKAGE_PREFIX):
        return _parse_package(body)
    if body.startswith("aws:iot:parameter:"):
        key = body[len("aws:iot:parameter:") :]
        if not _PARAMETER_KEY_RE.fullmatch(key):
            raise DocumentError(f"Invalid placeholder ${{{body}}}.")
        return Parameter(key)
    raise DocumentError(f"Invalid placeholder ${{{body}}}.")


def _closing(text: str, start: int) -> int:
    """Index just past the ``}`` that closes the ``${`` at ``start``; -1 if unterminated.

    One level of nesting is followed (``${outer:${inner}}``); deeper nesting is left to the
    placeholder parser to refuse.
    """
    depth = 0
    i = start
    n = len(text)
    while i < n:
        opening = text.find("${", i)
        closing = text.find("}", i)
        if closing < 0:
            return -1
        if 0 <= opening < closing:
            depth += 1
            i = opening + 2
            continue
        depth -= 1
        i = closing + 1
        if depth == 0:
            return i
    return -1


def scan(text: str) -> list[str | Placeholder]:
    """Split a string value into literal pieces and placeholders, validating each placeholder.

    Returns a list alternating literal strings (possibly empty) and placeholders, starting and
    ending with a literal: ``["a", ph, "b"]``. A string without placeholders gives ``[text]``.

    Raises:
        DocumentError: with AWS's documented message where there is one.
    """
    out: list[str | Placeholder] = []
    literal_start = 0
    i = text.find("${")
    while i >= 0:
        body_start = i + 2
        if text.startswith("aws:", body_start):
            end = _closing(text, i)
            if end < 0:
                raise DocumentError(MSG_UNTERMINATED)
            out.append(text[literal_start:i])
            out.append(_parse(text[body_start : end - 1]))
            literal_start = end
            i = text.find("${", end)
            continue
        close = text.find("}", body_start)
        if close >= 0 and text[body_start:close] in LOCAL_PLACEHOLDERS:
            raise DocumentError(
                f"Local placeholder, ${{{text[body_start:close]}}}, is only valid inside of "
                "presign url upload"
            )
        i = text.find("${", body_start)
    out.append(text[literal_start:])
    return out
