"""Helpers shared by the catalog tests: error assertions, a deep snapshot, versions in a state."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from simulator.core.catalog import Catalog, Package, PackageVersion, VersionAction, VersionStatus
from simulator.core.errors import AwsError

# (error type, HTTP status) as the AWS service model defines them (reference, section 2).
VALIDATION = ("ValidationException", 400)
CONFLICT = ("ConflictException", 409)
NOT_FOUND = ("ResourceNotFoundException", 404)
QUOTA = ("ServiceQuotaExceededException", 402)

TOKEN_A = "a" * 36
TOKEN_B = "b" * 36


@contextmanager
def aws_error(expected: tuple[str, int]) -> Iterator[pytest.ExceptionInfo[AwsError]]:
    """Expect an :class:`AwsError` with this wire type and HTTP status."""
    with pytest.raises(AwsError) as info:
        yield info
    assert (info.value.error_type, info.value.http_status) == expected, repr(info.value)


def all_packages(catalog: Catalog) -> list[Package]:
    """Every package, through ListPackages pagination."""
    out: list[Package] = []
    token: str | None = None
    while True:
        page, token = catalog.list_packages(max_results=100, next_token=token)
        out.extend(page)
        if token is None:
            return out


def _public_fields(obj: Package | PackageVersion) -> dict[str, object]:
    return {
        f.name: copy.deepcopy(getattr(obj, f.name))
        for f in dataclasses.fields(obj)
        if not f.name.startswith("_") and f.name != "versions"
    }


def snapshot(catalog: Catalog) -> object:
    """A deep copy of everything a client could observe in the catalog."""
    return (
        catalog.configuration,
        [
            (
                _public_fields(pkg),
                [_public_fields(v) for v in pkg.versions.values()],
            )
            for pkg in all_packages(catalog)
        ],
    )


# Public operations that bring a new (DRAFT) version to each state.
PATH_TO: dict[VersionStatus, tuple[VersionAction, ...]] = {
    VersionStatus.DRAFT: (),
    VersionStatus.PUBLISHED: (VersionAction.PUBLISH,),
    VersionStatus.DEPRECATED: (VersionAction.PUBLISH, VersionAction.DEPRECATE),
}


def version_in(
    catalog: Catalog,
    status: VersionStatus,
    *,
    package: str = "pkg",
    name: str = "1.0.0",
    attributes: dict[str, str] | None = None,
) -> PackageVersion:
    """Create ``package`` (if needed) and a version of it, then drive it to ``status``."""
    if not catalog.has_package(package):
        catalog.create_package(package, now=1.0)
    catalog.create_version(
        package, name, now=2.0, attributes={"k": "v"} if attributes is None else attributes
    )
    for action in PATH_TO[status]:
        catalog.update_version(package, name, now=3.0, action=action)
    version = catalog.get_version(package, name)
    assert version.status is status
    return version
