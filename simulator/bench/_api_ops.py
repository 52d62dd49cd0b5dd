"""The operations ``fleetsim bench api`` times: set up, called once and checked, then captured.

:func:`setup` creates the thing, its shadow and a job with the thing's execution IN_PROGRESS;
:func:`capture` calls one :class:`Operation` through boto3, checks the parsed response and returns
the signed request's bytes (replayed by :mod:`simulator.bench._httpload`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

from simulator.bench._servers import Server

__all__ = [
    "DOCUMENT",
    "JOB",
    "OPERATIONS",
    "SHADOW",
    "THING",
    "NotWired",
    "Operation",
    "capture",
    "setup",
]

THING: Final = "bench-thing"
JOB: Final = "bench-job"
DOCUMENT: Final = '{"operation":"bench","steps":[1,2,3]}'
SHADOW: Final = b'{"state":{"reported":{"firmware":"1.0.0","temperature":21}}}'


class NotWired(Exception):
    """fleetsim answers that the operation's service is not implemented yet."""


# -- operations: setup, one checked call, the captured request -------------------------------


@dataclass(frozen=True)
class Operation:
    name: str
    service: str
    method: str
    params: dict[str, Any]
    check: Callable[[dict[str, Any]], bool]
    servers: tuple[str, ...] = ("fleetsim", "moto")


def _payload(response: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(response["payload"].read())
    return loaded


OPERATIONS: Final = (
    Operation(
        "DescribeThing",
        "iot",
        "describe_thing",
        {"thingName": THING},
        lambda r: r["thingName"] == THING,
    ),
    Operation(
        "UpdateThingShadow",
        "iot-data",
        "update_thing_shadow",
        {"thingName": THING, "payload": SHADOW},
        lambda r: _payload(r)["state"]["reported"]["temperature"] == 21,
    ),
    Operation(
        "GetThingShadow",
        "iot-data",
        "get_thing_shadow",
        {"thingName": THING},
        lambda r: _payload(r)["state"]["reported"]["firmware"] == "1.0.0",
    ),
    Operation(
        "DescribeJob",
        "iot",
        "describe_job",
        {"jobId": JOB},
        lambda r: r["job"]["jobId"] == JOB,
    ),
    Operation(
        "GetJobDocument",
        "iot",
        "get_job_document",
        {"jobId": JOB},
        lambda r: json.loads(r["document"]) == json.loads(DOCUMENT),
    ),
    Operation(
        "UpdateJobExecution",
        "iot-jobs-data",
        "update_job_execution",
        {
            "thingName": THING,
            "jobId": JOB,
            "status": "IN_PROGRESS",
            "includeJobExecutionState": True,
        },
        lambda r: r["executionState"]["status"] == "IN_PROGRESS",
        servers=("fleetsim",),
    ),
)


def _not_wired(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") == "UnknownOperationException" and "not implement" in str(
        error.get("Message", "")
    )


def setup(server: Server) -> None:
    """The thing, its shadow and a job with the thing's execution IN_PROGRESS (where wired)."""
    iot = server.client("iot")
    thing_arn = iot.create_thing(thingName=THING)["thingArn"]
    steps: list[Callable[[], object]] = [
        lambda: server.client("iot-data").update_thing_shadow(thingName=THING, payload=SHADOW),
        lambda: iot.create_job(jobId=JOB, targets=[thing_arn], document=DOCUMENT),
    ]
    if server.name == "fleetsim":
        steps.append(
            lambda: server.client("iot-jobs-data").start_next_pending_job_execution(thingName=THING)
        )
    for step in steps:
        try:
            step()
        except ClientError as exc:
            if not _not_wired(exc):
                raise


def capture(server: Server, op: Operation) -> bytes:
    """Call ``op`` once through boto3, check the response, return the signed request's bytes."""
    client = server.client(op.service)
    captured: list[Any] = []
    client.meta.events.register("before-send", lambda request, **_: captured.append(request))
    try:
        response = getattr(client, op.method)(**op.params)
    except ClientError as exc:
        if _not_wired(exc):
            raise NotWired(op.name) from None
        raise
    if not op.check(response):
        raise AssertionError(f"{server.name} {op.name}: unexpected response {response}")
    request = captured[-1]
    split = request.url.split("/", 3)
    target = "/" + (split[3] if len(split) > 3 else "")
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{request.method} {target} HTTP/1.1", f"Host: {split[2]}"]
    for name, value in request.headers.items():
        if name.lower() not in ("host", "content-length"):
            text = value.decode() if isinstance(value, bytes) else value
            lines.append(f"{name}: {text}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
