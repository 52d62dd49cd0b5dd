"""Play a script against a control plane and check the outcome as the consistency tracker does.

:func:`play` is the oracle ``fleetsim repro`` shrinks with and the engine of ``fleetsim replay``::

    outcome = play(script)                                  # in process: no socket, ~1 ms
    outcome = play(script, "embedded")                      # boto3 over SigV4 HTTP, own server
    outcome = play(script, "http://127.0.0.1:8000", broker="mqtt://127.0.0.1:1883")
    outcome.reproduced, outcome.cause, outcome.summary()

The player is the same whatever the target: it plays the steps in ``at`` order, each one waiting
for its answer before the next starts (so the order is the script's, over any transport), and
follows ``$package`` with a :class:`~simulator.engine.consistency.ConsistencyTracker` over the
one device: every accepted write is attributed to its actor (``manual`` for a writer, ``jobs``
for the write a device's terminal update makes Jobs do, ``device`` for the device's own report,
``initial`` for the set-up), every install is an inventory change, and the verdict at the end is
the tracker's (``""`` when consistent, else its cause). A write is seen by probing ``$package``
after each step that may change it (GetThingShadow; a probe is not a writer's read).

Targets implement :class:`Plane` (the control plane's side) and :class:`DevicePort` (the
device's requests, which ``--broker`` sends over MQTT instead): :mod:`.replay_local` (the
emulator's services in this process), :mod:`.replay_remote` (boto3 against an embedded
``fleetsim serve`` (:mod:`.replay_server`), a running one, or AWS), :mod:`.replay_mqtt` (the
device over a broker).
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from simulator.core.errors import UsageError
from simulator.engine.consistency import ConsistencyTracker
from simulator.lab.script import (
    CreateJob,
    Install,
    Read,
    Report,
    Script,
    Step,
    Update,
    Write,
)

__all__ = [
    "Answer",
    "DevicePort",
    "Outcome",
    "Plane",
    "Reply",
    "StepResult",
    "open_target",
    "play",
    "play_on",
]


class Answer(enum.Enum):
    """How the target answered one step."""

    ACCEPTED = "accepted"
    CONFLICT = "conflict"  # a 409: the version precondition did not hold
    REJECTED = "rejected"  # any other refusal (its code in the detail)


Reply = tuple[Answer, str]


class DevicePort(Protocol):
    """The device's requests: its ``$package`` report and its job-execution updates."""

    def report(self, thing: str, body: bytes, /) -> Reply: ...

    def start_next(self, thing: str, /) -> Reply:
        """StartNextPendingJobExecution; the detail is the started execution's job id."""
        ...

    def update_execution(self, thing: str, job_id: str, status: str, /) -> Reply: ...


class Plane(DevicePort, Protocol):
    """A control plane a script plays against (one play at a time)."""

    label: str

    def names(self, thing: str, /) -> tuple[str, str]:
        """The thing's name on this plane and a suffix for job ids (unique on shared planes)."""
        ...

    def begin(self, script: Script, thing: str, /) -> None:
        """Catalog, thing, initial ``$package``: the state before the first step."""
        ...

    def wait(self, at: float, /) -> None:
        """Move to ``at`` seconds from the start (advance the clock, or pace real time)."""
        ...

    def read(self, thing: str, /) -> tuple[int | None, dict[str, Any]]:
        """``$package``'s version (None: no shadow) and its ``reported`` section."""
        ...

    def update_package(self, thing: str, body: bytes, /) -> Reply: ...

    def create_job(self, thing: str, job_id: str, destination: str, document: str, /) -> Reply: ...

    def settle(self, thing: str, version: int | None, /) -> None:
        """Wait (briefly) for Jobs' ``$package`` write after a SUCCEEDED update: the version
        moving on from ``version``. AWS applies it asynchronously; the emulator at once."""
        ...

    def end(self, thing: str, job_ids: list[str], /) -> None:
        """Remove what :meth:`begin` and the steps created (shared planes only)."""
        ...


@dataclass(frozen=True, slots=True)
class StepResult:
    """One step as played: the answer, its detail and ``$package``'s version after it."""

    step: Step
    answer: Answer
    detail: str = ""
    version: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a play ended with. ``cause`` is ``""`` when ``$package`` tells the truth."""

    cause: str
    expect: str | None
    inventory: Mapping[str, str]
    package: Mapping[str, str | None]
    steps: tuple[StepResult, ...]
    target: str

    @property
    def reproduced(self) -> bool:
        """The expected cause, or any inconsistency when the script names none."""
        return self.cause == self.expect if self.expect is not None else bool(self.cause)

    def summary(self) -> str:
        says = _versions(self.package)
        runs = _versions(self.inventory)
        verdict = self.cause or "consistent"
        return f"{verdict}: $package says {says}; the device runs {runs}"


def _versions(versions: Mapping[str, str | None]) -> str:
    if not versions:
        return "nothing"
    return ", ".join(f"{p} {v or '(none)'}" for p, v in sorted(versions.items()))


@dataclass(slots=True)
class _Device:
    """The device as the tracker sees it (:class:`~simulator.engine.consistency.Truth`)."""

    name: str
    inventory: dict[str, str]
    index: int = 0


@dataclass(slots=True)
class _Player:
    script: Script
    plane: Plane
    device_port: DevicePort
    thing: str
    suffix: str
    device: _Device = field(init=False)
    tracker: ConsistencyTracker = field(init=False)
    reported: dict[str, Any] = field(default_factory=dict)
    version: int | None = None
    now: float = 0.0
    remembered: dict[str, int | None] = field(default_factory=dict)
    jobs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.device = _Device(self.thing, dict(self.script.thing.inventory))
        packages = frozenset(p.name for p in self.script.catalog.packages)
        self.tracker = ConsistencyTracker([self.device], packages, self._state)
        self.tracker.now = lambda: self.now

    def _state(self, thing: str, shadow: str) -> Mapping[str, Any] | None:
        return self.reported if self.version is not None else None

    def probe(self, writer: str) -> None:
        """Read ``$package``; a new version is a write by ``writer``."""
        version, self.reported = self.plane.read(self.thing)
        if version != self.version:
            self.version = version
            self.tracker.writer = writer
            self.tracker.shadow_changed(self.thing, "$package")

    def run(self) -> Outcome:
        self.plane.begin(self.script, self.thing)
        self.probe("initial")
        ordered = sorted(self.script.steps, key=lambda step: step.at)  # built in Python: any order
        results = [self.step(step) for step in ordered]
        self.probe("unknown")  # anything after the last step: nobody the script names
        self.tracker.check(0)
        packages = self.tracker.reported(self.thing) if self.version is not None else {}
        return Outcome(
            self.tracker.classify(0),
            self.script.expect,
            dict(self.device.inventory),
            packages,
            tuple(results),
            self.plane.label,
        )

    def step(self, step: Step) -> StepResult:
        self.now = step.at
        self.plane.wait(step.at)
        op = step.op
        answer, detail, writer = Answer.ACCEPTED, "", ""
        if isinstance(op, Install):
            if op.version is None:
                self.device.inventory.pop(op.package, None)
            else:
                self.device.inventory[op.package] = op.version
            self.tracker.inventory_changed(self.device, op.package)
        elif isinstance(op, Read):
            version, _ = self.plane.read(self.thing)
            self.remembered[step.actor] = version
            detail = "no $package" if version is None else f"version {version}"
        elif isinstance(op, Write):
            body: dict[str, Any] = {"state": {"reported": _entries(op.packages)}}
            read = self.remembered.get(step.actor)
            if op.use_version and read is not None:
                body["version"] = read
            answer, detail = self.plane.update_package(self.thing, orjson.dumps(body))
            writer = "manual"
        elif isinstance(op, Report):
            body = {"state": {"reported": _entries(op.packages)}}
            answer, detail = self.device_port.report(self.thing, orjson.dumps(body))
            writer = "device"
        elif isinstance(op, CreateJob):
            job_id = op.job_id + self.suffix
            document = op.document or _install_document(op.destination)
            answer, detail = self.plane.create_job(self.thing, job_id, op.destination, document)
            if answer is Answer.ACCEPTED:
                self.jobs.append(job_id)
        else:
            assert isinstance(op, Update)
            answer, detail, writer = self.update(op)
        if writer:
            self.probe(writer)
        return StepResult(step, answer, detail, self.version)

    def update(self, op: Update) -> tuple[Answer, str, str]:
        job_id = op.job_id + self.suffix
        if op.status == "IN_PROGRESS":
            answer, started = self.device_port.start_next(self.thing)
            if answer is not Answer.ACCEPTED or started == job_id:
                return answer, started, "jobs"
            # Another job was next: the device updates the one the script names.
        answer, detail = self.device_port.update_execution(self.thing, job_id, op.status)
        jobs_write = self.script.catalog.configuration.version_update_by_jobs
        if answer is Answer.ACCEPTED and op.status == "SUCCEEDED" and jobs_write:
            self.plane.settle(self.thing, self.version)
        return answer, detail, "jobs"


def _entries(packages: Mapping[str, str | None]) -> dict[str, Any]:
    return {p: None if v is None else {"version": v} for p, v in packages.items()}


def _install_document(destination: str) -> str:
    package, _, version = destination.partition("@")
    step = {
        "action": {
            "name": "install",
            "type": "runHandler",
            "input": {"handler": "install.sh", "args": [package, version]},
        }
    }
    return orjson.dumps({"version": "1.0", "steps": [step]}).decode()


def play_on(script: Script, plane: Plane, *, device: DevicePort | None = None) -> Outcome:
    """Play ``script`` on an open ``plane`` (the device's requests through ``device``, default
    the plane's own data-plane APIs), then remove what it created there."""
    thing, suffix = plane.names(script.thing.name)
    player = _Player(script, plane, device or plane, thing, suffix)
    try:
        return player.run()
    finally:
        plane.end(thing, player.jobs)


@contextlib.contextmanager
def open_target(
    target: str = "inprocess", *, broker: str | None = None, speed: float | None = None
) -> Iterator[tuple[Plane, DevicePort | None]]:
    """Open a target once for several plays: ``inprocess``, ``embedded``, ``http://HOST:PORT``
    or ``aws``; with ``broker`` the device's requests go over MQTT (not in process).

    ``speed``: real seconds between steps are the script's gaps divided by ``speed`` (None: no
    waiting beyond each answer; in process the clock is virtual and ``speed`` is ignored).
    Raises ``UsageError`` for a bad target or broker.
    """
    if target == "inprocess":
        from simulator.lab.replay_local import LocalPlane  # noqa: PLC0415

        if broker is not None:
            raise UsageError("--broker needs a real target: embedded, http://HOST:PORT or aws")
        yield LocalPlane(), None
        return
    from simulator.lab.replay_remote import remote_target  # noqa: PLC0415

    with remote_target(target, broker=broker, speed=speed) as opened:
        yield opened


def play(
    script: Script,
    target: str | Plane = "inprocess",
    *,
    broker: str | None = None,
    speed: float | None = None,
) -> Outcome:
    """Play ``script`` once against ``target`` (a name as :func:`open_target` takes, or an open
    :class:`Plane`) and check the outcome. The default, in process, is the fast oracle."""
    if not isinstance(target, str):
        return play_on(script, target)
    with open_target(target, broker=broker, speed=speed) as (plane, device):
        return play_on(script, plane, device=device)
