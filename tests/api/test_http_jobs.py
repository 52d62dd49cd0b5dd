"""Jobs over HTTP: the control plane (``iot``) and the data plane (``iot-jobs-data``) on one port.

The two planes share paths (``GET /things/T/jobs``...), so these tests also prove the routing by
credential scope; ``$next`` travels literally in StartNextPendingJobExecution and as ``%24next`` in
DescribeJobExecution.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.api.conftest import aws_error

PREFIX = "arn:aws:iot:us-east-1:123456789012"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _thing(iot: Any) -> tuple[str, str]:
    name = _name("dev")
    return name, iot.create_thing(thingName=name)["thingArn"]


def test_job_round_trip_through_both_planes(iot: Any, iot_jobs_data: Any) -> None:
    thing, arn = _thing(iot)
    job = _name("job")
    document = {"operation": "reboot", "delay": 5}
    created = iot.create_job(jobId=job, targets=[arn], document=json.dumps(document))
    assert created["jobArn"] == f"{PREFIX}:job/{job}"

    described = iot.describe_job(jobId=job)["job"]
    assert described["jobId"] == job
    assert described["targets"] == [arn]
    assert json.loads(iot.get_job_document(jobId=job)["document"]) == document
    assert job in {j["jobId"] for j in iot.list_jobs(maxResults=250)["jobs"]}

    # Same path, two APIs: the credential scope decides.
    pending = iot_jobs_data.get_pending_job_executions(thingName=thing)
    assert [e["jobId"] for e in pending["queuedJobs"]] == [job]
    summaries = iot.list_job_executions_for_thing(thingName=thing)["executionSummaries"]
    assert [s["jobId"] for s in summaries] == [job]

    # DescribeJobExecution with jobId $next (sent as %24next) includes the document by default.
    head = iot_jobs_data.describe_job_execution(thingName=thing, jobId="$next")["execution"]
    assert head["jobId"] == job
    assert json.loads(head["jobDocument"]) == document  # a JSON string over HTTP

    started = iot_jobs_data.start_next_pending_job_execution(
        thingName=thing, statusDetails={"step": "download"}
    )["execution"]
    assert started["status"] == "IN_PROGRESS"
    assert started["statusDetails"] == {"step": "download"}

    updated = iot_jobs_data.update_job_execution(
        thingName=thing,
        jobId=job,
        status="SUCCEEDED",
        expectedVersion=started["versionNumber"],
        includeJobExecutionState=True,
    )
    assert updated["executionState"]["status"] == "SUCCEEDED"

    # Terminal executions are immutable.
    code, status, _ = aws_error(
        iot_jobs_data.update_job_execution, thingName=thing, jobId=job, status="IN_PROGRESS"
    )
    assert (code, status) == ("InvalidStateTransitionException", 409)

    control_view = iot.describe_job_execution(thingName=thing, jobId=job)["execution"]
    assert control_view["status"] == "SUCCEEDED"
    by_job = iot.list_job_executions_for_job(jobId=job)["executionSummaries"]
    assert [e["thingArn"] for e in by_job] == [arn]


def test_job_errors(iot: Any, iot_jobs_data: Any) -> None:
    thing, arn = _thing(iot)
    job = _name("job")
    iot.create_job(jobId=job, targets=[arn], document="{}")
    code, status, response = aws_error(iot.create_job, jobId=job, targets=[arn], document="{}")
    assert (code, status) == ("ResourceAlreadyExistsException", 409)
    assert response["resourceId"] == job
    code, status, _ = aws_error(iot.describe_job, jobId=_name("none"))
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, status, response = aws_error(
        iot.create_job, jobId="bad id!", targets=[arn], document="{}"
    )
    assert (code, status) == ("InvalidRequestException", 400)
    assert "at 'jobId'" in response["Error"]["Message"]
    code, status, _ = aws_error(
        iot_jobs_data.update_job_execution, thingName=thing, jobId=job, status="NOT_A_STATUS"
    )
    assert (code, status) == ("InvalidRequestException", 400)


def test_cancel_and_delete(iot: Any, iot_jobs_data: Any) -> None:
    thing, arn = _thing(iot)
    job = _name("job")
    iot.create_job(jobId=job, targets=[arn], document="{}")
    iot.cancel_job(jobId=job, comment="not needed")
    assert iot.describe_job(jobId=job)["job"]["status"] in ("CANCELED", "COMPLETED")
    assert iot_jobs_data.get_pending_job_executions(thingName=thing)["queuedJobs"] == []
    iot.delete_job(jobId=job, force=True)


def test_package_placeholders_are_substituted(iot: Any, iot_jobs_data: Any) -> None:
    thing, arn = _thing(iot)
    pkg = _name("pkg")
    iot.create_package(packageName=pkg)
    iot.create_package_version(
        packageName=pkg, versionName="1.0", attributes={"url": "https://example.com/a.bin"}
    )
    iot.update_package_version(packageName=pkg, versionName="1.0", action="PUBLISH")
    job = _name("job")
    document = {"download": f"${{aws:iot:package:{pkg}:version:1.0:attributes:url}}"}
    iot.create_job(
        jobId=job,
        targets=[arn],
        document=json.dumps(document),
        destinationPackageVersions=[f"{PREFIX}:package/{pkg}/version/1.0"],
    )
    after = json.loads(iot.get_job_document(jobId=job)["document"])
    assert after == {"download": "https://example.com/a.bin"}
    before = json.loads(iot.get_job_document(jobId=job, beforeSubstitution=True)["document"])
    assert before == document
    head = iot_jobs_data.describe_job_execution(thingName=thing, jobId="$next")["execution"]
    assert json.loads(head["jobDocument"]) == after
