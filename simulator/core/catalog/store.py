"""The Software Package Catalog as an in-memory store: every operation checks, then mutates.

Time is passed in (``now``, epoch seconds) so the store never reads a clock. Error choices where
AWS documents none are listed on :class:`Catalog` and follow the operation's modelled error family
(ValidationException, ConflictException, ResourceNotFoundException, ServiceQuotaExceededException).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from simulator.core.arn import Scope, package_arn
from simulator.core.catalog.model import (
    EDITABLE,
    LIFECYCLE,
    Field,
    Package,
    PackageConfiguration,
    PackageVersion,
    S3Location,
    VersionAction,
    VersionStatus,
    check_attributes,
    check_client_token,
    check_description,
    check_package_name,
    check_recipe,
    check_tags,
    check_version_name,
)
from simulator.core.errors import (
    ConflictException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    ValidationException,
)
from simulator.core.paging import page

__all__ = ["Catalog", "CatalogQuotas"]


@dataclass(frozen=True, slots=True)
class CatalogQuotas:
    """Account quotas (AWS defaults from memory; adjustable in Service Quotas, so configurable)."""

    packages: int = 10_000
    versions_per_package: int = 10_000


class Catalog:
    """Packages, their versions and the account's package configuration.

    Choices where AWS's behaviour is not documented (see the reference, section 2):

    * creating an existing package or version with another ``clientToken`` (or none): Conflict;
      with the same token: returns the existing resource (idempotent retry);
    * a version of a missing package on create: ValidationException (CreatePackageVersion models
      no ResourceNotFoundException);
    * a refused lifecycle action or an edit of a frozen field: ConflictException;
    * DeletePackage with versions, or DeletePackageVersion of the default: ValidationException
      (the only client error either operation models); deleting what does not exist succeeds.
    """

    def __init__(self, scope: Scope | None = None, quotas: CatalogQuotas | None = None) -> None:
        self.scope = scope or Scope()
        self.quotas = quotas or CatalogQuotas()
        self.configuration = PackageConfiguration()
        self._packages: dict[str, Package] = {}

    # -- packages ---------------------------------------------------------------------------

    def create_package(
        self,
        name: str,
        *,
        now: float,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        client_token: str | None = None,
    ) -> Package:
        check_package_name(name)
        token = check_client_token(client_token)
        desc = None if description is None else check_description(description)
        tag_map = {} if tags is None else check_tags(tags)
        existing = self._packages.get(name)
        if existing is not None:
            if token is not None and token == existing.client_token:
                return existing
            raise ConflictException(f"Package {name} already exists", resource_id=name)
        if len(self._packages) >= self.quotas.packages:
            raise ServiceQuotaExceededException(
                f"Cannot create package {name}: the account has {self.quotas.packages} packages"
            )
        pkg = Package(
            name=name,
            arn=package_arn(self.scope, name),
            created=now,
            modified=now,
            description=desc,
            tags=tag_map,
            client_token=token,
        )
        self._packages[name] = pkg
        return pkg

    def get_package(self, name: str) -> Package:
        check_package_name(name)
        pkg = self._packages.get(name)
        if pkg is None:
            raise ResourceNotFoundException(f"Package {name} does not exist")
        return pkg

    def list_packages(
        self, *, max_results: int | None = None, next_token: str | None = None
    ) -> tuple[Sequence[Package], str | None]:
        ordered = sorted(self._packages.values(), key=lambda p: p.name)
        return page(ordered, max_results, next_token, limit=100, error=ValidationException)

    def update_package(
        self,
        name: str,
        *,
        now: float,
        description: str | None = None,
        default_version: str | None = None,
        unset_default_version: bool = False,
    ) -> Package:
        if default_version is not None and unset_default_version:
            raise ValidationException(
                "defaultVersionName and unsetDefaultVersion cannot be used together"
            )
        pkg = self.get_package(name)
        desc = None if description is None else check_description(description)
        if default_version is not None:
            check_version_name(default_version)
            version = pkg.versions.get(default_version)
            if version is None:
                raise ResourceNotFoundException(f"Package {name} has no version {default_version}")
            if not version.status.deployable:
                raise ConflictException(
                    f"Version {default_version} of package {name} is {version.status.value}; "
                    "only a PUBLISHED or DEPRECATED version can be the default version",
                    resource_id=default_version,
                )
        # All checks passed: mutate.
        if desc is not None:
            pkg.description = desc
        if default_version is not None:
            pkg.default_version = default_version
        if unset_default_version:
            pkg.default_version = None
        pkg.modified = now
        return pkg

    def delete_package(self, name: str) -> None:
        check_package_name(name)
        pkg = self._packages.get(name)
        if pkg is None:
            return
        if pkg.versions:
            raise ValidationException(
                f"Package {name} still has {len(pkg.versions)} version(s); "
                "delete all versions before deleting the package"
            )
        del self._packages[name]

    # -- versions ---------------------------------------------------------------------------

    def create_version(
        self,
        package: str,
        name: str,
        *,
        now: float,
        description: str | None = None,
        attributes: Mapping[str, str] | None = None,
        artifact: S3Location | None = None,
        recipe: str | None = None,
        tags: Mapping[str, str] | None = None,
        client_token: str | None = None,
    ) -> PackageVersion:
        check_package_name(package)
        check_version_name(name)
        token = check_client_token(client_token)
        desc = None if description is None else check_description(description)
        attrs = {} if attributes is None else check_attributes(attributes)
        rec = None if recipe is None else check_recipe(recipe)
        tag_map = {} if tags is None else check_tags(tags)
        pkg = self._packages.get(package)
        if pkg is None:
            raise ValidationException(f"Package {package} does not exist")
        existing = pkg.versions.get(name)
        if existing is not None:
            if token is not None and token == existing.client_token:
                return existing
            raise ConflictException(
                f"Version {name} of package {package} already exists", resource_id=name
            )
        if len(pkg.versions) >= self.quotas.versions_per_package:
            raise ServiceQuotaExceededException(
                f"Package {package} already has {self.quotas.versions_per_package} versions"
            )
        version = PackageVersion(
            package=package,
            name=name,
            arn=self.scope.arn(f"package/{package}/version/{name}"),
            status=VersionStatus.DRAFT,
            created=now,
            modified=now,
            description=desc,
            attributes=attrs,
            artifact=artifact,
            recipe=rec,
            tags=tag_map,
            client_token=token,
        )
        pkg.versions[name] = version
        pkg.modified = now
        return version

    def get_version(self, package: str, name: str) -> PackageVersion:
        check_version_name(name)
        version = self.get_package(package).versions.get(name)
        if version is None:
            raise ResourceNotFoundException(f"Package {package} has no version {name}")
        return version

    def find_version(self, package: str, name: str) -> PackageVersion | None:
        """Like :meth:`get_version`, without errors: ``None`` when either is missing."""
        pkg = self._packages.get(package)
        return None if pkg is None else pkg.versions.get(name)

    def has_package(self, package: str) -> bool:
        return package in self._packages

    def default_version_of(self, package: str) -> str | None:
        pkg = self._packages.get(package)
        return None if pkg is None else pkg.default_version

    def list_versions(
        self,
        package: str,
        *,
        status: VersionStatus | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> tuple[Sequence[PackageVersion], str | None]:
        check_package_name(package)
        pkg = self._packages.get(package)
        versions = [] if pkg is None else sorted(pkg.versions.values(), key=lambda v: v.created)
        if status is not None:
            versions = [v for v in versions if v.status is status]
        return page(versions, max_results, next_token, limit=100, error=ValidationException)

    def update_version(
        self,
        package: str,
        name: str,
        *,
        now: float,
        action: VersionAction | None = None,
        description: str | None = None,
        attributes: Mapping[str, str] | None = None,
        artifact: S3Location | None = None,
        recipe: str | None = None,
    ) -> PackageVersion:
        version = self.get_version(package, name)
        desc = None if description is None else check_description(description)
        attrs = None if attributes is None else check_attributes(attributes)
        rec = None if recipe is None else check_recipe(recipe)
        changes = {
            f
            for f, value in (
                (Field.DESCRIPTION, desc),
                (Field.ATTRIBUTES, attrs),
                (Field.ARTIFACT, artifact),
                (Field.RECIPE, rec),
            )
            if value is not None
        }
        frozen = changes - EDITABLE[version.status]
        if frozen:
            names = ", ".join(sorted(f.value for f in frozen))
            raise ConflictException(
                f"Cannot update {names} of version {name} of package {package} in state "
                f"{version.status.value}",
                resource_id=name,
            )
        if Field.RECIPE in changes and version.deployed:
            raise ConflictException(
                f"The recipe of version {name} of package {package} is immutable: a job has "
                "deployed this version",
                resource_id=name,
            )
        new_status = version.status
        if action is not None:
            target = LIFECYCLE.get((version.status, action))
            if target is None:
                raise ConflictException(
                    f"Cannot {action.value} version {name} of package {package} in state "
                    f"{version.status.value}",
                    resource_id=name,
                )
            new_status = target
        # All checks passed: mutate. Edits happen before the transition, as one request.
        if desc is not None:
            version.description = desc
        if attrs is not None:
            version.attributes = attrs
            version.clear_encodings()
        if artifact is not None:
            version.artifact = artifact
        if rec is not None:
            version.recipe = rec
        version.status = new_status
        version.modified = now
        return version

    def delete_version(self, package: str, name: str) -> None:
        check_package_name(package)
        check_version_name(name)
        pkg = self._packages.get(package)
        if pkg is None or name not in pkg.versions:
            return
        if pkg.default_version == name:
            raise ValidationException(
                f"Version {name} is the default version of package {package}; "
                "unset the default version before deleting it"
            )
        del pkg.versions[name]

    def mark_deployed(self, package: str, name: str) -> None:
        """Called by Jobs when a job deploys a version: its recipe becomes immutable."""
        version = self.find_version(package, name)
        if version is not None:
            version.deployed = True

    # -- configuration ----------------------------------------------------------------------

    def update_configuration(self, *, enabled: bool | None, role_arn: str | None) -> None:
        if role_arn is not None and not (isinstance(role_arn, str) and 20 <= len(role_arn) <= 2048):
            raise ValidationException("roleArn must be 20 to 2048 characters")
        current = self.configuration
        self.configuration = PackageConfiguration(
            version_update_by_jobs=current.version_update_by_jobs if enabled is None else enabled,
            role_arn=current.role_arn if role_arn is None else role_arn,
        )
