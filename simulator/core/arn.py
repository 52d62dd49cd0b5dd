"""ARNs of the resources fleetsim models: parse and format, nothing else.

Package-version ARNs may name the pseudo versions ``$default`` (resolve to the package's default
version when the job is created) and ``$null`` (uninstall: remove the package from ``$package``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from simulator.core.errors import ValidationException

__all__ = [
    "DEFAULT_VERSION",
    "NULL_VERSION",
    "PACKAGE_NAME_RE",
    "VERSION_NAME_RE",
    "PackageVersionArn",
    "Scope",
    "package_arn",
    "parse_package_version_arn",
]

DEFAULT_VERSION: Final = "$default"
NULL_VERSION: Final = "$null"

# Patterns and lengths from the botocore `iot` model (PackageName, VersionName).
PACKAGE_NAME_RE: Final = re.compile(r"[a-zA-Z0-9\-_.]{1,128}")
VERSION_NAME_RE: Final = re.compile(r"[a-zA-Z0-9\-_.]{1,64}")

# `[0-9]`, not `\d`: `\d` also matches non-ASCII digits, which no account ID contains.
_PV_ARN_RE: Final = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iot:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"package/(?P<package>[^/]+)/version/(?P<version>[^/]+)"
)


@dataclass(frozen=True, slots=True)
class Scope:
    """Partition, region and account that shape every ARN the emulator returns."""

    region: str = "us-east-1"
    account: str = "123456789012"
    partition: str = "aws"

    def arn(self, resource: str, service: str = "iot") -> str:
        """Format ``arn:<partition>:<service>:<region>:<account>:<resource>``."""
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


@dataclass(frozen=True, slots=True)
class PackageVersionArn:
    """A parsed ``arn:aws:iot:R:A:package/P/version/V`` (V may be ``$default`` or ``$null``)."""

    scope: Scope
    package: str
    version: str

    @property
    def is_default(self) -> bool:
        return self.version == DEFAULT_VERSION

    @property
    def is_null(self) -> bool:
        return self.version == NULL_VERSION

    def __str__(self) -> str:
        return self.scope.arn(f"package/{self.package}/version/{self.version}")

    def with_version(self, version: str) -> PackageVersionArn:
        """The same package at another version (used when ``$default`` is resolved)."""
        return PackageVersionArn(self.scope, self.package, version)


def package_arn(scope: Scope, package: str) -> str:
    """ARN of a package: ``arn:aws:iot:R:A:package/P``."""
    return scope.arn(f"package/{package}")


def parse_package_version_arn(text: str) -> PackageVersionArn:
    """Parse a package-version ARN.

    Raises:
        ValidationException: the text is not a package-version ARN, or its package or version
            name breaks the service's naming rules.
    """
    match = _PV_ARN_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValidationException(f"Invalid package version ARN: {text!r}")
    package, version = match["package"], match["version"]
    if not PACKAGE_NAME_RE.fullmatch(package):
        raise ValidationException(f"Invalid package name in ARN: {text!r}")
    if version not in (DEFAULT_VERSION, NULL_VERSION) and not VERSION_NAME_RE.fullmatch(version):
        raise ValidationException(f"Invalid version name in ARN: {text!r}")
    scope = Scope(region=match["region"], account=match["account"], partition=match["partition"])
    return PackageVersionArn(scope, package, version)
