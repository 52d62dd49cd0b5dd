"""``--state-dir`` in process: the journal's framing, and replay reproducing the exact state.

The end-to-end checks (real processes, SIGKILL, boto3, MQTT) are in ``test_state_dir.py``.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict

from simulator.api.durable import Settings, StateDir, StateError
from simulator.api.durable.journal import READ_PREFIXES
from simulator.api.durable.log import MAGIC, JournalCorrupt, frame, scan
from simulator.api.durable.wiring import restore_plane
from simulator.api.http import ServerConfig
from simulator.api.http.dispatch import HttpApi
from simulator.api.http.operations import compile_routes

# -- the file format ---------------------------------------------------------------------------

RECORDS = [b"first", b"second record", b"x" * 300]
WHOLE = MAGIC + b"".join(frame(r) for r in RECORDS)


def test_scan_reads_every_frame() -> None:
    found = scan(WHOLE)
    assert found.payloads == RECORDS
    assert (found.end, found.torn) == (len(WHOLE), 0)


@pytest.mark.parametrize("cut", range(1, len(frame(RECORDS[-1]))))
def test_a_last_frame_cut_anywhere_is_a_torn_tail(cut: int) -> None:
    data = WHOLE[:-cut]
    found = scan(data)
    assert found.payloads == RECORDS[:-1]
    assert found.end == len(WHOLE) - len(frame(RECORDS[-1]))
    assert found.torn == len(data) - found.end


def test_zeros_after_the_last_frame_are_a_torn_tail() -> None:
    found = scan(WHOLE + bytes(4096))
    assert found.payloads == RECORDS
    assert found.torn == 4096


def test_a_damaged_last_frame_is_a_torn_tail() -> None:
    data = bytearray(WHOLE)
    data[-1] ^= 0xFF
    found = scan(bytes(data))
    assert found.payloads == RECORDS[:-1]


@pytest.mark.parametrize("where", ["header", "payload"])
def test_damage_before_intact_frames_is_corruption(where: str) -> None:
    data = bytearray(WHOLE)
    offset = len(MAGIC) + (1 if where == "header" else 13)  # inside the first frame
    data[offset] ^= 0x01
    with pytest.raises(JournalCorrupt, match="damaged record"):
        scan(bytes(data))


def test_another_format_or_file_is_refused() -> None:
    with pytest.raises(JournalCorrupt, match="format"):
        scan(b"FSJRNL99" + WHOLE[8:])
    with pytest.raises(JournalCorrupt, match="not a fleetsim journal"):
        scan(b"hello world, not a journal")
    assert scan(MAGIC[:3]).torn == 3  # killed while writing the magic


def test_every_route_method_is_classified_as_aws_does() -> None:
    """Reads (never recorded) are exactly the Describe/List/Get/Search operations."""
    for operation in compile_routes():
        name = operation.route.operation
        is_read = re.match(r"(Describe|List|Get|Search)[A-Z]", name) is not None
        assert operation.method_name.startswith(READ_PREFIXES) == is_read, name


# -- replay ------------------------------------------------------------------------------------


class FakeWall:
    """The real clock the journal stamps calls with, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


CONFIG = ServerConfig(rollout_per_minute=2)
SETTINGS = Settings(CONFIG.region, CONFIG.account_id, CONFIG.rollout_per_minute)


def _open(directory: Path, wall: FakeWall) -> tuple[StateDir, Any]:
    state = StateDir.open(directory, SETTINGS, ca=None, wall=wall)
    plane = restore_plane(state, CONFIG, asyncio.get_running_loop())
    return state, plane


def _get(plane: Any, target: str) -> Any:
    reply = HttpApi(plane, auth="none").handle("GET", target, CIMultiDict(), b"")
    assert reply.status == 200, (target, reply.body)
    return orjson.loads(reply.body)


def _view(plane: Any) -> dict[str, Any]:
    """Everything the APIs show of the state the test builds (timestamps included)."""
    things = _get(plane, "/things?maxResults=250")
    return {
        "things": things,
        "described": [_get(plane, f"/things/{t['thingName']}") for t in things["things"]],
        "group": _get(plane, "/thing-groups/fleet"),
        "job": _get(plane, "/jobs/rollout"),
        "executions": _get(plane, "/jobs/rollout/things"),
        "shadow": _get(plane, "/things/thing-0/shadow?name=%24package"),
        "certificates": _get(plane, "/certificates"),
    }


async def _is(plane: Any, count: int) -> bool:
    return len(_get(plane, "/jobs/rollout/things")["executionSummaries"]) == count


async def _until(predicate: Any) -> None:
    for _ in range(500):  # bounded: each turn yields to the loop, which runs due timers
        if await predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


def test_replay_reproduces_the_state_and_the_rollout_continues(tmp_path: Path) -> None:
    async def scenario() -> None:
        wall = FakeWall()
        state, plane = _open(tmp_path, wall)
        registry = plane.registry
        registry.create_thing_group(thing_group_name="fleet")
        group = _get(plane, "/thing-groups/fleet")["thingGroupArn"]
        for i in range(5):
            wall.now += 0.5
            registry.create_thing(thing_name=f"thing-{i}", attribute_payload=None)
            registry.add_thing_to_thing_group(thing_group_name="fleet", thing_name=f"thing-{i}")
        registry.create_thing(thing_name="gone")
        registry.delete_thing(thing_name="gone")
        plane.shadows.update_thing_shadow(
            thing_name="thing-0",
            shadow_name="$package",
            payload=b'{"state":{"reported":{"app":{"version":"1.0"}}}}',
        )
        plane.security.create_keys_and_certificate(set_as_active=True)
        wall.now += 1
        plane.jobs.create_job(job_id="rollout", targets=[group], document='{"op":"x"}')
        await _until(lambda: _is(plane, 2))  # 2 a minute: the first tick releases 2
        plane.jobs_data.update_job_execution(
            thing_name="thing-0", job_id="rollout", status="IN_PROGRESS"
        )
        before = _view(plane)
        await state.close()

        restored_state, restored = _open(tmp_path, wall)
        assert _view(restored) == before  # ids, ARNs, versions, timestamps
        wall.now += 61  # the next minute: the restored rollout timer releases 2 more
        await _until(lambda: _is(restored, 4))
        wall.now += 61
        await _until(lambda: _is(restored, 5))
        restored.registry.create_thing(thing_name="after")
        ids = {d["thingId"] for d in before["described"]}
        assert _get(restored, "/things/after")["thingId"] not in ids  # the id counter too
        await restored_state.close()

    asyncio.run(scenario())


def test_a_directory_with_foreign_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StateError, match="not a fleetsim state directory"):
        StateDir.open(tmp_path, SETTINGS, ca=None)


def test_other_settings_are_refused(tmp_path: Path) -> None:
    asyncio.run(StateDir.open(tmp_path / "d", SETTINGS, ca=None).close())  # created
    other = Settings("eu-west-1", CONFIG.account_id, CONFIG.rollout_per_minute)
    with pytest.raises(StateError, match="created with region 'us-east-1'"):
        StateDir.open(tmp_path / "d", other, ca=None)
