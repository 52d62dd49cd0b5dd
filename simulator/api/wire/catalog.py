"""Wire shapes of the Software Package Catalog (``iot``): one encoder per operation.

Timestamps are float epoch seconds. Members that are ``None`` are left out, as AWS leaves unset
members out.
"""

from __future__ import annotations

from typing import Any

from simulator.core.catalog import Package, PackageConfiguration, PackageVersion, S3Location
from simulator.services.catalog_results import (
    PackagePage,
    SbomAssociation,
    SbomValidationPage,
    VersionDescription,
    VersionPage,
)

__all__ = [
    "create_package",
    "create_package_version",
    "get_package",
    "get_package_configuration",
    "get_package_version",
    "list_package_versions",
    "list_packages",
    "list_sbom_validation_results",
    "s3_object",
    "sbom_association",
]


def _drop_none(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if v is not None}


def s3_object(location: S3Location) -> dict[str, Any]:
    """``{"s3Location": ...}``: a version's ``artifact``, an ``sbom``."""
    return {
        "s3Location": _drop_none(
            {"bucket": location.bucket, "key": location.key, "version": location.version}
        )
    }


def create_package(pkg: Package) -> dict[str, Any]:
    """CreatePackage."""
    return _drop_none(
        {"packageName": pkg.name, "packageArn": pkg.arn, "description": pkg.description}
    )


def get_package(pkg: Package) -> dict[str, Any]:
    """GetPackage."""
    return _drop_none(
        {
            "packageName": pkg.name,
            "packageArn": pkg.arn,
            "description": pkg.description,
            "defaultVersionName": pkg.default_version,
            "creationDate": pkg.created,
            "lastModifiedDate": pkg.modified,
        }
    )


def list_packages(result: PackagePage) -> dict[str, Any]:
    """ListPackages."""
    summaries = [
        _drop_none(
            {
                "packageName": p.name,
                "defaultVersionName": p.default_version,
                "creationDate": p.created,
                "lastModifiedDate": p.modified,
            }
        )
        for p in result.packages
    ]
    return _drop_none({"packageSummaries": summaries, "nextToken": result.next_token})


def create_package_version(version: PackageVersion) -> dict[str, Any]:
    """CreatePackageVersion."""
    return _drop_none(
        {
            "packageVersionArn": version.arn,
            "packageName": version.package,
            "versionName": version.name,
            "description": version.description,
            "attributes": dict(version.attributes),
            "status": version.status.value,
        }
    )


def get_package_version(result: VersionDescription) -> dict[str, Any]:
    """GetPackageVersion."""
    version = result.version
    return _drop_none(
        {
            "packageVersionArn": version.arn,
            "packageName": version.package,
            "versionName": version.name,
            "description": version.description,
            "attributes": dict(version.attributes),
            "artifact": None if version.artifact is None else s3_object(version.artifact),
            "status": version.status.value,
            "creationDate": version.created,
            "lastModifiedDate": version.modified,
            "recipe": version.recipe,
            "sbom": None if result.sbom is None else s3_object(result.sbom),
            "sbomValidationStatus": result.sbom_status,
        }
    )


def list_package_versions(result: VersionPage) -> dict[str, Any]:
    """ListPackageVersions."""
    summaries = [
        {
            "packageName": v.package,
            "versionName": v.name,
            "status": v.status.value,
            "creationDate": v.created,
            "lastModifiedDate": v.modified,
        }
        for v in result.versions
    ]
    return _drop_none({"packageVersionSummaries": summaries, "nextToken": result.next_token})


def sbom_association(result: SbomAssociation) -> dict[str, Any]:
    """AssociateSbomWithPackageVersion."""
    return {
        "packageName": result.package_name,
        "versionName": result.version_name,
        "sbom": s3_object(result.sbom),
        "sbomValidationStatus": result.status,
    }


def list_sbom_validation_results(result: SbomValidationPage) -> dict[str, Any]:
    """ListSbomValidationResults."""
    return _drop_none({"validationResultSummaries": [], "nextToken": result.next_token})


def get_package_configuration(config: PackageConfiguration) -> dict[str, Any]:
    """GetPackageConfiguration."""
    return {
        "versionUpdateByJobsConfig": _drop_none(
            {"enabled": config.version_update_by_jobs, "roleArn": config.role_arn}
        )
    }
