"""Software Package Catalog operations of the ``iot`` API, over the core catalog.

The rules live in the core store; this module adds the clock and SBOM association (validated
asynchronously, as AWS does: IN_PROGRESS, then SUCCEEDED on the next scheduler turn). Results are
typed (:mod:`simulator.services.catalog_results`, or the core records); their wire shapes are
:mod:`simulator.api.wire.catalog`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.core.catalog import (
    Catalog,
    Package,
    PackageConfiguration,
    PackageVersion,
    S3Location,
    VersionAction,
    VersionStatus,
    check_artifact,
)
from simulator.core.errors import ValidationException
from simulator.services.catalog_results import (
    PackagePage,
    SbomAssociation,
    SbomStatus,
    SbomValidationPage,
    VersionDescription,
    VersionPage,
)
from simulator.services.runtime import Runtime

__all__ = ["CatalogService"]


@dataclass(slots=True)
class _Sbom:
    """An associated SBOM; ``status`` turns SUCCEEDED when the validation timer fires."""

    location: S3Location
    status: SbomStatus


def _sbom_location(sbom: object) -> S3Location:
    """Parse ``{"s3Location": {"bucket", "key", "version"?}}`` with AWS's messages."""
    location = sbom.get("s3Location") if isinstance(sbom, dict) else None
    bucket = location.get("bucket") if isinstance(location, dict) else None
    if not isinstance(bucket, str) or not bucket:
        raise ValidationException("S3 bucket name for SBOM cannot be null")
    assert isinstance(location, dict)
    key, version = location.get("key"), location.get("version")
    if not isinstance(key, str) or not key:
        raise ValidationException("S3 key for SBOM cannot be null")
    if version is not None and not isinstance(version, str):
        raise ValidationException("sbom.s3Location.version must be a string")
    return S3Location(bucket, key, version)


class CatalogService:
    """Package, package version, SBOM and package configuration operations."""

    def __init__(self, runtime: Runtime, catalog: Catalog) -> None:
        self.runtime = runtime
        self.catalog = catalog
        self._sboms: dict[tuple[str, str], _Sbom] = {}

    def _now(self) -> float:
        return self.runtime.clock()

    # -- packages ---------------------------------------------------------------------------

    def create_package(
        self,
        *,
        package_name: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        client_token: str | None = None,
    ) -> Package:
        return self.catalog.create_package(
            package_name,
            now=self._now(),
            description=description,
            tags=tags,
            client_token=client_token,
        )

    def get_package(self, *, package_name: str) -> Package:
        return self.catalog.get_package(package_name)

    def update_package(
        self,
        *,
        package_name: str,
        description: str | None = None,
        default_version_name: str | None = None,
        unset_default_version: bool | None = None,
        client_token: str | None = None,
    ) -> None:
        self.catalog.update_package(
            package_name,
            now=self._now(),
            description=description,
            default_version=default_version_name,
            unset_default_version=bool(unset_default_version),
        )

    def delete_package(self, *, package_name: str, client_token: str | None = None) -> None:
        self.catalog.delete_package(package_name)

    def list_packages(
        self, *, max_results: int | None = None, next_token: str | None = None
    ) -> PackagePage:
        items, token = self.catalog.list_packages(max_results=max_results, next_token=next_token)
        return PackagePage(tuple(items), token or None)

    # -- versions ---------------------------------------------------------------------------

    def create_package_version(
        self,
        *,
        package_name: str,
        version_name: str,
        description: str | None = None,
        attributes: dict[str, str] | None = None,
        artifact: dict[str, Any] | None = None,
        recipe: str | None = None,
        tags: dict[str, str] | None = None,
        client_token: str | None = None,
    ) -> PackageVersion:
        return self.catalog.create_version(
            package_name,
            version_name,
            now=self._now(),
            description=description,
            attributes=attributes,
            artifact=None if artifact is None else check_artifact(artifact),
            recipe=recipe,
            tags=tags,
            client_token=client_token,
        )

    def get_package_version(self, *, package_name: str, version_name: str) -> VersionDescription:
        version = self.catalog.get_version(package_name, version_name)
        sbom = self._sboms.get((package_name, version_name))
        if sbom is None:
            return VersionDescription(version, None, None)
        return VersionDescription(version, sbom.location, sbom.status)

    def update_package_version(
        self,
        *,
        package_name: str,
        version_name: str,
        description: str | None = None,
        attributes: dict[str, str] | None = None,
        artifact: dict[str, Any] | None = None,
        action: str | None = None,
        recipe: str | None = None,
        client_token: str | None = None,
    ) -> None:
        try:
            act = None if action is None else VersionAction(action)
        except ValueError:
            raise ValidationException(f"Invalid action {action!r}") from None
        self.catalog.update_version(
            package_name,
            version_name,
            now=self._now(),
            action=act,
            description=description,
            attributes=attributes,
            artifact=None if artifact is None else check_artifact(artifact),
            recipe=recipe,
        )

    def delete_package_version(
        self, *, package_name: str, version_name: str, client_token: str | None = None
    ) -> None:
        self.catalog.delete_version(package_name, version_name)
        self._sboms.pop((package_name, version_name), None)

    def list_package_versions(
        self,
        *,
        package_name: str,
        status: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> VersionPage:
        try:
            wanted = None if status is None else VersionStatus(status)
        except ValueError:
            raise ValidationException(f"Invalid status {status!r}") from None
        items, token = self.catalog.list_versions(
            package_name, status=wanted, max_results=max_results, next_token=next_token
        )
        return VersionPage(tuple(items), token or None)

    # -- SBOM -------------------------------------------------------------------------------

    def associate_sbom_with_package_version(
        self,
        *,
        package_name: str,
        version_name: str,
        sbom: dict[str, Any],
        client_token: str | None = None,
    ) -> SbomAssociation:
        self.catalog.get_version(package_name, version_name)
        key = (package_name, version_name)
        record = self._sboms[key] = _Sbom(_sbom_location(sbom), "IN_PROGRESS")

        def validated() -> None:
            if self._sboms.get(key) is record:
                record.status = "SUCCEEDED"

        self.runtime.scheduler.call_at(self._now(), validated)
        return SbomAssociation(package_name, version_name, record.location, record.status)

    def disassociate_sbom_from_package_version(
        self, *, package_name: str, version_name: str, client_token: str | None = None
    ) -> None:
        self.catalog.get_version(package_name, version_name)
        self._sboms.pop((package_name, version_name), None)

    def list_sbom_validation_results(
        self,
        *,
        package_name: str,
        version_name: str,
        validation_result: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> SbomValidationPage:
        self.catalog.get_version(package_name, version_name)
        return SbomValidationPage()

    # -- configuration ----------------------------------------------------------------------

    def get_package_configuration(self) -> PackageConfiguration:
        return self.catalog.configuration

    def update_package_configuration(
        self,
        *,
        version_update_by_jobs_config: dict[str, Any] | None = None,
        client_token: str | None = None,
    ) -> None:
        config = version_update_by_jobs_config or {}
        enabled = config.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise ValidationException("versionUpdateByJobsConfig.enabled must be a boolean")
        role = config.get("roleArn")
        self.catalog.update_configuration(
            enabled=enabled, role_arn=role if isinstance(role, str) else None
        )
