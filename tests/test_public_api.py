"""The public API of each package is its ``__all__``; this pins it so changes are deliberate."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "simulator.core.catalog": [
        "Catalog",
        "CatalogQuotas",
        "Package",
        "PackageConfiguration",
        "PackageVersion",
        "S3Location",
        "VersionAction",
        "VersionStatus",
        "check_artifact",
    ],
    "simulator.core.substitution": [
        "Compiler",
        "Execution",
        "JobDocument",
        "PackageLookup",
        "PackageRef",
        "PlaceholderMemo",
        "PresignConfig",
        "Presigner",
        "S3Object",
        "SubstitutionOptions",
        "SubstitutionSnapshot",
        "SubstitutionStats",
        "Template",
        "compile_document",
        "parse_s3_url",
        "prepare_job_document",
        "presign_requests",
        "render_for_device",
        "scan",
    ],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_exported_members(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PUBLIC[module])
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name} is exported but missing"
