"""The pieces of an MQTT run that need no broker: the device's duplicate handling, the wall-clock
heap, the seeded draws of a shard, and option checks."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from simulator.core.device import DeviceState
from simulator.core.errors import UsageError
from simulator.engine.draws import draw_fleet
from simulator.engine.heap import WallClockHeap
from simulator.engine.mqtt import (
    MqttOptions,
    device_topics,
    parse_control_plane,
    parse_source_addresses,
)
from simulator.engine.planes import real_clock
from simulator.engine.world import World
from simulator.transport.mqtt import Shard, parse_broker_uri
from tests.core.device_support import STEP_S, Peer, device, execution, online
from tests.engine.support import BASE, edited, load

S = DeviceState

# -- the device: answers matched by clientToken ---------------------------------------------------


def _finish(peer: Peer, dev: object) -> None:
    """Run the three steps of the execution to the terminal update and accept it."""
    for _ in range(3):
        peer.fire(dev)  # type: ignore[arg-type]
    assert dev.state is S.REPORTING  # type: ignore[attr-defined]
    peer.reply(dev)  # type: ignore[arg-type]


def test_a_late_start_next_answer_cannot_start_an_execution_twice() -> None:
    peer = Peer(lossless=False)
    dev = device(peer)
    online(peer, dev)
    first = peer.last[1]["clientToken"]
    peer.fire(dev)  # no answer within response_timeout_s: start-next again
    assert dev.state is S.REQUESTING
    second = peer.last[1]["clientToken"]
    assert second != first
    peer.reply(dev, execution())  # the answer to the second request
    assert dev.state is S.RUNNING
    _finish(peer, dev)
    assert dev.state is S.REQUESTING  # asking for the next job
    peer.take()
    # The answer to the first start-next, held up somewhere, arrives now: the same execution,
    # still IN_PROGRESS as it was then. Acting on it would run the job a second time.
    late = {**execution(), "timestamp": 1, "clientToken": first}
    peer.say(dev, "jobs/start-next/accepted", late)
    assert dev.state is S.REQUESTING
    assert peer.take() == []
    peer.reply(dev, {})  # the real answer to the current request: nothing pending
    assert dev.state is S.IDLE


def test_a_rejected_repeat_of_an_applied_terminal_update_counts_as_accepted() -> None:
    peer = Peer(lossless=False)
    dev = device(peer, reports_shadow=True)
    online(peer, dev)
    peer.reply(dev, execution())
    for _ in range(3):
        peer.fire(dev)
    assert dev.state is S.REPORTING
    peer.fire(dev)  # the SUCCEEDED update went unanswered (its answer was lost): again
    topic, body = peer.last
    assert topic == "jobs/job-1/update" and body["status"] == "SUCCEEDED"
    # AWS refuses the repeat: the execution is terminal already, as this device asked.
    state = {"status": "SUCCEEDED", "versionNumber": 3}
    peer.reply(
        dev,
        {"code": "InvalidStateTransition", "message": "terminal", "executionState": state},
        ok=False,
    )
    sent = [t for t, _ in peer.take()]
    assert sent[-2:] == ["shadow/name/$package/update", "jobs/start-next"]
    assert dev.state is S.REQUESTING


def test_a_terminal_update_refused_for_another_status_is_a_refusal() -> None:
    peer = Peer(lossless=False)
    dev = device(peer, reports_shadow=True)
    online(peer, dev)
    peer.reply(dev, execution())
    for _ in range(3):
        peer.fire(dev)
    state = {"status": "CANCELED", "versionNumber": 3}
    peer.reply(dev, {"code": "InvalidStateTransition", "executionState": state}, ok=False)
    assert [t for t, _ in peer.take()][-1] == "jobs/start-next"  # no $package report
    assert dev.state is S.REQUESTING


def test_device_topics_are_the_jobs_replies_and_notifications() -> None:
    topics = device_topics("device-000001")
    assert topics[0] == "$aws/things/device-000001/jobs/notify-next"
    assert len(topics) == 5 and all(t.startswith("$aws/things/device-000001/jobs/") for t in topics)
    assert STEP_S > 0


# -- the wall-clock heap --------------------------------------------------------------------------


def test_wall_clock_heap_never_goes_back() -> None:
    heap = WallClockHeap(100.0)
    ran: list[float] = []
    heap.at(101.0, lambda a, b: ran.append(heap.now))
    heap.advance(105.0)  # a message arrived at 105 before the loop ran the 101 entry
    assert heap.run(110.0, 10) == 1
    assert ran == [105.0] and heap.now == 105.0
    heap.advance(104.0)
    assert heap.now == 105.0


@pytest.mark.asyncio
async def test_idle_wakes_when_an_earlier_entry_is_scheduled() -> None:
    heap = WallClockHeap(time.time())
    heap.at(time.time() + 30, lambda a, b: None)
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, lambda: heap.at(time.time(), lambda a, b: None))
    began = time.monotonic()
    await heap.idle(10.0)
    assert time.monotonic() - began < 2.0


# -- shards build the same devices as a whole-fleet run -------------------------------------------


def test_draws_match_the_in_process_world(tmp_path: Path) -> None:
    text = edited(
        ("devices = 20", "devices = 200"),
        extra='\n[[fleet.groups]]\nname = "canary"\nfraction = 0.1\n',
    ).replace(
        "[device.steps.download]",
        "[device]\nreports_package_shadow = 0.3\n\n[device.steps.download]",
    )
    scenario = load(tmp_path, text)
    world = World(scenario)
    draws = draw_fleet(scenario)
    assert [d.inventory for d in world.devices] == draws.inventories
    assert [d.reports_shadow for d in world.devices] == draws.reports_shadow
    shadows = world.emulator.shadows
    for device_, shown in zip(world.devices, draws.in_shadow, strict=True):
        reported = shadows.reported(device_.name, "$package") or {}
        assert {p: e["version"] for p, e in reported.items()} == shown
    registry = world.emulator.registry
    ((name, members),) = draws.subgroups
    assert name == "canary"
    in_group = {i for i, d in enumerate(world.devices) if name in registry.groups_of(d.name)}
    assert in_group == set(members)


def test_shards_cover_the_fleet_with_global_names(tmp_path: Path) -> None:
    scenario = load(tmp_path, BASE)
    size, first = 20, 100
    ranges = [Shard(k, 3).range(size, first=first) for k in range(3)]
    assert [i for r in ranges for i in r] == list(range(first, first + size))
    assert scenario.thing_name(ranges[1][0]) == f"device-{ranges[1][0]:06d}"


def test_real_clock_keeps_everything_else(tmp_path: Path) -> None:
    scenario = load(tmp_path, BASE)
    assert scenario.run.clock == "simulated"
    real = real_clock(scenario)
    assert real.run.clock == "real" and real.fleet == scenario.fleet and real.jobs == scenario.jobs


# -- options ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("auto", None),
        ("none", ()),
        ("loopback:3", ("127.0.1.1", "127.0.1.2", "127.0.1.3")),
        ("10.0.0.1, 10.0.0.2", ("10.0.0.1", "10.0.0.2")),
    ],
)
def test_source_addresses(text: str, expected: tuple[str, ...] | None) -> None:
    assert parse_source_addresses(text) == expected


@pytest.mark.parametrize("text", ["", "loopback:0", "loopback:x", "10.0.0.300", "a,b"])
def test_bad_source_addresses(text: str) -> None:
    with pytest.raises(UsageError):
        parse_source_addresses(text)


def test_control_plane_values() -> None:
    assert parse_control_plane("embedded") == "embedded"
    assert parse_control_plane("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    for bad in ("ftp://x", "http://", "http://h:99999", "http://h/path", "local"):
        with pytest.raises(UsageError):
            parse_control_plane(bad)


def test_option_combinations(tmp_path: Path) -> None:
    plain, tls = parse_broker_uri("mqtt://127.0.0.1:1"), parse_broker_uri("mqtts://h:8883")
    cases = [
        {"broker": plain, "cert_dir": tmp_path},  # TLS files on a plain broker
        {"broker": plain, "shard": Shard(1, 2)},  # shards need an external plane
        {"broker": plain, "connect_rate": 0.0},
        {"broker": plain, "control_plane": "aws"},  # AWS is TLS only
        {"broker": tls, "control_plane": "aws"},  # ... with device certificates
        {"broker": tls, "client_cert": tmp_path / "missing.pem", "client_key": tmp_path / "k"},
        {"broker": tls, "cert_dir": tmp_path / "missing"},
        {"broker": plain, "rollout_per_minute": 10, "control_plane": "http://h:1"},
    ]
    for case in cases:
        with pytest.raises(UsageError):
            MqttOptions(**case)  # type: ignore[arg-type]
    aws = MqttOptions(broker=tls, control_plane="aws", cert_dir=tmp_path)
    assert aws.rate == 100.0  # paced under the account's CONNECT quota by default
    pool = aws.pool_options(["device-000000"])
    assert pool.connect_rate == 100.0 and pool.backoff_base >= 1.0 and not pool.clean_session
    assert MqttOptions(broker=plain).rate == 2000.0
