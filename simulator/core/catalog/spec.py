"""The catalog file format: packages and versions as data, loaded through the catalog's rules.

A catalog file (TOML or JSON) describes what ``fleetsim substitute`` and scenarios deploy::

    region = "us-west-2"                 # optional; default us-east-1
    account = "123456789012"             # optional

    [configuration]                      # optional: versionUpdateByJobsConfig
    version_update_by_jobs = true
    role_arn = "arn:aws:iam::123456789012:role/JobsUpdatePackageShadow"

    [[packages]]
    name = "samplePackage"
    description = "Sample package"        # optional
    default_version = "2.1.5"             # optional; must be PUBLISHED or DEPRECATED

    [[packages.versions]]
    name = "2.1.5"
    status = "PUBLISHED"                  # DRAFT | PUBLISHED (default) | DEPRECATED
    attributes = { s3URL = "https://...", signature = "..." }
    artifact = { bucket = "my-bucket", key = "pkg/2.1.5.zip", version = "3HL4kqtJ..." }
    recipe = "..."                        # optional inline job document

Loading replays CreatePackage, CreatePackageVersion, UpdatePackageVersion(action) and
UpdatePackage(defaultVersionName) against a :class:`Catalog`, so a file can only describe a state
the real service could reach. Errors name the field (``$.packages[0].versions[1].status``).
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from simulator.core.arn import Scope
from simulator.core.catalog.model import S3Location, VersionAction, VersionStatus
from simulator.core.catalog.store import Catalog
from simulator.core.errors import AwsError, UsageError

__all__ = ["ArtifactSpec", "CatalogSpec", "PackageSpec", "VersionSpec", "build_catalog", "load"]


class ArtifactSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    bucket: str
    key: str
    version: str | None = None


class VersionSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    status: Literal["DRAFT", "PUBLISHED", "DEPRECATED"] = "PUBLISHED"
    description: str | None = None
    attributes: dict[str, str] = {}
    artifact: ArtifactSpec | None = None
    recipe: str | None = None


class PackageSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    description: str | None = None
    default_version: str | None = None
    versions: list[VersionSpec] = []


class ConfigurationSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    version_update_by_jobs: bool = False
    role_arn: str | None = None


class CatalogSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    region: str = "us-east-1"
    account: str = "123456789012"
    configuration: ConfigurationSpec = ConfigurationSpec()
    packages: list[PackageSpec] = []


_PATHS = {
    VersionStatus.PUBLISHED: (VersionAction.PUBLISH,),
    VersionStatus.DEPRECATED: (VersionAction.PUBLISH, VersionAction.DEPRECATE),
    VersionStatus.DRAFT: (),
}


def build_catalog(spec: CatalogSpec, *, now: float = 0.0) -> Catalog:
    """Replay a spec through the catalog's operations.

    Raises:
        UsageError: the spec describes something the catalog's rules refuse; the message names
            the package (and version) and gives the rule's own error.
    """
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-[0-9]", spec.region):
        raise UsageError(f"$.region: not an AWS region name: {spec.region!r}")
    if not re.fullmatch(r"[0-9]{12}", spec.account):
        raise UsageError(f"$.account: an AWS account id is 12 digits, got {spec.account!r}")
    catalog = Catalog(Scope(region=spec.region, account=spec.account))
    for i, pkg in enumerate(spec.packages):
        where = f"$.packages[{i}]"
        try:
            catalog.create_package(pkg.name, now=now, description=pkg.description)
        except AwsError as exc:
            raise UsageError(f"{where}: {exc.message}") from None
        for j, ver in enumerate(pkg.versions):
            vwhere = f"{where}.versions[{j}]"
            artifact = (
                None
                if ver.artifact is None
                else S3Location(ver.artifact.bucket, ver.artifact.key, ver.artifact.version)
            )
            try:
                catalog.create_version(
                    pkg.name,
                    ver.name,
                    now=now,
                    description=ver.description,
                    attributes=ver.attributes,
                    artifact=artifact,
                    recipe=ver.recipe,
                )
                for action in _PATHS[VersionStatus(ver.status)]:
                    catalog.update_version(pkg.name, ver.name, now=now, action=action)
            except AwsError as exc:
                raise UsageError(f"{vwhere}: {exc.message}") from None
        if pkg.default_version is not None:
            try:
                catalog.update_package(pkg.name, now=now, default_version=pkg.default_version)
            except AwsError as exc:
                raise UsageError(f"{where}.default_version: {exc.message}") from None
    try:
        catalog.update_configuration(
            enabled=spec.configuration.version_update_by_jobs,
            role_arn=spec.configuration.role_arn,
        )
    except AwsError as exc:
        raise UsageError(f"$.configuration: {exc.message}") from None
    return catalog


def load(data: bytes, *, fmt: Literal["toml", "json"]) -> CatalogSpec:
    """Decode a catalog file.

    Raises:
        UsageError: not TOML/JSON, or a field has the wrong type, naming the field.
    """
    try:
        if fmt == "toml":
            return msgspec.toml.decode(data, type=CatalogSpec)
        return msgspec.json.decode(data, type=CatalogSpec)
    except msgspec.ValidationError as exc:
        raise UsageError(str(exc)) from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        # msgspec's TOML decoder is tomllib: it raises UnicodeDecodeError on non-UTF-8 input and
        # RecursionError on deeply nested arrays or inline tables instead of a DecodeError.
        raise UsageError(f"not valid {fmt.upper()}: {exc}") from None
