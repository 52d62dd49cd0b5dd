"""Phase one of substitution, at job creation: check ``destinationPackageVersions`` against the
document and the catalog, resolve ``$default``, and render package placeholders.

Presigned-URL placeholders survive phase one (re-emitted with their package and version made
concrete) and are minted per device fetch by :mod:`.fetch`. The result keeps both the before- and
after-substitution forms, as ``beforeSubstitution`` exposes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

import orjson

from simulator.core.arn import PackageVersionArn, Scope, parse_package_version_arn
from simulator.core.catalog.model import PackageVersion
from simulator.core.errors import DocumentError, ValidationException
from simulator.core.substitution.placeholders import (
    MSG_NULL,
    AllAttributes,
    ArtifactUrl,
    Attribute,
    PackageRef,
    Parameter,
    Placeholder,
    S3Url,
    UploadUrl,
    format_placeholder,
)
from simulator.core.substitution.s3url import S3Object, parse_s3_url
from simulator.core.substitution.stats import SubstitutionStats
from simulator.core.substitution.template import Compiler, Template, compile_document

__all__ = [
    "JobDocument",
    "PackageLookup",
    "PresignConfig",
    "SubstitutionOptions",
    "prepare_job_document",
]

MSG_MULTIPLE: Final = (
    "Cannot resolve empty package name and version name given multiple elements in destination "
    "package versions."
)
MSG_ROLE: Final = (
    "presignedUrlConfig role ARN is required to generate an S3 presigned url in job document."
)


class PackageLookup(Protocol):
    """What substitution needs from the catalog (:class:`simulator.core.catalog.Catalog`)."""

    def find_version(self, package: str, name: str, /) -> PackageVersion | None: ...

    def default_version_of(self, package: str, /) -> str | None: ...

    def has_package(self, package: str, /) -> bool: ...


@dataclass(frozen=True, slots=True)
class SubstitutionOptions:
    """Behaviour AWS does not document; the defaults are the reference's best guesses.

    Attributes:
        error_type: wire type of substitution errors. AWS's guide says
            ``InvalidJobDocumentException``; CreateJob's model only has ``InvalidRequestException``.
        missing_attribute: an attribute key the version lacks is an ``"error"`` (default) or
            becomes the empty string (``"empty"``).
        allow_duplicate_packages: allow two versions of one package in
            ``destinationPackageVersions`` (default: refused).
        check_region: refuse S3 URLs that name another region than the job's (documented as
            "Cross region S3 bucket is not supported").
    """

    error_type: str = "InvalidRequestException"
    missing_attribute: Literal["error", "empty"] = "error"
    allow_duplicate_packages: bool = False
    check_region: bool = True
    max_destinations: int = 25


@dataclass(frozen=True, slots=True)
class PresignConfig:
    """``presignedUrlConfig`` of a job."""

    role_arn: str | None = None
    expires_in: int = 3600


class FetchCache:
    """Phase two's memory of one document, kept on the document (see :mod:`.fetch`).

    ``plan``: what each presigned-URL slot signs, worked out at the first fetch (an upload URL
    stays text: it depends on the execution). ``rendered``: the last render, with the presigner,
    expiry and second it was made for; a render that does not depend on the execution (no upload
    URL) is the same for every fetch within one second, so a fleet fetching together reuses it.
    """

    __slots__ = ("expires_in", "plan", "presigner", "rendered", "second")

    def __init__(self) -> None:
        self.plan: tuple[tuple[S3Object, Literal["GET"]] | str, ...] | None = None
        self.presigner: object = None
        self.expires_in = -1
        self.second = -1
        self.rendered = b""


@dataclass(frozen=True, slots=True)
class JobDocument:
    """A job document after phase one.

    Attributes:
        before: the document as submitted.
        after: the document with package placeholders and ``$default`` resolved.
        destinations_before: ``destinationPackageVersions`` as submitted.
        destinations_after: the same with ``$default`` made concrete.
        artifacts: artifact location of each version an artifact placeholder names.
        fetch_template: the after-document compiled for phase two: only presigned-URL slots.
        template: the submitted document compiled (shared with other jobs by a ``Compiler``).
        values: phase one's encoded value of each of its slots: ``after`` is
            ``template.render(values)``.
        fetch_cache: phase two's memory of this document (not part of equality).
    """

    before: bytes
    after: bytes
    destinations_before: tuple[str, ...]
    destinations_after: tuple[str, ...]
    artifacts: Mapping[tuple[str, str], S3Object]
    fetch_template: Template
    template: Template = field(compare=False, repr=False)
    values: tuple[bytes, ...] = field(compare=False, repr=False)
    fetch_cache: FetchCache = field(default_factory=FetchCache, compare=False, repr=False)


def _encode(text: str) -> bytes:
    return orjson.dumps(text)[1:-1]


class _Phase1:
    """State of one ``prepare_job_document`` call."""

    def __init__(
        self,
        catalog: PackageLookup,
        scope: Scope,
        presign: PresignConfig | None,
        parameters: Mapping[str, str],
        options: SubstitutionOptions,
    ) -> None:
        self.catalog = catalog
        self.scope = scope
        self.presign = presign
        self.parameters = parameters
        self.options = options
        self.before: list[PackageVersionArn] = []
        self.after: list[PackageVersionArn] = []
        self.artifacts: dict[tuple[str, str], S3Object] = {}

    def destinations(self, arns: Sequence[str]) -> None:
        if len(arns) > self.options.max_destinations:
            raise DocumentError(
                f"destinationPackageVersions can have at most {self.options.max_destinations} "
                "elements."
            )
        seen: set[str] = set()
        for text in arns:
            try:
                arn = parse_package_version_arn(text)
            except ValidationException as exc:
                raise DocumentError(exc.message) from None
            if (arn.scope.region, arn.scope.account) != (self.scope.region, self.scope.account):
                raise DocumentError(f"Package version {text} is not in this account and region.")
            if arn.package in seen and not self.options.allow_duplicate_packages:
                raise DocumentError(
                    f"Package {arn.package} appears more than once in destinationPackageVersions."
                )
            seen.add(arn.package)
            self.before.append(arn)
            self.after.append(self._resolve_destination(arn, text))

    def _resolve_destination(self, arn: PackageVersionArn, text: str) -> PackageVersionArn:
        if not self.catalog.has_package(arn.package):
            raise DocumentError(f"Package {arn.package} does not exist.")
        if arn.is_null:
            return arn
        version = arn.version
        if arn.is_default:
            default = self.catalog.default_version_of(arn.package)
            if default is None:
                raise DocumentError(f"Package {arn.package} does not have a default version.")
            version = default
        found = self.catalog.find_version(arn.package, version)
        if found is None:
            raise DocumentError(f"Package {arn.package} version {version} does not exist.")
        if not found.status.deployable:
            raise DocumentError(
                f"Package {arn.package} version {version} is {found.status.value}; only "
                "PUBLISHED or DEPRECATED versions can be deployed."
            )
        return arn.with_version(version)

    def target(self, ref: PackageRef) -> tuple[PackageVersionArn, PackageVersion]:
        """The dPV entry a document reference resolves to, and its catalog version."""
        if ref.is_empty:
            if len(self.after) != 1:
                raise DocumentError(MSG_MULTIPLE)
            index = 0
        else:
            matches = [
                i
                for i, arn in enumerate(self.before)
                if arn.package == ref.package and arn.version == ref.version
            ]
            if not matches:
                raise DocumentError(
                    f"Package {ref.package} version {ref.version} referenced in the job document "
                    "does not match any element of destinationPackageVersions."
                )
            index = matches[0]
        arn = self.after[index]
        if arn.is_null:
            raise DocumentError(MSG_NULL)
        version = self.catalog.find_version(arn.package, arn.version)
        assert version is not None  # checked in destinations()
        return arn, version

    def missing(self, version: PackageVersion, key: str) -> None:
        if self.options.missing_attribute == "error":
            raise DocumentError(
                f"Attribute {key} does not exist in package {version.package} version "
                f"{version.name}."
            )

    def attribute(self, ph: Attribute) -> str:
        """The decoded value of a (nested) attribute placeholder."""
        version = self.target(ph.ref)[1]
        value = version.attributes.get(ph.key)
        if value is None:
            self.missing(version, ph.key)
        return value or ""

    def require_role(self, suffix: str = "") -> None:
        if self.presign is None or not self.presign.role_arn:
            raise DocumentError(MSG_ROLE[:-1] + suffix + ".")

    def check_url(self, url: str, form: Literal["v1", "v2", "upload"]) -> None:
        obj = parse_s3_url(url, form)
        if self.options.check_region and obj.region and obj.region != self.scope.region:
            raise DocumentError("Cross region S3 bucket is not supported.")

    def value(self, ph: Placeholder) -> tuple[bytes, Placeholder | None]:
        """Phase-one bytes of a slot, and the phase-two placeholder it leaves (if any)."""
        match ph:
            case Attribute(ref, key):
                version = self.target(ref)[1]
                encoded = version.encoded_attribute(key)
                if encoded is None:
                    self.missing(version, key)
                return encoded or b"", None
            case AllAttributes(ref):
                return self.target(ref)[1].encoded_attributes(), None
            case Parameter(key):
                if key not in self.parameters:
                    raise DocumentError(f"No value for document parameter {key}.")
                return _encode(self.parameters[key]), None
            case ArtifactUrl(ref, spelling):
                arn, version = self.target(ref)
                if version.artifact is None:
                    raise DocumentError(
                        f"Package {arn.package} version {arn.version} does not have an "
                        "associated artifact to generate an S3 presigned url."
                    )
                self.require_role(f" for package {arn.package} version {arn.version} artifact")
                loc = version.artifact
                self.artifacts[(arn.package, arn.version)] = S3Object(
                    loc.bucket, loc.key, loc.version, self.scope.region
                )
                kept: Placeholder = ArtifactUrl(PackageRef(arn.package, arn.version), spelling)
            case S3Url(form, url):
                self.require_role()
                text = self.attribute(url) if isinstance(url, Attribute) else url
                self.check_url(text, form)
                kept = S3Url(form, text)
            case UploadUrl(url):
                self.require_role()
                text = self.attribute(url) if isinstance(url, Attribute) else url
                self.check_url(text, "upload")
                kept = UploadUrl(text)
        return _encode(format_placeholder(kept)), kept


def prepare_job_document(
    document: bytes | str,
    destinations: Sequence[str],
    catalog: PackageLookup,
    *,
    scope: Scope,
    presign: PresignConfig | None = None,
    parameters: Mapping[str, str] | None = None,
    options: SubstitutionOptions | None = None,
    compiler: Compiler | None = None,
    stats: SubstitutionStats | None = None,
) -> JobDocument:
    """Validate a document against ``destinationPackageVersions`` and resolve phase one.

    Args:
        compiler: compiles the document, remembering it for the next job that uses it; without
            one the document is compiled afresh.
        stats: counts the call and its time (see :class:`.SubstitutionStats`).

    Raises:
        DocumentError: with AWS's documented message where there is one; its wire type is
            ``options.error_type``.
    """
    if stats is None:
        return _prepare(
            document, destinations, catalog, scope=scope, presign=presign,
            parameters=parameters, options=options, compiler=compiler,
        )  # fmt: skip
    started = stats.timer()
    compiled = 0 if compiler is None else compiler.compiled
    try:
        prepared = _prepare(
            document, destinations, catalog, scope=scope, presign=presign,
            parameters=parameters, options=options, compiler=compiler,
        )  # fmt: skip
    finally:
        stats.prepare_s += stats.timer() - started
    stats.documents_prepared += 1
    stats.documents_compiled += 1 if compiler is None else compiler.compiled - compiled
    return prepared


def _prepare(
    document: bytes | str,
    destinations: Sequence[str],
    catalog: PackageLookup,
    *,
    scope: Scope,
    presign: PresignConfig | None,
    parameters: Mapping[str, str] | None,
    options: SubstitutionOptions | None,
    compiler: Compiler | None,
) -> JobDocument:
    opts = options or SubstitutionOptions()
    try:
        template = compile_document(document) if compiler is None else compiler.compile(document)
        state = _Phase1(catalog, scope, presign, parameters or {}, opts)
        state.destinations(destinations)
        values: list[bytes] = []
        fetch_chunks: list[bytes] = []
        fetch_slots: list[Placeholder] = []
        pending = [template.chunks[0]]
        for slot, chunk in zip(template.slots, template.chunks[1:], strict=True):
            value, kept = state.value(slot)
            values.append(value)
            if kept is None:
                pending.append(value)
            else:
                fetch_chunks.append(b"".join(pending))
                fetch_slots.append(kept)
                pending = []
            pending.append(chunk)
        fetch_chunks.append(b"".join(pending))
    except DocumentError as exc:
        exc.error_type = opts.error_type
        raise
    return JobDocument(
        before=document.encode() if isinstance(document, str) else bytes(document),
        after=template.render(values),
        destinations_before=tuple(destinations),
        destinations_after=tuple(str(arn) for arn in state.after),
        artifacts=state.artifacts,
        fetch_template=Template.build(fetch_chunks, fetch_slots),
        template=template,
        values=tuple(values),
    )
