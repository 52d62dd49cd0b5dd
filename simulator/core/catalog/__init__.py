"""Software Package Catalog: pure rules and an in-memory store (no IO, no clock)."""

from simulator.core.catalog.model import (
    Package,
    PackageConfiguration,
    PackageVersion,
    S3Location,
    VersionAction,
    VersionStatus,
    check_artifact,
)
from simulator.core.catalog.store import Catalog, CatalogQuotas

__all__ = [
    "Catalog",
    "CatalogQuotas",
    "Package",
    "PackageConfiguration",
    "PackageVersion",
    "S3Location",
    "VersionAction",
    "VersionStatus",
    "check_artifact",
]
