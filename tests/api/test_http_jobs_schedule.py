"""Scheduled jobs over HTTP with boto3: SCHEDULED status, DescribeJob's schedule, ListJobs'
filter, CancelJob before the start, and AWS-shaped refusals.

The server runs on the wall clock with AWS's 30-minute lead, so these tests check shapes and
errors; the timing (start, windows, end behaviours) is tested on a virtual clock in
``tests/services/test_jobs_schedule.py``.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import aws_error, finish, launch

DOC = '{"operation":"install"}'
WINDOW = {"startTime": "cron(0 2 ? * SAT *)", "durationInMinutes": 120}


def _at(seconds: float) -> str:
    return dt.datetime.fromtimestamp(time.time() + seconds, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M")


def _job(iot: Any, **kwargs: Any) -> tuple[str, str]:
    thing = f"dev-{uuid.uuid4().hex[:10]}"
    arn = iot.create_thing(thingName=thing)["thingArn"]
    job_id = f"job-{uuid.uuid4().hex[:10]}"
    iot.create_job(jobId=job_id, targets=[arn], document=DOC, **kwargs)
    return job_id, thing


def test_a_scheduled_job_waits_and_describes_its_schedule(iot: Any, iot_jobs_data: Any) -> None:
    config = {
        "startTime": _at(2 * 3600),
        "endTime": _at(90 * 86400),
        "endBehavior": "CANCEL",
        "maintenanceWindows": [WINDOW],
    }
    job_id, thing = _job(iot, schedulingConfig=config)
    job = iot.describe_job(jobId=job_id)["job"]
    assert job["status"] == "SCHEDULED"
    assert job["schedulingConfig"] == config
    rollouts = [r["startTime"] for r in job["scheduledJobRollouts"]]
    assert len(rollouts) == 7  # "the next seven" Saturdays at 02:00
    for text in rollouts:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT02:00", text)
        assert dt.date.fromisoformat(text[:10]).weekday() == 5
    assert rollouts == sorted(rollouts) and rollouts[0] >= config["startTime"]
    listed = iot.list_jobs(status="SCHEDULED", maxResults=250)["jobs"]
    assert job_id in {j["jobId"] for j in listed}
    assert job_id not in {j["jobId"] for j in iot.list_jobs(status="IN_PROGRESS")["jobs"]}
    assert iot.list_job_executions_for_job(jobId=job_id)["executionSummaries"] == []
    pending = iot_jobs_data.get_pending_job_executions(thingName=thing)
    assert (pending["queuedJobs"], pending["inProgressJobs"]) == ([], [])


def test_cancel_a_scheduled_job(iot: Any) -> None:
    job_id, _ = _job(iot, schedulingConfig={"startTime": _at(3600)})
    canceled = iot.cancel_job(jobId=job_id, reasonCode="NOT_NEEDED")
    assert canceled["jobId"] == job_id
    job = iot.describe_job(jobId=job_id)["job"]
    assert (job["status"], job["reasonCode"]) == ("CANCELED", "NOT_NEEDED")
    assert "scheduledJobRollouts" not in job
    iot.delete_job(jobId=job_id)


def test_a_job_with_windows_only_is_in_progress(iot: Any) -> None:
    job_id, _ = _job(iot, schedulingConfig={"maintenanceWindows": [WINDOW]})
    job = iot.describe_job(jobId=job_id)["job"]
    assert job["status"] == "IN_PROGRESS"
    assert len(job["scheduledJobRollouts"]) == 7


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"startTime": "soon"}, "schedulingConfig.startTime"),
        ({"startTime": "+10m"}, "30 minutes"),  # replaced by a time 10 minutes ahead
        ({"endBehavior": "LATER"}, "endBehavior"),
        ({"maintenanceWindows": [{"startTime": "0 2 * * ?", "durationInMinutes": 60}]}, "cron"),
        (
            {"maintenanceWindows": [{"startTime": "cron(0 2 * * * *)", "durationInMinutes": 60}]},
            "Day-of-week",
        ),
        (
            {"maintenanceWindows": [{"startTime": "cron(0 2 * * ? *)", "durationInMinutes": 1431}]},
            "durationInMinutes",
        ),
    ],
)
def test_refusals_are_invalid_request(iot: Any, config: dict[str, Any], words: str) -> None:
    if config.get("startTime") == "+10m":
        config = {"startTime": _at(600)}
    thing = f"dev-{uuid.uuid4().hex[:10]}"
    arn = iot.create_thing(thingName=thing)["thingArn"]
    job_id = f"job-{uuid.uuid4().hex[:10]}"
    code, status, response = aws_error(
        iot.create_job, jobId=job_id, targets=[arn], document=DOC, schedulingConfig=config
    )
    assert (code, status) == ("InvalidRequestException", 400)
    assert words in response["Error"]["Message"]
    code, status, _ = aws_error(iot.describe_job, jobId=job_id)
    assert (code, status) == ("ResourceNotFoundException", 404)


@pytest.mark.slow  # three server processes
def test_a_schedule_survives_a_restart(tmp_path: Path) -> None:
    """``--state-dir``: the schedule comes back from the journal (kill) and the snapshot (stop)."""
    config = {"startTime": _at(3600), "maintenanceWindows": [WINDOW]}
    first = launch("--auth", "none", "--state-dir", str(tmp_path))
    job_id, _ = _job(first.client("iot"), schedulingConfig=config)
    before = first.client("iot").describe_job(jobId=job_id)["job"]
    first.process.send_signal(signal.SIGKILL)  # no snapshot: the journal replays
    first.process.wait(timeout=30)
    first.stderr_path.unlink(missing_ok=True)
    for _ in ("after a kill", "after a clean stop, which pickles the state"):
        again = launch("--auth", "none", "--state-dir", str(tmp_path))
        job = again.client("iot").describe_job(jobId=job_id)["job"]
        assert (job["status"], job["schedulingConfig"]) == ("SCHEDULED", config)
        assert job["scheduledJobRollouts"] == before["scheduledJobRollouts"]
        finish(again)
