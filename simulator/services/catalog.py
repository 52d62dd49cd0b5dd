"""Software Package Catalog operations in the ``iot`` API's shape, over the core catalog.

The rules live in the core store; this module adds the clock, the wire shapes and SBOM
association (validated asynchronously, as AWS does: IN_PROGRESS, then SUCCEEDED on the next
scheduler turn).
"""

from __future__ import annotations

from typing import Any

from simulator.core.catalog import (
    Catalog,
    PackageVersion,
    VersionAction,
    VersionStatus,
    check_artifact,
)
from simulator.core.errors import ValidationException
from simulator.services.runtime import Runtime

__all__ = ["CatalogService"]


def _drop_none(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if v is not None}


def _artifact(version: PackageVersion) -> dict[str, Any] | None:
    if version.artifact is None:
        return None
    loc = version.artifact
    return {
        "s3Location": _drop_none({"bucket": loc.bucket, "key": loc.key, "version": loc.version})
    }


class CatalogService:
    """Package, package version, SBOM and package configuration operations."""

    def __init__(self, runtime: Runtime, catalog: Catalog) -> None:
        self.runtime = runtime
        self.catalog = catalog
        self._sboms: dict[tuple[str, str], dict[str, Any]] = {}

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
    ) -> dict[str, Any]:
        pkg = self.catalog.create_package(
            package_name,
            now=self._now(),
            description=description,
            tags=tags,
            client_token=client_token,
        )
        return _drop_none(
            {"packageName": pkg.name, "packageArn": pkg.arn, "description": pkg.description}
        )

    def get_package(self, *, package_name: str) -> dict[str, Any]:
        pkg = self.catalog.get_package(package_name)
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

    def update_package(
        self,
        *,
        package_name: str,
        description: str | None = None,
        default_version_name: str | None = None,
        unset_default_version: bool | None = None,
        client_token: str | None = None,
    ) -> dict[str, Any]:
        self.catalog.update_package(
            package_name,
            now=self._now(),
            description=description,
            default_version=default_version_name,
            unset_default_version=bool(unset_default_version),
        )
        return {}

    def delete_package(
        self, *, package_name: str, client_token: str | None = None
    ) -> dict[str, Any]:
        self.catalog.delete_package(package_name)
        return {}

    def list_packages(
        self, *, max_results: int | None = None, next_token: str | None = None
    ) -> dict[str, Any]:
        items, token = self.catalog.list_packages(max_results=max_results, next_token=next_token)
        return _drop_none(
            {
                "packageSummaries": [
                    _drop_none(
                        {
                            "packageName": p.name,
                            "defaultVersionName": p.default_version,
                            "creationDate": p.created,
                            "lastModifiedDate": p.modified,
                        }
                    )
                    for p in items
                ],
                "nextToken": token,
            }
        )

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
    ) -> dict[str, Any]:
        version = self.catalog.create_version(
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

    def get_package_version(self, *, package_name: str, version_name: str) -> dict[str, Any]:
        version = self.catalog.get_version(package_name, version_name)
        sbom = self._sboms.get((package_name, version_name))
        return _drop_none(
            {
                "packageVersionArn": version.arn,
                "packageName": version.package,
                "versionName": version.name,
                "description": version.description,
                "attributes": dict(version.attributes),
                "artifact": _artifact(version),
                "status": version.status.value,
                "creationDate": version.created,
                "lastModifiedDate": version.modified,
                "recipe": version.recipe,
                "sbom": None if sbom is None else sbom["sbom"],
                "sbomValidationStatus": None if sbom is None else sbom["status"],
            }
        )

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
    ) -> dict[str, Any]:
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
        return {}

    def delete_package_version(
        self, *, package_name: str, version_name: str, client_token: str | None = None
    ) -> dict[str, Any]:
        self.catalog.delete_version(package_name, version_name)
        self._sboms.pop((package_name, version_name), None)
        return {}

    def list_package_versions(
        self,
        *,
        package_name: str,
        status: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        try:
            wanted = None if status is None else VersionStatus(status)
        except ValueError:
            raise ValidationException(f"Invalid status {status!r}") from None
        items, token = self.catalog.list_versions(
            package_name, status=wanted, max_results=max_results, next_token=next_token
        )
        return _drop_none(
            {
                "packageVersionSummaries": [
                    {
                        "packageName": v.package,
                        "versionName": v.name,
                        "status": v.status.value,
                        "creationDate": v.created,
                        "lastModifiedDate": v.modified,
                    }
                    for v in items
                ],
                "nextToken": token,
            }
        )

    # -- SBOM -------------------------------------------------------------------------------

    def associate_sbom_with_package_version(
        self,
        *,
        package_name: str,
        version_name: str,
        sbom: dict[str, Any],
        client_token: str | None = None,
    ) -> dict[str, Any]:
        self.catalog.get_version(package_name, version_name)
        location = sbom.get("s3Location") if isinstance(sbom, dict) else None
        if not isinstance(location, dict) or not location.get("bucket"):
            raise ValidationException("S3 bucket name for SBOM cannot be null")
        if not location.get("key"):
            raise ValidationException("S3 key for SBOM cannot be null")
        key = (package_name, version_name)
        record = {"sbom": sbom, "status": "IN_PROGRESS"}
        self._sboms[key] = record

        def validated() -> None:
            if self._sboms.get(key) is record:
                record["status"] = "SUCCEEDED"

        self.runtime.scheduler.call_at(self._now(), validated)
        return {
            "packageName": package_name,
            "versionName": version_name,
            "sbom": sbom,
            "sbomValidationStatus": "IN_PROGRESS",
        }

    def disassociate_sbom_from_package_version(
        self, *, package_name: str, version_name: str, client_token: str | None = None
    ) -> dict[str, Any]:
        self.catalog.get_version(package_name, version_name)
        self._sboms.pop((package_name, version_name), None)
        return {}

    def list_sbom_validation_results(
        self,
        *,
        package_name: str,
        version_name: str,
        validation_result: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        self.catalog.get_version(package_name, version_name)
        return {"validationResultSummaries": []}

    # -- configuration ----------------------------------------------------------------------

    def get_package_configuration(self) -> dict[str, Any]:
        config = self.catalog.configuration
        return {
            "versionUpdateByJobsConfig": _drop_none(
                {"enabled": config.version_update_by_jobs, "roleArn": config.role_arn}
            )
        }

    def update_package_configuration(
        self,
        *,
        version_update_by_jobs_config: dict[str, Any] | None = None,
        client_token: str | None = None,
    ) -> dict[str, Any]:
        config = version_update_by_jobs_config or {}
        enabled = config.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise ValidationException("versionUpdateByJobsConfig.enabled must be a boolean")
        role = config.get("roleArn")
        self.catalog.update_configuration(
            enabled=enabled, role_arn=role if isinstance(role, str) else None
        )
        return {}
