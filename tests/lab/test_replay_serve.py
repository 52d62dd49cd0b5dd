"""``fleetsim replay`` as a console process against a separately started ``fleetsim serve``, and
the device's requests over MQTT through Mosquitto (embedded emulator and ``fleetsim serve
--mqtt``), watched on the broker by an independent paho client."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from simulator.lab.replay import Answer, open_target, play, play_on
from simulator.lab.script import Script, load_script
from tests.api.conftest import Server, finish, launch
from tests.broker.conftest import Device, device, serve_mqtt
from tests.fleetsim_cli import ROOT
from tests.lab.test_replay import LOST_UPDATE, USE_VERSION, _rollback
from tests.mqtt_broker import Mosquitto


def _console(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", "replay", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def serve() -> Iterator[Server]:
    server = launch()
    yield server
    finish(server)  # exit 0, no unhandled error logged


def test_replay_against_a_running_fleetsim_serve(serve: Server) -> None:
    done = _console(str(LOST_UPDATE), "--target", serve.url, "--repeat", "2")
    assert done.returncode == 0, done.stderr
    assert f"manual_overwrite reproduced 2/2 against {serve.url}" in done.stdout
    done = _console(str(USE_VERSION), "--target", serve.url)
    assert done.returncode == 1, done.stderr
    assert f"reproduced 0/1 against {serve.url}" in done.stdout


def test_each_play_removes_its_thing_and_jobs(serve: Server) -> None:
    iot = serve.client("iot")
    before = {t["thingName"] for t in iot.list_things()["things"]}
    jobs_before = {j["jobId"] for j in iot.list_jobs()["jobs"]}
    with open_target(serve.url) as (plane, _):
        outcome = play_on(_rollback(), plane)
    assert outcome.cause == "phantom_version"
    assert {t["thingName"] for t in iot.list_things()["things"]} == before
    new = [j for j in iot.list_jobs()["jobs"] if j["jobId"] not in jobs_before]
    assert [j["jobId"][:-9] for j in new] == ["agent-1-2-0"]
    assert new[0]["status"] == "DELETION_IN_PROGRESS"  # DeleteJob(force) is asynchronous


# -- over MQTT -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path_factory.mktemp("replay-broker")) as started:
        yield started


@pytest.fixture
def watcher(broker: Mosquitto) -> Iterator[Device]:
    """An independent paho client that sees the device's requests on the broker."""
    with device(broker.port, "replay-watcher") as watching:
        watching.subscribe("$aws/things/+/jobs/+/update")
        watching.subscribe("$aws/things/+/jobs/start-next")
        watching.subscribe("$aws/things/+/shadow/name/$package/update")
        yield watching


def _requests(watcher: Device, script: Script) -> list[str]:
    """The device's requests the watcher saw (after the script's own count arrived), as
    ``jobs/...`` / ``shadow/...`` topic ends without the job ids' random suffix."""
    count = sum(s.actor == "device" and s.action != "install" for s in script.steps)
    with watcher.lock:
        assert watcher.lock.wait_for(lambda: len(watcher.messages) >= count, 10)
        topics = [topic.split("/", 3)[3] for topic, _ in watcher.messages]
        watcher.messages.clear()
    return [t if t.startswith(("shadow", "jobs/start-next")) else "jobs/JOB/update" for t in topics]


@pytest.mark.slow
def test_replay_over_mqtt_with_the_embedded_emulator(broker: Mosquitto, watcher: Device) -> None:
    with open_target("embedded", broker=broker.uri) as (plane, port):
        assert port is not None
        for script in (load_script(LOST_UPDATE), load_script(USE_VERSION), _rollback()):
            over_mqtt = play_on(script, plane, device=port)
            expected = play(script)
            assert over_mqtt.cause == expected.cause
            assert over_mqtt.reproduced == (script.name != "lost-update-use-version")
            assert [r.answer for r in over_mqtt.steps] == [r.answer for r in expected.steps]
            if script.name == "rollback-report":
                assert _requests(watcher, script) == [
                    "jobs/start-next",
                    "shadow/name/$package/update",
                    "jobs/JOB/update",
                ]
            else:
                assert _requests(watcher, script) == ["jobs/JOB/update"]


@pytest.mark.slow
def test_replay_over_mqtt_with_fleetsim_serve_mqtt(broker: Mosquitto, watcher: Device) -> None:
    server = serve_mqtt("--mqtt", broker.uri)
    try:
        done = _console(str(LOST_UPDATE), "--target", server.url, "--broker", broker.uri)
        assert done.returncode == 0, done.stderr
        assert f"reproduced 1/1 against {server.url} over MQTT via {broker.uri}" in done.stdout
        assert _requests(watcher, load_script(LOST_UPDATE)) == ["jobs/JOB/update"]
        done = _console(str(USE_VERSION), "--target", server.url, "--broker", broker.uri)
        assert done.returncode == 1, done.stderr
        assert _requests(watcher, load_script(USE_VERSION)) == ["jobs/JOB/update"]
        with open_target(server.url, broker=broker.uri) as (plane, port):
            outcome = play_on(_rollback(), plane, device=port)
        assert outcome.cause == "phantom_version"
        assert outcome.steps[-1].answer is Answer.CONFLICT
    finally:
        finish(server)
