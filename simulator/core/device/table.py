"""The virtual device's transition table: everything that decides what a device does lives here.

A device is always in one :class:`DeviceState`. Each input is one :class:`Event`, read from the
topic of a message or from the meaning of a timer, never from a payload. :data:`TRANSITIONS` names,
for every state and every event, the :class:`Action` the device takes and the states that action
may leave it in; ``Action.IGNORE`` entries change nothing at all (a notify-next while busy, a late
answer, anything while rebooting). The device (:mod:`~simulator.core.device.machine`) dispatches
every input through this table; a test walks it whole.

Targets with more than one state are decided by the payload or the fleet's odds: a start-next
answer with an execution leads to RUNNING, or REPORTING if the document is refused, and one without
to IDLE; the end of the last install step or the accepted SUCCEEDED may lead to VERIFYING, a
post-update health check the fleet's odds say will fail (it rolls the update back). An answer
that echoes another request's ``clientToken`` (the late answer to a request re-sent after a
timeout, a QoS 1 duplicate) or names another job answers nothing this device asked: its action
does nothing, and the device stays where it was, which is why the answering entries list their
own state among their targets.

A device that sends its ``$package`` reports with a version precondition also hears the answers
to them (and to its reads of ``$package``): they change no state, whatever the Jobs protocol is
doing, so every online state learns the version they carry, or re-reads after a 409.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["TRANSITIONS", "Action", "DeviceState", "Event", "Transition"]


class DeviceState(enum.Enum):
    __hash__ = object.__hash__  # identity hash: C speed in hot dict lookups

    OFFLINE = "offline"  # not connected yet, or rebooting
    IDLE = "idle"  # waiting for notify-next
    REQUESTING = "requesting"  # start-next sent, waiting for the answer
    RUNNING = "running"  # running a step of an execution
    REPORTING = "reporting"  # terminal update sent, waiting for the answer
    VERIFYING = "verifying"  # an installed update's health check runs, and will fail


class Event(enum.Enum):
    """One input of a device: a timer's meaning, or a message's topic."""

    __hash__ = object.__hash__  # identity hash: C speed in hot dict lookups

    # timers
    CONNECTED = "connection ramp timer"
    REBOOTED = "reboot timer"
    STEP_DONE = "step timer"
    RESPONSE_TIMEOUT = "response timer"
    HEALTH_CHECK_FAILED = "health check timer"
    # messages, by topic (under $aws/things/<name>/)
    NOTIFY_NEXT = "jobs/notify-next"
    START_ACCEPTED = "jobs/start-next/accepted"
    START_REJECTED = "jobs/start-next/rejected"
    UPDATE_ACCEPTED = "jobs/<jobId>/update/accepted"
    UPDATE_REJECTED = "jobs/<jobId>/update/rejected"
    # $package answers, to a device that sends its reports with a version precondition
    SHADOW_ACCEPTED = "shadow/name/$package/{update,get}/accepted"
    SHADOW_REJECTED = "shadow/name/$package/{update,get}/rejected"


class Action(enum.Enum):
    """What a device does for an event."""

    IGNORE = "nothing at all"
    BOOT = "undo a failed install if the boot rolled back, then ask start-next"
    REQUEST_NEXT = "publish start-next"
    NOTE_NOTIFY = "remember the notification: an answer of 'nothing pending' asks again"
    START = "run the execution of a start-next answer, or go idle without one"
    START_REFUSED = "go idle after start-next was rejected"
    FINISH_STEP = "end the step: fail, reboot, begin the next one or report the outcome"
    RESEND_UPDATE = "publish the terminal update again"
    CLOSE = "write $package if owed, then ask start-next (or check the update's health first)"
    ROLL_BACK = "undo the job's installs; report FAILED, or write $package if owed and ask again"
    LEARN_VERSION = "remember the $package version; send the report a re-read was for"
    REREAD = "after a 409 on a report, read $package again (its answer sends the report again)"


@dataclass(frozen=True, slots=True)
class Transition:
    action: Action
    targets: frozenset[DeviceState]


S, E, A = DeviceState, Event, Action


def _to(action: Action, *targets: DeviceState) -> Transition:
    return Transition(action, frozenset(targets))


_IGNORE: Final = Transition(A.IGNORE, frozenset())

_ROWS: Final[Mapping[DeviceState, Mapping[Event, Transition]]] = {
    S.OFFLINE: {
        E.CONNECTED: _to(A.BOOT, S.REQUESTING),
        E.REBOOTED: _to(A.BOOT, S.REQUESTING),
        E.STEP_DONE: _IGNORE,  # no such timer: going offline superseded it
        E.RESPONSE_TIMEOUT: _IGNORE,  # likewise
        E.HEALTH_CHECK_FAILED: _IGNORE,  # no such timer: going offline superseded it
        E.NOTIFY_NEXT: _IGNORE,  # nobody listening while offline
        E.START_ACCEPTED: _IGNORE,
        E.START_REJECTED: _IGNORE,
        E.UPDATE_ACCEPTED: _IGNORE,
        E.UPDATE_REJECTED: _IGNORE,
        E.SHADOW_ACCEPTED: _IGNORE,  # nobody listening while offline
        E.SHADOW_REJECTED: _IGNORE,
    },
    S.IDLE: {
        E.CONNECTED: _IGNORE,  # already online
        E.REBOOTED: _IGNORE,
        E.STEP_DONE: _IGNORE,  # no timer while idle
        E.RESPONSE_TIMEOUT: _IGNORE,
        E.HEALTH_CHECK_FAILED: _IGNORE,  # no timer while idle
        E.NOTIFY_NEXT: _to(A.REQUEST_NEXT, S.REQUESTING),
        E.START_ACCEPTED: _IGNORE,  # a late answer: start-next was answered already
        E.START_REJECTED: _IGNORE,
        E.UPDATE_ACCEPTED: _IGNORE,  # a late answer to an update already settled
        E.UPDATE_REJECTED: _IGNORE,
        E.SHADOW_ACCEPTED: _to(A.LEARN_VERSION, S.IDLE),  # $package runs beside Jobs
        E.SHADOW_REJECTED: _to(A.REREAD, S.IDLE),
    },
    S.REQUESTING: {
        E.CONNECTED: _IGNORE,  # already online
        E.REBOOTED: _IGNORE,
        E.STEP_DONE: _IGNORE,  # no step runs
        E.RESPONSE_TIMEOUT: _to(A.REQUEST_NEXT, S.REQUESTING),  # unanswered: ask again
        # Asking already, but the answer may predate the job this notification announces
        # (answered before CreateJob, delivered after the notification): remember it.
        E.HEALTH_CHECK_FAILED: _IGNORE,  # the start-next request superseded it
        E.NOTIFY_NEXT: _to(A.NOTE_NOTIFY, S.REQUESTING),
        E.START_ACCEPTED: _to(A.START, S.RUNNING, S.REPORTING, S.IDLE, S.REQUESTING),
        E.START_REJECTED: _to(A.START_REFUSED, S.IDLE, S.REQUESTING),
        E.UPDATE_ACCEPTED: _IGNORE,  # a late answer to an update already settled
        E.UPDATE_REJECTED: _IGNORE,
        E.SHADOW_ACCEPTED: _to(A.LEARN_VERSION, S.REQUESTING),  # $package runs beside Jobs
        E.SHADOW_REJECTED: _to(A.REREAD, S.REQUESTING),
    },
    S.RUNNING: {
        E.CONNECTED: _IGNORE,  # already online
        E.REBOOTED: _IGNORE,
        E.STEP_DONE: _to(A.FINISH_STEP, S.RUNNING, S.REPORTING, S.OFFLINE, S.VERIFYING),
        E.RESPONSE_TIMEOUT: _IGNORE,  # IN_PROGRESS updates are not awaited: no such timer
        E.HEALTH_CHECK_FAILED: _IGNORE,  # a step timer runs instead
        E.NOTIFY_NEXT: _IGNORE,  # busy: start-next follows the terminal update anyway
        E.START_ACCEPTED: _IGNORE,  # a late answer: start-next was answered already
        E.START_REJECTED: _IGNORE,
        E.UPDATE_ACCEPTED: _IGNORE,  # the answers to IN_PROGRESS updates: not awaited
        E.UPDATE_REJECTED: _IGNORE,
        E.SHADOW_ACCEPTED: _to(A.LEARN_VERSION, S.RUNNING),  # $package runs beside Jobs
        E.SHADOW_REJECTED: _to(A.REREAD, S.RUNNING),
    },
    S.REPORTING: {
        E.CONNECTED: _IGNORE,  # already online
        E.REBOOTED: _IGNORE,
        E.STEP_DONE: _IGNORE,  # no step runs
        E.RESPONSE_TIMEOUT: _to(A.RESEND_UPDATE, S.REPORTING),  # unanswered: send it again
        E.HEALTH_CHECK_FAILED: _IGNORE,  # the terminal update superseded it
        E.NOTIFY_NEXT: _IGNORE,  # busy: start-next follows the terminal update anyway
        E.START_ACCEPTED: _IGNORE,  # a late answer: start-next was answered already
        E.START_REJECTED: _IGNORE,
        E.UPDATE_ACCEPTED: _to(A.CLOSE, S.REQUESTING, S.REPORTING, S.VERIFYING),
        E.UPDATE_REJECTED: _to(A.CLOSE, S.REQUESTING, S.REPORTING, S.VERIFYING),
        E.SHADOW_ACCEPTED: _to(A.LEARN_VERSION, S.REPORTING),  # $package runs beside Jobs
        E.SHADOW_REJECTED: _to(A.REREAD, S.REPORTING),
    },
    # A health check that will fail runs after the last install step, before the terminal update
    # (``health_check = "before_success"``) or after SUCCEEDED was accepted ("after_success").
    # No request is outstanding meanwhile; start-next follows the check either way.
    S.VERIFYING: {
        E.CONNECTED: _IGNORE,  # already online
        E.REBOOTED: _IGNORE,
        E.STEP_DONE: _IGNORE,  # no step runs
        E.RESPONSE_TIMEOUT: _IGNORE,  # no request is outstanding: no such timer
        E.HEALTH_CHECK_FAILED: _to(A.ROLL_BACK, S.REPORTING, S.REQUESTING),
        E.NOTIFY_NEXT: _IGNORE,  # busy: start-next follows the check anyway
        E.START_ACCEPTED: _IGNORE,  # a late answer: start-next was answered already
        E.START_REJECTED: _IGNORE,
        E.UPDATE_ACCEPTED: _IGNORE,  # a late answer to an update already settled
        E.UPDATE_REJECTED: _IGNORE,
        E.SHADOW_ACCEPTED: _to(A.LEARN_VERSION, S.VERIFYING),  # $package runs beside Jobs
        E.SHADOW_REJECTED: _to(A.REREAD, S.VERIFYING),
    },
}


def _flatten(
    rows: Mapping[DeviceState, Mapping[Event, Transition]],
) -> dict[tuple[DeviceState, Event], Transition]:
    table = {(state, event): rows[state][event] for state in DeviceState for event in Event}
    if sum(map(len, rows.values())) != len(table):  # pragma: no cover - a mistyped table
        raise ValueError("the device table lists a pair twice or a state it does not have")
    return table


#: The device's one transition table, total: every (state, event) pair, the ignored ones included
#: (a missing pair fails at import, with a KeyError naming it).
TRANSITIONS: Final[Mapping[tuple[DeviceState, Event], Transition]] = _flatten(_ROWS)
