"""The in-process target of :func:`simulator.lab.replay.play`: the emulator's services, called.

A fresh :class:`~simulator.services.controlplane.ControlPlane` per play, on a virtual clock
that jumps to each step's ``at`` (running the timers due by then: rollout ticks, timeouts), so a
play is deterministic, needs no socket and costs about a millisecond: what a shrinker calling it
thousands of times needs. Requests go through the same service methods the HTTP and MQTT APIs
call, with the keyword arguments those APIs pass.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from simulator.core.catalog.spec import build_catalog
from simulator.core.errors import AwsError, ConflictException
from simulator.core.shadow import PACKAGE_SHADOW
from simulator.lab.replay import Answer, Reply
from simulator.lab.script import Script
from simulator.services.controlplane import ControlPlane, EmulatorOptions
from simulator.services.runtime import Runtime, TimerHeap, VirtualClock

__all__ = ["LocalPlane"]

#: The virtual clock's start (any epoch time works: nothing in a script depends on the date).
_START: Final = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _refused(exc: AwsError) -> Reply:
    answer = Answer.CONFLICT if isinstance(exc, ConflictException) else Answer.REJECTED
    return answer, f"{exc.error_type}: {exc.message}"


class LocalPlane:
    """The emulator in this process (see the module docstring). One play at a time."""

    label = "inprocess"

    def __init__(self) -> None:
        self._clock = VirtualClock(_START)
        self._timers = TimerHeap()
        self._plane: ControlPlane | None = None

    @property
    def plane(self) -> ControlPlane:
        assert self._plane is not None, "begin() first"
        return self._plane

    def names(self, thing: str, /) -> tuple[str, str]:
        return thing, ""

    def begin(self, script: Script, thing: str, /) -> None:
        self._clock = VirtualClock(_START)
        self._timers = TimerHeap()
        catalog = build_catalog(script.catalog, now=_START)
        runtime = Runtime(clock=self._clock, scheduler=self._timers)
        plane = self._plane = ControlPlane(
            runtime, EmulatorOptions(scope=catalog.scope), catalog=catalog
        )
        plane.registry.create_thing(thing_name=thing)
        shown = script.thing.package_shadow
        if shown is not None:
            reported = {p: None if v is None else {"version": v} for p, v in shown.items()}
            body = orjson.dumps({"state": {"reported": reported}})
            plane.shadows.update_thing_shadow(
                thing_name=thing, shadow_name=PACKAGE_SHADOW, payload=body
            )

    def wait(self, at: float, /) -> None:
        now = _START + at
        self._clock.now = max(self._clock.now, now)
        self._timers.run_due(self._clock.now)

    def read(self, thing: str, /) -> tuple[int | None, dict[str, Any]]:
        # The store's GET document (what GetThingShadow answers), read without encoding it.
        store = self.plane.shadows.store
        if store.find(thing, PACKAGE_SHADOW) is None:
            return None, {}
        document = store.document(thing, PACKAGE_SHADOW, now=self._clock.now)
        reported = (document.get("state") or {}).get("reported") or {}
        return int(document.get("version", 0)), dict(reported)

    def update_package(self, thing: str, body: bytes, /) -> Reply:
        try:
            self.plane.shadows.update_thing_shadow(
                thing_name=thing, shadow_name=PACKAGE_SHADOW, payload=body
            )
        except AwsError as exc:
            return _refused(exc)
        return Answer.ACCEPTED, ""

    def report(self, thing: str, body: bytes, /) -> Reply:
        return self.update_package(thing, body)

    def create_job(self, thing: str, job_id: str, destination: str, document: str, /) -> Reply:
        plane = self.plane
        package, _, version = destination.partition("@")
        try:
            arn = plane.registry.describe_thing(thing_name=thing).arn
            pv = plane.scope.arn(f"package/{package}/version/{version}")
            plane.jobs.create_job(
                job_id=job_id,
                targets=[arn],
                document=document,
                destination_package_versions=[pv],
            )
        except AwsError as exc:
            return _refused(exc)
        self._timers.run_due(self._clock.now)  # the first rollout release
        return Answer.ACCEPTED, ""

    def start_next(self, thing: str, /) -> Reply:
        try:
            view = self.plane.jobs_data.start_next_pending_job_execution(thing_name=thing)
        except AwsError as exc:
            return _refused(exc)
        if view.execution is None:
            return Answer.REJECTED, "no pending job execution"
        return Answer.ACCEPTED, view.execution.job.job_id

    def update_execution(self, thing: str, job_id: str, status: str, /) -> Reply:
        try:
            self.plane.jobs_data.update_job_execution(
                job_id=job_id, thing_name=thing, status=status
            )
        except AwsError as exc:
            return _refused(exc)
        return Answer.ACCEPTED, ""

    def settle(self, thing: str, version: int | None, /) -> None:
        return None  # Jobs writes $package while it applies SUCCEEDED

    def end(self, thing: str, job_ids: list[str], /) -> None:
        self._plane = None
