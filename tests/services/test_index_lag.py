"""The index's lag (``IndexOptions.update_delay_s``): each change reaches dynamic-group membership
that long after it, with the thing as it was at the change, in order."""

from __future__ import annotations

from simulator.services.index import IndexOptions
from tests.services.test_index import Env

QUERY = "shadow.name.$package.reported.agent.version:1.0.0"


def _env(delay: float, **options: int) -> Env:
    env = Env(IndexOptions(build_delay_s=1.0, update_delay_s=delay, **options))
    for name in ("t1", "t2", "t3"):
        env.thing(name)
        env.package(name, agent="1.0.0")
    env.index.create_dynamic_thing_group(thing_group_name="old", query_string=QUERY)
    env.advance(1.0)
    assert env.members("old") == ["t1", "t2", "t3"]
    return env


def _moves(env: Env) -> list[tuple[str, str, str]]:
    return [(e.kind, e.thing, e.group or "") for e in env.events if e.group == "old"]


def test_each_change_is_applied_the_delay_after_it_not_with_an_earlier_batch() -> None:
    env = _env(30.0)
    env.package("t1", agent="1.2.0")
    env.advance(20.0)
    env.package("t2", agent="1.2.0")  # within the first change's lag
    env.advance(10.0)
    assert env.members("old") == ["t2", "t3"]  # t1 30 s after its change; t2 not yet
    env.advance(19.9)
    assert env.members("old") == ["t2", "t3"]
    env.advance(0.1)
    assert env.members("old") == ["t3"]


def test_a_state_shorter_than_the_lag_is_still_applied_late_and_in_order() -> None:
    env = _env(30.0)
    env.events.clear()
    env.package("t1", agent="1.2.0")
    env.advance(5.0)
    env.package("t1", agent="1.0.0")  # a flap back, within the lag
    env.advance(5.0)
    env.package("t1", agent="1.2.0")
    env.advance(20.0)
    assert env.members("old") == ["t2", "t3"]  # the first change: t1 left
    env.advance(5.0)
    assert "t1" in env.members("old")  # the flap's document: back in, 30 s late
    env.advance(5.0)
    assert env.members("old") == ["t2", "t3"]
    kinds = [kind for kind, thing, _ in _moves(env) if thing == "t1"]
    assert len(kinds) == 3 and kinds[0] == kinds[2] != kinds[1]


def test_without_a_lag_a_flap_settled_before_the_flush_moves_nothing() -> None:
    env = _env(0.0)
    env.events.clear()
    env.package("t1", agent="1.2.0")
    env.package("t1", agent="1.0.0")  # both before the flush runs
    env.advance()
    assert env.members("old") == ["t1", "t2", "t3"] and _moves(env) == []


def test_a_long_queue_is_applied_in_slices_of_step_things() -> None:
    env = _env(10.0, step_things=2)
    for name in ("t1", "t2", "t3"):
        env.package(name, agent="1.2.0")
    env.advance(9.0)
    assert len(env.members("old")) == 3
    env.advance(1.0)
    assert env.members("old") == []  # two slices, the second scheduled at once
