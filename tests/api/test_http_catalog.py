"""Software Package Catalog over HTTP: boto3 against a real ``fleetsim serve``.

Checks what boto3 reports (parsed members, timestamps, error codes and statuses), so the wire
shapes, the routing and the model-driven validation are all exercised end to end.
"""

from __future__ import annotations

import datetime
import time
import uuid
from typing import Any

import pytest

from tests.api.conftest import aws_error


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_package_lifecycle(iot: Any) -> None:
    name = _name("pkg")
    created = iot.create_package(packageName=name, description="first")
    assert created["packageName"] == name
    assert created["packageArn"] == f"arn:aws:iot:us-east-1:123456789012:package/{name}"
    assert created["description"] == "first"

    got = iot.get_package(packageName=name)
    assert got["packageName"] == name
    assert isinstance(got["creationDate"], datetime.datetime)
    assert "defaultVersionName" not in got

    iot.update_package(packageName=name, description="second")
    assert iot.get_package(packageName=name)["description"] == "second"

    listed = iot.list_packages(maxResults=100)["packageSummaries"]
    assert name in {p["packageName"] for p in listed}

    iot.delete_package(packageName=name)
    code, status, _ = aws_error(iot.get_package, packageName=name)
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_version_lifecycle_and_default(iot: Any) -> None:
    pkg = _name("pkg")
    iot.create_package(packageName=pkg)
    version = iot.create_package_version(
        packageName=pkg, versionName="1.0.0", attributes={"os": "linux"}, description="v1"
    )
    assert version["status"] == "DRAFT"
    assert version["attributes"] == {"os": "linux"}
    assert version["packageVersionArn"].endswith(f":package/{pkg}/version/1.0.0")

    # A DRAFT cannot be the default version.
    code, status, response = aws_error(
        iot.update_package, packageName=pkg, defaultVersionName="1.0.0"
    )
    assert (code, status) == ("ConflictException", 409)
    assert response["resourceId"] == "1.0.0"  # the modelled field reaches boto3

    iot.update_package_version(packageName=pkg, versionName="1.0.0", action="PUBLISH")
    got = iot.get_package_version(packageName=pkg, versionName="1.0.0")
    assert got["status"] == "PUBLISHED"
    assert got["lastModifiedDate"] >= got["creationDate"]

    # Published: attributes are frozen, the description is not.
    code, status, _ = aws_error(
        iot.update_package_version, packageName=pkg, versionName="1.0.0", attributes={"a": "b"}
    )
    assert (code, status) == ("ConflictException", 409)
    iot.update_package_version(packageName=pkg, versionName="1.0.0", description="edited")

    iot.update_package(packageName=pkg, defaultVersionName="1.0.0")
    assert iot.get_package(packageName=pkg)["defaultVersionName"] == "1.0.0"

    iot.create_package_version(packageName=pkg, versionName="2.0.0")
    drafts = iot.list_package_versions(packageName=pkg, status="DRAFT")
    assert [v["versionName"] for v in drafts["packageVersionSummaries"]] == ["2.0.0"]
    everything = iot.list_package_versions(packageName=pkg)["packageVersionSummaries"]
    assert {v["versionName"] for v in everything} == {"1.0.0", "2.0.0"}

    # The default version cannot be deleted, nor a package that still has versions.
    code, status, _ = aws_error(iot.delete_package_version, packageName=pkg, versionName="1.0.0")
    assert (code, status) == ("ValidationException", 400)
    code, status, _ = aws_error(iot.delete_package, packageName=pkg)
    assert (code, status) == ("ValidationException", 400)

    iot.update_package(packageName=pkg, unsetDefaultVersion=True)
    iot.delete_package_version(packageName=pkg, versionName="1.0.0")
    iot.delete_package_version(packageName=pkg, versionName="2.0.0")
    iot.delete_package(packageName=pkg)


def test_duplicate_package_is_a_conflict(iot: Any) -> None:
    pkg = _name("dup")
    iot.create_package(packageName=pkg)
    code, status, response = aws_error(iot.create_package, packageName=pkg)
    assert (code, status) == ("ConflictException", 409)
    assert response["Error"]["Message"] == f"Package {pkg} already exists"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        # Names outside the model's pattern [a-zA-Z0-9-_.]+ (boto3 does not check patterns).
        ({"packageName": "bad name"}, "satisfy regular expression pattern"),
        ({"packageName": "x" * 129}, "have length less than or equal to 128"),
        ({"packageName": "ok", "description": "d" * 1025}, "less than or equal to 1024"),
    ],
)
def test_create_package_validation(iot: Any, kwargs: dict[str, Any], fragment: str) -> None:
    code, status, response = aws_error(iot.create_package, **kwargs)
    assert (code, status) == ("ValidationException", 400)
    message = response["Error"]["Message"]
    assert message.startswith("1 validation error detected: Value '")
    assert fragment in message


def test_list_packages_max_results_is_validated(iot: Any) -> None:
    # maxResults is 1..100 in the model; boto3 checks only the minimum.
    code, status, response = aws_error(iot.list_packages, maxResults=101)
    assert (code, status) == ("ValidationException", 400)
    assert "at 'maxResults'" in response["Error"]["Message"]


def test_missing_version_is_not_found(iot: Any) -> None:
    pkg = _name("pkg")
    iot.create_package(packageName=pkg)
    code, status, _ = aws_error(iot.get_package_version, packageName=pkg, versionName="9.9")
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_sbom_validation_completes_on_the_server_loop(iot: Any) -> None:
    pkg = _name("sbom")
    iot.create_package(packageName=pkg)
    iot.create_package_version(packageName=pkg, versionName="1.0")
    sbom = {"s3Location": {"bucket": "my-bucket", "key": "sboms/1.0.spdx.json"}}
    associated = iot.associate_sbom_with_package_version(
        packageName=pkg, versionName="1.0", sbom=sbom
    )
    assert associated["sbomValidationStatus"] == "IN_PROGRESS"
    # The service schedules the validation result on the runtime's scheduler, which the server
    # backs with asyncio timers: it must complete without any further request poking it.
    deadline = time.monotonic() + 10
    status = "IN_PROGRESS"
    while status == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.05)
        status = iot.get_package_version(packageName=pkg, versionName="1.0")["sbomValidationStatus"]
    assert status == "SUCCEEDED"
    results = iot.list_sbom_validation_results(packageName=pkg, versionName="1.0")
    assert results["validationResultSummaries"] == []
    iot.disassociate_sbom_from_package_version(packageName=pkg, versionName="1.0")
    assert "sbom" not in iot.get_package_version(packageName=pkg, versionName="1.0")


def test_package_configuration(iot: Any) -> None:
    role = "arn:aws:iam::123456789012:role/package-updates"
    iot.update_package_configuration(versionUpdateByJobsConfig={"enabled": True, "roleArn": role})
    config = iot.get_package_configuration()["versionUpdateByJobsConfig"]
    assert config == {"enabled": True, "roleArn": role}
    iot.update_package_configuration(versionUpdateByJobsConfig={"enabled": False})
    assert iot.get_package_configuration()["versionUpdateByJobsConfig"]["enabled"] is False
