"""End to end: the Software Package Catalog walkthrough through boto3 and a real ``fleetsim serve``.

The seed example (``scenarios/examples``: samplePackage 2.1.5 with its ``s3URL`` and
``signature`` attributes) is built with the catalog API, deployed with CreateJob and read back
with and without ``beforeSubstitution``; then every documented mismatch between a document and
its ``destinationPackageVersions`` is refused at CreateJob, ``$default`` is pinned at creation,
and ``$null`` uninstalls.
Package names carry a random suffix: the server is shared by the whole test session.
"""

from __future__ import annotations

import json
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import aws_error

PREFIX = "arn:aws:iot:us-east-1:123456789012"
EXAMPLES = Path(__file__).resolve().parents[2] / "scenarios" / "examples"
ROLE = "arn:aws:iam::123456789012:role/JobsUpdatePackageShadow"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _pv(package: str, version: str) -> str:
    return f"{PREFIX}:package/{package}/version/{version}"


def _sample_attributes() -> dict[str, str]:
    catalog = tomllib.loads((EXAMPLES / "catalog.toml").read_text())
    (sample,) = [p for p in catalog["packages"] if p["name"] == "samplePackage"]
    (version,) = [v for v in sample["versions"] if v["name"] == "2.1.5"]
    attributes: dict[str, str] = version["attributes"]
    assert {"s3URL", "signature"} <= attributes.keys()
    return attributes


SAMPLE_ATTRIBUTES = _sample_attributes()


def _thing(iot: Any) -> tuple[str, str]:
    name = _name("dev")
    return name, iot.create_thing(thingName=name)["thingArn"]


def _publish(iot: Any, package: str, version: str, attributes: dict[str, str]) -> None:
    iot.create_package_version(packageName=package, versionName=version, attributes=attributes)
    iot.update_package_version(packageName=package, versionName=version, action="PUBLISH")


def _sample_package(iot: Any) -> str:
    """The walkthrough: package, DRAFT 2.1.5, attributes added, published, made the default."""
    package = _name("samplePackage")
    iot.create_package(packageName=package, description="Sample package")
    created = iot.create_package_version(
        packageName=package, versionName="2.1.5", description="2.1.5 release"
    )
    assert created["status"] == "DRAFT"
    assert created["packageVersionArn"] == _pv(package, "2.1.5")
    iot.update_package_version(
        packageName=package, versionName="2.1.5", attributes=SAMPLE_ATTRIBUTES
    )
    iot.update_package_version(packageName=package, versionName="2.1.5", action="PUBLISH")
    got = iot.get_package_version(packageName=package, versionName="2.1.5")
    assert (got["status"], got["attributes"]) == ("PUBLISHED", SAMPLE_ATTRIBUTES)
    iot.update_package(packageName=package, defaultVersionName="2.1.5")
    assert iot.get_package(packageName=package)["defaultVersionName"] == "2.1.5"
    return package


def _dpv(iot: Any, job: str, *, before: bool) -> list[str]:
    described = iot.describe_job(jobId=job, beforeSubstitution=before)["job"]
    found: list[str] = described["destinationPackageVersions"]
    return found


def _document(iot: Any, job: str, *, before: bool) -> str:
    text: str = iot.get_job_document(jobId=job, beforeSubstitution=before)["document"]
    return text


def test_sample_package_job_from_the_seed_example(iot: Any, iot_jobs_data: Any) -> None:
    package = _sample_package(iot)
    thing, arn = _thing(iot)
    raw = (EXAMPLES / "samplePackage-job.json").read_text()
    document = raw.replace("samplePackage:", f"{package}:")  # the placeholders, not file names
    assert document.count(f"{package}:version:2.1.5") == 4
    job = _name("sample")
    iot.create_job(
        jobId=job,
        targets=[arn],
        document=document,
        destinationPackageVersions=[_pv(package, "2.1.5")],
    )

    assert _document(iot, job, before=True) == document
    after = json.loads(_document(iot, job, before=False))
    download, verify, install = (step["action"]["input"]["args"] for step in after["steps"])
    assert download == [SAMPLE_ATTRIBUTES["s3URL"], "/tmp/samplePackage.bin"]
    assert verify == ["/tmp/samplePackage.bin", SAMPLE_ATTRIBUTES["signature"]]
    assert install[2] == SAMPLE_ATTRIBUTES["install:path"]  # attribute keys may contain ':'
    # The all-attributes placeholder became a JSON object, its quotes consumed.
    assert after["package"]["attributes"] == SAMPLE_ATTRIBUTES
    assert _dpv(iot, job, before=False) == _dpv(iot, job, before=True) == [_pv(package, "2.1.5")]

    # The device gets the substituted document.
    head = iot_jobs_data.describe_job_execution(thingName=thing, jobId="$next")["execution"]
    assert json.loads(head["jobDocument"]) == after


def test_empty_pair_all_attributes_and_default(iot: Any, iot_jobs_data: Any) -> None:
    package = _sample_package(iot)
    thing, arn = _thing(iot)
    document = json.dumps(
        {
            "url": "${aws:iot:package::version::attributes:s3URL}",
            "check": "sha=${aws:iot:package::version::attributes:signature}",
            "attributes": "${aws:iot:package::version::attributes}",
            "pinned": f"${{aws:iot:package:{package}:version:$default:attributes:signature}}",
        }
    )
    job = _name("default")
    iot.create_job(
        jobId=job,
        targets=[arn],
        document=document,
        destinationPackageVersions=[_pv(package, "$default")],
    )
    assert _dpv(iot, job, before=False) == [_pv(package, "2.1.5")]
    assert _dpv(iot, job, before=True) == [_pv(package, "$default")]
    assert _document(iot, job, before=True) == document
    expected = {
        "url": SAMPLE_ATTRIBUTES["s3URL"],
        "check": f"sha={SAMPLE_ATTRIBUTES['signature']}",
        "attributes": SAMPLE_ATTRIBUTES,
        "pinned": SAMPLE_ATTRIBUTES["signature"],
    }
    assert json.loads(_document(iot, job, before=False)) == expected
    started = iot_jobs_data.start_next_pending_job_execution(thingName=thing)["execution"]
    assert json.loads(started["jobDocument"]) == expected

    # $default is resolved once, at CreateJob: a new default changes new jobs only.
    _publish(iot, package, "2.2.0", {"s3URL": "https://example.com/2.2.0", "signature": "new"})
    iot.update_package(packageName=package, defaultVersionName="2.2.0")
    assert _dpv(iot, job, before=False) == [_pv(package, "2.1.5")]
    assert json.loads(_document(iot, job, before=False)) == expected
    later = _name("default")
    iot.create_job(
        jobId=later,
        targets=[arn],
        document=document,
        destinationPackageVersions=[_pv(package, "$default")],
    )
    assert _dpv(iot, later, before=False) == [_pv(package, "2.2.0")]
    assert json.loads(_document(iot, later, before=False))["attributes"]["signature"] == "new"

    # $default has to be $default on both sides.
    for doc_version, dpv_version in (("$default", "2.2.0"), ("2.2.0", "$default")):
        code, status, _ = aws_error(
            iot.create_job,
            jobId=_name("mismatch"),
            targets=[arn],
            document=json.dumps(
                {"s": f"${{aws:iot:package:{package}:version:{doc_version}:attributes:signature}}"}
            ),
            destinationPackageVersions=[_pv(package, dpv_version)],
        )
        assert (code, status) == ("InvalidRequestException", 400)


MSG_MULTIPLE = (
    "Cannot resolve empty package name and version name given multiple elements in destination "
    "package versions."
)
MSG_PAIR = "Empty package name and version name have to be used in pair."
MSG_NULL = "$null is not allowed to be referenced as a package version in job documents."
MSG_UNTERMINATED = "One or more parameters or placeholders are not terminated."
MSG_ALL_ATTRIBUTES = (
    "The package version attribute placeholder for all attributes has to be a json value by "
    "itself and not appended with other strings or nested with other placeholders."
)


@pytest.fixture(scope="module")
def two_packages(iot: Any) -> tuple[str, str, str]:
    """Packages A (1.0 and 2.0 published, 3.0 DRAFT) and B (1.0), and a thing ARN."""
    a, b = _name("pkgA"), _name("pkgB")
    for package in (a, b):
        iot.create_package(packageName=package)
        _publish(iot, package, "1.0", {"k": f"{package}-1.0"})
    _publish(iot, a, "2.0", {"k": "a-2.0"})
    iot.create_package_version(packageName=a, versionName="3.0", attributes={"k": "draft"})
    return a, b, _thing(iot)[1]


# (document with A/B for the package names, dPV as (package, version) pairs, message or fragment)
MISMATCHES = {
    "version-not-in-dpv": (
        '{"x": "${aws:iot:package:A:version:2.0:attributes:k}"}',
        [("A", "1.0")],
        "destinationPackageVersions",
    ),
    "empty-pair-several-destinations": (
        '{"x": "${aws:iot:package::version::attributes:k}"}',
        [("A", "1.0"), ("B", "1.0")],
        MSG_MULTIPLE,
    ),
    "empty-version-only": (
        '{"x": "${aws:iot:package:A:version::attributes:k}"}',
        [("A", "1.0")],
        MSG_PAIR,
    ),
    "empty-package-only": (
        '{"x": "${aws:iot:package::version:1.0:attributes}"}',
        [("A", "1.0")],
        MSG_PAIR,
    ),
    "null-in-document": (
        '{"x": "${aws:iot:package:A:version:$null:attributes:k}"}',
        [("A", "$null")],
        MSG_NULL,
    ),
    "empty-pair-on-null": (
        '{"x": "${aws:iot:package::version::attributes:k}"}',
        [("A", "$null")],
        MSG_NULL,
    ),
    "draft-version": ('{"x": 1}', [("A", "3.0")], "DRAFT"),
    "unterminated": (
        '{"x": "${aws:iot:package:A:version:1.0:attributes:k"}',
        [("A", "1.0")],
        MSG_UNTERMINATED,
    ),
    "all-attributes-inside-a-string": (
        '{"x": "all: ${aws:iot:package:A:version:1.0:attributes}"}',
        [("A", "1.0")],
        MSG_ALL_ATTRIBUTES,
    ),
}


@pytest.mark.parametrize("case", list(MISMATCHES))
def test_documented_mismatches_are_refused(
    iot: Any, two_packages: tuple[str, str, str], case: str
) -> None:
    a, b, target = two_packages
    template, pairs, expected = MISMATCHES[case]
    names = {"A": a, "B": b}
    document = template.replace("package:A:", f"package:{a}:")
    job = _name("bad")
    code, status, response = aws_error(
        iot.create_job,
        jobId=job,
        targets=[target],
        document=document,
        destinationPackageVersions=[_pv(names[p], v) for p, v in pairs],
    )
    assert (code, status) == ("InvalidRequestException", 400)
    message = response["Error"]["Message"]
    if expected.endswith("."):  # a message AWS documents, word for word
        assert message == expected
    else:
        assert expected in message
    # Nothing was created.
    assert aws_error(iot.describe_job, jobId=job)[:2] == ("ResourceNotFoundException", 404)


@pytest.fixture
def jobs_update_package_shadow(iot: Any) -> Iterator[None]:
    """versionUpdateByJobsConfig enabled for one test, then restored."""
    before = iot.get_package_configuration()["versionUpdateByJobsConfig"]
    iot.update_package_configuration(versionUpdateByJobsConfig={"enabled": True, "roleArn": ROLE})
    yield
    iot.update_package_configuration(versionUpdateByJobsConfig=before)


def _package_shadow(iot_data: Any, thing: str) -> dict[str, Any]:
    payload = iot_data.get_thing_shadow(thingName=thing, shadowName="$package")["payload"]
    document: dict[str, Any] = json.loads(payload.read())
    return document


def _run_to_success(iot_jobs_data: Any, thing: str, job: str) -> None:
    started = iot_jobs_data.start_next_pending_job_execution(thingName=thing)["execution"]
    assert started["jobId"] == job
    iot_jobs_data.update_job_execution(thingName=thing, jobId=job, status="SUCCEEDED")


@pytest.mark.usefixtures("jobs_update_package_shadow")
def test_null_version_uninstalls(iot: Any, iot_jobs_data: Any, iot_data: Any) -> None:
    package = _name("agent")
    iot.create_package(packageName=package)
    _publish(iot, package, "1.0", {"k": "v"})
    thing, arn = _thing(iot)
    other = {"kept": {"version": "3.0", "attributes": {"site": "lab"}}}
    iot_data.update_thing_shadow(
        thingName=thing,
        shadowName="$package",
        payload=json.dumps({"state": {"reported": other}}),
    )

    install = _name("install")
    iot.create_job(
        jobId=install,
        targets=[arn],
        document='{"operation": "install"}',
        destinationPackageVersions=[_pv(package, "1.0")],
    )
    _run_to_success(iot_jobs_data, thing, install)
    installed = _package_shadow(iot_data, thing)
    assert installed["state"]["reported"] == {**other, package: {"version": "1.0"}}

    uninstall = _name("uninstall")
    iot.create_job(
        jobId=uninstall,
        targets=[arn],
        document='{"operation": "uninstall"}',
        destinationPackageVersions=[_pv(package, "$null")],
    )
    assert _dpv(iot, uninstall, before=False) == [_pv(package, "$null")]
    assert _dpv(iot, uninstall, before=True) == [_pv(package, "$null")]
    _run_to_success(iot_jobs_data, thing, uninstall)
    removed = _package_shadow(iot_data, thing)
    assert removed["state"]["reported"] == other
    assert removed["version"] == installed["version"] + 1
    assert iot.describe_job(jobId=uninstall)["job"]["status"] == "COMPLETED"
