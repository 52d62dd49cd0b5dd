"""End to end: a device runs a package job through ``iot-jobs-data`` and ``$package`` follows.

boto3 against a real ``fleetsim serve``: the Jobs data plane (GetPendingJobExecutions,
DescribeJobExecution with ``$next``, StartNextPendingJobExecution, UpdateJobExecution), the
``$package`` shadow Jobs writes on SUCCEEDED when ``versionUpdateByJobsConfig`` is enabled (and
only then), and optimistic locking on shadows. Names carry a random suffix: the server is shared by
the whole test session.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import aws_error

PREFIX = "arn:aws:iot:us-east-1:123456789012"
ROLE = "arn:aws:iam::123456789012:role/JobsUpdatePackageShadow"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _thing(iot: Any) -> tuple[str, str]:
    name = _name("dev")
    return name, iot.create_thing(thingName=name)["thingArn"]


def _package(iot: Any, version: str = "1.0.0") -> str:
    package = _name("agent")
    iot.create_package(packageName=package)
    iot.create_package_version(
        packageName=package, versionName=version, attributes={"s3URL": "https://example.com/a"}
    )
    iot.update_package_version(packageName=package, versionName=version, action="PUBLISH")
    return package


def _pv(package: str, version: str) -> str:
    return f"{PREFIX}:package/{package}/version/{version}"


def _shadow(iot_data: Any, thing: str, shadow: str | None = None) -> dict[str, Any]:
    kwargs = {} if shadow is None else {"shadowName": shadow}
    payload = iot_data.get_thing_shadow(thingName=thing, **kwargs)["payload"]
    document: dict[str, Any] = json.loads(payload.read())
    return document


def _update(iot_data: Any, thing: str, body: dict[str, Any], shadow: str | None = None) -> Any:
    kwargs = {} if shadow is None else {"shadowName": shadow}
    payload = iot_data.update_thing_shadow(thingName=thing, payload=json.dumps(body), **kwargs)
    return json.loads(payload["payload"].read())


@pytest.fixture
def package_config(iot: Any) -> Iterator[Any]:
    """Set versionUpdateByJobsConfig as a test needs; the previous setting comes back after."""
    before = iot.get_package_configuration()["versionUpdateByJobsConfig"]

    def configure(enabled: bool) -> None:
        config: dict[str, Any] = {"enabled": enabled}
        if enabled:
            config["roleArn"] = ROLE
        iot.update_package_configuration(versionUpdateByJobsConfig=config)
        assert iot.get_package_configuration()["versionUpdateByJobsConfig"]["enabled"] is enabled

    yield configure
    iot.update_package_configuration(versionUpdateByJobsConfig=before)


def test_device_runs_package_job_to_succeeded(
    iot: Any, iot_jobs_data: Any, iot_data: Any, package_config: Any
) -> None:
    package_config(True)
    package = _package(iot)
    thing, arn = _thing(iot)
    # The device already reports another package in $package: Jobs must merge, not overwrite.
    first = _update(
        iot_data, thing, {"state": {"reported": {"other": {"version": "0.9"}}}}, "$package"
    )
    job = _name("deploy")
    document = {"url": f"${{aws:iot:package:{package}:version:1.0.0:attributes:s3URL}}"}
    iot.create_job(
        jobId=job,
        targets=[arn],
        document=json.dumps(document),
        destinationPackageVersions=[_pv(package, "1.0.0")],
    )

    pending = iot_jobs_data.get_pending_job_executions(thingName=thing)
    assert pending["inProgressJobs"] == []
    assert [(e["jobId"], e["executionNumber"]) for e in pending["queuedJobs"]] == [(job, 1)]
    head = iot_jobs_data.describe_job_execution(thingName=thing, jobId="$next")["execution"]
    assert (head["jobId"], head["status"]) == (job, "QUEUED")
    assert json.loads(head["jobDocument"]) == {"url": "https://example.com/a"}

    started = iot_jobs_data.start_next_pending_job_execution(
        thingName=thing, statusDetails={"step": "download"}
    )["execution"]
    assert (started["jobId"], started["status"]) == (job, "IN_PROGRESS")
    assert started["statusDetails"] == {"step": "download"}
    assert started["versionNumber"] > head["versionNumber"]
    pending = iot_jobs_data.get_pending_job_executions(thingName=thing)
    assert ([e["jobId"] for e in pending["inProgressJobs"]], pending["queuedJobs"]) == ([job], [])

    progress = iot_jobs_data.update_job_execution(
        thingName=thing,
        jobId=job,
        status="IN_PROGRESS",
        statusDetails={"step": "install"},
        expectedVersion=started["versionNumber"],
        includeJobExecutionState=True,
    )["executionState"]
    assert progress["status"] == "IN_PROGRESS"
    assert progress["statusDetails"] == {"step": "install"}
    assert progress["versionNumber"] == started["versionNumber"] + 1
    # No $package write before the execution succeeds.
    assert _shadow(iot_data, thing, "$package")["version"] == first["version"]

    # A stale expectedVersion is refused.
    code, status, _ = aws_error(
        iot_jobs_data.update_job_execution,
        thingName=thing,
        jobId=job,
        status="SUCCEEDED",
        expectedVersion=started["versionNumber"],
    )
    assert (code, status) == ("InvalidStateTransitionException", 409)
    done = iot_jobs_data.update_job_execution(
        thingName=thing,
        jobId=job,
        status="SUCCEEDED",
        expectedVersion=progress["versionNumber"],
        includeJobExecutionState=True,
        includeJobDocument=True,
    )
    assert done["executionState"]["status"] == "SUCCEEDED"
    assert json.loads(done["jobDocument"]) == {"url": "https://example.com/a"}

    # Terminal is final.
    for again in ("IN_PROGRESS", "SUCCEEDED", "FAILED"):
        code, status, _ = aws_error(
            iot_jobs_data.update_job_execution, thingName=thing, jobId=job, status=again
        )
        assert (code, status) == ("InvalidStateTransitionException", 409)
    assert "execution" not in iot_jobs_data.describe_job_execution(thingName=thing, jobId="$next")
    assert "execution" not in iot_jobs_data.start_next_pending_job_execution(thingName=thing)
    described = iot.describe_job(jobId=job)["job"]
    assert described["status"] == "COMPLETED"
    assert described["jobProcessDetails"]["numberOfSucceededThings"] == 1

    # Jobs merged reported.<package>.version into $package: a real shadow write.
    shadow = _shadow(iot_data, thing, "$package")
    assert shadow["state"]["reported"] == {
        "other": {"version": "0.9"},
        package: {"version": "1.0.0"},
    }
    assert shadow["version"] == first["version"] + 1
    assert "$package" in iot_data.list_named_shadows_for_thing(thingName=thing)["results"]


def test_package_shadow_written_only_on_success_with_the_config(
    iot: Any, iot_jobs_data: Any, iot_data: Any, package_config: Any
) -> None:
    package = _package(iot)
    dpv = [_pv(package, "1.0.0")]

    def run(status: str) -> str:
        thing, arn = _thing(iot)
        job = _name("job")
        iot.create_job(jobId=job, targets=[arn], document="{}", destinationPackageVersions=dpv)
        iot_jobs_data.start_next_pending_job_execution(thingName=thing)
        iot_jobs_data.update_job_execution(thingName=thing, jobId=job, status=status)
        return thing

    package_config(False)
    disabled = run("SUCCEEDED")
    package_config(True)
    failed, rejected = run("FAILED"), run("REJECTED")
    for thing in (disabled, failed, rejected):
        code, status, _ = aws_error(
            iot_data.get_thing_shadow, thingName=thing, shadowName="$package"
        )
        assert (code, status) == ("ResourceNotFoundException", 404)
        assert iot_data.list_named_shadows_for_thing(thingName=thing)["results"] == []
    # The same job shape does write it once enabled and SUCCEEDED.
    succeeded = run("SUCCEEDED")
    reported = _shadow(iot_data, succeeded, "$package")["state"]["reported"]
    assert reported == {package: {"version": "1.0.0"}}


@pytest.mark.parametrize("shadow", [None, "$package"])
def test_stale_shadow_version_is_a_conflict(iot: Any, iot_data: Any, shadow: str | None) -> None:
    thing, _ = _thing(iot)
    _update(iot_data, thing, {"state": {"reported": {"agent": {"version": "1.0.0"}}}}, shadow)
    accepted = _update(
        iot_data, thing, {"state": {"reported": {"agent": {"version": "1.1.0"}}}}, shadow
    )
    assert accepted["version"] == 2
    before = _shadow(iot_data, thing, shadow)

    stale = {"state": {"reported": {"agent": {"version": "9.9.9"}}}, "version": 1}
    kwargs = {} if shadow is None else {"shadowName": shadow}
    code, status, response = aws_error(
        iot_data.update_thing_shadow, thingName=thing, payload=json.dumps(stale), **kwargs
    )
    assert (code, status) == ("ConflictException", 409)
    assert response["Error"]["Message"] == "Version conflict"
    after = _shadow(iot_data, thing, shadow)
    assert after["state"] == before["state"]
    assert after["version"] == 2

    # The current version is accepted and bumps it.
    current = {"state": {"reported": {"agent": {"version": "2.0.0"}}}, "version": 2}
    assert _update(iot_data, thing, current, shadow)["version"] == 3
    reported = _shadow(iot_data, thing, shadow)["state"]["reported"]
    assert reported == {"agent": {"version": "2.0.0"}}


def test_package_shadow_refuses_other_keys(iot: Any, iot_data: Any) -> None:
    thing, _ = _thing(iot)
    body = {"state": {"reported": {"agent": {"version": "1.0.0", "description": "x"}}}}
    code, status, _ = aws_error(
        iot_data.update_thing_shadow,
        thingName=thing,
        shadowName="$package",
        payload=json.dumps(body),
    )
    assert (code, status) == ("InvalidRequestException", 400)
    code, status, _ = aws_error(iot_data.get_thing_shadow, thingName=thing, shadowName="$package")
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_data_plane_errors(iot: Any, iot_jobs_data: Any) -> None:
    thing, arn = _thing(iot)
    missing = _name("none")
    code, status, _ = aws_error(
        iot_jobs_data.describe_job_execution, thingName=thing, jobId=missing
    )
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, status, _ = aws_error(
        iot_jobs_data.update_job_execution, thingName=thing, jobId=missing, status="SUCCEEDED"
    )
    assert (code, status) == ("ResourceNotFoundException", 404)
    job = _name("job")
    iot.create_job(jobId=job, targets=[arn], document="{}")
    # Devices may only report IN_PROGRESS, SUCCEEDED, FAILED or REJECTED.
    for status_value in ("CANCELED", "REMOVED", "TIMED_OUT", "QUEUED"):
        code, status, _ = aws_error(
            iot_jobs_data.update_job_execution, thingName=thing, jobId=job, status=status_value
        )
        assert (code, status) == ("InvalidRequestException", 400), status_value
    execution = iot_jobs_data.describe_job_execution(thingName=thing, jobId=job)["execution"]
    assert execution["status"] == "QUEUED"
