"""A small world for the Jobs tests: runtime, registry, catalog, real shadows, both planes.

``World.jobs`` and ``World.data`` show the services as a client sees them: each operation's typed
result goes through its encoder of :data:`simulator.api.wire.ENCODERS`, and the notifications
through the MQTT API's :mod:`~simulator.api.mqtt.notices` onto a recording publisher. The
services themselves are ``World.jobs_service`` and ``World.data_service``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore import xform_name

from simulator.api.mqtt.notices import JobsMqttNotices, ShadowMqttNotices
from simulator.api.wire import ENCODERS
from simulator.core.arn import Scope
from simulator.core.catalog import Catalog
from simulator.core.catalog.spec import build_catalog, load
from simulator.core.errors import AwsError
from simulator.services.jobs import JobsDataService, JobsOptions, JobsService
from simulator.services.registry import Registry
from simulator.services.runtime import RecordingPublisher, Runtime, TimerHeap, VirtualClock
from simulator.services.shadows import ShadowService

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "scenarios" / "examples"
DOC = '{"operation":"test"}'


class Wire:
    """A service whose operations answer their wire shape (other attributes pass through)."""

    def __init__(self, service: object, api: str) -> None:
        self._service = service
        self._encoders = {
            xform_name(operation): encode
            for (name, operation), encode in ENCODERS.items()
            if name == api
        }

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._service, name)
        encode = self._encoders.get(name)
        if encode is None:
            return attr

        def call(**kwargs: Any) -> dict[str, Any]:
            return encode(attr(**kwargs))

        return call


def wire_call(service: object, api: str, name: str) -> Callable[..., dict[str, Any]]:
    """One operation of ``service`` answering its wire shape."""
    call: Callable[..., dict[str, Any]] = getattr(Wire(service, api), name)
    return call


def example_catalog() -> Catalog:
    return build_catalog(load((EXAMPLES / "catalog.toml").read_bytes(), fmt="toml"))


class World:
    """Everything a Jobs test touches, over a virtual clock and a hand-run timer heap."""

    def __init__(
        self,
        *,
        options: JobsOptions | None = None,
        catalog: Catalog | None = None,
        things: int = 0,
    ) -> None:
        self.clock = VirtualClock()
        self.timers = TimerHeap()
        self.bus = RecordingPublisher()
        self.runtime = Runtime(self.clock, self.timers, self.bus)
        self.catalog = catalog or Catalog(Scope())
        self.scope = self.catalog.scope
        self.registry = Registry(self.runtime, self.scope)
        self.shadows = ShadowService(self.runtime, self.registry)
        self.jobs_service = JobsService(
            self.runtime, self.registry, self.catalog, self.shadows, options or JobsOptions()
        )
        self.data_service = JobsDataService(self.jobs_service)
        self.jobs: Any = Wire(self.jobs_service, "iot")
        self.data: Any = Wire(self.data_service, "iot-jobs-data")
        self.jobs_service.notify_to(JobsMqttNotices(self.bus, self.data_service))
        self.shadows.notify_to(ShadowMqttNotices(self.bus))
        for i in range(things):
            self.thing(f"t{i}")

    # -- setup -------------------------------------------------------------------------------

    def thing(self, name: str, *groups: str) -> str:
        self.registry.create_thing(thing_name=name)
        for group in groups:
            self.join(group, name)
        return name

    def group(self, name: str, parent: str | None = None) -> str:
        self.registry.create_thing_group(thing_group_name=name, parent_group_name=parent)
        return name

    def join(self, group: str, thing: str) -> None:
        self.registry.add_thing_to_thing_group(thing_group_name=group, thing_name=thing)

    def leave(self, group: str, thing: str) -> None:
        self.registry.remove_thing_from_thing_group(thing_group_name=group, thing_name=thing)

    def thing_arn(self, name: str) -> str:
        return self.scope.arn(f"thing/{name}")

    def group_arn(self, name: str) -> str:
        return self.scope.arn(f"thinggroup/{name}")

    def pv_arn(self, package: str, version: str) -> str:
        return self.scope.arn(f"package/{package}/version/{version}")

    def create(self, job_id: str, *things: str, **kwargs: Any) -> dict[str, Any]:
        """CreateJob on things (names) unless ``targets`` is given; a tiny default document."""
        kwargs.setdefault("targets", [self.thing_arn(t) for t in things])
        given = ("document", "job_template_arn", "destination_package_versions")
        if not any(key in kwargs for key in given):
            kwargs["document"] = DOC
        return self.jobs.create_job(job_id=job_id, **kwargs)

    # -- time --------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the clock, running every timer due on the way, in order."""
        end = self.clock.now + seconds
        while (when := self.timers.next_deadline()) is not None and when <= end:
            self.clock.now = max(self.clock.now, when)
            self.timers.run_due(self.clock.now)
        self.clock.now = end

    # -- device side -------------------------------------------------------------------------

    def start_next(self, thing: str, **kwargs: Any) -> dict[str, Any] | None:
        result = self.data.start_next_pending_job_execution(thing_name=thing, **kwargs)
        execution: dict[str, Any] | None = result.get("execution")
        return execution

    def update(self, job_id: str, thing: str, status: str, **kwargs: Any) -> dict[str, Any]:
        return self.data.update_job_execution(
            job_id=job_id, thing_name=thing, status=status, **kwargs
        )

    def finish(self, job_id: str, thing: str, status: str = "SUCCEEDED") -> None:
        self.update(job_id, thing, "IN_PROGRESS")
        self.update(job_id, thing, status)

    # -- observations ------------------------------------------------------------------------

    def status(self, job_id: str, thing: str) -> str:
        execution = self.jobs.describe_job_execution(job_id=job_id, thing_name=thing)
        status: str = execution["execution"]["status"]
        return status

    def job(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self.jobs.describe_job(job_id=job_id)["job"]
        return job

    def counts(self, job_id: str) -> dict[str, int]:
        details = self.job(job_id)["jobProcessDetails"]
        return {k: v for k, v in details.items() if k.startswith("numberOf")}

    def messages(self, topic_suffix: str, thing: str | None = None) -> list[dict[str, Any]]:
        """Decoded messages whose topic ends with ``topic_suffix`` (of one thing if given)."""
        out = []
        for topic, payload in self.bus.messages:
            if topic.endswith(topic_suffix) and (thing is None or f"/things/{thing}/" in topic):
                out.append(orjson.loads(payload))
        return out

    def package_shadow(self, thing: str) -> dict[str, Any]:
        shadows = Wire(self.shadows, "iot-data")
        raw = shadows.get_thing_shadow(thing_name=thing, shadow_name="$package")["payload"]
        shadow: dict[str, Any] = orjson.loads(raw)
        return shadow


@contextmanager
def aws_error(code: str, status: int) -> Iterator[pytest.ExceptionInfo[AwsError]]:
    """Expect an :class:`AwsError` with this wire type and HTTP status."""
    with pytest.raises(AwsError) as info:
        yield info
    assert (info.value.error_type, info.value.http_status) == (code, status), repr(info.value)
