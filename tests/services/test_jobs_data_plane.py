"""Executions through both planes: numbering, versions, the data plane, notifications."""

from __future__ import annotations

import orjson
import pytest

from simulator.core.errors import JobExecutionStateException, VersionMismatchException
from simulator.services.jobs import JobsOptions
from tests.services.jobs_support import DOC, World, aws_error

INVALID = ("InvalidRequestException", 400)
NOT_FOUND = ("ResourceNotFoundException", 404)
TRANSITION = ("InvalidStateTransitionException", 409)


def test_execution_numbers_versions_and_times() -> None:
    w = World(things=1)
    w.create("j", "t0")
    queued = w.clock.now
    summary = w.data.get_pending_job_executions(thing_name="t0")["queuedJobs"][0]
    assert summary == {
        "jobId": "j",
        "queuedAt": int(queued),
        "lastUpdatedAt": int(queued),
        "versionNumber": 1,
        "executionNumber": 1,
    }
    w.clock.now += 10
    started = w.start_next("t0", status_details={"step": "download"})
    assert started is not None
    assert (started["status"], started["versionNumber"], started["startedAt"]) == (
        "IN_PROGRESS",
        2,
        int(queued) + 10,
    )
    assert started["statusDetails"] == {"step": "download"}
    assert started["jobDocument"] == DOC.encode()
    w.clock.now += 5
    out = w.update("j", "t0", "IN_PROGRESS", include_job_execution_state=True)
    assert out == {
        "executionState": {
            "status": "IN_PROGRESS",
            "statusDetails": {"step": "download"},  # omitted details are kept
            "versionNumber": 3,
        }
    }
    out = w.update(
        "j",
        "t0",
        "SUCCEEDED",
        status_details={"result": "ok"},
        expected_version=3,
        include_job_execution_state=True,
        include_job_document=True,
    )
    assert out["executionState"]["versionNumber"] == 4
    assert out["executionState"]["statusDetails"] == {"result": "ok"}
    assert out["jobDocument"] == DOC.encode()
    execution = w.jobs.describe_job_execution(job_id="j", thing_name="t0")["execution"]
    assert execution["status"] == "SUCCEEDED"
    assert execution["versionNumber"] == 4
    assert execution["executionNumber"] == 1
    assert execution["queuedAt"] == queued
    assert execution["startedAt"] == queued + 10
    assert execution["lastUpdatedAt"] == queued + 15
    assert execution["thingArn"] == w.thing_arn("t0")
    assert execution["statusDetails"] == {"detailsMap": {"result": "ok"}}
    assert "jobDocument" not in execution


def test_update_errors_carry_the_execution_state() -> None:
    w = World(things=1)
    w.create("j", "t0")
    w.start_next("t0")
    with pytest.raises(VersionMismatchException) as mismatch:
        w.update("j", "t0", "SUCCEEDED", expected_version=1)
    assert mismatch.value.execution_state == {"status": "IN_PROGRESS", "versionNumber": 2}
    assert mismatch.value.fields()["executionState"]["versionNumber"] == 2
    assert w.status("j", "t0") == "IN_PROGRESS"
    w.update("j", "t0", "FAILED", status_details={"why": "disk"})
    with pytest.raises(JobExecutionStateException) as terminal:
        w.update("j", "t0", "IN_PROGRESS")
    assert (terminal.value.error_type, terminal.value.http_status) == TRANSITION
    assert terminal.value.execution_state == {
        "status": "FAILED",
        "statusDetails": {"why": "disk"},
        "versionNumber": 3,
    }
    assert terminal.value.mqtt_code == "InvalidStateTransition"


@pytest.mark.parametrize("status", ["CANCELED", "QUEUED", "TIMED_OUT", "REMOVED", "DONE"])
def test_devices_cannot_set_other_statuses(status: str) -> None:
    w = World(things=1)
    w.create("j", "t0")
    with aws_error(*INVALID):
        w.update("j", "t0", status)
    assert w.status("j", "t0") == "QUEUED"


def test_data_plane_input_checks() -> None:
    w = World(things=1)
    w.create("j", "t0")
    with aws_error(*INVALID):
        w.update("j", "t0", "IN_PROGRESS", status_details={"k": ""})
    with aws_error(*INVALID):
        w.update("j", "t0", "IN_PROGRESS", step_timeout_in_minutes=0)
    with aws_error(*INVALID):
        w.start_next("t0", step_timeout_in_minutes=10081)
    with aws_error(*INVALID):
        w.data.get_pending_job_executions(thing_name="bad name")
    with aws_error(*NOT_FOUND):
        w.update("nope", "t0", "IN_PROGRESS")
    with aws_error(*NOT_FOUND):
        w.update("j", "t1", "IN_PROGRESS")
    with aws_error(*NOT_FOUND):
        w.data.describe_job_execution(job_id="j", thing_name="t0", execution_number=2)
    assert w.status("j", "t0") == "QUEUED"


def test_queued_to_terminal_option() -> None:
    w = World(things=2)
    w.create("j", "t0")
    w.update("j", "t0", "REJECTED")
    assert w.status("j", "t0") == "REJECTED"
    strict = World(options=JobsOptions(allow_queued_to_terminal=False), things=1)
    strict.create("j", "t0")
    with pytest.raises(JobExecutionStateException):
        strict.update("j", "t0", "SUCCEEDED")


def test_pending_order_start_next_and_describe_next() -> None:
    w = World(things=1)
    for i in range(3):
        w.create(f"j{i}", "t0")
        w.clock.now += 1
    w.update("j2", "t0", "IN_PROGRESS")
    pending = w.data.get_pending_job_executions(thing_name="t0")
    assert [s["jobId"] for s in pending["inProgressJobs"]] == ["j2"]
    assert [s["jobId"] for s in pending["queuedJobs"]] == ["j0", "j1"]
    # StartNext returns the IN_PROGRESS execution unchanged (details and version kept)
    again = w.start_next("t0", status_details={"ignored": "yes"})
    assert again is not None
    assert (again["jobId"], again["versionNumber"]) == ("j2", 2)
    assert "statusDetails" not in again
    described = w.data.describe_job_execution(job_id="$next", thing_name="t0")["execution"]
    assert described["jobId"] == "j2" and described["jobDocument"] == DOC.encode()
    bare = w.data.describe_job_execution(job_id="j0", thing_name="t0", include_job_document=False)[
        "execution"
    ]
    assert (bare["jobId"], bare["status"]) == ("j0", "QUEUED")
    assert "jobDocument" not in bare
    w.update("j2", "t0", "SUCCEEDED")
    nxt = w.start_next("t0")
    assert nxt is not None and nxt["jobId"] == "j0"
    w.update("j0", "t0", "SUCCEEDED")
    w.update("j1", "t0", "SUCCEEDED")
    assert w.data.start_next_pending_job_execution(thing_name="t0") == {}
    assert w.data.describe_job_execution(job_id="$next", thing_name="t0") == {}


def test_notifications_follow_the_pending_list() -> None:
    w = World(things=1)
    w.create("a", "t0")
    assert w.bus.topics() == ["$aws/things/t0/jobs/notify", "$aws/things/t0/jobs/notify-next"]
    notify = w.messages("/notify")[0]
    assert notify["jobs"] == {
        "QUEUED": [w.data.get_pending_job_executions(thing_name="t0")["queuedJobs"][0]]
    }
    nxt = w.messages("/notify-next")[0]
    assert nxt["execution"]["jobId"] == "a"
    assert nxt["execution"]["jobDocument"] == {"operation": "test"}  # an object over MQTT
    assert nxt["timestamp"] == int(w.clock.now)
    w.clock.now += 1
    w.create("b", "t0")  # the list grows, the head stays: notify only
    assert w.bus.topics()[2:] == ["$aws/things/t0/jobs/notify"]
    w.bus.messages.clear()
    w.start_next("t0")  # the head moves to IN_PROGRESS in place: notify, no notify-next
    assert w.bus.topics() == ["$aws/things/t0/jobs/notify"]
    assert list(w.messages("/notify")[0]["jobs"]) == ["IN_PROGRESS", "QUEUED"]
    w.bus.messages.clear()
    w.update("a", "t0", "IN_PROGRESS", status_details={"x": "y"})  # details only: nothing
    assert w.bus.messages == []
    w.update("b", "t0", "IN_PROGRESS")  # b moves up, but a stays first
    assert w.bus.topics() == ["$aws/things/t0/jobs/notify"]
    w.bus.messages.clear()
    w.update("a", "t0", "SUCCEEDED")  # the head leaves: notify-next with b
    assert w.bus.topics() == ["$aws/things/t0/jobs/notify", "$aws/things/t0/jobs/notify-next"]
    assert w.messages("/notify-next")[0]["execution"]["jobId"] == "b"
    w.bus.messages.clear()
    w.update("b", "t0", "SUCCEEDED")  # the list empties
    assert [orjson.loads(p) for _, p in w.bus.messages] == [
        {"timestamp": int(w.clock.now), "jobs": {}},
        {"timestamp": int(w.clock.now)},
    ]


def test_notify_lists_at_most_the_limit_in_order() -> None:
    w = World(things=1)
    for i in range(20):
        w.create(f"j{i:02}", "t0")
        w.clock.now += 1
    w.update("j10", "t0", "IN_PROGRESS")
    jobs = w.messages("/notify")[-1]["jobs"]
    assert [s["jobId"] for s in jobs["IN_PROGRESS"]] == ["j10"]
    assert [s["jobId"] for s in jobs["QUEUED"]] == [f"j{i:02}" for i in range(15) if i != 10]
    small = World(options=JobsOptions(notify_limit=10, timestamp_unit="ms"), things=1)
    for i in range(12):
        small.create(f"j{i}", "t0")
    last = small.messages("/notify")[-1]
    assert len(last["jobs"]["QUEUED"]) == 10
    assert last["timestamp"] == int(small.clock.now * 1000)


def test_control_plane_execution_lists() -> None:
    w = World(things=3)
    w.create("a", "t0", "t1", "t2")
    w.create("b", "t0")
    w.finish("a", "t0")
    summaries = w.jobs.list_job_executions_for_job(job_id="a")["executionSummaries"]
    assert [s["thingArn"] for s in summaries] == [w.thing_arn(t) for t in ("t0", "t1", "t2")]
    first = summaries[0]["jobExecutionSummary"]
    assert (first["status"], first["executionNumber"], first["retryAttempt"]) == (
        "SUCCEEDED",
        1,
        0,
    )
    queued = w.jobs.list_job_executions_for_job(job_id="a", status="QUEUED")
    assert len(queued["executionSummaries"]) == 2
    page = w.jobs.list_job_executions_for_job(job_id="a", max_results=2)
    assert "nextToken" in page
    rest = w.jobs.list_job_executions_for_job(job_id="a", next_token=page["nextToken"])
    assert len(rest["executionSummaries"]) == 1
    per_thing = w.jobs.list_job_executions_for_thing(thing_name="t0")["executionSummaries"]
    assert [s["jobId"] for s in per_thing] == ["a", "b"]
    only_b = w.jobs.list_job_executions_for_thing(thing_name="t0", job_id="b")
    assert [s["jobId"] for s in only_b["executionSummaries"]] == ["b"]
    done = w.jobs.list_job_executions_for_thing(thing_name="t0", status="SUCCEEDED")
    assert [s["jobId"] for s in done["executionSummaries"]] == ["a"]
    with aws_error(*NOT_FOUND):
        w.jobs.list_job_executions_for_job(job_id="nope")
    with aws_error(*INVALID):
        w.jobs.list_job_executions_for_job(job_id="a", status="DONE")


def test_cancel_job_execution() -> None:
    w = World(things=2)
    w.create("j", "t0", "t1")
    with aws_error("VersionConflictException", 409):
        w.jobs.cancel_job_execution(job_id="j", thing_name="t0", expected_version=5)
    w.jobs.cancel_job_execution(
        job_id="j", thing_name="t0", expected_version=1, status_details={"by": "operator"}
    )
    execution = w.jobs.describe_job_execution(job_id="j", thing_name="t0")["execution"]
    assert (execution["status"], execution["forceCanceled"]) == ("CANCELED", False)
    assert execution["statusDetails"] == {"detailsMap": {"by": "operator"}}
    w.start_next("t1")
    with aws_error(*TRANSITION):
        w.jobs.cancel_job_execution(job_id="j", thing_name="t1")
    assert w.status("j", "t1") == "IN_PROGRESS"
    w.jobs.cancel_job_execution(job_id="j", thing_name="t1", force=True)
    execution = w.jobs.describe_job_execution(job_id="j", thing_name="t1")["execution"]
    assert (execution["status"], execution["forceCanceled"]) == ("CANCELED", True)
    with aws_error(*TRANSITION):
        w.jobs.cancel_job_execution(job_id="j", thing_name="t1", force=True)
    with pytest.raises(JobExecutionStateException):
        w.update("j", "t1", "SUCCEEDED")
    assert w.job("j")["status"] == "COMPLETED"


def test_delete_job_execution() -> None:
    w = World(things=2)
    w.create("j", "t0", "t1")
    with aws_error(*TRANSITION):
        w.jobs.delete_job_execution(job_id="j", thing_name="t0", execution_number=1)
    w.bus.messages.clear()
    w.jobs.delete_job_execution(job_id="j", thing_name="t0", execution_number=1, force=True)
    assert w.messages("/notify-next", "t0") == [{"timestamp": int(w.clock.now)}]
    with aws_error(*NOT_FOUND):
        w.jobs.describe_job_execution(job_id="j", thing_name="t0")
    assert w.counts("j")["numberOfQueuedThings"] == 1
    w.finish("j", "t1")
    w.jobs.delete_job_execution(job_id="j", thing_name="t1", execution_number=1)
    assert w.counts("j")["numberOfSucceededThings"] == 0
    with aws_error(*NOT_FOUND):
        w.jobs.delete_job_execution(job_id="j", thing_name="t1", execution_number=1)


def test_approximate_seconds_before_timed_out() -> None:
    w = World(things=1)
    w.create("j", "t0", timeout_config={"inProgressTimeoutInMinutes": 2})
    described = w.jobs.describe_job_execution(job_id="j", thing_name="t0")["execution"]
    assert "approximateSecondsBeforeTimedOut" not in described
    started = w.start_next("t0")
    assert started is not None and started["approximateSecondsBeforeTimedOut"] == 120
    w.clock.now += 30
    described = w.jobs.describe_job_execution(job_id="j", thing_name="t0")["execution"]
    assert described["approximateSecondsBeforeTimedOut"] == 90


PRESIGN_DOC = '{"url": "${aws:iot:s3-presigned-url:https://s3.us-east-1.amazonaws.com/bucket/key}"}'
ROLE = {"roleArn": "arn:aws:iam::123456789012:role/presign", "expiresInSec": 120}


def test_presigned_urls_are_minted_per_fetch() -> None:
    w = World(things=1)
    w.create("j", "t0", document=PRESIGN_DOC, presigned_url_config=ROLE)
    nxt = w.messages("/notify-next")[0]["execution"]["jobDocument"]["url"]
    assert nxt.startswith("https://bucket.s3.us-east-1.amazonaws.com/key?")
    assert "X-Amz-Expires=120" in nxt and "X-Amz-Credential=test%2F" in nxt
    w.clock.now += 30
    started = w.start_next("t0")
    assert started is not None
    url = orjson.loads(started["jobDocument"])["url"]
    assert url != nxt and "X-Amz-Expires=120" in url
    assert "s3-presigned-url" in w.jobs.get_job_document(job_id="j")["document"]
    with aws_error(*INVALID):  # a presigned URL needs presignedUrlConfig.roleArn
        w.create("k", "t0", document=PRESIGN_DOC)
