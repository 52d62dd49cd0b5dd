"""The Jobs MQTT codec: topics, accepted/rejected replies, clientToken, jobDocument objects."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.api.mqtt.jobs import JobsRequest, handle_jobs, parse_jobs_topic
from tests.hypothesis_profiles import examples
from tests.services.jobs_support import World

P = "$aws/things/dev1/jobs"


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (f"{P}/get", ("dev1", "get", None)),
        (f"{P}/start-next", ("dev1", "start-next", None)),
        (f"{P}/job-1/get", ("dev1", "describe", "job-1")),
        (f"{P}/$next/get", ("dev1", "describe", "$next")),
        (f"{P}/job-1/update", ("dev1", "update", "job-1")),
        (f"{P}/job-1/frobnicate", ("dev1", "invalid", None)),
        ("$aws/things/a:b_c-d/jobs/get", ("a:b_c-d", "get", None)),
    ],
)
def test_parse_request_topics(topic: str, expected: tuple[str, str, str | None]) -> None:
    parsed = parse_jobs_topic(topic)
    assert parsed is not None
    thing, request = parsed
    assert (thing, request.operation, request.job_id) == expected
    assert request.topic == topic


@pytest.mark.parametrize(
    "topic",
    [
        f"{P}/get/accepted",
        f"{P}/job-1/update/rejected",
        f"{P}/notify",
        f"{P}/notify-next",
        "$aws/things/dev1/shadow/get",
        "$aws/things/bad thing/jobs/get",
        "$aws/things/dev1/jobs",
        "other/topic",
    ],
)
def test_not_request_topics(topic: str) -> None:
    assert parse_jobs_topic(topic) is None


@pytest.fixture
def w() -> World:
    world = World()
    world.thing("dev1")
    return world


def call(w: World, topic: str, payload: Any) -> tuple[str, dict[str, Any]]:
    parsed = parse_jobs_topic(topic)
    assert parsed is not None
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    replies = handle_jobs(w.data_service, parsed[0], parsed[1], raw)
    assert len(replies) == 1
    reply_topic, body = replies[0]
    return reply_topic, orjson.loads(body)


def test_get_start_next_update_describe(w: World) -> None:
    w.create("job-1", "dev1")
    topic, body = call(w, f"{P}/get", {"clientToken": "c1"})
    assert topic == f"{P}/get/accepted"
    assert body["clientToken"] == "c1"
    assert body["timestamp"] == int(w.clock.now)
    assert [j["jobId"] for j in body["queuedJobs"]] == ["job-1"]
    assert body["inProgressJobs"] == []
    topic, body = call(w, f"{P}/start-next", {"clientToken": "c2", "statusDetails": {"s": "1"}})
    assert topic == f"{P}/start-next/accepted"
    execution = body["execution"]
    assert execution["jobDocument"] == {"operation": "test"}  # an object, not a string
    assert (execution["status"], execution["statusDetails"]) == ("IN_PROGRESS", {"s": "1"})
    topic, body = call(
        w,
        f"{P}/job-1/update",
        {
            "status": "SUCCEEDED",
            "expectedVersion": 2,
            "includeJobExecutionState": True,
            "includeJobDocument": True,
            "clientToken": "c3",
        },
    )
    assert topic == f"{P}/job-1/update/accepted"
    assert body["executionState"] == {
        "status": "SUCCEEDED",
        "statusDetails": {"s": "1"},
        "versionNumber": 3,
    }
    assert body["jobDocument"] == {"operation": "test"}
    assert body["clientToken"] == "c3"
    topic, body = call(w, f"{P}/job-1/get", {"clientToken": "c4", "includeJobDocument": False})
    assert topic == f"{P}/job-1/get/accepted"
    assert body["execution"]["status"] == "SUCCEEDED"
    assert "jobDocument" not in body["execution"]
    topic, body = call(w, f"{P}/$next/get", {})
    assert topic == f"{P}/$next/get/accepted"
    assert "execution" not in body and "clientToken" not in body
    topic, body = call(w, f"{P}/start-next", b"")
    assert topic == f"{P}/start-next/accepted"
    assert "execution" not in body


def test_rejected_with_execution_state(w: World) -> None:
    w.create("job-1", "dev1")
    topic, body = call(
        w, f"{P}/job-1/update", {"status": "IN_PROGRESS", "expectedVersion": 9, "clientToken": "x"}
    )
    assert topic == f"{P}/job-1/update/rejected"
    assert body["code"] == "VersionMismatch"
    assert body["executionState"] == {"status": "QUEUED", "versionNumber": 1}
    assert body["clientToken"] == "x"
    call(w, f"{P}/job-1/update", {"status": "FAILED"})
    topic, body = call(w, f"{P}/job-1/update", {"status": "IN_PROGRESS"})
    assert topic.endswith("/rejected")
    assert body["code"] == "InvalidStateTransition"
    assert body["executionState"]["status"] == "FAILED"
    assert set(body) == {"code", "message", "timestamp", "executionState"}


@pytest.mark.parametrize(
    ("topic", "payload", "code"),
    [
        (f"{P}/get", b"{not json", "InvalidJson"),
        (f"{P}/get", b"\xff\xfe", "InvalidJson"),
        (f"{P}/get", b"[1, 2]", "InvalidRequest"),
        (f"{P}/job-1/update", {"clientToken": "t"}, "InvalidRequest"),
        (f"{P}/job-1/update", {"status": 5}, "InvalidRequest"),
        (f"{P}/job-1/update", {"status": "CANCELED"}, "InvalidRequest"),
        (f"{P}/job-1/update", {"status": "IN_PROGRESS", "statusDetails": []}, "InvalidRequest"),
        (f"{P}/job-1/update", {"status": "IN_PROGRESS", "expectedVersion": "1"}, "InvalidRequest"),
        (f"{P}/start-next", {"stepTimeoutInMinutes": 0}, "InvalidRequest"),
        (f"{P}/job-1/get", {"includeJobDocument": "yes"}, "InvalidRequest"),
        (f"{P}/nope/get", {}, "ResourceNotFound"),
        (f"{P}/nope/update", {"status": "SUCCEEDED"}, "ResourceNotFound"),
        (f"{P}/job-1/cancel", {"clientToken": "t"}, "InvalidTopic"),
    ],
)
def test_rejected_codes(w: World, topic: str, payload: Any, code: str) -> None:
    w.create("job-1", "dev1")
    reply_topic, body = call(w, topic, payload)
    assert reply_topic == f"{topic}/rejected"
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["timestamp"] == int(w.clock.now)
    assert "executionState" not in body
    if isinstance(payload, dict) and "clientToken" in payload:
        assert body["clientToken"] == payload["clientToken"]


@pytest.mark.parametrize(
    "topic", [f"{P}/get", f"{P}/start-next", f"{P}/job-1/get", f"{P}/job-1/update", f"{P}/x/y/z"]
)
@pytest.mark.parametrize("token", ["x" * 65, "é" * 33, "t" * 10_000_000])
def test_client_token_over_64_bytes_is_refused_not_echoed(w: World, topic: str, token: str) -> None:
    w.create("job-1", "dev1")
    before = w.data_service.get_pending_job_executions(thing_name="dev1")
    reply_topic, body = call(w, topic, {"clientToken": token, "status": "IN_PROGRESS"})
    assert reply_topic == f"{topic}/rejected"
    assert body == {
        "code": "InvalidRequest",
        "message": "clientToken must be at most 64 bytes",
        "timestamp": int(w.clock.now),
    }
    assert w.data_service.get_pending_job_executions(thing_name="dev1") == before  # not served


@pytest.mark.parametrize("token", ["x" * 64, "é" * 32, "", "\u2603" * 16])
def test_client_token_of_64_bytes_is_echoed(w: World, token: str) -> None:
    reply_topic, body = call(w, f"{P}/get", {"clientToken": token})
    assert reply_topic == f"{P}/get/accepted"
    assert body["clientToken"] == token


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "status",
                    "statusDetails",
                    "expectedVersion",
                    "executionNumber",
                    "includeJobDocument",
                    "includeJobExecutionState",
                    "stepTimeoutInMinutes",
                    "clientToken",
                ]
            )
            | st.text(max_size=4),
            inner,
            max_size=5,
        )
    ),
    max_leaves=10,
)


@settings(max_examples=examples(300), deadline=None)
@given(
    st.sampled_from(["get", "start-next", "job-1/get", "$next/get", "job-1/update", "x/update"]),
    _json.map(orjson.dumps) | st.binary(max_size=20),
)
def test_any_payload_gets_a_reply_never_an_exception(operation: str, payload: bytes) -> None:
    world = World()
    world.thing("dev1")
    world.create("job-1", "dev1")
    parsed = parse_jobs_topic(f"{P}/{operation}")
    assert parsed is not None
    replies = handle_jobs(world.data_service, parsed[0], parsed[1], payload)
    assert len(replies) == 1
    topic, body = replies[0]
    assert topic.endswith(("/accepted", "/rejected"))
    decoded = orjson.loads(body)
    assert "timestamp" in decoded
    if topic.endswith("/rejected"):
        assert decoded["code"] in {
            "InvalidTopic",
            "InvalidJson",
            "InvalidRequest",
            "InvalidStateTransition",
            "ResourceNotFound",
            "VersionMismatch",
            "InternalError",
            "RequestThrottled",
            "TerminalStateReached",
        }


def test_request_is_frozen() -> None:
    request = JobsRequest("get", None, f"{P}/get")
    with pytest.raises(AttributeError):
        request.operation = "update"  # type: ignore[misc]
