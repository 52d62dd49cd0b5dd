"""End to end: presigned URLs, rollout pacing, CancelJob and DeleteJob through boto3.

Against a real ``fleetsim serve`` (SigV4 on, credentials ``test``/``test``, us-east-1). Presigned
URLs are checked by recomputing their SigV4 query signature here from the signing spec, not with
the emulator's code. Names carry a random suffix: the server is shared by the whole test session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from botocore.exceptions import ClientError

from tests.api.conftest import aws_error

PREFIX = "arn:aws:iot:us-east-1:123456789012"
PRESIGN_ROLE = "arn:aws:iam::123456789012:role/JobsPresign"
SECRET = "test"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _things(iot: Any, count: int) -> list[tuple[str, str]]:
    names = [_name("dev") for _ in range(count)]
    return [(name, iot.create_thing(thingName=name)["thingArn"]) for name in names]


def _statuses(iot: Any, job: str) -> dict[str, str]:
    summaries = iot.list_job_executions_for_job(jobId=job)["executionSummaries"]
    return {s["thingArn"]: s["jobExecutionSummary"]["status"] for s in summaries}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _check_presigned(url: str, *, expires: int, host: str, path: str) -> dict[str, str]:
    """Verify a SigV4 query-signed S3 GET URL signed with SECRET; return its query parameters."""
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", host, path)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert params["X-Amz-SignedHeaders"] == "host"
    assert params["X-Amz-Expires"] == str(expires)
    key_id, day, region, service, terminal = params["X-Amz-Credential"].split("/")
    assert (key_id, region, service, terminal) == ("test", "us-east-1", "s3", "aws4_request")
    stamp = params["X-Amz-Date"]
    signed_at = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert abs(signed_at.timestamp() - time.time()) < 120  # minted at the fetch
    assert stamp[:8] == day
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in sorted(params.items())
        if k != "X-Amz-Signature"
    )
    canonical = f"GET\n{parts.path}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD"
    scope = f"{day}/{region}/{service}/{terminal}"
    to_sign = "\n".join(
        ("AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    key = f"AWS4{SECRET}".encode()
    for part in (day, region, service, terminal):
        key = _hmac(key, part)
    assert params["X-Amz-Signature"] == hmac.new(key, to_sign.encode(), "sha256").hexdigest()
    return params


def test_presigned_urls_are_minted_for_the_device(iot: Any, iot_jobs_data: Any) -> None:
    package = _name("firmware")
    iot.create_package(packageName=package)
    s3_url = f"https://examplebucket.s3.us-east-1.amazonaws.com/{package}/image.bin"
    iot.create_package_version(
        packageName=package,
        versionName="2.1.5",
        attributes={"s3URL": s3_url},
        artifact={"s3Location": {"bucket": "artifacts", "key": "fw/2.1.5.bin", "version": "v7"}},
    )
    iot.update_package_version(packageName=package, versionName="2.1.5", action="PUBLISH")
    ((thing, arn),) = _things(iot, 1)
    document = json.dumps(
        {
            "download": "${aws:iot:s3-presigned-url:${aws:iot:package::version::attributes:s3URL}}",
            "artifact": "${aws:iot:package::version::artifact-location:s3-presigned-url}",
        }
    )
    dpv = [f"{PREFIX}:package/{package}/version/2.1.5"]

    # Without presignedUrlConfig.roleArn the document is refused (documented message).
    code, status, response = aws_error(
        iot.create_job,
        jobId=_name("norole"),
        targets=[arn],
        document=document,
        destinationPackageVersions=dpv,
    )
    assert (code, status) == ("InvalidRequestException", 400)
    assert response["Error"]["Message"] == (
        "presignedUrlConfig role ARN is required to generate an S3 presigned url in job document."
    )

    job = _name("presign")
    iot.create_job(
        jobId=job,
        targets=[arn],
        document=document,
        destinationPackageVersions=dpv,
        presignedUrlConfig={"roleArn": PRESIGN_ROLE, "expiresInSec": 300},
    )
    # GetJobDocument keeps the presigned-URL placeholders (package parts resolved).
    assert iot.get_job_document(jobId=job, beforeSubstitution=True)["document"] == document
    stored = json.loads(iot.get_job_document(jobId=job)["document"])
    assert stored == {
        "download": f"${{aws:iot:s3-presigned-url:{s3_url}}}",
        "artifact": f"${{aws:iot:package:{package}:version:2.1.5:artifact-location:"
        "s3-presigned-url}",
    }

    # The device's copy holds SigV4 presigned GET URLs, minted at the fetch.
    started = iot_jobs_data.start_next_pending_job_execution(thingName=thing)["execution"]
    received = json.loads(started["jobDocument"])
    assert "${" not in started["jobDocument"]
    download = _check_presigned(
        received["download"],
        expires=300,
        host="examplebucket.s3.us-east-1.amazonaws.com",
        path=f"/{package}/image.bin",
    )
    assert "versionId" not in download
    artifact = _check_presigned(
        received["artifact"],
        expires=300,
        host="artifacts.s3.us-east-1.amazonaws.com",
        path="/fw/2.1.5.bin",
    )
    assert artifact["versionId"] == "v7"
    # DescribeJobExecution mints them too.
    described = iot_jobs_data.describe_job_execution(thingName=thing, jobId=job)["execution"]
    again = json.loads(described["jobDocument"])
    _check_presigned(
        again["artifact"],
        expires=300,
        host="artifacts.s3.us-east-1.amazonaws.com",
        path="/fw/2.1.5.bin",
    )


def test_rollout_releases_at_most_maximum_per_minute(iot: Any) -> None:
    # The server runs on the real clock: the next batch is a minute away, so this checks that
    # the first batch is capped and the rollout configuration goes through boto3. That the
    # rollout ticks (every second) release nothing more within the minute is checked on the
    # injected clock, tick by tick (tests/services/test_jobs_lifecycle.py).
    things = _things(iot, 5)
    job = _name("rollout")
    iot.create_job(
        jobId=job,
        targets=[arn for _, arn in things],
        document="{}",
        jobExecutionsRolloutConfig={"maximumPerMinute": 2},
    )
    first = _statuses(iot, job)
    assert sorted(first.values()) == ["QUEUED", "QUEUED"]
    described = iot.describe_job(jobId=job)["job"]
    assert described["jobExecutionsRolloutConfig"] == {"maximumPerMinute": 2}
    assert described["jobProcessDetails"]["numberOfQueuedThings"] == 2
    assert described["isConcurrent"] is True  # still rolling out
    assert described["status"] == "IN_PROGRESS"
    # Canceling drops the backlog: the three unreleased things never get an execution.
    iot.cancel_job(jobId=job)
    assert sorted(_statuses(iot, job).values()) == ["CANCELED", "CANCELED"]
    assert iot.describe_job(jobId=job)["job"]["status"] == "CANCELED"


def test_cancel_force_and_delete(iot: Any, iot_jobs_data: Any) -> None:
    (busy, busy_arn), (idle, idle_arn) = _things(iot, 2)
    job = _name("cancel")
    iot.create_job(jobId=job, targets=[busy_arn, idle_arn], document="{}")
    iot_jobs_data.start_next_pending_job_execution(thingName=busy)

    # An IN_PROGRESS job cannot be deleted without force.
    code, status, _ = aws_error(iot.delete_job, jobId=job)
    assert (code, status) == ("InvalidStateTransitionException", 409)

    # Without force only QUEUED executions are canceled.
    iot.cancel_job(jobId=job, reasonCode="NOT_NEEDED", comment="stop")
    assert _statuses(iot, job) == {busy_arn: "IN_PROGRESS", idle_arn: "CANCELED"}
    described = iot.describe_job(jobId=job)["job"]
    assert (described["status"], described["reasonCode"]) == ("CANCELED", "NOT_NEEDED")
    assert described["forceCanceled"] is False
    assert iot_jobs_data.get_pending_job_executions(thingName=idle)["queuedJobs"] == []

    # With force the IN_PROGRESS one goes too, and the device can no longer update it.
    iot.cancel_job(jobId=job, force=True)
    assert _statuses(iot, job) == {busy_arn: "CANCELED", idle_arn: "CANCELED"}
    assert iot.describe_job(jobId=job)["job"]["forceCanceled"] is True
    code, status, _ = aws_error(
        iot_jobs_data.update_job_execution, thingName=busy, jobId=job, status="SUCCEEDED"
    )
    assert (code, status) == ("InvalidStateTransitionException", 409)
    assert iot_jobs_data.get_pending_job_executions(thingName=busy)["inProgressJobs"] == []

    # A CANCELED job is deleted without force; it disappears once the deletion is done.
    iot.delete_job(jobId=job)
    _wait_deleted(iot, job)
    code, status, _ = aws_error(iot.get_job_document, jobId=job)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert iot.list_job_executions_for_thing(thingName=busy)["executionSummaries"] == []

    # The id can be used again; force deletes an IN_PROGRESS job.
    iot.create_job(jobId=job, targets=[busy_arn], document='{"again": true}')
    iot_jobs_data.start_next_pending_job_execution(thingName=busy)
    iot.delete_job(jobId=job, force=True)
    # Neither cancel nor delete again while DELETION_IN_PROGRESS (CancelJob models no 409).
    code, status, _ = aws_error(iot.cancel_job, jobId=job)
    assert (code, status) == ("InvalidRequestException", 400)
    code, status, _ = aws_error(iot.delete_job, jobId=job, force=True)
    assert (code, status) == ("InvalidStateTransitionException", 409)
    _wait_deleted(iot, job)
    assert iot_jobs_data.get_pending_job_executions(thingName=busy)["inProgressJobs"] == []


def _wait_deleted(iot: Any, job: str) -> None:
    """Poll DescribeJob: DELETION_IN_PROGRESS until the job is gone (404)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            status = iot.describe_job(jobId=job)["job"]["status"]
        except ClientError as exc:
            error = exc.response
            assert error["Error"]["Code"] == "ResourceNotFoundException"
            assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
            return
        assert status == "DELETION_IN_PROGRESS"
        assert time.monotonic() < deadline, f"job {job} was never deleted"
        time.sleep(0.1)
