"""The ``$package`` history in a run's event log: every record kind from real runs, a history
complete enough to re-derive the report's verdicts, and the same log for the same seed."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import orjson
import pytest

from simulator.core.errors import UsageError
from simulator.engine.eventlog import EventLog
from simulator.engine.scenario import load_scenario
from simulator.engine.world import World
from simulator.lab.explain import explain
from simulator.lab.history import KINDS, DeviceHistory, Op, device_history, records
from tests.fleetsim_cli import ROOT, fleetsim

RACES = ROOT / "scenarios" / "races"


def _run(out: Path, scenario: Path, *args: str) -> dict[str, object]:
    done = fleetsim("run", scenario, "--out", out, "--quiet", *args)
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = orjson.loads((out / "report.json").read_bytes())
    return report


def _histories(log: Path) -> dict[str, list[Op]]:
    by_device: dict[str, list[Op]] = {}
    for device, op in records(log):
        by_device.setdefault(device, []).append(op)
    return by_device


@pytest.fixture(scope="module")
def lost_update(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lost-update")
    _run(out, RACES / "lost-update.toml", "--devices", "300")
    return out


def test_the_history_is_complete_enough_to_rederive_the_report(lost_update: Path) -> None:
    report = orjson.loads((lost_update / "report.json").read_bytes())
    histories = _histories(lost_update / "events.jsonl.gz")
    assert len(histories) == 300
    causes: Counter[str] = Counter()
    for device, ops in histories.items():
        assert ops[0].kind == "init" and [op.seq for op in ops] == list(range(len(ops)))
        # Every accepted write is the next shadow version: no $package write went unrecorded.
        version = ops[0].fields["v"]
        for op in ops:
            if op.kind == "write" and op.fields["ans"] == "accepted":
                assert op.fields["v"] == version + 1, (device, op)
                version = op.fields["v"]
        # Every transition starts where the execution's previous one ended.
        last: dict[tuple[str, int], str | None] = {}
        for op in ops:
            if op.kind == "exec":
                key = (op.fields["job"], op.fields["n"])
                assert op.fields["from"] == last.get(key), (device, op)
                last[key] = op.fields["to"]
        try:
            causes[explain(DeviceHistory(device, tuple(ops))).cause] += 1
        except UsageError:
            causes["consistent"] += 1
    shadow = report["shadow"]
    assert causes.pop("consistent") == shadow["consistent"]
    assert dict(causes) == shadow["by_cause"]


def test_the_same_seed_writes_the_same_log(lost_update: Path, tmp_path: Path) -> None:
    _run(tmp_path, RACES / "lost-update.toml", "--devices", "300")
    first = gzip.decompress((lost_update / "events.jsonl.gz").read_bytes())
    assert first == gzip.decompress((tmp_path / "events.jsonl.gz").read_bytes())
    assert first.count(b'"k":"') > 1000


@pytest.mark.slow
def test_a_run_records_every_kind(tmp_path: Path) -> None:
    # The quickstart with more reboots (rollbacks), and a second writer that sends the version
    # it read (409s); a quarter of its devices report $package themselves.
    text = (ROOT / "scenarios" / "quickstart.toml").read_text()
    text = text.replace(
        '"jobs/install-package.json"', f'"{ROOT}/scenarios/jobs/install-package.json"'
    )
    text = text.replace("reboot_probability = 0.03", "reboot_probability = 0.3")
    text += (
        '\n[[writers]]\nname = "careful-sync"\nrate_per_s = 5.0\ndelay = "uniform(2, 20)"\n'
        'use_version = true\npackages = ["agent"]\n'
    )
    scenario = tmp_path / "every-kind.toml"
    scenario.write_text(text)
    _run(tmp_path / "a", scenario, "--devices", "400")
    _run(tmp_path / "b", RACES / "null-uninstall-readd.toml", "--devices", "100")
    seen: Counter[tuple[str, str]] = Counter()
    for run in ("a", "b"):
        for _device, op in records(tmp_path / run / "events.jsonl.gz"):
            seen[op.kind, ""] += 1
            seen[op.kind, op.actor] += 1
            if op.kind == "write":
                seen["ans", op.fields["ans"]] += 1
            elif op.kind == "inv":
                seen["op", op.fields["op"]] += 1
            elif op.kind == "exec":
                seen["to", op.fields["to"]] += 1
    wanted = [
        *((kind, "") for kind in KINDS if kind != "delete"),  # no scenario deletes $package
        ("read", "cmdb-sync"), ("read", "careful-sync"),
        ("write", "jobs"), ("write", "device"), ("write", "cmdb-sync"), ("write", "careful-sync"),
        ("write", "asset-inventory"),
        ("ans", "accepted"), ("ans", "409"),
        ("op", "install"), ("op", "uninstall"), ("op", "rollback"),
        ("exec", "jobs"), ("exec", "device"), ("exec", "timeout"),
        ("to", "QUEUED"), ("to", "IN_PROGRESS"), ("to", "SUCCEEDED"), ("to", "TIMED_OUT"),
    ]  # fmt: skip
    assert [key for key in wanted if not seen[key]] == []


def test_a_deleted_package_shadow_is_recorded(tmp_path: Path) -> None:
    world = World(load_scenario(RACES / "lost-update.toml").with_devices(3))
    log = EventLog(tmp_path / "events.jsonl.gz", world.start)
    world.record_history(log)
    thing = world.devices[1].name
    world.emulator.shadows.delete_thing_shadow(thing_name=thing, shadow_name="$package")
    log.close()
    ops = device_history(tmp_path / "events.jsonl.gz", thing).ops
    assert [op.kind for op in ops] == ["init", "delete"]
    assert ops[0].fields["v"] == 1 and ops[0].fields["pkg"] == ops[0].fields["inv"]
    with pytest.raises(UsageError, match="agrees"):
        explain(device_history(tmp_path / "events.jsonl.gz", world.devices[0].name))
    verdict = explain(DeviceHistory(thing, ops))
    assert (verdict.anomaly, verdict.cause) == ("deleted", "missing_entry")
