"""A virtual device: a package inventory and the Jobs MQTT protocol, as a pure state machine.

The device speaks the real topics and payloads (reference section 3.4) and never touches a
socket or a clock: the engine feeds it messages (:meth:`Device.on_message`) and timer expiries
(:meth:`Device.on_timer`), and the device answers through a :class:`DeviceIO` (publish a message,
ask for a timer, announce an inventory change). The same object runs in-process and over MQTT.

Protocol, as the AWS IoT Device Client does it: on connect, publish ``start-next``; run the
execution it gets (report IN_PROGRESS with the step, run each step for a drawn duration, then
SUCCEEDED / FAILED / REJECTED); after the terminal update is accepted, optionally write its
inventory to ``$package``, then ask ``start-next`` again; ``notify-next`` wakes an idle device.
An update whose health check fails (the profile's odds) is rolled back when the check ends: after
SUCCEEDED was accepted (the device then writes its rolled-back inventory, if it reports), or
before the terminal update, which is then FAILED.
Every request carries a fresh ``clientToken``; an unanswered request is re-sent after a timeout.
Answers are matched by the ``clientToken`` they echo, so the late answer to a request re-sent
after a timeout cannot start an execution twice; a terminal update refused because the execution
already has that status (an earlier attempt was applied, its answer lost) counts as accepted.

Every input is read into an :class:`~simulator.core.device.table.Event` (from the topic, or the
timer's meaning) and dispatched through :data:`~simulator.core.device.table.TRANSITIONS` to the
handler of its :class:`~simulator.core.device.table.Action`; nothing else decides what runs.
Running the steps (:mod:`~simulator.core.device.steps`) and the ``$package`` reports
(:mod:`~simulator.core.device.reports`) live beside this module, as functions of the device.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol, assert_never

import orjson

from simulator.core.device.answers import already, answers, echoes_other, loads
from simulator.core.device.profile import DeviceProfile
from simulator.core.device.reports import learn_version, report, reread
from simulator.core.device.steps import Run, begin_step, check_fails, finish_step, undo
from simulator.core.device.table import TRANSITIONS, Action, DeviceState, Event
from simulator.core.device.versioned import VersionedReports
from simulator.core.jobs import ExecutionStatus

__all__ = ["Device", "DeviceIO"]

# The members as module globals: on Python 3.11 ``DeviceState.IDLE`` goes through the enum
# metaclass's ``__getattr__`` hook (as costly as a function call), and a device reads them on every
# message and timer.
_OFFLINE: Final = DeviceState.OFFLINE
_IDLE: Final = DeviceState.IDLE
_REQUESTING: Final = DeviceState.REQUESTING
_RUNNING: Final = DeviceState.RUNNING
_REPORTING: Final = DeviceState.REPORTING
_CONNECTED: Final = Event.CONNECTED
_RESPONSE_TIMEOUT: Final = Event.RESPONSE_TIMEOUT
_UPDATE_ACCEPTED: Final = Event.UPDATE_ACCEPTED
_SUCCEEDED: Final = ExecutionStatus.SUCCEEDED
_FAILED: Final = ExecutionStatus.FAILED
_REJECTED: Final = ExecutionStatus.REJECTED

#: Message topics (after ``$aws/things/<name>/``) that are one event whatever the job.
_TOPICS: Final[Mapping[str, Event]] = {
    "jobs/notify-next": Event.NOTIFY_NEXT,
    "jobs/start-next/accepted": Event.START_ACCEPTED,
    "jobs/start-next/rejected": Event.START_REJECTED,
}
#: The ends of ``jobs/<jobId>/update/...`` answers.
_UPDATE_ANSWERS: Final[Mapping[str, Event]] = {
    "/update/accepted": Event.UPDATE_ACCEPTED,
    "/update/rejected": Event.UPDATE_REJECTED,
}
#: ``$package`` answers (after ``$aws/things/<name>/``), heard with a version precondition.
_SHADOW_ANSWERS: Final[Mapping[str, Event]] = {
    "shadow/name/$package/update/accepted": Event.SHADOW_ACCEPTED,
    "shadow/name/$package/get/accepted": Event.SHADOW_ACCEPTED,
    "shadow/name/$package/update/rejected": Event.SHADOW_REJECTED,
    "shadow/name/$package/get/rejected": Event.SHADOW_REJECTED,
}
_TARGETS: Final = {pair: transition.targets for pair, transition in TRANSITIONS.items()}


class DeviceIO(Protocol):
    """What a device asks of its driver."""

    #: True when the transport never loses a message to an online device: no response timers.
    lossless: bool

    def now(self) -> float: ...

    def publish(self, device: Device, topic: str, payload: bytes, /) -> None: ...

    def set_timer(self, device: Device, delay: float, token: int, /) -> None: ...

    def inventory_changed(self, device: Device, package: str, /) -> None: ...


class Device:
    """One virtual device. Mutable; owned by one driver."""

    __slots__ = (
        "_asked",
        "_gen",
        "_io",
        "_notified",
        "_pending",
        "_profile",
        "_rollback",
        "_run",
        "_seq",
        "_versioned",
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
        self._run: Run | None = None
        self._seq = 0
        self._gen = 0
        self._asked: str | None = None  # clientToken of the outstanding start-next
        self._notified = False  # a notify-next came while that start-next was unanswered
        self._pending: Event | None = None  # what the outstanding timer means
        # (package, version before) to undo: after a failed boot, or a failed health check.
        self._rollback: list[tuple[str, str | None]] | None = None
        #: The $package version its reports carry (None: reports without a precondition).
        self._versioned = (
            VersionedReports() if profile.package_version_precondition and reports_shadow else None
        )

    @property
    def hears_package_answers(self) -> bool:
        """Whether this device subscribes to ``$package``'s answers (it reports with a version
        precondition)."""
        return self._versioned is not None

    # -- inputs -----------------------------------------------------------------------------

    def connect(self, delay: float) -> None:
        """Come online after ``delay`` seconds (the engine's connection ramp)."""
        self._timer(delay, _CONNECTED)

    def on_timer(self, token: int) -> None:
        """The timer this device asked for with ``token`` came due."""
        event = self._pending
        if token != self._gen or event is None:
            return  # superseded by a later timer, or already answered
        self._pending = None
        handler = _DISPATCH[self.state][event]
        if handler is not None:
            handler(self, event, "", b"")

    def on_message(self, topic: str, payload: bytes) -> None:
        """Handle a message on one of this device's ``$aws/things/<name>/...`` topics."""
        suffix = topic[len(self.name) + 13 :]  # strip "$aws/things/<name>/"
        event = _TOPICS.get(suffix)
        if event is None:
            # Slices, not startswith/endswith: str methods cost more than the compare here.
            if suffix[:5] != "jobs/":
                # Not a Jobs topic: a $package answer, or no input of this machine.
                event = _SHADOW_ANSWERS.get(suffix)
                if event is None:
                    return
                handler = _DISPATCH[self.state][event]
                if handler is not None:
                    handler(self, event, suffix, payload)
                return
            event = _UPDATE_ANSWERS.get(suffix[-16:])
            if event is None:
                return
        handler = _DISPATCH[self.state][event]
        if handler is not None:
            handler(self, event, suffix, payload)

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
        assert target in _TARGETS[current, event], (current, event, target)
        if current is not target:
            if current is _OFFLINE:
                self._profile.online += 1
            elif target is _OFFLINE:
                self._profile.online -= 1
        self.state = target

    def _request_next(self, event: Event) -> None:
        self._move(event, _REQUESTING)
        self._notified = False  # this request covers any earlier notification
        self._asked = self._publish("jobs/start-next", {})
        self._await_response()

    # -- handlers, one per Action: (self, event, topic suffix, payload) ---------------------

    def _boot(self, event: Event, suffix: str, payload: bytes) -> None:
        undo(self)
        self._request_next(event)

    def _ask(self, event: Event, suffix: str, payload: bytes) -> None:
        self._request_next(event)

    def _note_notify(self, event: Event, suffix: str, payload: bytes) -> None:
        self._notified = True

    def _start_refused(self, event: Event, suffix: str, payload: bytes) -> None:
        if echoes_other(loads(payload), self._asked):
            return  # the answer to an earlier start-next
        self._pending = None
        self._idle_or_ask(event)

    def _idle_or_ask(self, event: Event) -> None:
        """No execution to run: wait for the next notification, or ask again at once if one
        came while the request was unanswered (its job may be newer than the answer)."""
        if self._notified:
            self._request_next(event)
        else:
            self._move(event, _IDLE)

    def _start(self, event: Event, suffix: str, payload: bytes) -> None:
        body = loads(payload)
        if echoes_other(body, self._asked):
            # The answer to an earlier start-next, re-sent after a timeout (or a QoS 1
            # duplicate): acting on it could start an execution this device already ran.
            return
        self._pending = None
        execution = body.get("execution") if isinstance(body, dict) else None
        job_id = execution.get("jobId") if isinstance(execution, dict) else None
        if not isinstance(job_id, str) or not job_id:
            # Nothing pending, or an execution without a job id (the peer misbehaved): nothing
            # this device could report on, so it waits for the next notification.
            self._idle_or_ask(event)
            return
        assert isinstance(execution, dict)
        number = execution.get("executionNumber")
        profile = self._profile
        plan = profile.plans.plan(execution.get("jobDocument"))
        run = Run(job_id, number if type(number) is int else 1, plan)
        self._run = run
        if plan.rejected is not None:
            run.outcome, run.reason = _REJECTED, plan.rejected
        elif profile.reject():
            run.outcome, run.reason = _REJECTED, "device policy refused the job"
        if run.outcome is _REJECTED:
            self._move(event, _REPORTING)
            self._send_terminal()
            return
        self._move(event, _RUNNING)
        installs = plan.installs
        if installs:
            inventory = self.inventory
            for package, version in installs:
                if inventory.get(package) != version:
                    break
            else:
                profile.redundant_runs += 1  # asked to install what it already runs
        if not profile.report_steps:
            # As the Device Client does: one IN_PROGRESS report as the job starts.
            first = plan.steps[0]
            details = {"step": first.name, "steps": str(len(plan.steps))}
            self._publish(
                f"jobs/{run.job_id}/update", {"status": "IN_PROGRESS", "statusDetails": details}
            )
        begin_step(self)

    def _resend_update(self, event: Event, suffix: str, payload: bytes) -> None:
        self._send_terminal()

    def _close(self, event: Event, suffix: str, payload: bytes) -> None:
        run = self._run
        assert run is not None
        # ``suffix`` is jobs/<jobId>/update/<answer>: an answer for another job, or to one of
        # this job's IN_PROGRESS updates, answers nothing this device waits for.
        if suffix[5:-16] != run.job_id or not answers(payload, run.token):
            return
        accepted = event is _UPDATE_ACCEPTED or already(payload, run.outcome)
        self._pending = None
        self._run = None
        if accepted:
            report(self)
            checks = run.installed and run.outcome is _SUCCEEDED
            if checks and not self._profile.check_before_success and check_fails(self, event, run):
                return  # start-next follows the rollback
        self._request_next(event)

    def _roll_back(self, event: Event, suffix: str, payload: bytes) -> None:
        """The health check failed: the update is undone (A/B fallback, as after a bad boot)."""
        self._pending = None
        undo(self)
        run = self._run
        if run is not None:  # checked before the terminal update: the execution FAILED
            run.outcome, run.reason = _FAILED, "health check failed: the update was rolled back"
            self._move(event, _REPORTING)
            self._send_terminal()
            return
        report(self)
        self._request_next(event)

    def _send_terminal(self) -> None:
        run = self._run
        assert run is not None
        body: dict[str, Any] = {"status": run.outcome}  # orjson writes an enum as its value
        if run.reason is not None:
            body["statusDetails"] = {"reason": run.reason[:1024]}
        run.token = self._publish(f"jobs/{run.job_id}/update", body)
        self._await_response()


_Handler = Callable[[Device, Event, str, bytes], None]


def _handler(action: Action) -> _Handler | None:
    match action:
        case Action.IGNORE:
            return None
        case Action.BOOT:
            return Device._boot
        case Action.REQUEST_NEXT:
            return Device._ask
        case Action.NOTE_NOTIFY:
            return Device._note_notify
        case Action.START:
            return Device._start
        case Action.START_REFUSED:
            return Device._start_refused
        case Action.FINISH_STEP:
            return finish_step
        case Action.RESEND_UPDATE:
            return Device._resend_update
        case Action.CLOSE:
            return Device._close
        case Action.ROLL_BACK:
            return Device._roll_back
        case Action.LEARN_VERSION:
            return learn_version
        case Action.REREAD:
            return reread
        case _:
            assert_never(action)


#: :data:`TRANSITIONS` with each action's handler (``None``: ignored), by state then event: two
#: identity-hashed dict lookups per input, no tuple built.
_DISPATCH: Final[Mapping[DeviceState, Mapping[Event, _Handler | None]]] = {
    state: {event: _handler(TRANSITIONS[state, event].action) for event in Event}
    for state in DeviceState
}
