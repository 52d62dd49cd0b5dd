"""Long index work in slices: the resumable SearchIndex scan and the sliced dynamic-group walks.

Each slice must give exactly what the one pass gave: the same hits in the same order with the
same ``nextToken`` for any step sizes, and the same memberships (and membership events) for a
dynamic group built or updated ``step_things`` things per scheduler callback.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.api.http.dispatch import Resumable
from simulator.api.wire.index import search_index as encode
from simulator.core.errors import InvalidRequestException
from simulator.services.index import IndexOptions
from simulator.services.index.scan import SearchScan
from tests.hypothesis_profiles import examples
from tests.services.test_index import Env

QUERIES = (
    "*",
    "attributes.site:north",
    "attributes.site:n*th OR attributes.zone:[2 TO 5]",
    "thingName:t0* AND NOT attributes.zone:3",
    "attributes.zone>4",
    "attributes.site:nowhere",
)


def fleet(size: int, options: IndexOptions | None = None) -> Env:
    env = Env(options or IndexOptions(build_delay_s=5.0))
    for i in range(size):
        env.thing(f"t{i:03d}", site=("north", "south", "east")[i % 3], zone=str(i % 7))
    return env


def one_pass(env: Env, **kw: Any) -> dict[str, Any]:
    return encode(env.index.search_index(**kw))


def stepped(env: Env, steps: list[int], **kw: Any) -> tuple[dict[str, Any], int]:
    scan = env.index.start_search_index(**kw)
    count = 0
    while not scan.step(steps[count % len(steps)]):
        count += 1
    return encode(scan.result()), count + 1


_FLEET = fleet(60)


@settings(max_examples=examples(100), deadline=None)
@given(
    query=st.sampled_from(QUERIES),
    page_size=st.integers(1, 25),
    pages=st.integers(1, 4),
    steps=st.lists(st.integers(1, 70), min_size=1, max_size=6),
)
def test_stepped_search_equals_one_pass(
    query: str, page_size: int, pages: int, steps: list[int]
) -> None:
    env = _FLEET
    token: str | None = None
    for _ in range(pages):
        kw: dict[str, Any] = {"query_string": query, "max_results": page_size}
        if token is not None:
            kw["next_token"] = token
        expected = one_pass(env, **kw)
        got, _ = stepped(env, steps, **kw)
        assert got == expected
        token = expected.get("nextToken")
        if token is None:
            break


def test_scan_stops_after_the_page_and_one_more_hit() -> None:
    env = fleet(300)
    scan = env.index.start_search_index(query_string="attributes.site:north", max_results=5)
    while not scan.step(1):
        pass
    assert scan.position == 16  # hits t000, t003, ... t015: the page of five and one more
    result = scan.result()
    assert [h.thing.name for h in result.things] == [f"t{i:03d}" for i in range(0, 15, 3)]
    assert result.next_token is not None


def test_steps_are_bounded_by_step_things() -> None:
    env = fleet(25, IndexOptions(build_delay_s=5.0, step_things=4))
    scan = env.index.start_search_index(query_string="attributes.site:nowhere")
    positions = []
    while not scan.step():
        positions.append(scan.position)
    assert positions == [4, 8, 12, 16, 20, 24]
    assert encode(scan.result()) == {"things": []}


def test_a_thing_deleted_or_changed_between_steps() -> None:
    env = fleet(10)
    scan = env.index.start_search_index(query_string="attributes.site:north")
    scan.step(2)  # t000 (a hit) and t001 seen
    env.registry.delete_thing(thing_name="t003")  # not reached yet: skipped
    env.registry.update_thing(
        thing_name="t004", attribute_payload={"attributes": {"site": "north"}}
    )
    env.registry.delete_thing(thing_name="t000")  # already a hit: the page still shows it
    env.thing("t100", site="north")  # after the snapshot: not seen by this scan
    while not scan.step(3):
        pass
    names = [h.thing.name for h in scan.result().things]
    assert names == ["t000", "t004", "t006", "t009"]


def test_result_before_done_and_bad_step_are_programming_errors() -> None:
    scan = fleet(3).index.start_search_index(query_string="*")
    with pytest.raises(ValueError, match="max_docs"):
        scan.step(0)
    with pytest.raises(RuntimeError):
        scan.result()


def test_errors_come_before_any_document() -> None:
    env = fleet(3)
    calls: list[str] = []
    real = env.index._doc

    def counting(thing: Any) -> Any:
        calls.append(thing.name)
        return real(thing)

    env.index._doc = counting  # type: ignore[method-assign]
    with pytest.raises(InvalidRequestException, match="nextToken"):
        env.index.start_search_index(query_string="*", next_token="garbage!")
    with pytest.raises(InvalidRequestException, match="maxResults"):
        env.index.start_search_index(query_string="*", max_results=101)
    assert calls == []


def test_scan_is_what_the_http_layer_drives() -> None:
    scan: Resumable = fleet(3).index.start_search_index(query_string="*")
    assert isinstance(scan, SearchScan)
    assert scan.step(None)


def test_step_things_must_be_positive() -> None:
    with pytest.raises(ValueError, match="step_things"):
        IndexOptions(step_things=0)


# -- dynamic groups ------------------------------------------------------------------------------


def dynamic_run(size: int, step_things: int) -> tuple[Env, list[str], list[tuple[str, str]], int]:
    """Build a dynamic group over ``size`` things; count the scheduler callbacks it took."""
    env = fleet(size, IndexOptions(build_delay_s=5.0, step_things=step_things))
    env.index.create_dynamic_thing_group(
        thing_group_name="north", query_string="attributes.site:north"
    )
    env.membership("north")
    env.clock.now += 5.0
    callbacks = 0
    while (timer := env.timers.pop_due(env.clock.now)) is not None:
        assert timer.callback is not None
        callback, timer.callback = timer.callback, None
        callback()
        callbacks += 1
    return env, env.members("north"), env.membership("north"), callbacks


@pytest.mark.parametrize("step_things", [1, 7, 30, 31, 1000])
def test_sliced_build_equals_one_pass(step_things: int) -> None:
    _, members, events, _ = dynamic_run(31, 10_000)
    env, got_members, got_events, callbacks = dynamic_run(31, step_things)
    assert (got_members, got_events) == (members, events)
    assert callbacks == -(-31 // step_things)  # one callback per slice, rescheduled at once
    assert env.status("north") == "ACTIVE"


def test_build_in_progress_is_not_active_and_sees_later_changes() -> None:
    env = fleet(10, IndexOptions(build_delay_s=5.0, step_things=4))
    env.index.create_dynamic_thing_group(
        thing_group_name="north", query_string="attributes.site:north"
    )
    env.clock.now += 5.0
    first = env.timers.pop_due(env.clock.now)
    assert first is not None and first.callback is not None
    first.callback()  # t000..t003 evaluated
    assert env.status("north") == "BUILDING"
    assert env.members("north") == ["t000", "t003"]
    # t000 changes after the cursor passed it; t001 too; t100 is created mid-build.
    env.registry.update_thing(
        thing_name="t000", attribute_payload={"attributes": {"site": "south"}}
    )
    env.registry.update_thing(
        thing_name="t001", attribute_payload={"attributes": {"site": "north"}}
    )
    env.thing("t100", site="north")
    env.advance()
    assert env.status("north") == "ACTIVE"
    assert env.members("north") == ["t001", "t003", "t006", "t009", "t100"]


def test_update_or_delete_cancels_a_build_in_progress() -> None:
    env = fleet(12, IndexOptions(build_delay_s=5.0, step_things=4))
    env.index.create_dynamic_thing_group(
        thing_group_name="north", query_string="attributes.site:north"
    )
    env.clock.now += 5.0
    first = env.timers.pop_due(env.clock.now)
    assert first is not None and first.callback is not None
    first.callback()
    env.index.update_dynamic_thing_group(
        thing_group_name="north", thing_group_properties={}, query_string="attributes.site:east"
    )
    env.advance()  # the old chain is cancelled; the new build waits for its delay
    assert env.status("north") == "BUILDING"
    env.advance(5.0)
    assert env.members("north") == ["t002", "t005", "t008", "t011"]
    env.index.update_dynamic_thing_group(
        thing_group_name="north", thing_group_properties={}, query_string="attributes.site:south"
    )
    env.clock.now += 5.0
    first = env.timers.pop_due(env.clock.now)
    assert first is not None and first.callback is not None
    first.callback()
    env.index.delete_dynamic_thing_group(thing_group_name="north")
    assert env.timers.next_deadline() is None  # nothing of the chain is left
    env.advance(10.0)
    assert "north" not in env.registry.groups


def test_membership_updates_are_sliced_too() -> None:
    def run(step_things: int) -> tuple[list[str], list[tuple[str, str]], int]:
        env = fleet(23, IndexOptions(build_delay_s=5.0, step_things=step_things))
        env.index.create_dynamic_thing_group(
            thing_group_name="north", query_string="attributes.zone<3"
        )
        env.advance(5.0)
        env.membership("north")
        for i in range(23):  # every thing changes: zone i % 7 becomes (i + 1) % 7
            env.registry.update_thing(
                thing_name=f"t{i:03d}",
                attribute_payload={"attributes": {"zone": str((i + 1) % 7)}},
            )
        callbacks = 0
        while (timer := env.timers.pop_due(env.clock.now)) is not None:
            assert timer.callback is not None
            callback, timer.callback = timer.callback, None
            callback()
            callbacks += 1
        return env.members("north"), env.membership("north"), callbacks

    members, events, one = run(1000)
    assert one == 1
    for step in (1, 5, 22):
        got_members, got_events, callbacks = run(step)
        assert (got_members, got_events) == (members, events)
        assert callbacks == -(-23 // step)


def test_a_change_between_two_update_slices_is_not_lost() -> None:
    env = fleet(9, IndexOptions(build_delay_s=5.0, step_things=4))
    env.index.create_dynamic_thing_group(
        thing_group_name="north", query_string="attributes.site:north"
    )
    env.advance(5.0)
    for i in range(9):
        env.registry.update_thing(
            thing_name=f"t{i:03d}", attribute_payload={"attributes": {"site": "north"}}
        )
    first = env.timers.pop_due(env.clock.now)
    assert first is not None and first.callback is not None
    first.callback()  # four of nine re-evaluated
    env.registry.update_thing(
        thing_name="t000", attribute_payload={"attributes": {"site": "south"}}
    )
    env.advance()
    assert env.members("north") == [f"t{i:03d}" for i in range(1, 9)]
