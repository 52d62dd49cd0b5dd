"""The load-test pieces that need no broker: request pairing, the remote audit, quotas, leases."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from simulator.engine.audit import DeviceTruth, audit_devices, last_writer
from simulator.engine.leases import IndexLeases
from simulator.engine.mqtt.requests import RequestTimer, request_name
from simulator.engine.quotas import quota_warnings, worker_connect_rate
from simulator.engine.scenario import load_scenario
from tests.locust.support import FAST


def _body(**fields: object) -> bytes:
    return orjson.dumps(fields)


def test_request_names() -> None:
    assert request_name("jobs/start-next", {}) == "start-next"
    assert request_name("jobs/j1/update", {"status": "IN_PROGRESS"}) == "update IN_PROGRESS"
    assert request_name("shadow/name/$package/update", {}) == "shadow update $package"
    assert request_name("shadow/update", {}) == "shadow update classic"


def test_answer_rejection_and_completion_latency() -> None:
    timer = RequestTimer(10.0)
    timer.sent("jobs/start-next", _body(clientToken="a"), 100.0)
    timer.answered(_body(clientToken="a", execution={}), 100.05, accepted=True)
    timer.sent("jobs/j1/update", _body(status="SUCCEEDED", clientToken="b"), 101.0)
    timer.answered(_body(clientToken="b"), 101.5, accepted=True)  # before job_created is known
    timer.sent("jobs/j1/update", _body(status="FAILED", clientToken="c"), 102.0)
    timer.answered(_body(clientToken="c", code="InvalidStateTransition"), 102.1, accepted=False)
    timer.job_created("j1", 90.0)
    done = {r.name: r for r in timer.done}
    assert round(done["start-next"].response_ms) == 50
    assert done["update FAILED"].error == "rejected: InvalidStateTransition"
    assert done["job j1 SUCCEEDED"].response_ms == 11_500.0
    assert timer.pending == 0


def test_unanswered_requests_time_out_once() -> None:
    timer = RequestTimer(5.0)
    timer.sent("jobs/start-next", _body(clientToken="a"), 0.0)
    timer.sent("jobs/start-next", _body(clientToken="b"), 4.0)
    assert timer.expire(6.0) == 1
    assert timer.answered(_body(clientToken="a"), 7.0, accepted=True) is None  # too late
    assert [r.error for r in timer.done] == ["timeout: no answer in 5 s"]


@given(
    st.lists(
        st.tuples(st.integers(0, 20), st.sampled_from(["answer", "reject", "none"])),
        max_size=40,
    )
)
def test_every_request_is_counted_exactly_once(plan: list[tuple[int, str]]) -> None:
    timer = RequestTimer(3.0)
    for i, (at, _) in enumerate(plan):
        timer.sent("jobs/start-next", _body(clientToken=str(i)), float(at))
    for i, (at, fate) in enumerate(plan):
        if fate != "none":
            timer.answered(_body(clientToken=str(i)), at + 1.0, accepted=fate == "answer")
    timer.expire(100.0)
    assert len(timer.done) == len(plan)
    assert sum(r.error is None for r in timer.done) == sum(f == "answer" for _, f in plan)


def test_last_writer_from_stamps_and_device_writes() -> None:
    stamped = {"agent": {"version": "1.0.0", "attributes": {"auditedAt": "200"}}}
    assert last_writer(stamped, ["agent"], 150.0) == ("manual", 200.0)
    assert last_writer(stamped, ["agent"], 250.0) == ("device", 250.0)
    assert last_writer({"agent": {"version": "1.0.0"}}, ["agent"], float("-inf"))[0] == "device"


def test_remote_audit_names_the_cause() -> None:
    shadows = {
        "a": {"state": {"reported": {"agent": {"version": "2.0.0"}}}},
        "b": {
            "state": {
                "reported": {"agent": {"version": "1.0.0", "attributes": {"auditedAt": "50"}}}
            }
        },
        "c": {"state": {"reported": {"agent": {"version": "1.0.0"}}}},
    }
    devices = [
        DeviceTruth(0, "a", {"agent": "2.0.0"}, changed_at=10.0, written_at=11.0),
        DeviceTruth(1, "b", {"agent": "2.0.0"}, changed_at=10.0, written_at=11.0),
        DeviceTruth(2, "c", {"agent": "2.0.0"}, changed_at=10.0),
        DeviceTruth(3, "d", {"agent": "2.0.0"}, changed_at=10.0),
    ]

    def get(name: str) -> bytes | None:
        return orjson.dumps(shadows[name]) if name in shadows else None

    result = audit_devices(get, devices, frozenset({"agent"}))
    assert (result.checked, result.consistent) == (4, 1)
    assert result.by_cause == {"manual_overwrite": 1, "not_reported": 1, "missing_entry": 1}
    assert result.examples["manual_overwrite"] == ["b"]


def test_quota_warnings_and_connect_share() -> None:
    scenario = load_scenario(FAST)
    assert quota_warnings(scenario, spawn_rate=100, workers=1) == []
    [warning] = quota_warnings(scenario, spawn_rate=2000, workers=4)
    assert "125/s per worker" in warning
    assert worker_connect_rate(100.0, 10) == 50.0
    [polls] = quota_warnings(scenario, spawn_rate=1, workers=1, poll_s=0.05)
    assert "raise --poll-interval" in polls


@given(st.integers(0, 30), st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=80))
def test_leases_never_hand_out_an_index_twice(size: int, steps: list[tuple[bool, int]]) -> None:
    leases = IndexLeases(size)
    held: set[int] = set()
    for take, pick in steps:
        if take:
            index = leases.take()
            if index is None:
                assert len(held) == size
            else:
                assert index not in held and 0 <= index < size
                assert index == min(set(range(size)) - held)  # the lowest free one
                held.add(index)
        elif held:
            index = sorted(held)[pick % len(held)]
            leases.give_back(index)
            leases.give_back(index)  # a repeated release changes nothing
            held.remove(index)
        assert leases.taken == len(held)
    leases.reset(size)
    assert leases.taken == 0 and (size == 0 or leases.take() == 0)
