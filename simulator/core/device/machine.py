"""A virtual device: a package inventory and the Jobs MQTT protocol, as a pure state machine.

The device speaks the real topics and payloads (reference section 3.4) and never touches a
socket or a clock: the engine feeds it messages (:meth:`Device.on_message`) and timer expiries
(:meth:`Device.on_timer`), and the device answers through a :class:`DeviceIO` (publish a message,
ask for a timer, announce an inventory change). The same object runs in-process and over MQTT.

Protocol, as the AWS IoT Device Client does it: on connect, publish ``start-next``; run the
execution it gets (report IN_PROGRESS with the step, run each step for a drawn duration, then
SUCCEEDED / FAILED / REJECTED); after the terminal update is accepted, optionally write its
inventory to ``$package``, then ask ``start-next`` again; ``notify-next`` wakes an idle device.
Every request carries a fresh ``clientToken``; an unanswered request is re-sent after a timeout.
Answers are matched by the ``clientToken`` they echo, so the late answer to a request re-sent
after a timeout cannot start an execution twice; a terminal update refused because the execution
already has that status (an earlier attempt was applied, its answer lost) counts as accepted.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import orjson

from simulator.core.device.jobdoc import JobPlan, Step, StepKind
from simulator.core.device.memo import cached_plan, presigned_expired
from simulator.core.device.profile import DeviceProfile

__all__ = ["TRANSITIONS", "Device", "DeviceIO", "DeviceState", "Event"]


class DeviceState(enum.Enum):
    __hash__ = object.__hash__  # identity hash: C speed in hot dict lookups

    OFFLINE = "offline"  # not connected yet, or rebooting
    IDLE = "idle"  # waiting for notify-next
    REQUESTING = "requesting"  # start-next sent, waiting for the answer
    RUNNING = "running"  # running a step of an execution
    REPORTING = "reporting"  # terminal update sent, waiting for the answer


class Event(enum.Enum):
    __hash__ = object.__hash__  # identity hash: C speed in hot dict lookups

    CONNECTED = "connected"
    REBOOTED = "rebooted"
    NOTIFY_NEXT = "notify-next"
    EXECUTION = "start-next accepted with an execution"
    NO_EXECUTION = "start-next accepted without an execution"
    START_REJECTED = "start-next rejected"
    STEP_DONE = "step timer"
    UPDATE_ACCEPTED = "terminal update accepted"
    UPDATE_REJECTED = "terminal update rejected"
    RESPONSE_TIMEOUT = "response timer"


S, E = DeviceState, Event

#: The device's one transition table: (state, event) -> the states the handler may move to.
#: Pairs that are not listed are ignored (a notify-next while busy, a late response).
TRANSITIONS: Final[Mapping[tuple[DeviceState, Event], frozenset[DeviceState]]] = {
    (S.OFFLINE, E.CONNECTED): frozenset({S.REQUESTING}),
    (S.OFFLINE, E.REBOOTED): frozenset({S.REQUESTING}),
    (S.IDLE, E.NOTIFY_NEXT): frozenset({S.REQUESTING}),
    (S.REQUESTING, E.EXECUTION): frozenset({S.RUNNING, S.REPORTING}),
    (S.REQUESTING, E.NO_EXECUTION): frozenset({S.IDLE}),
    (S.REQUESTING, E.START_REJECTED): frozenset({S.IDLE}),
    (S.REQUESTING, E.RESPONSE_TIMEOUT): frozenset({S.REQUESTING}),
    (S.RUNNING, E.STEP_DONE): frozenset({S.RUNNING, S.REPORTING, S.OFFLINE}),
    (S.REPORTING, E.UPDATE_ACCEPTED): frozenset({S.REQUESTING}),
    (S.REPORTING, E.UPDATE_REJECTED): frozenset({S.REQUESTING}),
    (S.REPORTING, E.RESPONSE_TIMEOUT): frozenset({S.REPORTING}),
}

_TERMINAL: Final = ("SUCCEEDED", "FAILED", "REJECTED")

# The members as module globals: on Python 3.11 ``DeviceState.IDLE`` goes through the enum
# metaclass's ``__getattr__`` hook (as costly as a function call), and a device reads them on every
# message and timer.
_OFFLINE: Final = S.OFFLINE
_IDLE: Final = S.IDLE
_REQUESTING: Final = S.REQUESTING
_RUNNING: Final = S.RUNNING
_REPORTING: Final = S.REPORTING
_CONNECTED: Final = E.CONNECTED
_REBOOTED: Final = E.REBOOTED
_NOTIFY_NEXT: Final = E.NOTIFY_NEXT
_EXECUTION: Final = E.EXECUTION
_NO_EXECUTION: Final = E.NO_EXECUTION
_START_REJECTED: Final = E.START_REJECTED
_STEP_DONE: Final = E.STEP_DONE
_UPDATE_ACCEPTED: Final = E.UPDATE_ACCEPTED
_UPDATE_REJECTED: Final = E.UPDATE_REJECTED
_RESPONSE_TIMEOUT: Final = E.RESPONSE_TIMEOUT
_DOWNLOAD: Final = StepKind.DOWNLOAD
_INSTALL: Final = StepKind.INSTALL
_UNINSTALL: Final = StepKind.UNINSTALL


class DeviceIO(Protocol):
    """What a device asks of its driver."""

    #: True when the transport never loses a message to an online device: no response timers.
    lossless: bool

    def now(self) -> float: ...

    def publish(self, device: Device, topic: str, payload: bytes, /) -> None: ...

    def set_timer(self, device: Device, delay: float, token: int, /) -> None: ...

    def inventory_changed(self, device: Device, package: str, /) -> None: ...


@dataclass(slots=True)
class _Run:
    """The execution being run."""

    job_id: str
    execution_number: int
    plan: JobPlan
    step: int = 0
    step_started: float = 0.0
    outcome: str = "SUCCEEDED"
    reason: str | None = None
    token: str | None = None  # clientToken of the terminal update, to match its answer


class Device:
    """One virtual device. Mutable; owned by one driver."""

    __slots__ = (
        "_asked",
        "_gen",
        "_io",
        "_pending",
        "_profile",
        "_rollback",
        "_run",
        "_seq",
        "changed",
        "index",
        "inventory",
        "name",
        "reports_shadow",
        "state",
    )

    def __init__(
        self,
        index: int,
        name: str,
        inventory: dict[str, str],
        profile: DeviceProfile,
        io: DeviceIO,
        *,
        reports_shadow: bool = False,
    ) -> None:
        self.index = index
        self.name = name
        self.inventory = inventory
        self.reports_shadow = reports_shadow
        self.state = _OFFLINE
        self.changed: set[str] = set()  # packages changed since the last $package report
        self._profile = profile
        self._io = io
        self._run: _Run | None = None
        self._seq = 0
        self._gen = 0
        self._asked: str | None = None  # clientToken of the outstanding start-next
        self._pending: Event | None = None  # what the outstanding timer means
        self._rollback: tuple[str, str | None] | None = None  # undo after a failed boot

    # -- plumbing ---------------------------------------------------------------------------

    def _token(self) -> str:
        self._seq += 1
        return f"{self.name}:{self._seq}"

    def _timer(self, delay: float, meaning: Event) -> None:
        self._gen += 1
        self._pending = meaning
        self._io.set_timer(self, delay, self._gen)

    def _publish(self, suffix: str, body: dict[str, Any]) -> str:
        token = body["clientToken"] = self._token()
        self._io.publish(self, f"$aws/things/{self.name}/{suffix}", orjson.dumps(body))
        return token

    def _await_response(self) -> None:
        if self._io.lossless:
            self._pending = None  # nothing can be lost: no timer (and no stale heap entry)
            self._gen += 1
        else:
            self._timer(self._profile.response_timeout_s, _RESPONSE_TIMEOUT)

    def _move(self, event: Event, target: DeviceState) -> None:
        current = self.state
        assert target in TRANSITIONS[(current, event)], (current, event, target)
        if current is not target:
            if current is _OFFLINE:
                self._profile.online += 1
            elif target is _OFFLINE:
                self._profile.online -= 1
        self.state = target

    def _request_next(self, event: Event) -> None:
        self._move(event, _REQUESTING)
        self._asked = self._publish("jobs/start-next", {})
        self._await_response()

    # -- inputs -----------------------------------------------------------------------------

    def connect(self, delay: float) -> None:
        """Come online after ``delay`` seconds (the engine's connection ramp)."""
        self._timer(delay, _CONNECTED)

    def on_timer(self, token: int) -> None:
        if token != self._gen or self._pending is None:
            return  # superseded
        event, self._pending = self._pending, None
        if (self.state, event) not in TRANSITIONS:
            return
        if event is _CONNECTED or event is _REBOOTED:
            if self._rollback is not None:
                package, version = self._rollback
                self._rollback = None
                self._set(package, version)
            self._request_next(event)
        elif event is _STEP_DONE:
            self._step_done()
        elif self.state is _REQUESTING:  # response timeout: ask again
            self._request_next(event)
        else:
            self._send_terminal()

    def on_message(self, topic: str, payload: bytes) -> None:
        """Handle a message on one of this device's ``$aws/things/<name>/...`` topics."""
        state = self.state
        if state is _OFFLINE:
            return  # nobody listening while rebooting
        # Slices and ==, not startswith/endswith: str methods cost more than the compare here.
        suffix = topic[len(self.name) + 13 :]  # strip "$aws/things/<name>/"
        if suffix == "jobs/notify-next":
            if state is _IDLE:
                self._request_next(_NOTIFY_NEXT)
        elif suffix[:16] == "jobs/start-next/":
            if state is _REQUESTING:
                self._start_next_answer(suffix[-9:] == "/accepted", payload)
        elif (
            state is _REPORTING
            and suffix[:5] == "jobs/"
            and suffix[-16:] in ("/update/accepted", "/update/rejected")
        ):
            run = self._run
            if (
                run is not None
                and suffix == f"jobs/{run.job_id}/update/{suffix[-8:]}"
                and _answers(payload, run.token)
            ):
                self._terminal_answer(suffix[-8:] == "accepted" or _already(payload, run.outcome))

    # -- start-next -------------------------------------------------------------------------

    def _start_next_answer(self, accepted: bool, payload: bytes) -> None:
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            echoed = body.get("clientToken")
            if isinstance(echoed, str) and echoed != self._asked:
                # The answer to an earlier start-next, re-sent after a timeout (or a QoS 1
                # duplicate): acting on it could start an execution this device already ran.
                return
        self._pending = None
        if not accepted:
            self._move(_START_REJECTED, _IDLE)
            return
        execution = body.get("execution") if isinstance(body, dict) else None
        job_id = execution.get("jobId") if isinstance(execution, dict) else None
        if not isinstance(job_id, str) or not job_id:
            # Nothing pending, or an execution without a job id (the peer misbehaved): nothing
            # this device could report on, so it waits for the next notification.
            self._move(_NO_EXECUTION, _IDLE)
            return
        assert isinstance(execution, dict)
        number = execution.get("executionNumber")
        plan = cached_plan(execution.get("jobDocument"))
        run = _Run(job_id, number if type(number) is int else 1, plan)
        self._run = run
        profile = self._profile
        if plan.rejected is not None:
            run.outcome, run.reason = "REJECTED", plan.rejected
        elif profile.reject():
            run.outcome, run.reason = "REJECTED", "device policy refused the job"
        if run.outcome == "REJECTED":
            self._move(_EXECUTION, _REPORTING)
            self._send_terminal()
            return
        self._move(_EXECUTION, _RUNNING)
        if not profile.report_steps:
            # As the Device Client does: one IN_PROGRESS report as the job starts.
            first = plan.steps[0]
            details = {"step": first.name, "steps": str(len(plan.steps))}
            self._publish(
                f"jobs/{run.job_id}/update", {"status": "IN_PROGRESS", "statusDetails": details}
            )
        self._begin_step()

    # -- steps ------------------------------------------------------------------------------

    def _begin_step(self) -> None:
        run = self._run
        assert run is not None
        step = run.plan.steps[run.step]
        run.step_started = self._io.now()
        if self._profile.report_steps:
            details = {"step": step.name, "progress": f"{run.step + 1}/{len(run.plan.steps)}"}
            self._publish(
                f"jobs/{run.job_id}/update",
                {"status": "IN_PROGRESS", "statusDetails": details},
            )
        self._timer(self._profile.duration(step.kind), _STEP_DONE)

    def _step_done(self) -> None:
        run = self._run
        assert run is not None
        step = run.plan.steps[run.step]
        failure = self._step_failure(step, run.step_started)
        if failure is not None and not step.ignore_failure:
            run.outcome, run.reason = "FAILED", failure
            self._move(_STEP_DONE, _REPORTING)
            self._send_terminal()
            return
        if step.kind is _INSTALL and failure is None:
            previous = self.inventory.get(step.args[0])
            self._set(step.args[0], step.args[1])
            if self._profile.reboot():
                self._reboot(step, previous)
                return
        elif step.kind is _UNINSTALL and failure is None:
            self._set(step.args[0], None)
        run.step += 1
        if run.step < len(run.plan.steps):
            self._move(_STEP_DONE, _RUNNING)
            self._begin_step()
        else:
            self._move(_STEP_DONE, _REPORTING)
            self._send_terminal()

    def _step_failure(self, step: Step, started: float) -> str | None:
        # S3 checks a presigned URL when the request starts, not while the body streams.
        if step.kind is _DOWNLOAD and step.args and presigned_expired(step.args[0], started):
            return f"{step.name}: HTTP 403 from S3, the presigned URL expired"
        if self._profile.fails(step.kind):
            return f"{step.name}: handler exited with status 1"
        return None

    def _set(self, package: str, version: str | None) -> None:
        if version is None:
            if self.inventory.pop(package, None) is None:
                return
        elif self.inventory.get(package) == version:
            return
        else:
            self.inventory[package] = version
        self.changed.add(package)
        self._io.inventory_changed(self, package)

    def _reboot(self, step: Step, previous: str | None) -> None:
        """The install rebooted the device: offline for a while, maybe rolled back after it."""
        self._move(_STEP_DONE, _OFFLINE)
        self._run = None
        if self._profile.rollback():
            # A/B fallback: the new version does not boot and the old one runs again.
            self._rollback = (step.args[0], previous)
        self._timer(self._profile.reboot_duration(), _REBOOTED)

    # -- terminal update --------------------------------------------------------------------

    def _send_terminal(self) -> None:
        run = self._run
        assert run is not None
        body: dict[str, Any] = {"status": run.outcome}
        if run.reason is not None:
            body["statusDetails"] = {"reason": run.reason[:1024]}
        run.token = self._publish(f"jobs/{run.job_id}/update", body)
        self._await_response()

    def _terminal_answer(self, accepted: bool) -> None:
        self._pending = None
        self._run = None
        if accepted and self.reports_shadow and self.changed:
            reported = {
                pkg: ({"version": self.inventory[pkg]} if pkg in self.inventory else None)
                for pkg in sorted(self.changed)
            }
            self.changed.clear()
            self._publish("shadow/name/$package/update", {"state": {"reported": reported}})
        event = _UPDATE_ACCEPTED if accepted else _UPDATE_REJECTED
        self._request_next(event)


def _answers(payload: bytes, token: str | None) -> bool:
    """True unless ``payload`` echoes another request's clientToken (a late IN_PROGRESS answer)."""
    try:
        echoed = orjson.loads(payload).get("clientToken")
    except (orjson.JSONDecodeError, AttributeError):
        return True
    return not isinstance(echoed, str) or echoed == token


def _already(payload: bytes, outcome: str) -> bool:
    """True when a rejected terminal update says the execution already has ``outcome``: an
    earlier attempt of the same update was applied and only its answer was lost."""
    try:
        state = orjson.loads(payload).get("executionState")
    except (orjson.JSONDecodeError, AttributeError):
        return False
    return isinstance(state, dict) and state.get("status") == outcome
