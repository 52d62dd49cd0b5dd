"""A device that sends its ``$package`` reports with a version precondition
(``package_version_precondition``): it learns the version from ``$package``'s answers, sends it
with each report, and re-reads and reports again after a 409, whatever its Jobs state."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.core.device import TRANSITIONS, Action, Device, DeviceState, Event
from tests.core.device_support import Peer, device, execution, online, profile, running

S, E, A = DeviceState, Event, Action
UPDATE = "shadow/name/$package/update"
GET = "shadow/name/$package/get"


def versioned(peer: Peer, **options: Any) -> Device:
    return device(peer, profile(package_version_precondition=True, **options), reports_shadow=True)


def succeeded(peer: Peer, dev: Device) -> None:
    """Run the default install (download, verify, install) and have SUCCEEDED accepted."""
    running(peer, dev)
    for _ in range(3):
        peer.fire(dev)
    peer.take()
    peer.reply(dev)


def test_the_first_report_reads_package_and_the_answer_sends_it_with_the_version() -> None:
    peer = Peer()
    dev = versioned(peer)
    assert dev.hears_package_answers
    succeeded(peer, dev)
    (topic, body), (next_topic, _) = peer.take()
    assert (topic, next_topic) == (GET, "jobs/start-next")  # no version known yet: read first
    peer.say(dev, f"{GET}/accepted", {"version": 4, "clientToken": body["clientToken"]})
    [(topic, body)] = peer.take()
    assert topic == UPDATE
    assert (body["version"], body["state"]) == (4, {"reported": {"agent": {"version": "1.2.0"}}})


def test_every_accepted_update_teaches_the_highest_version() -> None:
    peer = Peer()
    dev = versioned(peer, rollback_after_success_probability=1.0)
    online(peer, dev)
    peer.say(dev, f"{UPDATE}/accepted", {"version": 9})  # another writer's (Jobs')
    peer.say(dev, f"{UPDATE}/accepted", {"version": 7})  # an older answer, delivered late
    peer.reply(dev, {})  # nothing pending: idle
    assert dev.state is S.IDLE
    dev.inventory["agent"] = "1.0.0"
    succeeded_from_idle(peer, dev)
    [body] = [b for t, b in peer.take() if t == UPDATE]
    assert body["version"] == 9


def succeeded_from_idle(peer: Peer, dev: Device) -> None:
    peer.say(dev, "jobs/notify-next", {"timestamp": 1})
    peer.reply(dev, execution())
    for _ in range(3):
        peer.fire(dev)
    peer.take()
    peer.reply(dev)


@pytest.mark.parametrize("state", [S.VERIFYING, S.REQUESTING])
def test_a_409_re_reads_and_reports_every_package_again_beside_the_jobs_protocol(
    state: DeviceState,
) -> None:
    peer = Peer()
    dev = versioned(peer, rollback_after_success_probability=1.0)
    succeeded(peer, dev)  # VERIFYING: the health check will fail
    assert [topic for topic, _ in peer.take()] == [GET]
    peer.say(dev, f"{GET}/accepted", {"version": 2})
    assert [topic for topic, _ in peer.take()] == [UPDATE]  # 1.2.0, with version 2
    if state is S.REQUESTING:
        peer.fire(dev)  # the check fails: rolled back, then start-next
        assert [topic for topic, _ in peer.take()] == [UPDATE, "jobs/start-next"]
    assert dev.state is state
    before = dev.state
    peer.say(dev, f"{UPDATE}/rejected", {"code": 409, "message": "Version conflict"})
    assert dev.state is before and TRANSITIONS[before, E.SHADOW_REJECTED].action is A.REREAD
    [(topic, _)] = peer.take()
    assert topic == GET
    peer.say(dev, f"{UPDATE}/rejected", {"code": 409})  # another 409 while the read is out
    assert peer.take() == []
    peer.say(dev, f"{GET}/accepted", {"version": 6})
    [(topic, body)] = peer.take()
    assert topic == UPDATE and body["version"] == 6
    assert body["state"] == {"reported": {"agent": {"version": dev.inventory["agent"]}}}


def test_a_rejection_other_than_409_is_not_retried() -> None:
    peer = Peer()
    dev = versioned(peer)
    online(peer, dev)
    peer.take()
    peer.say(dev, f"{UPDATE}/rejected", {"code": 400, "message": "Missing required node: state"})
    assert peer.take() == []


def test_without_package_to_read_the_report_goes_without_a_version() -> None:
    peer = Peer()
    dev = versioned(peer)
    succeeded(peer, dev)
    peer.take()
    peer.say(dev, f"{GET}/rejected", {"code": 404, "message": "No shadow exists"})
    [(topic, body)] = peer.take()
    assert topic == UPDATE and "version" not in body


def test_a_device_without_the_precondition_ignores_package_answers() -> None:
    peer = Peer()
    dev = device(peer, reports_shadow=True)
    assert not dev.hears_package_answers
    succeeded(peer, dev)
    (topic, body), _ = peer.take()
    assert topic == UPDATE and "version" not in body
    peer.say(dev, f"{UPDATE}/rejected", {"code": 409})
    peer.say(dev, f"{GET}/accepted", {"version": 3})
    assert peer.take() == []


def test_offline_the_answers_are_not_heard() -> None:
    peer = Peer()
    dev = versioned(peer)
    dev.connect(3.0)
    assert dev.state is S.OFFLINE
    peer.say(dev, f"{UPDATE}/rejected", {"code": 409})
    assert peer.take() == [] and peer.timers == [(peer.t + 3.0, 1)]
