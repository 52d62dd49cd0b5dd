"""The virtual device's protocol state machine: the table walked whole, the protocol message by
message, and random message and timer sequences, driven by a scripted cloud peer (see
``device_support``).
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.device import (
    TRANSITIONS,
    Action,
    Device,
    DeviceState,
    Event,
    StepKind,
    Transition,
    machine,
)
from tests.core.device_support import (
    START,
    STEP_S,
    Peer,
    device,
    execution,
    online,
    profile,
    running,
    step,
)
from tests.hypothesis_profiles import examples

S, E, A = DeviceState, Event, Action


# -- the table, walked whole ---------------------------------------------------------------------


def reach(state: DeviceState) -> tuple[Peer, Device]:
    peer = Peer()
    dev = device(peer, profile(rollback_after_success_probability=1.0))
    if state is S.OFFLINE:
        dev.connect(3.0)
    elif state is S.IDLE:
        online(peer, dev)
        peer.reply(dev)
    elif state is S.REQUESTING:
        online(peer, dev)
    elif state is S.RUNNING:
        running(peer, dev)
    elif state is S.VERIFYING:
        running(peer, dev)
        for _ in range(3):
            peer.fire(dev)
        peer.reply(dev)  # SUCCEEDED accepted: the health check that will fail begins
    else:
        running(peer, dev, {"version": "1.0", "steps": []})  # refused: REPORTING at once
    assert dev.state is state
    peer.take()
    peer.timers.clear()
    return peer, dev


_TIMERS = (E.CONNECTED, E.REBOOTED, E.STEP_DONE, E.RESPONSE_TIMEOUT, E.HEALTH_CHECK_FAILED)


def deliver(peer: Peer, dev: Device, event: Event) -> None:
    """``event`` as the device meets it, as the answer to what it asked when it is one."""
    if event in _TIMERS:
        dev._timer(0.0, event)  # the timer carrying this meaning comes due
        _, token = peer.timers.pop()
        dev.on_timer(token)
    elif event is E.NOTIFY_NEXT:
        peer.say(dev, "jobs/notify-next", {"timestamp": 1, **execution()})
    elif event in (E.START_ACCEPTED, E.START_REJECTED):
        suffix = "rejected" if event is E.START_REJECTED else "accepted"
        peer.say(dev, f"jobs/start-next/{suffix}", execution())
    elif event in (E.SHADOW_ACCEPTED, E.SHADOW_REJECTED):
        body = {"version": 5} if event is E.SHADOW_ACCEPTED else {"code": 409}
        suffix = "accepted" if event is E.SHADOW_ACCEPTED else "rejected"
        peer.say(dev, f"shadow/name/$package/update/{suffix}", body)
    else:
        suffix = "accepted" if event is E.UPDATE_ACCEPTED else "rejected"
        peer.say(dev, f"jobs/job-1/update/{suffix}", {"timestamp": 1})


#: What each action does to the device :func:`reach` left in its state, given :func:`deliver`'s
#: input: the state it moves to (None: it stays where it was) and the topics it publishes.
EFFECTS: dict[Action, tuple[DeviceState | None, list[str]]] = {
    A.BOOT: (S.REQUESTING, ["jobs/start-next"]),
    A.REQUEST_NEXT: (S.REQUESTING, ["jobs/start-next"]),
    A.NOTE_NOTIFY: (S.REQUESTING, []),  # remembered; seen in the start-next answer's effect
    A.START: (S.RUNNING, ["jobs/job-1/update"]),  # IN_PROGRESS, the first step
    A.START_REFUSED: (S.IDLE, []),
    A.FINISH_STEP: (S.RUNNING, ["jobs/job-1/update"]),  # IN_PROGRESS, the second step
    A.RESEND_UPDATE: (S.REPORTING, ["jobs/job-1/update"]),  # REJECTED again
    A.CLOSE: (S.REQUESTING, ["jobs/start-next"]),
    A.ROLL_BACK: (S.REQUESTING, ["jobs/start-next"]),  # checked after SUCCEEDED, not reporting
    # $package answers change no state; a device without a precondition does not subscribe
    # (test_device_versioned.py walks them with one).
    A.LEARN_VERSION: (None, []),
    A.REREAD: (None, []),
}


@pytest.mark.parametrize(("state", "event"), list(itertools.product(DeviceState, Event)))
def test_every_pair_of_the_table_does_what_the_table_says(state: DeviceState, event: Event) -> None:
    peer, dev = reach(state)
    inventory, online_before = dict(dev.inventory), dev._profile.online
    deliver(peer, dev, event)
    transition = TRANSITIONS[state, event]
    if transition.action is A.IGNORE:
        assert dev.state is state
        assert peer.sent == []
        assert peer.timers == []
        assert dev.inventory == inventory
        assert dev._profile.online == online_before
    else:
        target, topics = EFFECTS[transition.action]
        target = state if target is None else target
        assert dev.state is target
        assert target in transition.targets
        assert [topic for topic, _ in peer.sent] == topics


def test_the_table_is_total_and_only_ignored_pairs_have_no_targets() -> None:
    assert set(TRANSITIONS) == set(itertools.product(DeviceState, Event))
    for transition in TRANSITIONS.values():
        assert isinstance(transition, Transition)
        assert (transition.action is A.IGNORE) == (not transition.targets)
        assert all(isinstance(t, DeviceState) for t in transition.targets)
    assert {t.action for t in TRANSITIONS.values()} == set(Action)  # no action without a pair
    assert set(EFFECTS) == set(Action) - {A.IGNORE}


def test_the_dispatch_is_the_table_with_one_handler_per_action() -> None:
    handlers: dict[Action, object] = {}
    for (state, event), transition in TRANSITIONS.items():
        handler = machine._DISPATCH[state][event]
        assert (handler is None) == (transition.action is A.IGNORE)
        assert handlers.setdefault(transition.action, handler) is handler
    assert len(set(map(id, handlers.values()))) == len(Action)


@pytest.mark.parametrize(
    ("suffix", "event"),
    [
        ("jobs/notify-next", E.NOTIFY_NEXT),
        ("jobs/start-next/accepted", E.START_ACCEPTED),
        ("jobs/start-next/rejected", E.START_REJECTED),
        ("jobs/job-1/update/accepted", E.UPDATE_ACCEPTED),
        ("jobs/start-next/update/rejected", E.UPDATE_REJECTED),  # a job named start-next
        ("jobs/notify", None),
        ("jobs/start-next/other", None),
        ("jobs/job-1/get/accepted", None),
        ("shadow/name/$package/update/accepted", E.SHADOW_ACCEPTED),
        ("shadow/name/$package/get/accepted", E.SHADOW_ACCEPTED),
        ("shadow/name/$package/update/rejected", E.SHADOW_REJECTED),
        ("shadow/name/$package/get/rejected", E.SHADOW_REJECTED),
        ("shadow/name/$package/update/delta", None),
        ("shadow/name/other/update/accepted", None),
        ("jobs", None),
        ("", None),
    ],
)
def test_a_message_is_read_into_its_event_by_topic_and_dispatched_on_it(
    suffix: str, event: Event | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[DeviceState, Event, str, bytes]] = []

    def record(state: DeviceState) -> object:
        return lambda dev, ev, sfx, payload: seen.append((state, ev, sfx, payload))

    table = {state: dict.fromkeys(Event, record(state)) for state in DeviceState}
    monkeypatch.setattr(machine, "_DISPATCH", table)
    peer = Peer()
    dev = device(peer)
    dev.state = S.RUNNING
    peer.say(dev, suffix, b"{}")
    assert seen == ([] if event is None else [(S.RUNNING, event, suffix, b"{}")])


def test_a_superseded_timer_is_no_input() -> None:
    peer = Peer()
    dev = device(peer)
    dev.connect(3.0)
    dev.connect(5.0)  # the ramp moved: the first timer is stale
    dev.on_timer(1)
    assert dev.state is S.OFFLINE
    assert peer.sent == []
    dev.on_timer(2)
    assert dev.state is S.REQUESTING
    dev.on_timer(2)  # a timer fires once
    assert [topic for topic, _ in peer.sent] == ["jobs/start-next"]


# -- the protocol, message by message ------------------------------------------------------------


def test_a_job_runs_as_the_device_client_runs_it_with_step_details() -> None:
    peer = Peer()
    dev = device(peer, profile(report_steps=True))
    dev.connect(3.0)
    assert dev.state is S.OFFLINE
    assert peer.timers == [(START + 3.0, 1)]
    peer.fire(dev)
    assert peer.take() == [("jobs/start-next", {"clientToken": "dev-1:1"})]
    assert dev.state is S.REQUESTING
    peer.reply(dev, execution())
    progress = []
    for _ in range(3):
        assert dev.state is S.RUNNING
        ((topic, body),) = peer.take()
        assert topic == "jobs/job-1/update"
        assert body["status"] == "IN_PROGRESS"
        progress.append((body["statusDetails"]["step"], body["statusDetails"]["progress"]))
        peer.fire(dev)
    assert progress == [("download", "1/3"), ("verify-signature", "2/3"), ("install", "3/3")]
    assert dev.inventory == {"agent": "1.2.0"}
    assert peer.changed == ["agent"]
    assert dev.state is S.REPORTING
    assert peer.sent == [("jobs/job-1/update", {"status": "SUCCEEDED", "clientToken": "dev-1:5"})]
    assert peer.t == START + 3.0 + 3 * STEP_S
    peer.reply(dev, {"executionState": {"status": "SUCCEEDED"}})
    assert peer.sent[-1] == ("jobs/start-next", {"clientToken": "dev-1:6"})
    assert dev.state is S.REQUESTING
    peer.reply(dev)  # nothing pending
    assert dev.state is S.IDLE
    peer.take()
    peer.say(dev, "jobs/notify-next", {"timestamp": 1, **execution(job_id="job-2")})
    assert peer.take() == [("jobs/start-next", {"clientToken": "dev-1:7"})]


def test_without_step_reports_one_in_progress_update_announces_the_job() -> None:
    peer = Peer()
    dev = device(peer, profile(report_steps=False))
    running(peer, dev)
    in_progress = peer.sent[-1]
    assert in_progress[0] == "jobs/job-1/update"
    assert in_progress[1]["statusDetails"] == {"step": "download", "steps": "3"}
    for _ in range(3):
        peer.fire(dev)
    statuses = [body["status"] for topic, body in peer.sent if topic.endswith("/update")]
    assert statuses == ["IN_PROGRESS", "SUCCEEDED"]


def test_every_request_carries_a_fresh_client_token() -> None:
    peer = Peer()
    dev = device(peer, profile(report_steps=True), reports_shadow=True)
    for job in ("job-1", "job-2"):
        if dev.state is S.OFFLINE:
            online(peer, dev)
        peer.reply(dev, execution(job_id=job))
        for _ in range(3):
            peer.fire(dev)
        peer.reply(dev)
    tokens = [body["clientToken"] for _, body in peer.sent]
    assert len(tokens) == len(peer.sent) == len(set(tokens))
    assert all(t.startswith("dev-1:") for t in tokens)


def test_a_device_that_reports_its_inventory_writes_package_after_the_terminal_update() -> None:
    peer = Peer()
    dev = device(peer, reports_shadow=True, inventory={"agent": "1.0.0", "legacy": "0.9"})
    uninstall = {"version": "1.0", "steps": [step("uninstall", "remove.sh", "legacy")]}
    running(peer, dev, uninstall)
    peer.fire(dev)
    assert dev.inventory == {"agent": "1.0.0"}
    peer.take()
    peer.reply(dev)
    (topic, body), (next_topic, _) = peer.take()
    assert topic == "shadow/name/$package/update"
    assert body["state"] == {"reported": {"legacy": None}}
    assert "clientToken" in body
    assert next_topic == "jobs/start-next"
    peer.reply(dev, execution(job_id="job-2"))  # then an install: the version is reported
    for _ in range(3):
        peer.fire(dev)
    peer.take()
    peer.reply(dev)
    assert peer.sent[0][1]["state"] == {"reported": {"agent": {"version": "1.2.0"}}}


@pytest.mark.parametrize("reports", [False, True])
def test_no_package_report_after_a_refused_terminal_update_or_when_not_configured(
    reports: bool,
) -> None:
    peer = Peer()
    dev = device(peer, reports_shadow=reports)
    running(peer, dev)
    for _ in range(3):
        peer.fire(dev)
    peer.take()
    peer.reply(dev, {"code": "InvalidStateTransition"}, ok=False)  # e.g. it TIMED_OUT meanwhile
    assert [topic for topic, _ in peer.take()] == ["jobs/start-next"]
    assert dev.changed == {"agent"}  # still owed to $package


_SUFFIXES = [
    "jobs/notify-next",
    "jobs/start-next/accepted",
    "jobs/start-next/rejected",
    "jobs/job-1/update/accepted",
    "jobs/job-1/update/rejected",
    "jobs/job-2/update/accepted",
    "jobs/notify",
    "shadow/name/$package/update/accepted",
    "shadow/name/$package/update/rejected",
    "shadow/name/$package/get/accepted",
    "shadow/name/$package/get/rejected",
    "jobs",
    "",
]
_payloads = st.sampled_from(
    [
        orjson.dumps(execution()),
        orjson.dumps(execution({"version": "1.0", "steps": []})),
        orjson.dumps(execution(job_id="job-2")),
        b"{}",
        b"",
        b"\xff",
        b'{"execution": null}',
        b'{"clientToken": "dev-1:2"}',
        b'{"execution": {"jobId": "j", "executionNumber": "one"}}',
        b'{"version": 7}',
        b'{"code": 409, "message": "Version conflict"}',
        b'{"code": 404}',
    ]
) | st.binary(max_size=40)
_actions = st.lists(
    st.one_of(
        st.tuples(st.just("message"), st.sampled_from(_SUFFIXES), _payloads),
        st.tuples(st.just("timer"), st.integers(-2, 40), st.just(b"")),
        st.tuples(st.just("due"), st.just(""), st.just(b"")),
        st.tuples(st.just("connect"), st.just(""), st.just(b"")),
    ),
    max_size=40,
)


@settings(max_examples=examples(300), deadline=None)
@given(_actions, st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_any_sequence_of_messages_and_timers_keeps_a_valid_state(
    actions: list[tuple[str, Any, bytes]],
    lossless: bool,
    reports: bool,
    before: bool,
    versioned: bool,
) -> None:
    peer = Peer(lossless=lossless)
    prof = profile(
        {StepKind.INSTALL: 0.3},
        reboot_probability=0.3,
        rollback_probability=0.5,
        reject_probability=0.2,
        rollback_after_success_probability=0.5,
        check_before_success=before,
        package_version_precondition=versioned,
    )
    dev = device(peer, prof, reports_shadow=reports)
    for kind, arg, payload in actions:
        before = dev.state
        if kind == "message":
            peer.say(dev, arg, payload)
        elif kind == "timer":
            dev.on_timer(arg)
        elif kind == "due" and peer.timers:
            peer.fire(dev)
        elif kind == "connect":
            dev.connect(1.0)
        assert isinstance(dev.state, DeviceState)
        if dev.state is not before and kind != "connect":
            assert any(dev.state in t.targets for (s, _), t in TRANSITIONS.items() if s is before)
    assert all("clientToken" in body for _, body in peer.sent)
    reports_sent = [body for topic, body in peer.sent if topic == "shadow/name/$package/update"]
    if not versioned:
        assert all("version" not in body for body in reports_sent)
        assert not [topic for topic, _ in peer.sent if topic == "shadow/name/$package/get"]


# -- a notification that crosses the start-next answer --------------------------------------------


@pytest.mark.parametrize("answer", ["nothing pending", "rejected"])
def test_a_notify_next_during_start_next_asks_again_when_the_answer_has_nothing(
    answer: str,
) -> None:
    """CreateJob between the device's start-next and its answer: the notification overtakes the
    answer ("nothing pending", or a refusal), and the device must not go idle on it, or the job
    would wait for a notification that never comes."""
    peer = Peer()
    dev = device(peer)
    online(peer, dev)
    peer.take()
    peer.say(dev, "jobs/notify-next", {"timestamp": 1, **execution()})
    assert dev.state is S.REQUESTING and peer.take() == []  # remembered, nothing sent yet
    peer.reply(dev, {}, ok=answer == "nothing pending")
    assert dev.state is S.REQUESTING
    assert [topic for topic, _ in peer.take()] == ["jobs/start-next"]  # asked again
    peer.reply(dev, execution())
    assert dev.state is S.RUNNING  # and the job runs


def test_without_a_notification_an_empty_start_next_answer_leaves_the_device_idle() -> None:
    peer = Peer()
    dev = device(peer)
    online(peer, dev)
    peer.take()
    peer.reply(dev, {})
    assert dev.state is S.IDLE and peer.take() == []
    peer.say(dev, "jobs/notify-next", {"timestamp": 1, **execution()})
    assert dev.state is S.REQUESTING
    assert [topic for topic, _ in peer.take()] == ["jobs/start-next"]
    peer.reply(dev, {})  # the flag was cleared by the new request: idle again, no loop
    assert dev.state is S.IDLE and peer.take() == []


# -- a health check that fails after the update ------------------------------------------------


def _installed(peer: Peer, dev: Device) -> None:
    """Run the install job to its last step's end (the terminal update or the check follows)."""
    running(peer, dev)
    for _ in range(3):
        peer.fire(dev)


def test_a_failed_health_check_after_succeeded_rolls_back_and_reports_the_old_version() -> None:
    peer = Peer()
    prof = profile(rollback_after_success_probability=1.0)
    dev = device(peer, prof, reports_shadow=True)
    _installed(peer, dev)
    assert peer.last == ("jobs/job-1/update", {"status": "SUCCEEDED", **_token(peer)})
    peer.take()
    peer.reply(dev)
    (topic, body), *rest = peer.take()
    assert (topic, body["state"]) == (
        "shadow/name/$package/update",
        {"reported": {"agent": {"version": "1.2.0"}}},
    )
    assert rest == [] and dev.state is S.VERIFYING  # no start-next while the check runs
    assert dev.inventory == {"agent": "1.2.0"}
    peer.fire(dev)  # the check fails
    assert dev.inventory == {"agent": "1.0.0"}
    assert peer.changed == ["agent", "agent"]  # installed, then rolled back
    (topic, body), (next_topic, _) = peer.take()
    assert (topic, body["state"]) == (
        "shadow/name/$package/update",
        {"reported": {"agent": {"version": "1.0.0"}}},
    )
    assert next_topic == "jobs/start-next" and dev.state is S.REQUESTING


def test_a_health_check_before_the_terminal_update_makes_a_failed_check_a_failed_execution() -> (
    None
):
    peer = Peer()
    prof = profile(rollback_after_success_probability=1.0, check_before_success=True)
    dev = device(peer, prof, reports_shadow=True)
    _installed(peer, dev)
    assert dev.state is S.VERIFYING and dev.inventory == {"agent": "1.2.0"}
    peer.take()
    peer.fire(dev)  # the check fails before anything was reported
    assert dev.inventory == {"agent": "1.0.0"} and dev.state is S.REPORTING
    ((topic, body),) = peer.take()
    assert topic == "jobs/job-1/update" and body["status"] == "FAILED"
    assert "rolled back" in body["statusDetails"]["reason"]
    peer.reply(dev)
    (topic, body), (next_topic, _) = peer.take()
    # The inventory is back where it was, and the device says so (Jobs writes nothing: FAILED).
    assert body["state"] == {"reported": {"agent": {"version": "1.0.0"}}}
    assert next_topic == "jobs/start-next"


@pytest.mark.parametrize("before", [False, True])
def test_without_an_install_there_is_no_health_check(before: bool) -> None:
    peer = Peer()
    prof = profile(rollback_after_success_probability=1.0, check_before_success=before)
    dev = device(peer, prof, inventory={"agent": "1.0.0", "legacy": "0.9"})
    running(peer, dev, {"version": "1.0", "steps": [step("uninstall", "remove.sh", "legacy")]})
    peer.fire(dev)
    assert dev.state is S.REPORTING
    peer.reply(dev)
    assert dev.state is S.REQUESTING


def _token(peer: Peer) -> dict[str, str]:
    return {"clientToken": peer.last[1]["clientToken"]}
