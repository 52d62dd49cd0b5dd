"""Group commit with pipelined syncs (``simulator.api.durable.commit``), with its real syncer
processes on a real file: a later sync's completion releases an earlier batch still in flight,
nothing is released before its records are written, and releases keep append order.

Syncers are held with SIGSTOP to fix which batch each one has; nothing here sleeps to prove that
something did not happen: a future checked "not done" depends on a stopped syncer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.api.durable.commit import GroupCommitWriter
from simulator.api.durable.log import MAGIC, scan


def _new_journal(path: Path) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    os.write(fd, MAGIC)
    return fd


async def _settled(writer: GroupCommitWriter) -> None:
    """Until no request is in flight and everything appended is durable (bounded)."""
    for _ in range(2000):
        if writer.in_flight == 0 and not writer.pending:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the syncers never settled")


@contextlib.asynccontextmanager
async def _writer(path: Path, syncs: int = 2) -> AsyncIterator[GroupCommitWriter]:
    fd = _new_journal(path)
    fatal: list[OSError] = []
    writer = GroupCommitWriter(fd, path, on_fatal=fatal.append, syncs_in_flight=syncs)
    try:
        await _settled(writer)  # both syncers have opened the file
        yield writer
    finally:
        for pid in writer.syncer_pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)  # a stopped syncer would never see its EOF
        writer.close()
        os.close(fd)
    assert not fatal


async def _turns(predicate: object, limit: int = 100) -> None:
    for _ in range(limit):  # loop turns, not time: the submit is a call_soon away
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0)
    raise AssertionError("not reached within the loop turns")


def test_a_later_sync_covers_an_earlier_batch_still_in_flight(tmp_path: Path) -> None:
    async def run() -> None:
        path = tmp_path / "journal.log"
        async with _writer(path) as writer:
            assert len(writer.syncer_pids) == 2
            first = writer.syncer_pids[0]
            os.kill(first, signal.SIGSTOP)
            writer.append(b"one")
            one = writer.durable()
            await _turns(lambda: writer.in_flight == 1)  # batch 1 went to the stopped syncer
            assert not one.done()  # its only sync cannot have completed
            writer.append(b"two")
            two = writer.durable()
            await _turns(lambda: writer.in_flight == 2)  # two syncs in flight: pipelined
            await asyncio.wait_for(two, 30)  # the second syncer's sync...
            assert one.done()  # ...started after batch 1 was written: it covers it too
            assert writer.in_flight == 1  # the first sync is still held
            os.kill(first, signal.SIGCONT)
            await _settled(writer)
            assert scan(path.read_bytes()).payloads == [b"one", b"two"]

    asyncio.run(run())


def test_with_one_sync_in_flight_a_batch_waits_for_the_running_sync(tmp_path: Path) -> None:
    async def run() -> None:
        path = tmp_path / "journal.log"
        async with _writer(path, syncs=1) as writer:
            (only,) = writer.syncer_pids
            os.kill(only, signal.SIGSTOP)
            writer.append(b"one")
            one = writer.durable()
            await _turns(lambda: writer.in_flight == 1)
            writer.append(b"two")
            two = writer.durable()
            for _ in range(5):  # loop turns: nothing more is submitted while the sync runs
                await asyncio.sleep(0)
            assert writer.in_flight == 1 and not one.done() and not two.done()
            os.kill(only, signal.SIGCONT)
            await asyncio.wait_for(two, 30)
            assert one.done()
            assert scan(path.read_bytes()).payloads == [b"one", b"two"]
        with pytest.raises(ValueError, match="at least 1"):
            GroupCommitWriter(-1, path, on_fatal=print, syncs_in_flight=0)

    asyncio.run(run())


# One step of a schedule: append N records; take a durable() future; register an after()
# callback; let the loop run a turn; hold or release the first syncer; switch journal files.
STEP = st.one_of(
    st.tuples(st.just("append"), st.integers(1, 5)),
    st.tuples(st.sampled_from(["future", "after", "turn", "stop", "cont", "rotate"])),
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, max_size=25))
def test_releases_keep_append_order_and_follow_the_writes(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[object, ...]]
) -> None:
    """Under any schedule: a released tag's records are in the file; futures and callbacks are
    released in the order they were taken; at the end all are, and the files hold every record
    in order."""
    directory = tmp_path_factory.mktemp("commit")
    asyncio.run(_schedule(directory, steps))


async def _schedule(directory: Path, steps: list[tuple[object, ...]]) -> None:
    paths = [directory / "journal.log"]
    records: list[bytes] = []
    futures: list[tuple[int, asyncio.Future[None]]] = []
    called: list[int] = []
    callbacks: list[int] = []
    fds: list[int] = []
    async with _writer(paths[0]) as writer:
        held = False

        def check() -> None:
            on_disk = [p for path in paths for p in scan(path.read_bytes()).payloads]
            done = [tag for tag, future in futures if future.done()]
            assert done == [tag for tag, _ in futures[: len(done)]]  # a prefix, in order
            assert called == callbacks[: len(called)]
            for tag in done + called:
                assert on_disk[:tag] == records[:tag]  # written before released

        for step in steps:
            kind = step[0]
            if kind == "append":
                for _ in range(int(step[1])):  # type: ignore[call-overload]
                    records.append(f"record {len(records)}".encode())
                    writer.append(records[-1])
            elif kind == "future":
                futures.append((writer.appended, writer.durable()))
            elif kind == "after":
                tag = writer.appended
                callbacks.append(tag)
                writer.after(lambda tag=tag: called.append(tag))  # type: ignore[misc]
            elif kind == "turn":
                await asyncio.sleep(0)
            elif kind in ("stop", "cont") and held != (kind == "stop"):
                held = kind == "stop"
                os.kill(writer.syncer_pids[0], signal.SIGSTOP if held else signal.SIGCONT)
            elif kind == "rotate":
                paths.append(directory / f"journal.{len(paths)}.log")
                fds.append(_new_journal(paths[-1]))
                writer.rotate(fds[-1], paths[-1])
            check()
        if held:
            os.kill(writer.syncer_pids[0], signal.SIGCONT)
        await asyncio.wait_for(writer.drain(), 30)
        check()
        assert all(future.done() for _, future in futures)
        assert called == callbacks
        assert [p for path in paths for p in scan(path.read_bytes()).payloads] == records
    for fd in fds:
        os.close(fd)
