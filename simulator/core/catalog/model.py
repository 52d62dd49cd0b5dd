"""Software Package Catalog data and rules: states, the lifecycle table, field validation.

Everything that decides whether a package version may change lives here, in one table each:
:data:`LIFECYCLE` (which ``action`` moves which state where) and :data:`EDITABLE` (which fields may
change in which state). :mod:`.store` checks against these tables before it mutates anything.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import orjson

from simulator.core.arn import PACKAGE_NAME_RE, VERSION_NAME_RE
from simulator.core.errors import ValidationException

__all__ = [
    "ATTRIBUTES_MAX_BYTES",
    "EDITABLE",
    "LIFECYCLE",
    "Field",
    "Package",
    "PackageConfiguration",
    "PackageVersion",
    "S3Location",
    "VersionAction",
    "VersionStatus",
    "check_artifact",
    "check_attributes",
    "check_client_token",
    "check_description",
    "check_package_name",
    "check_recipe",
    "check_tags",
    "check_version_name",
]


class VersionStatus(enum.Enum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    DEPRECATED = "DEPRECATED"

    @property
    def deployable(self) -> bool:
        """Only PUBLISHED and DEPRECATED versions can be deployed or be a package's default."""
        return self is not VersionStatus.DRAFT


class VersionAction(enum.Enum):
    PUBLISH = "PUBLISH"
    DEPRECATE = "DEPRECATE"


class Field(enum.Enum):
    """Fields of a package version that UpdatePackageVersion may change."""

    DESCRIPTION = "description"
    ATTRIBUTES = "attributes"
    ARTIFACT = "artifact"
    RECIPE = "recipe"
    TAGS = "tags"


#: The lifecycle: (state, action) -> new state. Pairs not listed are refused with
#: ConflictException. Repeating the action of the current state (PUBLISH on PUBLISHED) is listed
#: as a no-op; DRAFT -> DEPRECATED is not a documented transition and is refused.
LIFECYCLE: Final[Mapping[tuple[VersionStatus, VersionAction], VersionStatus]] = {
    (VersionStatus.DRAFT, VersionAction.PUBLISH): VersionStatus.PUBLISHED,
    (VersionStatus.PUBLISHED, VersionAction.PUBLISH): VersionStatus.PUBLISHED,
    (VersionStatus.PUBLISHED, VersionAction.DEPRECATE): VersionStatus.DEPRECATED,
    (VersionStatus.DEPRECATED, VersionAction.PUBLISH): VersionStatus.PUBLISHED,
    (VersionStatus.DEPRECATED, VersionAction.DEPRECATE): VersionStatus.DEPRECATED,
}

#: What may be edited in each state. Attributes and the artifact freeze at PUBLISH; the recipe
#: stays editable until a job deploys the version (checked separately, see ``deployed``).
EDITABLE: Final[Mapping[VersionStatus, frozenset[Field]]] = {
    VersionStatus.DRAFT: frozenset(Field),
    VersionStatus.PUBLISHED: frozenset({Field.DESCRIPTION, Field.RECIPE, Field.TAGS}),
    VersionStatus.DEPRECATED: frozenset({Field.DESCRIPTION, Field.RECIPE, Field.TAGS}),
}

ATTRIBUTES_MAX_BYTES: Final = 3 * 1024
RECIPE_MAX_CHARS: Final = 3072
DESCRIPTION_MAX_CHARS: Final = 1024
_ATTRIBUTE_KEY_RE: Final = re.compile(r"[a-zA-Z0-9:_-]+")
_TAG_KEY_RE: Final = re.compile(r"[\w\s.:/=+\-@]{1,128}")
_CLIENT_TOKEN_RE: Final = re.compile(r"\S{36,64}")


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    key: str
    version: str | None = None


@dataclass(slots=True)
class PackageVersion:
    """One version of a package. Mutable, owned by the catalog store."""

    package: str
    name: str
    arn: str
    status: VersionStatus
    created: float
    modified: float
    description: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    artifact: S3Location | None = None
    recipe: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    deployed: bool = False
    client_token: str | None = None
    # JSON encodings of the attributes, filled on first use by the substitution core. Attributes
    # freeze at PUBLISH, so for deployable versions these never go stale; edits clear them.
    _encoded: dict[str, bytes] = field(default_factory=dict, repr=False)
    _encoded_all: bytes | None = field(default=None, repr=False)

    def encoded_attribute(self, key: str) -> bytes | None:
        """The attribute's value JSON-escaped, without quotes; ``None`` if the key is absent."""
        cached = self._encoded.get(key)
        if cached is None:
            value = self.attributes.get(key)
            if value is None:
                return None
            cached = self._encoded[key] = orjson.dumps(value)[1:-1]
        return cached

    def encoded_attributes(self) -> bytes:
        """All attributes as one JSON object."""
        if self._encoded_all is None:
            self._encoded_all = orjson.dumps(self.attributes)
        return self._encoded_all

    def clear_encodings(self) -> None:
        self._encoded.clear()
        self._encoded_all = None


@dataclass(slots=True)
class Package:
    name: str
    arn: str
    created: float
    modified: float
    description: str | None = None
    default_version: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    versions: dict[str, PackageVersion] = field(default_factory=dict)
    client_token: str | None = None


@dataclass(frozen=True, slots=True)
class PackageConfiguration:
    """``versionUpdateByJobsConfig``: whether Jobs writes ``$package`` on SUCCEEDED executions."""

    version_update_by_jobs: bool = False
    role_arn: str | None = None


def _no_control_chars(text: str) -> bool:
    # The model's `[^\p{C}]` excludes control, format, surrogate, private-use and unassigned.
    return not any(unicodedata.category(ch).startswith("C") for ch in text)


def check_package_name(name: object) -> str:
    if not isinstance(name, str) or not PACKAGE_NAME_RE.fullmatch(name):
        raise ValidationException(
            f"Invalid packageName {name!r}: 1-128 characters of [a-zA-Z0-9-_.]"
        )
    return name


def check_version_name(name: object) -> str:
    if not isinstance(name, str) or not VERSION_NAME_RE.fullmatch(name):
        raise ValidationException(
            f"Invalid versionName {name!r}: 1-64 characters of [a-zA-Z0-9-_.]"
        )
    return name


def check_description(text: object) -> str:
    if not isinstance(text, str) or len(text) > DESCRIPTION_MAX_CHARS:
        raise ValidationException("description must be a string of at most 1024 characters")
    if not _no_control_chars(text):
        raise ValidationException("description must not contain control characters")
    return text


def check_recipe(text: object) -> str:
    if not isinstance(text, str) or len(text) > RECIPE_MAX_CHARS:
        raise ValidationException(
            f"recipe must be a string of at most {RECIPE_MAX_CHARS} characters"
        )
    return text


def check_attributes(attributes: object) -> dict[str, str]:
    """Validate a package version's attributes (key and value patterns, 3 KB in all)."""
    if not isinstance(attributes, dict):
        raise ValidationException("attributes must be a map of strings to strings")
    total = 0
    for key, value in attributes.items():
        if not isinstance(key, str) or not _ATTRIBUTE_KEY_RE.fullmatch(key):
            raise ValidationException(
                f"Invalid attribute key {key!r}: one or more characters of [a-zA-Z0-9:_-]"
            )
        if not isinstance(value, str) or not value or not _no_control_chars(value):
            raise ValidationException(
                f"Invalid value for attribute {key!r}: "
                "a non-empty string without control characters"
            )
        total += len(key.encode()) + len(value.encode())
    if total > ATTRIBUTES_MAX_BYTES:
        raise ValidationException(
            f"The total size of attributes ({total} bytes) exceeds the limit of "
            f"{ATTRIBUTES_MAX_BYTES} bytes"
        )
    return dict(attributes)


def check_tags(tags: object) -> dict[str, str]:
    if not isinstance(tags, dict) or not 1 <= len(tags) <= 50:
        raise ValidationException("tags must be a map of 1 to 50 entries")
    for key, value in tags.items():
        if not isinstance(key, str) or not _TAG_KEY_RE.fullmatch(key):
            raise ValidationException(f"Invalid tag key {key!r}")
        if not isinstance(value, str) or len(value) > 256:
            raise ValidationException(f"Invalid value for tag {key!r}: at most 256 characters")
    return dict(tags)


def check_client_token(token: object) -> str | None:
    if token is None:
        return None
    if not isinstance(token, str) or not _CLIENT_TOKEN_RE.fullmatch(token):
        raise ValidationException("clientToken must be 36 to 64 non-space characters")
    return token


def check_artifact(artifact: object) -> S3Location:
    """Parse ``{"s3Location": {"bucket", "key", "version"?}}``."""
    loc = artifact.get("s3Location") if isinstance(artifact, dict) else None
    if not isinstance(loc, dict):
        raise ValidationException(
            'artifact must be {"s3Location": {"bucket": ..., "key": ..., "version": ...}}'
        )
    bucket, key, version = loc.get("bucket"), loc.get("key"), loc.get("version")
    if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
        raise ValidationException("artifact.s3Location needs a non-empty bucket and key")
    if version is not None and not isinstance(version, str):
        raise ValidationException("artifact.s3Location.version must be a string")
    return S3Location(bucket, key, version)
