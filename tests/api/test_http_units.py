"""The dispatcher in-process: error wire shapes, the one 500, serialisation, the loop scheduler.

The services here are small stand-ins (a service that raises a bug, one that returns a document's
bytes the way the jobs data plane does); the dispatcher, router, parser and serialiser are the
real ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from simulator.api.http import HttpApi, LoopScheduler
from simulator.api.http.errors import encode_error, wire_status
from simulator.core.errors import AwsError, ConflictException, ResourceAlreadyExistsException
from simulator.core.jobs import JobStatus, TargetSelection
from simulator.services.controlplane import ControlPlane
from simulator.services.jobs.records import ExecutionRecord, JobRecord
from simulator.services.jobs.results import ExecutionView

NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


def _scoped(service: str) -> CIMultiDictProxy[str]:
    credential = f"test/20260101/us-east-1/{service}/aws4_request"
    return CIMultiDictProxy(
        CIMultiDict(
            {
                "Authorization": f"AWS4-HMAC-SHA256 Credential={credential}, "
                "SignedHeaders=host, Signature=00"
            }
        )
    )


class _BuggyRegistry:
    def describe_thing(self, *, thing_name: str) -> dict[str, Any]:
        raise KeyError(thing_name)


class _JobsData:
    def describe_job_execution(
        self,
        *,
        thing_name: str,
        job_id: str,
        include_job_document: bool | None = None,
        execution_number: int | None = None,
    ) -> ExecutionView:
        job = JobRecord(
            job_id=job_id,
            arn=f"arn:aws:iot:us-east-1:123456789012:job/{job_id}",
            status=JobStatus.IN_PROGRESS,
            target_selection=TargetSelection.SNAPSHOT,
            targets=[],
            document=cast(Any, None),  # the encoder never reads it: the view has the bytes
            created=1_700_000_000.0,
        )
        record = ExecutionRecord(job, thing_name, 1, 1_700_000_000.5, 1, updated_at=1.7e9)
        return ExecutionView(record, 1_700_000_001.0, b'{"steps":[1,2]}')

    def update_job_execution(self, **kwargs: Any) -> dict[str, Any]:
        raise AwsError("slow down", code="ThrottlingException", status=400)


class _Plane:
    registry = _BuggyRegistry()
    jobs_data = _JobsData()


def test_unexpected_exception_is_the_one_500(caplog: pytest.LogCaptureFixture) -> None:
    api = HttpApi(_Plane(), auth="none")
    with caplog.at_level(logging.ERROR, logger="simulator.api.http"):
        reply = api.handle("GET", "/things/t1", NO_HEADERS, b"")
    assert reply.status == 500
    assert reply.error_type == "InternalFailureException"
    assert "message" in orjson.loads(reply.body)
    assert "unhandled error answering GET /things/t1" in caplog.text
    assert "KeyError" in caplog.text


def test_job_document_bytes_become_a_json_string() -> None:
    api = HttpApi(_Plane(), auth="none")
    reply = api.handle(
        "GET", "/things/t1/jobs/%24next?includeJobDocument=true", _scoped("iot-jobs-data"), b""
    )
    assert reply.status == 200, reply
    execution = orjson.loads(reply.body)["execution"]
    assert execution["jobId"] == "$next"
    assert execution["jobDocument"] == '{"steps":[1,2]}'
    assert execution["queuedAt"] == 1_700_000_000  # whole seconds on the data plane


def test_throttling_is_429_on_the_data_planes() -> None:
    api = HttpApi(_Plane(), auth="none")
    reply = api.handle(
        "POST", "/things/t1/jobs/j1", _scoped("iot-jobs-data"), b'{"status":"IN_PROGRESS"}'
    )
    assert (reply.status, reply.error_type) == (429, "ThrottlingException")
    throttled = AwsError("x", code="ThrottlingException", status=400)
    assert wire_status(throttled, "iot") == 400
    assert wire_status(throttled, "iot-data") == 429
    assert wire_status(ConflictException("x"), "iot-data") == 409


def test_error_bodies_carry_the_fields() -> None:
    error = ResourceAlreadyExistsException("exists", resource_id="id-1", resource_arn="arn:x")
    assert orjson.loads(encode_error(error)) == {
        "message": "exists",
        "resourceId": "id-1",
        "resourceArn": "arn:x",
    }
    # A message quoting undecodable request bytes (lone surrogates) still encodes.
    assert orjson.loads(encode_error(AwsError("bad \udcff"))) == {"message": "bad \\udcff"}


def test_routing_without_a_scope_prefers_the_control_plane() -> None:
    api = HttpApi(ControlPlane(), auth="none")
    reply = api.handle("GET", "/things/t1/jobs", NO_HEADERS, b"")
    # ListJobExecutionsForThing (iot), not GetPendingJobExecutions (iot-jobs-data).
    body = reply.body.decode()
    assert "GetPendingJobExecutions" not in body
    assert reply.status < 500


def test_wrong_method_is_405_and_unknown_path_404() -> None:
    api = HttpApi(ControlPlane(), auth="none")
    reply = api.handle("PATCH", "/packages", _scoped("iot"), b"")
    assert (reply.status, reply.error_type) == (405, "MethodNotAllowedException")
    reply = api.handle("GET", "/nowhere", _scoped("iot"), b"")
    assert (reply.status, reply.error_type) == (404, "UnknownOperationException")


def test_sigv4_mode_needs_a_verifier() -> None:
    with pytest.raises(ValueError, match="verifier"):
        HttpApi(ControlPlane(), auth="sigv4")


@pytest.mark.asyncio
async def test_loop_scheduler_converts_epoch_to_loop_time() -> None:
    fired: list[tuple[str, float]] = []
    last = asyncio.Event()
    scheduler = LoopScheduler(asyncio.get_running_loop(), time.time)
    start = time.time()

    def late() -> None:
        fired.append(("late", time.time() - start))
        last.set()

    scheduler.call_at(start + 0.15, late)
    scheduler.call_at(start + 0.05, lambda: fired.append(("early", time.time() - start)))
    scheduler.call_at(start - 10, lambda: fired.append(("past", time.time() - start)))
    scheduler.call_at(start + 0.01, lambda: fired.append(("cancelled", 0.0))).cancel()
    # The latest timer ends the test: the cancelled one, due before it, would have run by then.
    async with asyncio.timeout(30):
        await last.wait()
    assert [name for name, _ in fired] == ["past", "early", "late"]
    assert fired[1][1] >= 0.045
    assert fired[2][1] >= 0.145
