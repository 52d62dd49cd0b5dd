"""``--state-dir`` in process: the journal's framing, and replay reproducing the exact state.

The end-to-end checks (real processes, SIGKILL, boto3, MQTT) are in ``test_state_dir.py``.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from simulator.api.durable import Settings, StateDir, StateError
from simulator.api.durable.journal import READ_PREFIXES
from simulator.api.durable.log import MAGIC, TORN_SEARCH_BYTES, JournalCorrupt, frame, scan
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


PAYLOADS = st.lists(st.binary(max_size=300), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(payloads=PAYLOADS, data=st.data())
def test_any_torn_tail_gives_back_the_intact_prefix(payloads: list[bytes], data: Any) -> None:
    """What a crash leaves after the synced frames (the last frame cut anywhere, damaged, or
    followed by zeros) is reported as torn, never as corruption, and the frames before it are
    all read."""
    whole = MAGIC + b"".join(frame(p) for p in payloads)
    last = len(frame(payloads[-1]))
    how = data.draw(st.sampled_from(["cut", "damage", "damage, then cut", "zeros"]))
    if how == "cut":
        damaged = whole[: len(whole) - data.draw(st.integers(1, last - 1))]
        kept = payloads[:-1]
    elif how.startswith("damage"):
        at = len(whole) - data.draw(st.integers(1, last))
        damaged = whole[:at] + bytes([whole[at] ^ data.draw(st.integers(1, 255))]) + whole[at + 1 :]
        if how.endswith("cut"):  # two frames of the last batches: one damaged, one cut short
            following = frame(data.draw(st.binary(max_size=300)))
            damaged += following[: data.draw(st.integers(1, len(following) - 1))]
        kept = payloads[:-1]
    else:
        damaged = whole + bytes(data.draw(st.integers(1, 5000)))
        kept = payloads
    found = scan(damaged)
    assert found.payloads == kept
    assert found.end == len(MAGIC) + sum(len(frame(p)) for p in kept)
    assert found.torn == len(damaged) - found.end > 0


@settings(max_examples=200, deadline=None)
@given(payloads=PAYLOADS, data=st.data())
def test_damage_followed_by_an_intact_frame_is_corruption(payloads: list[bytes], data: Any) -> None:
    """A damaged byte in any frame but the last is refused: the frames after it were
    acknowledged, so dropping them silently would lose writes."""
    payloads = [*payloads, b"the last, intact"]
    whole = MAGIC + b"".join(frame(p) for p in payloads)
    at = data.draw(st.integers(len(MAGIC), len(whole) - len(frame(payloads[-1])) - 1))
    damaged = whole[:at] + bytes([whole[at] ^ data.draw(st.integers(1, 255))]) + whole[at + 1 :]
    with pytest.raises(JournalCorrupt, match="damaged record"):
        scan(damaged)


def test_a_long_damaged_stretch_is_corruption_not_a_torn_tail() -> None:
    """Nothing intact after a damaged header, but more than a crash can tear: refused."""
    garbage = b"\x01" * (TORN_SEARCH_BYTES + 1)
    with pytest.raises(JournalCorrupt, match="damaged record header"):
        scan(WHOLE + garbage)
    assert scan(WHOLE + garbage[:4096]).torn == 4096  # a short one is a torn tail


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


# -- compaction --------------------------------------------------------------------------------


def _open_compacting(directory: Path, wall: FakeWall, compact_bytes: int) -> tuple[StateDir, Any]:
    state = StateDir.open(directory, SETTINGS, ca=None, wall=wall, compact_bytes=compact_bytes)
    return state, restore_plane(state, CONFIG, asyncio.get_running_loop())


async def _scenario(
    plane: Any, wall: FakeWall, *, certificate: bool = True, step: Any = None
) -> None:
    """Things, a group, shadows, a certificate, a rollout half released, an execution moved;
    ``step()`` is awaited between the calls (a compaction, in the tests)."""

    async def between() -> None:
        await asyncio.sleep(0)
        if step is not None:
            await step()

    registry = plane.registry
    registry.create_thing_group(thing_group_name="fleet")
    group = _get(plane, "/thing-groups/fleet")["thingGroupArn"]
    for i in range(5):
        wall.now += 0.5
        registry.create_thing(thing_name=f"thing-{i}", attribute_payload={"attributes": {"n": "1"}})
        registry.add_thing_to_thing_group(thing_group_name="fleet", thing_name=f"thing-{i}")
        await between()
    registry.create_thing(thing_name="gone")
    registry.delete_thing(thing_name="gone")
    for version in range(3):
        plane.shadows.update_thing_shadow(
            thing_name="thing-0",
            shadow_name="$package",
            payload=orjson.dumps({"state": {"reported": {"app": {"version": f"1.{version}"}}}}),
        )
        await between()
    if certificate:
        plane.security.create_keys_and_certificate(set_as_active=True)
    wall.now += 1
    plane.jobs.create_job(job_id="rollout", targets=[group], document='{"op":"x"}')
    await _until(lambda: _is(plane, 2))
    await between()  # the rollout's next tick is a pending timer: in the snapshot
    plane.jobs_data.update_job_execution(
        thing_name="thing-0", job_id="rollout", status="IN_PROGRESS"
    )
    await between()


async def _continues(plane: Any, wall: FakeWall) -> None:
    """The restored rollout timer releases the rest, a minute at a time."""
    wall.now += 61
    await _until(lambda: _is(plane, 4))
    wall.now += 61
    await _until(lambda: _is(plane, 5))


def _files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} - {"meta.json", "ca.pem", "ca.key", "lock"}


def test_live_compaction_restores_the_same_state_as_replay(tmp_path: Path) -> None:
    async def scenario() -> None:
        wall = FakeWall()
        replayed_state, replayed = _open_compacting(tmp_path / "replay", wall, 1 << 30)
        await _scenario(replayed, wall, certificate=False)
        wall = FakeWall()
        state, plane = _open_compacting(tmp_path / "compact", wall, 1 << 30)
        compactor = state.compactor
        assert compactor is not None

        async def compact() -> None:
            compactor.compact()
            await _until(_no_child(state))

        await _scenario(plane, wall, certificate=False, step=compact)
        assert compactor.compactions == 10
        before = _view(plane)
        assert _view(replayed) == before  # the same calls at the same instants: the same state
        await state.close(compact=False)
        await replayed_state.close(compact=False)
        generation = compactor.generation
        assert _files(tmp_path / "compact") == {
            f"snapshot.{generation}",
            f"journal.{generation}.log",
        }

        end = wall.now
        after: dict[str, Any] = {}
        for name in ("replay", "compact"):
            wall.now = end
            restored_state, restored = _open_compacting(tmp_path / name, wall, 1 << 30)
            assert _view(restored) == before, name
            await _continues(restored, wall)
            restored.registry.create_thing(thing_name="after")
            ids = {d["thingId"] for d in before["described"]}
            assert _get(restored, "/things/after")["thingId"] not in ids
            _more_writes(restored)
            after[name] = _view(restored), _shadows(restored)
            await restored_state.close(compact=False)
        assert after["compact"] == after["replay"]

    asyncio.run(scenario())


def _more_writes(plane: Any) -> None:
    """Writes over every kind of restored state: shared shadow trees, thing attributes,
    group membership, executions."""
    shadows, registry = plane.shadows, plane.registry
    same = b'{"state":{"reported":{"app":{"version":"1.2"}}}}'  # thing-0's $package tree
    for i in (1, 2):
        shadows.update_thing_shadow(thing_name=f"thing-{i}", shadow_name="$package", payload=same)
    shadows.update_thing_shadow(thing_name="thing-0", shadow_name="$package", payload=same)
    shadows.delete_thing_shadow(thing_name="thing-1", shadow_name="$package")
    shadows.update_thing_shadow(thing_name="thing-3", payload=b'{"state":{"desired":{"x":1}}}')
    registry.update_thing(thing_name="thing-4", attribute_payload={"attributes": {"n": "2"}})
    registry.remove_thing_from_thing_group(thing_group_name="fleet", thing_name="thing-4")
    plane.jobs_data.update_job_execution(thing_name="thing-0", job_id="rollout", status="SUCCEEDED")


def _shadows(plane: Any) -> list[Any]:
    found = []
    for i in range(5):
        for query in ("", "?name=%24package"):
            reply = HttpApi(plane, auth="none").handle(
                "GET", f"/things/thing-{i}/shadow{query}", CIMultiDict(), b""
            )
            found.append((reply.status, orjson.loads(reply.body)))
    return found


def _no_child(state: StateDir) -> Any:
    async def idle() -> bool:
        assert state.compactor is not None
        return state.compactor._child is None

    return idle


def test_a_snapshot_at_clean_shutdown_then_restore(tmp_path: Path) -> None:
    async def scenario() -> None:
        wall = FakeWall()
        state, plane = _open_compacting(tmp_path, wall, 8192)
        await _scenario(plane, wall)
        before = _view(plane)
        assert state.writer is not None
        await state.writer.drain()
        size = (tmp_path / "journal.log").stat().st_size
        assert 8192 // 8 <= size < 8192  # no compaction yet; enough for one at shutdown
        await state.close()
        assert state.compactor is not None
        generation = state.compactor.generation
        assert f"snapshot.{generation}" in _files(tmp_path)
        assert (tmp_path / f"journal.{generation}.log").stat().st_size == len(MAGIC) < size

        restored_state, restored = _open_compacting(tmp_path, wall, 1 << 30)
        assert _view(restored) == before  # the certificate too: the issuer is not replayed
        await _continues(restored, wall)
        await restored_state.close(compact=False)

    asyncio.run(scenario())


def test_killed_during_a_compaction_the_old_generation_restores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot child is stopped half-way through writing, then the server 'dies': the
    previous snapshot and every journal since must restore everything, records appended after
    the fork included."""
    from simulator.api.durable import snapshot  # noqa: PLC0415

    real_write = snapshot.write

    def stalled(path: Path, build: Any) -> None:
        if path.name == "snapshot.2":  # the second compaction never finishes
            data = build()
            with open(f"{path}.tmp", "wb") as file:  # noqa: PTH123 - half a snapshot
                file.write(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGSTOP)
        real_write(path, build)

    monkeypatch.setattr(snapshot, "write", stalled)

    async def scenario() -> None:
        wall = FakeWall()
        state, plane = _open_compacting(tmp_path, wall, 1 << 30)
        assert state.compactor is not None
        plane.registry.create_thing(thing_name="first")
        await asyncio.sleep(0)
        state.compactor.compact()  # generation 1: completes
        await _until(_no_child(state))
        plane.registry.create_thing(thing_name="second")
        await asyncio.sleep(0)
        state.compactor.compact()  # generation 2: stalls half-way
        plane.registry.create_thing(thing_name="third")  # after the fork: journal.2.log
        await _until(lambda: _exists_async(tmp_path / "snapshot.2.tmp"))
        await state.writer.drain() if state.writer else None
        before = _view_things(plane)
        _crash(state)
        assert {"snapshot.1", "journal.1.log", "journal.2.log", "snapshot.2.tmp"} <= _files(
            tmp_path
        )

        restored_state, restored = _open_compacting(tmp_path, wall, 1 << 30)
        assert _view_things(restored) == before
        assert "snapshot.2.tmp" not in _files(tmp_path)  # the unfinished snapshot is removed
        await restored_state.close(compact=False)

    asyncio.run(scenario())


async def _exists_async(path: Path) -> bool:
    return path.exists()


def _view_things(plane: Any) -> Any:
    things = _get(plane, "/things?maxResults=250")
    return things, [_get(plane, f"/things/{t['thingName']}") for t in things["things"]]


def _crash(state: StateDir) -> None:
    """What SIGKILL leaves: no shutdown snapshot, the compaction child gone (it dies with the
    server), its temporary file left behind."""
    compactor, writer = state.compactor, state.writer
    assert compactor is not None and writer is not None
    child = compactor._child
    if child is not None:
        pid, pidfd, _, _ = child
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        asyncio.get_running_loop().remove_reader(pidfd)
        os.close(pidfd)
    writer.close()
    os.close(compactor.fd)
    os.close(state._lock_fd)


def test_a_damaged_snapshot_is_one_line(tmp_path: Path) -> None:
    async def build() -> None:
        wall = FakeWall()
        state, plane = _open_compacting(tmp_path, wall, 1 << 30)
        plane.registry.create_thing(thing_name="t")
        assert state.compactor is not None
        state.compactor.compact()
        await _until(_no_child(state))
        await state.close()

    asyncio.run(build())
    path = tmp_path / "snapshot.1"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x40
    path.write_bytes(bytes(data))

    async def reopen() -> None:
        with pytest.raises(StateError, match=r"snapshot\.1: damaged"):
            _open_compacting(tmp_path, FakeWall(), 1)

    asyncio.run(reopen())
