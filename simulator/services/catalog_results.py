"""What the Software Package Catalog operations return: typed results, never wire dicts.

:mod:`simulator.api.wire.catalog` turns each into its AWS shape. Operations that answer a single
package or version return the core record itself (:class:`~simulator.core.catalog.Package`,
:class:`~simulator.core.catalog.PackageVersion`): a view of the live catalog, to encode before the
next call into the service and never to change (as the Jobs results, see
:mod:`simulator.services.jobs.results`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from simulator.core.catalog import Package, PackageVersion, S3Location

__all__ = [
    "PackagePage",
    "SbomAssociation",
    "SbomStatus",
    "SbomValidationPage",
    "VersionDescription",
    "VersionPage",
]

#: ``sbomValidationStatus``: association is validated asynchronously, as AWS does.
SbomStatus = Literal["IN_PROGRESS", "FAILED", "SUCCEEDED"]


@dataclass(frozen=True, slots=True)
class PackagePage:
    """ListPackages."""

    packages: tuple[Package, ...]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class VersionDescription:
    """GetPackageVersion: the version and, when one is associated, its SBOM and its status."""

    version: PackageVersion
    sbom: S3Location | None
    sbom_status: SbomStatus | None


@dataclass(frozen=True, slots=True)
class VersionPage:
    """ListPackageVersions."""

    versions: tuple[PackageVersion, ...]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class SbomAssociation:
    """AssociateSbomWithPackageVersion."""

    package_name: str
    version_name: str
    sbom: S3Location
    status: SbomStatus


@dataclass(frozen=True, slots=True)
class SbomValidationPage:
    """ListSbomValidationResults: validation never fails here, so no result is kept."""

    next_token: str | None = None
