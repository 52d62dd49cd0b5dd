"""``fleetsim serve --state-dir`` end to end: real processes, boto3, SIGKILL, restarts.

Every write whose reply a client received must be there after a restart; a torn last record is
dropped with a warning; a corrupt or foreign directory is one line and exit 2; without
``--state-dir`` nothing is written.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from simulator.api.durable.log import frame
from tests.api.conftest import ROOT, Server, finish, launch
from tests.broker.conftest import device, serve_mqtt
from tests.mqtt_broker import Mosquitto

pytestmark = pytest.mark.slow  # end to end: server processes, restarts


def _start(directory: Path, *extra: str) -> Server:
    return launch("--auth", "none", "--state-dir", str(directory), *extra)


def _kill(server: Server) -> None:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=30)
    server.stderr_path.unlink(missing_ok=True)


def _setup(server: Server) -> dict[str, Any]:
    iot, data = server.client("iot"), server.client("iot-data")
    iot.create_package(packageName="app")
    iot.create_package_version(packageName="app", versionName="1.0")
    group = iot.create_thing_group(thingGroupName="fleet")["thingGroupArn"]
    for i in range(4):
        iot.create_thing(thingName=f"car-{i}", attributePayload={"attributes": {"n": str(i)}})
        iot.add_thing_to_thing_group(thingGroupName="fleet", thingName=f"car-{i}")
        data.update_thing_shadow(
            thingName=f"car-{i}",
            shadowName="$package",
            payload=orjson.dumps({"state": {"reported": {"app": {"version": "1.0"}}}}),
        )
    iot.create_job(jobId="update", targets=[group], document='{"operation":"update"}')
    return {"group": iot.describe_thing_group(thingGroupName="fleet")}


class Burst:
    """Threads writing until told to stop; each remembers its acknowledged writes in order."""

    def __init__(self, server: Server, workers: int, stop_after: int) -> None:
        self.server = server
        self.acked: list[list[tuple[str, Any]]] = [[] for _ in range(workers)]
        self.count = 0
        self.lock = threading.Lock()
        self.enough = threading.Event()
        self.stop_after = stop_after
        self.errors: list[ClientError] = []
        self.threads = [threading.Thread(target=self._run, args=(w,)) for w in range(workers)]

    def _ack(self, worker: int, what: tuple[str, Any]) -> None:
        self.acked[worker].append(what)
        with self.lock:
            self.count += 1
            if self.count >= self.stop_after:
                self.enough.set()

    def _run(self, worker: int) -> None:
        # Own clients: boto3 clients are not to be shared between threads while being created.
        iot = self.server.client("iot", config=_config())
        data = self.server.client("iot-data", config=_config())
        jobs = self.server.client("iot-jobs-data", config=_config())
        try:
            if worker < 4:  # each of the first workers runs one execution of the job
                thing = f"car-{worker}"
                jobs.start_next_pending_job_execution(thingName=thing)
                self._ack(worker, ("started", thing))
            for i in range(10_000):
                name = f"w{worker}-{i}"
                iot.create_thing(thingName=name)
                self._ack(worker, ("created", name))
                payload = {"state": {"reported": {"i": i}}}
                data.update_thing_shadow(thingName=name, payload=orjson.dumps(payload))
                self._ack(worker, ("shadow", name))
                if i % 3 == 2:
                    iot.delete_thing(thingName=name)
                    self._ack(worker, ("deleted", name))
        except BotoCoreError:
            return  # the server was killed: connection refused, reset or closed
        except ClientError as exc:
            self.errors.append(exc)


def _config() -> Any:
    from botocore.config import Config  # noqa: PLC0415

    return Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10)


def _exists(iot: Any, name: str) -> bool:
    try:
        iot.describe_thing(thingName=name)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ResourceNotFoundException"
        return False
    return True


def _compacting(directory: Path) -> bool:
    """Whether a snapshot is being written (its temporary file exists)."""
    return any(p.name.endswith(".tmp") for p in directory.iterdir())


def _stop_mid_compaction(server: Server, directory: Path) -> None:
    """SIGSTOP the server while a snapshot is being written: stopped, it cannot install it."""
    deadline = time.monotonic() + 60
    while True:  # compactions run back to back at the test's threshold
        assert time.monotonic() < deadline, "no compaction seen"
        if _compacting(directory):
            server.process.send_signal(signal.SIGSTOP)
            if _compacting(directory):
                return
            server.process.send_signal(signal.SIGCONT)  # installed meanwhile: the next one


def _hold_a_syncer(server: Server, burst: Burst) -> int:
    """SIGSTOP one of the server's two syncer processes mid-burst, then wait until every worker
    had writes acknowledged: the held syncer's batch never completes its own sync, so its
    writers' replies can only come from the other syncer's later syncs covering it."""
    pid = server.process.pid
    syncers = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(syncers) == 2, syncers
    # Children are listed in creation order: the first syncer is the writer's first choice
    # whenever it is idle, so the next batch goes to it if it holds none already.
    held = int(syncers[0])
    os.kill(held, signal.SIGSTOP)
    marks = [len(acked) + 3 for acked in burst.acked]
    deadline = time.monotonic() + 60
    while any(len(acked) < mark for acked, mark in zip(burst.acked, marks, strict=True)):
        assert time.monotonic() < deadline, "a worker got no reply with one syncer held"
        time.sleep(0.01)
    return held


@pytest.mark.parametrize(
    "compaction",
    ["none", "after", "during", "one syncer held"],
)
def test_sigkill_during_a_burst_keeps_every_acknowledged_write(
    tmp_path: Path, compaction: str
) -> None:
    """Killed mid-burst: without compaction; after the journal was compacted several times
    (20 kB threshold); while a snapshot is being written (the old snapshot + journals must
    restore); and with one of the two syncers stopped for the last part of the burst (its
    batch acknowledged through the other's syncs)."""
    directory = tmp_path / "state"
    compacting = compaction in ("after", "during")
    extra = ("--compact-journal-mb", "0.02") if compacting else ()
    server = _start(directory, *extra)
    before = _setup(server)
    burst = Burst(server, workers=6, stop_after=400)
    for thread in burst.threads:
        thread.start()
    assert burst.enough.wait(timeout=120)
    if compaction == "during":
        _stop_mid_compaction(server, directory)
    held = _hold_a_syncer(server, burst) if compaction == "one syncer held" else None
    _kill(server)  # mid-burst: requests in flight on every worker
    if held is not None:
        os.kill(held, signal.SIGKILL)  # stopped, it would never read its end of file
    if compaction == "during":
        assert _compacting(directory)  # killed before the new snapshot was installed
    for thread in burst.threads:
        thread.join(timeout=60)
    assert not burst.errors  # every reply before the kill was a success
    names = {p.name for p in directory.iterdir()}
    if compacting:
        assert any(name.startswith("snapshot.") and name[9:].isdigit() for name in names), names

    restarted = _start(directory, *extra)
    assert "WARNING" not in restarted.stderr()
    assert not _compacting(directory)  # an unfinished snapshot is removed
    iot, data = restarted.client("iot"), restarted.client("iot-data")
    jobs = restarted.client("iot-jobs-data")
    group = iot.describe_thing_group(thingGroupName="fleet")
    group.pop("ResponseMetadata")
    before["group"].pop("ResponseMetadata")
    assert group == before["group"]
    with pytest.raises(ClientError, match="ConflictException"):  # the version is there
        iot.create_package_version(packageName="app", versionName="1.0")
    _check_acknowledged(burst, iot, data, jobs)
    for i in range(4):
        package = data.get_thing_shadow(thingName=f"car-{i}", shadowName="$package")
        assert orjson.loads(package["payload"].read())["state"]["reported"]["app"] == {
            "version": "1.0"
        }
    # Consistent: the listing agrees with describe, and new writes get fresh ids.
    listed = {t["thingName"] for t in _all_things(iot)}
    assert all(_exists(iot, name) for name in list(listed)[:50])
    created = iot.create_thing(thingName="after-restart")
    assert created["thingId"] not in {
        iot.describe_thing(thingName=name)["thingId"] for name in list(listed)[:50]
    }
    finish(restarted)


def _check_acknowledged(burst: Burst, iot: Any, data: Any, jobs: Any) -> None:
    """Every write the burst's workers saw acknowledged is in the restored state."""
    for acked in burst.acked:
        final: dict[str, str] = {}
        for kind, name in acked:
            final[name] = kind
            if kind == "started":
                execution = jobs.describe_job_execution(jobId="update", thingName=name)
                assert execution["execution"]["status"] == "IN_PROGRESS"
        # The request in flight at the kill, after the last acknowledged one, may or may not
        # have been applied: it is on disk as soon as it is written, before its sync.
        last = acked[-1][1] if acked else ""
        for name, kind in final.items():
            if kind == "created":  # its shadow update may or may not have been applied
                assert _exists(iot, name)
            elif kind == "shadow" and name == last and not _exists(iot, name):
                assert int(name.rsplit("-", 1)[1]) % 3 == 2  # its delete was the one in flight
            elif kind == "shadow":
                shadow = orjson.loads(data.get_thing_shadow(thingName=name)["payload"].read())
                assert shadow["state"]["reported"]["i"] == int(name.rsplit("-", 1)[1])
                assert shadow["version"] == 1
            elif kind == "deleted":
                assert not _exists(iot, name)


def _all_things(iot: Any) -> list[dict[str, Any]]:
    things: list[dict[str, Any]] = []
    token = ""
    while True:
        page = iot.list_things(maxResults=250, **({"nextToken": token} if token else {}))
        things += page["things"]
        token = page.get("nextToken", "")
        if not token:
            return things


@pytest.mark.parametrize("compact", [False, True])
def test_restore_after_sigterm(tmp_path: Path, compact: bool) -> None:
    """A clean stop; with ``compact`` the journal is past an eighth of the threshold, so the
    state is snapshotted at shutdown and the next start loads it."""
    directory = tmp_path / "state"
    extra = ("--compact-journal-mb", "0.01") if compact else ()
    server = _start(directory, *extra)
    _setup(server)
    cert = server.client("iot").create_keys_and_certificate(setAsActive=True)
    finish(server)  # SIGTERM, exit 0
    names = {p.name for p in directory.iterdir()}
    assert any(name.startswith("snapshot.") for name in names) == compact, names

    restarted = _start(directory, *extra)
    iot = restarted.client("iot")
    described = iot.describe_certificate(certificateId=cert["certificateId"])
    assert described["certificateDescription"]["certificatePem"] == cert["certificatePem"]
    executions = iot.list_job_executions_for_job(jobId="update")["executionSummaries"]
    assert len(executions) == 4
    assert "restored" in restarted.stderr()
    finish(restarted)


def test_a_torn_last_record_is_dropped_with_a_warning(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    server = _start(directory)
    server.client("iot").create_thing(thingName="kept")
    finish(server)
    journal = directory / "journal.log"
    whole = frame(b"a record that was being written when the process died")
    with journal.open("ab") as file:
        file.write(whole[:-7])

    restarted = _start(directory)
    assert _exists(restarted.client("iot"), "kept")
    log = restarted.stderr()
    assert "WARNING" in log and "torn last record" in log, log
    restarted.client("iot").create_thing(thingName="next")  # appends after the cut
    finish(restarted)
    again = _start(directory)
    assert _exists(again.client("iot"), "next")
    assert "WARNING" not in again.stderr()
    finish(again)


def _serve_fails(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _corrupt_middle(directory: Path) -> None:
    journal = directory / "journal.log"
    data = bytearray(journal.read_bytes())
    data[20] ^= 0x55  # inside the first record's payload, with records after it
    journal.write_bytes(bytes(data))


def _bad_meta(directory: Path) -> None:
    (directory / "meta.json").write_text("{not json")


def _future_format(directory: Path) -> None:
    meta = orjson.loads((directory / "meta.json").read_bytes())
    meta["format"] = 99
    (directory / "meta.json").write_bytes(orjson.dumps(meta))


def _foreign_journal(directory: Path) -> None:
    (directory / "journal.log").write_bytes(b"FSJRNL07" + b"\0" * 40)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_corrupt_middle, "damaged record"),
        (_bad_meta, "meta.json is unreadable"),
        (_future_format, "state format 99"),
        (_foreign_journal, "format"),
    ],
)
def test_a_corrupt_state_dir_is_one_line_and_exit_2(
    tmp_path: Path, damage: Any, message: str
) -> None:
    directory = tmp_path / "state"
    server = _start(directory)
    for i in range(3):
        server.client("iot").create_thing(thingName=f"t{i}")
    finish(server)
    damage(directory)
    proc = _serve_fails("--state-dir", str(directory))
    assert proc.returncode == 2, proc
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert message in lines[0] and "Traceback" not in proc.stderr


def test_a_state_dir_that_is_a_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    proc = _serve_fails("--state-dir", str(path))
    assert proc.returncode == 2, proc
    assert proc.stderr.strip().splitlines() == [
        f"fleetsim serve: error: --state-dir {path}: not a directory"
    ]


def test_without_state_dir_nothing_is_written(tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path), TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--auth", "none"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("fleetsim serve: listening on "), line
    server = Server(process, line.split()[-1], tmp_path / "unused", ())
    server.client("iot").create_thing(thingName="ephemeral")
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert process.returncode == 0
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["tmp"]


def test_device_writes_over_mqtt_survive_sigkill(tmp_path: Path) -> None:
    with Mosquitto(tmp_path / "broker") as broker:
        args = ("--mqtt", broker.uri, "--state-dir", str(tmp_path / "state"))
        server = serve_mqtt(*args)
        iot = server.client("iot")
        arn = iot.create_thing(thingName="car")["thingArn"]
        iot.create_job(jobId="job-1", targets=[arn], document='{"op":"x"}')
        prefix = "$aws/things/car"
        with device(broker.port, "car") as car:
            car.subscribe(f"{prefix}/jobs/+/accepted")
            car.subscribe(f"{prefix}/jobs/+/+/accepted")
            car.subscribe(f"{prefix}/shadow/update/accepted")
            car.publish(f"{prefix}/jobs/start-next", {"clientToken": "s"})
            assert car.expect(f"{prefix}/jobs/start-next/accepted")["execution"]["jobId"] == "job-1"
            car.publish(f"{prefix}/jobs/job-1/update", {"status": "SUCCEEDED"})
            car.expect(f"{prefix}/jobs/job-1/update/accepted")
            for i in range(1, 30):
                car.publish(f"{prefix}/shadow/update", {"state": {"reported": {"i": i}}})
                assert car.expect(f"{prefix}/shadow/update/accepted")["version"] == i
            for i in range(30, 60):  # in flight when the server dies
                car.client.publish(
                    f"{prefix}/shadow/update", orjson.dumps({"state": {"reported": {"i": i}}}), 1
                )
            _kill(server)

        restarted = serve_mqtt(*args)
        shadow = orjson.loads(
            restarted.client("iot-data").get_thing_shadow(thingName="car")["payload"].read()
        )
        assert shadow["state"]["reported"]["i"] >= 29  # every acknowledged update, maybe more
        assert shadow["version"] == shadow["state"]["reported"]["i"]  # and nothing half-applied
        execution = restarted.client("iot-jobs-data").describe_job_execution(
            jobId="job-1", thingName="car"
        )
        assert execution["execution"]["status"] == "SUCCEEDED"
        finish(restarted)
