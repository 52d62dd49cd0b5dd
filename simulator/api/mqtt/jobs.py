"""The Jobs MQTT API as a transport-neutral codec ([AD:jobs-mqtt-api], reference section 3.4).

:func:`parse_jobs_topic` recognises the request topics under ``$aws/things/{thing}/jobs``;
:func:`handle_jobs` serves one request with a :class:`~simulator.services.jobs.JobsDataService`
and returns the reply for the requester (``.../accepted`` or ``.../rejected``), with the request's
``clientToken`` echoed and a ``timestamp``. Over MQTT ``jobDocument`` is a JSON object (embedded
as raw bytes, never re-parsed). A malformed payload gets a rejected reply, never an exception.

A ``clientToken`` longer than 64 UTF-8 bytes is refused with ``InvalidRequest`` and not echoed:
the Jobs pages give no limit, but AWS IoT's client tokens are 64 bytes (the Device Shadow
documents it, and the jobs data plane's own token shape, ``ClientRequestTokenV2``, is 1-64
characters); without it a 10 MB token came back in the reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

from simulator.api.wire import jobs_data as wire
from simulator.core.errors import AwsError, InvalidRequestException, JobExecutionStateException
from simulator.services.jobs import JobsDataService

__all__ = ["JobsRequest", "handle_jobs", "parse_jobs_topic"]

Operation = Literal["get", "start-next", "describe", "update", "invalid"]

#: A topic under ``$aws/things/{thingName}/jobs/``, thing names as in the service model.
_TOPIC: Final = re.compile(r"\$aws/things/([a-zA-Z0-9:_-]{1,128})/jobs/(.*)", re.DOTALL)
#: ``clientToken`` limit in UTF-8 bytes (see the module docstring).
MAX_CLIENT_TOKEN_BYTES: Final = 64
_INVALID_CLIENT_TOKEN: Final = (
    f"clientToken must be at most {MAX_CLIENT_TOKEN_BYTES} bytes"  # (inf)
)
#: Error types of the services -> ``code`` of a rejected message [AD:jobs-api].
_CODES: Final = {
    "InvalidRequestException": "InvalidRequest",
    "ResourceNotFoundException": "ResourceNotFound",
    "InvalidStateTransitionException": "InvalidStateTransition",
    "ThrottlingException": "RequestThrottled",
    "TerminalStateException": "TerminalStateReached",
}


@dataclass(frozen=True, slots=True)
class JobsRequest:
    """A parsed request topic: the operation, the job id it names, and the topic itself."""

    operation: Operation
    job_id: str | None
    topic: str


def parse_jobs_topic(topic: str) -> tuple[str, JobsRequest] | None:
    """``(thing, request)`` for a Jobs request topic, else ``None``.

    Request topics: ``.../jobs/get``, ``.../jobs/start-next``, ``.../jobs/{jobId}/get`` (``jobId``
    may be ``$next``) and ``.../jobs/{jobId}/update``. Other topics under ``.../jobs/`` that are
    not replies or notifications give an ``invalid`` request (answered with ``InvalidTopic``).
    """
    parsed = _parse(topic)
    if parsed is None:
        return None
    thing, operation, job_id = parsed
    return thing, JobsRequest(operation, job_id, topic)


def _parse(topic: str) -> tuple[str, Operation, str | None] | None:
    """:func:`parse_jobs_topic` as a plain tuple (building the frozen JobsRequest costs more
    than the parse, on every request of the in-process fleet)."""
    match = _TOPIC.fullmatch(topic)  # prefix, thing name and "/jobs/" in one C-level pass
    if match is None:
        return None
    thing, tail = match.groups()
    rest = tail.split("/")
    first, last = rest[0], rest[-1]
    if last in ("accepted", "rejected") or first in ("notify", "notify-next"):
        return None  # replies and notifications are ours, not requests
    if len(rest) == 1:
        if last == "start-next":
            return thing, "start-next", None
        if last == "get":
            return thing, "get", None
    elif len(rest) == 2 and first and last in ("get", "update"):
        return thing, "describe" if last == "get" else "update", first
    return thing, "invalid", None


def _fragment(document: bytes | None) -> orjson.Fragment | None:
    """Over MQTT ``jobDocument`` is the object itself, embedded as it is (never re-parsed)."""
    return None if document is None else orjson.Fragment(document)


def _serve(
    service: JobsDataService,
    thing: str,
    operation: Operation,
    job_id: str | None,
    body: dict[str, Any],
) -> dict[str, Any]:
    get = body.get
    if operation == "get":
        return wire.pending_executions(service.get_pending_job_executions(thing_name=thing))
    if operation == "start-next":
        view = service.start_next_pending_job_execution(
            thing_name=thing,
            status_details=get("statusDetails"),
            step_timeout_in_minutes=get("stepTimeoutInMinutes"),
        )
        return wire.start_next(view, _fragment(view.document))
    assert job_id is not None
    if operation == "describe":
        view = service.describe_job_execution(
            job_id=job_id,
            thing_name=thing,
            include_job_document=get("includeJobDocument"),
            execution_number=get("executionNumber"),
        )
        return wire.describe_execution(view, _fragment(view.document))
    status = get("status")
    if not isinstance(status, str):
        raise InvalidRequestException("status is required and must be a string")
    result = service.update_job_execution(
        job_id=job_id,
        thing_name=thing,
        status=status,
        status_details=get("statusDetails"),
        step_timeout_in_minutes=get("stepTimeoutInMinutes"),
        expected_version=get("expectedVersion"),
        include_job_execution_state=get("includeJobExecutionState"),
        include_job_document=get("includeJobDocument"),
        execution_number=get("executionNumber"),
    )
    if result.state is None and result.document is None:
        return {}  # the common device update: nothing asked for back
    return wire.update_execution(result, _fragment(result.document))


def _rejected(
    topic: str,
    code: str,
    message: str,
    token: object,
    stamp: int,
    *,
    state: dict[str, object] | None = None,
) -> list[tuple[str, bytes]]:
    body: dict[str, Any] = {"code": code, "message": message, "timestamp": stamp}
    if isinstance(token, str):
        body["clientToken"] = token
    if state is not None:
        body["executionState"] = state
    return [(f"{topic}/rejected", orjson.dumps(body))]


def handle_jobs(
    service: JobsDataService, thing: str, request: JobsRequest, payload: bytes
) -> list[tuple[str, bytes]]:
    """Serve one Jobs request; the messages (topic, payload) to send back to the requester."""
    return _handle(service, (thing, request.operation, request.job_id), request.topic, payload)


def _serve_topic(
    service: JobsDataService, topic: str, payload: bytes
) -> list[tuple[str, bytes]] | None:
    """:func:`parse_jobs_topic` then :func:`handle_jobs`, without the JobsRequest; ``None`` when
    ``topic`` is not a Jobs request topic. For :class:`~.dispatch.MqttApi`."""
    parsed = _parse(topic)
    if parsed is None:
        return None
    return _handle(service, parsed, topic, payload)


def _handle(
    service: JobsDataService,
    request: tuple[str, Operation, str | None],
    topic: str,
    payload: bytes,
) -> list[tuple[str, bytes]]:
    thing, operation, job_id = request
    stamp = service.timestamp()
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        if payload.strip():  # blank is an empty request; stripping first would cost every one
            return _rejected(
                topic, "InvalidJson", "The payload is not valid UTF-8 JSON.", None, stamp
            )
        body = {}
    token = body.get("clientToken") if isinstance(body, dict) else None
    # 16 characters are at most 64 bytes: only longer tokens pay for the encoding.
    if (
        isinstance(token, str)
        and len(token) > MAX_CLIENT_TOKEN_BYTES // 4
        and len(token.encode("utf-8", "surrogatepass")) > MAX_CLIENT_TOKEN_BYTES
    ):
        return _rejected(topic, "InvalidRequest", _INVALID_CLIENT_TOKEN, None, stamp)
    if operation == "invalid":
        message = f"{topic} does not map to any Jobs API"
        return _rejected(topic, "InvalidTopic", message, token, stamp)
    if not isinstance(body, dict):
        return _rejected(topic, "InvalidRequest", "The payload must be a JSON object.", None, stamp)
    try:
        result = _serve(service, thing, operation, job_id, body)
    except JobExecutionStateException as exc:
        code = exc.mqtt_code
        return _rejected(topic, code, exc.message, token, stamp, state=exc.execution_state)
    except AwsError as exc:
        code = _CODES.get(exc.error_type, "InternalError")
        return _rejected(topic, code, exc.message, token, stamp)
    reply = result
    reply["timestamp"] = stamp
    if isinstance(token, str):
        reply["clientToken"] = token
    return [(f"{topic}/accepted", orjson.dumps(reply))]
