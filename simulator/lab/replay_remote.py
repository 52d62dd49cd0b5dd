"""Real-client targets of :func:`simulator.lab.replay.play`: boto3 over SigV4 HTTP.

* ``embedded``: ``fleetsim serve`` started in this process (a uvloop loop in its own thread, a
  free loopback port, SigV4 checked), with its MQTT bridge on ``--broker`` when there is one;
* ``http://HOST:PORT``: a running ``fleetsim serve`` (``--mqtt`` on the same broker for
  ``--broker``); credentials from the environment, else ``test``/``test``;
* ``aws``: AWS IoT with boto3's default credentials, in the script's catalog region, the
  ``iot-data`` and ``iot-jobs-data`` clients on the account's endpoints (DescribeEndpoint).

Each play works on a thing of its own (the script's thing name with a random suffix, jobs
likewise), created by the play and removed at its end (its jobs force-deleted, its ``$package``
and the thing deleted), so plays can repeat against one control plane. The catalog is created
when missing and left in place (packages are account-wide); ``versionUpdateByJobsConfig`` is
set as the script says, and against AWS put back as it was when the target closes.

Executions a rollout has not released yet are waited for, as a device waits for
``notify-next``: StartNextPendingJobExecution and an UpdateJobExecution of a job this play
created are polled with backoff up to :data:`RELEASE_TIMEOUT_S`. After a SUCCEEDED update the
player waits up to :data:`JOBS_WRITE_TIMEOUT_S` for Jobs' ``$package`` write
(:meth:`BotoPlane.settle`: AWS makes it asynchronously, the emulator before it answers), so the
next step comes after it, as in the script.
"""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import orjson

from simulator.core.errors import UsageError
from simulator.engine.mqtt.provision import create_catalog, describe_error, error_code
from simulator.lab.replay import Answer, DevicePort, Plane, Reply
from simulator.lab.replay_server import EmbeddedServer
from simulator.lab.script import Script

__all__ = [
    "JOBS_WRITE_TIMEOUT_S",
    "RELEASE_TIMEOUT_S",
    "BotoPlane",
    "parse_target",
    "remote_target",
    "until_released",
]

T = TypeVar("T")

#: How long a device waits for an execution the rollout has not released yet.
RELEASE_TIMEOUT_S: Final = 60.0
#: How long a SUCCEEDED update waits to see Jobs' ``$package`` write (AWS makes it later).
JOBS_WRITE_TIMEOUT_S: Final = 10.0
_CONNECT_TIMEOUT_S: Final = 5.0
_SHADOW: Final = "$package"
_ENDPOINT_TYPES: Final = {"iot-data": "iot:Data-ATS", "iot-jobs-data": "iot:Jobs"}


def parse_target(text: str) -> str:
    """``embedded``, ``aws``, ``inprocess`` or ``http(s)://HOST:PORT`` (checked, no slash)."""
    if text in ("embedded", "aws", "inprocess"):
        return text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or port is None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise UsageError(
            f"--target {text!r}: expected embedded, aws, or the http://HOST:PORT of a "
            "`fleetsim serve`"
        )
    return text.rstrip("/")


def _token() -> str:
    return uuid.uuid4().hex[:8]


class BotoPlane:
    """A control plane reached with boto3 (see the module docstring)."""

    def __init__(
        self,
        target: str,
        *,
        speed: float | None = None,
        url: str | None = None,
        keys: dict[str, str] | None = None,
        region: str | None = None,
    ) -> None:
        self.label = target
        self._url = url
        self._keys = keys
        self._region = region
        self._speed = speed
        self._clients: dict[str, Any] = {}
        self._t0 = 0.0
        self.created: set[str] = set()
        self._saved_configuration: dict[str, Any] | None = None

    # -- clients -------------------------------------------------------------------------------

    def _client(self, service: str, region: str) -> Any:
        client = self._clients.get(service)
        if client is not None:
            return client
        import boto3  # type: ignore[import-untyped]  # noqa: PLC0415
        from botocore.config import Config  # noqa: PLC0415

        config = Config(
            retries={"total_max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=30,
        )
        session = boto3.Session(region_name=self._region or region)
        kw: dict[str, Any] = dict(self._keys or {})
        if self._url is not None:
            if not kw and session.get_credentials() is None:
                kw.update(aws_access_key_id="test", aws_secret_access_key="test")
            kw["endpoint_url"] = self._url
        elif service in _ENDPOINT_TYPES:  # AWS: the account's own data-plane endpoints
            iot = self._client("iot", region)
            endpoint = iot.describe_endpoint(endpointType=_ENDPOINT_TYPES[service])
            kw["endpoint_url"] = f"https://{endpoint['endpointAddress']}"
        client = self._clients[service] = session.client(service, config=config, **kw)
        return client

    @property
    def _iot(self) -> Any:
        return self._clients["iot"]

    @property
    def _data(self) -> Any:
        return self._clients["iot-data"]

    @property
    def _jobs(self) -> Any:
        return self._clients["iot-jobs-data"]

    # -- Plane -------------------------------------------------------------------------------

    def names(self, thing: str, /) -> tuple[str, str]:
        token = _token()
        return f"{thing[:119]}-{token}", f"-{token}"

    def begin(self, script: Script, thing: str, /) -> None:
        region = script.catalog.region
        try:
            iot = self._client("iot", region)
            self._client("iot-data", region)
            self._client("iot-jobs-data", region)
            if self.label == "aws" and self._saved_configuration is None:
                saved = iot.get_package_configuration().get("versionUpdateByJobsConfig", {})
                self._saved_configuration = saved
            create_catalog(iot, script.catalog)
            iot.create_thing(thingName=thing)
        except Exception as exc:
            raise UsageError(f"--target {self.label}: set-up failed: {_why(exc)}") from None
        shown = script.thing.package_shadow
        if shown is not None:
            reported = {p: None if v is None else {"version": v} for p, v in shown.items()}
            answer, detail = self.update_package(
                thing, orjson.dumps({"state": {"reported": reported}})
            )
            if answer is not Answer.ACCEPTED:
                raise UsageError(f"--target {self.label}: initial $package refused: {detail}")
        self._t0 = time.monotonic()

    def wait(self, at: float, /) -> None:
        if self._speed is None:
            return
        delay = self._t0 + at / self._speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing the script's gaps is the point of --speed

    def read(self, thing: str, /) -> tuple[int | None, dict[str, Any]]:
        try:
            found = self._data.get_thing_shadow(thingName=thing, shadowName=_SHADOW)
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None, {}
            raise
        document = orjson.loads(found["payload"].read())
        reported = (document.get("state") or {}).get("reported") or {}
        return int(document.get("version", 0)), reported

    def update_package(self, thing: str, body: bytes, /) -> Reply:
        answer, detail = self._call(
            lambda: self._data.update_thing_shadow(
                thingName=thing, shadowName=_SHADOW, payload=body
            )
        )
        return answer, "" if answer is Answer.ACCEPTED else str(detail)

    def report(self, thing: str, body: bytes, /) -> Reply:
        return self.update_package(thing, body)

    def create_job(self, thing: str, job_id: str, destination: str, document: str, /) -> Reply:
        iot = self._iot
        package, _, version = destination.partition("@")

        def create() -> Any:
            arn = iot.describe_thing(thingName=thing)["thingArn"]
            if version.startswith("$"):
                region, account = arn.split(":")[3:5]
                pv = f"arn:aws:iot:{region}:{account}:package/{package}/version/{version}"
            else:
                found = iot.get_package_version(packageName=package, versionName=version)
                pv = found["packageVersionArn"]
            return iot.create_job(
                jobId=job_id, targets=[arn], document=document, destinationPackageVersions=[pv]
            )

        answer, detail = self._call(create)
        if answer is not Answer.ACCEPTED:
            return answer, str(detail)
        self.created.add(job_id)
        return answer, ""

    def start_next(self, thing: str, /) -> Reply:
        def start() -> Reply:
            answer, found = self._call(
                lambda: self._jobs.start_next_pending_job_execution(thingName=thing)
            )
            if answer is not Answer.ACCEPTED:
                return answer, str(found)
            execution = found.get("execution") if isinstance(found, dict) else None
            if not execution:
                return Answer.REJECTED, "no pending job execution"
            return Answer.ACCEPTED, str(execution["jobId"])

        return until_released(start, waiting=bool(self.created))

    def update_execution(self, thing: str, job_id: str, status: str, /) -> Reply:
        def update() -> Reply:
            answer, detail = self._call(
                lambda: self._jobs.update_job_execution(
                    jobId=job_id, thingName=thing, status=status
                )
            )
            return answer, "" if answer is Answer.ACCEPTED else str(detail)

        return until_released(update, waiting=job_id in self.created)

    def settle(self, thing: str, version: int | None, /) -> None:
        deadline = time.monotonic() + JOBS_WRITE_TIMEOUT_S
        delay = 0.02
        while self.read(thing)[0] == version and time.monotonic() + delay < deadline:
            time.sleep(delay)  # polling with backoff for AWS's asynchronous write
            delay = min(delay * 2, 1.0)

    def end(self, thing: str, job_ids: list[str], /) -> None:
        iot = self._iot
        for job_id in job_ids:
            with contextlib.suppress(Exception):
                iot.delete_job(jobId=job_id, force=True)
            self.created.discard(job_id)
        with contextlib.suppress(Exception):
            self._data.delete_thing_shadow(thingName=thing, shadowName=_SHADOW)
        with contextlib.suppress(Exception):
            iot.delete_thing(thingName=thing)

    def close(self) -> None:
        """Put AWS's ``versionUpdateByJobsConfig`` back as it was."""
        saved = self._saved_configuration
        if saved is not None and "iot" in self._clients:
            with contextlib.suppress(Exception):
                self._iot.update_package_configuration(versionUpdateByJobsConfig=saved)

    def _call(self, call: Callable[[], Any]) -> tuple[Answer, Any]:
        try:
            return Answer.ACCEPTED, call()
        except Exception as exc:
            code = error_code(exc)
            if not code:
                raise UsageError(f"--target {self.label}: {_why(exc)}") from None
            status = getattr(exc, "response", {}).get("ResponseMetadata", {})
            conflict = code == "ConflictException" or status.get("HTTPStatusCode") == 409
            return (Answer.CONFLICT if conflict else Answer.REJECTED), describe_error(exc)


def _why(exc: BaseException) -> str:
    return describe_error(exc).splitlines()[0] if str(exc) else type(exc).__name__


def until_released(call: Callable[[], Reply], *, waiting: bool) -> Reply:
    """``call()``, again with backoff while the execution it needs is not released yet."""
    deadline = time.monotonic() + RELEASE_TIMEOUT_S
    delay = 0.05
    while True:
        answer, detail = call()
        unreleased = detail.startswith(("ResourceNotFoundException", "no pending"))
        if answer is Answer.ACCEPTED or not (waiting and unreleased):
            return answer, detail
        if time.monotonic() + delay > deadline:
            return answer, detail
        time.sleep(delay)  # polling with backoff, as a device without notify-next would
        delay = min(delay * 2, 2.0)


def _reachable(broker: str) -> None:
    """Refuse a broker nobody listens on in one line now, not after the bridge's retries."""
    from simulator.transport.mqtt import parse_broker_uri  # noqa: PLC0415

    config = parse_broker_uri(broker)
    try:
        socket.create_connection((config.host, config.port), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise UsageError(f"--broker {config.uri}: cannot connect: {why}") from None


@contextlib.contextmanager
def remote_target(
    target: str, *, broker: str | None, speed: float | None
) -> Iterator[tuple[Plane, DevicePort | None]]:
    """Open ``embedded``, ``http://HOST:PORT`` or ``aws`` (and the device's MQTT port on
    ``broker``) for any number of plays."""
    target = parse_target(target)
    if speed is not None and not speed > 0:
        raise UsageError(f"--speed must be positive, not {speed:g}")
    if broker is not None:
        _reachable(broker)
    server: EmbeddedServer | None = None
    plane: BotoPlane
    if target == "embedded":
        server = EmbeddedServer(region="us-east-1", account="123456789012", broker=broker)
        server.start()
        keys = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        plane = BotoPlane("embedded", speed=speed, url=server.url, keys=keys, region="us-east-1")
    elif target == "aws":
        plane = BotoPlane("aws", speed=speed)
    else:
        plane = BotoPlane(target, speed=speed, url=target)
    device: DevicePort | None = None
    try:
        if broker is not None:
            from simulator.lab.replay_mqtt import MqttDevice  # noqa: PLC0415

            device = MqttDevice(broker, created=plane.created)
        yield plane, device
    finally:
        if device is not None:
            close = getattr(device, "close", None)
            if close is not None:
                close()
        plane.close()
        if server is not None:
            server.close()
