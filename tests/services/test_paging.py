"""Key-token paging (:mod:`simulator.core.paging`) at the service level.

A state machine walks ListThings, ListThingsInThingGroup, ListJobExecutionsForJob and
ListJobExecutionsForThing page by page while things, memberships, jobs and executions come and
go between pages: every item present
throughout a walk is listed exactly once, none twice, none that never existed. The cost of a
page is counted in log entries looked at (``OrderLog.visited``), not timed: it must not grow
with the collection or with the page's depth.
"""

from __future__ import annotations

import base64
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from simulator.core.errors import InvalidRequestException
from simulator.core.paging import OrderLog, decode_token, encode_token, key_page
from simulator.services.jobs import JobsOptions
from simulator.services.jobs.records import JobRecord
from tests.hypothesis_profiles import examples
from tests.services.jobs_support import World
from tests.services.test_index import Env

# -- the order log ---------------------------------------------------------------------------


def test_log_keeps_sequence_numbers_across_removals_and_rebuilds() -> None:
    log: OrderLog[str] = OrderLog()
    for i in range(100):
        log.add(f"k{i}")
    for i in range(80):  # past half dead: rebuilt
        log.remove(f"k{i}")
    log.add("k5")  # a removed key comes back: a new entry at the end
    assert len(log) == 21
    assert list(log.entries(95)) == [(95, "k95"), (96, "k96"), (97, "k97"), (98, "k98"),
                                     (99, "k99"), (100, "k5")]  # fmt: skip
    assert [s for s, _ in log.entries(0, 82)] == [80, 81]
    copy = pickle.loads(pickle.dumps(log))  # --state-dir snapshots pickle the services
    assert list(copy.entries()) == list(log.entries()) and copy.next_seq == 101


def test_removed_then_readded_key_is_listed_once_at_its_new_place() -> None:
    log: OrderLog[str] = OrderLog()
    for key in "abc":
        log.add(key)
    log.remove("a")
    log.add("a")
    assert list(log.entries()) == [(1, "b"), (2, "c"), (3, "a")]
    log.remove("a")
    assert list(log.entries()) == [(1, "b"), (2, "c")]


@given(
    kind=st.sampled_from(["things", "search"]),
    parts=st.lists(st.integers(0, 2**40), min_size=1, max_size=1),
)
def test_tokens_round_trip(kind: str, parts: list[int]) -> None:
    token = encode_token(kind, *parts)
    assert token.isascii() and "=" not in token.rstrip("=")
    assert decode_token(token, kind, (int,)) == tuple(parts)


@settings(max_examples=examples(200))
@given(st.one_of(st.text(max_size=80), st.binary(max_size=60).map(
    lambda b: base64.urlsafe_b64encode(b).decode())))  # fmt: skip
def test_any_other_token_is_invalid_request(token: str) -> None:
    try:
        parts = decode_token(token, "things", (int,))
    except InvalidRequestException as exc:
        assert str(exc) == "Invalid nextToken"
    else:
        assert encode_token("things", *parts) == token


def test_foreign_and_malformed_tokens_are_refused() -> None:
    for token in (
        encode_token("search", 3),  # another operation's
        encode_token("things", -1),
        encode_token("things", "3"),
        encode_token("things", 1, 2),
        base64.urlsafe_b64encode(b"o:250").decode(),  # an offset token
        "garbage!",
        "",
    ):
        with pytest.raises(InvalidRequestException, match=r"^Invalid nextToken$"):
            decode_token(token, "things", (int,))


def test_a_filter_rejecting_everything_stops_at_the_budget() -> None:
    log: OrderLog[int] = OrderLog()
    for i in range(1000):
        log.add(i)
    items, token = key_page(log, "things", None, 10, lambda k: None, budget=300)
    assert items == [] and token is not None
    assert decode_token(token, "things", (int,)) == (300,)
    items, token = key_page(log, "things", token, 10, lambda k: k if k > 995 else None)
    assert items == [996, 997, 998, 999] and token is None


# -- a page costs O(page) --------------------------------------------------------------------


def _deep_page_cost(log: OrderLog[Any], call: Any, size: int) -> int:
    """Entries looked at by the page following the one that ends just before the last 3*size."""
    token = None
    seen = 0
    total = len(log)
    while seen < total - 3 * size:
        page_items, token = call(token)
        seen += page_items
    before = log.visited
    call(token)
    return log.visited - before


@pytest.mark.parametrize("fleet", [600, 6000])
def test_list_things_and_group_members_cost_the_page_only(fleet: int) -> None:
    env = Env(configure=False)
    registry = env.registry
    registry.create_thing_group(thing_group_name="g")
    for i in range(fleet):
        registry.create_thing(thing_name=f"t{i:05d}")
        registry.add_thing_to_thing_group(thing_group_name="g", thing_name=f"t{i:05d}")
    for i in range(0, fleet, 7):  # some holes to skip
        registry.delete_thing(thing_name=f"t{i:05d}")

    def things(token: str | None) -> tuple[int, str | None]:
        result = registry.list_things(max_results=50, next_token=token)
        return len(result.things), result.next_token

    def members(token: str | None) -> tuple[int, str | None]:
        result = registry.list_things_in_thing_group(
            thing_group_name="g", max_results=50, next_token=token
        )
        return len(result.names), result.next_token

    # 50 items plus one to know there is more, plus the holes met on the way (one in seven).
    assert _deep_page_cost(registry.thing_order, things, 50) <= 51 + 51 // 6 + 1
    assert _deep_page_cost(registry.groups["g"].order, members, 50) <= 51 + 51 // 6 + 1


@pytest.mark.parametrize("fleet", [500, 5000])
def test_job_executions_and_search_cost_the_page_only(fleet: int) -> None:
    w = World(things=1)
    w.create("job", "t0")
    store = w.jobs_service.store
    job = store.jobs["job"]
    for i in range(1, fleet):
        store.create_execution(job, w.thing(f"t{i}"), 0.0)

    def executions(token: str | None) -> tuple[int, str | None]:
        result = w.jobs_service.list_job_executions_for_job(
            job_id="job", max_results=40, next_token=token
        )
        return len(result.executions), result.next_token

    # The last entry of the previous page again (its later runs), 40, and one more.
    assert _deep_page_cost(job.order, executions, 40) == 42

    env = Env(configure=False)
    env.index.update_indexing_configuration(
        thing_indexing_configuration={"thingIndexingMode": "REGISTRY"}
    )
    env.advance(10.0)
    for i in range(fleet):
        env.thing(f"s{i:05d}")
    page = env.index.search_index(query_string="*", max_results=30)
    for _ in range(fleet // 30 - 2):
        page = env.index.search_index(query_string="*", max_results=30, next_token=page.next_token)
    scan = env.index.start_search_index(
        query_string="*", max_results=30, next_token=page.next_token
    )
    scan.run()
    assert scan.position == 31


def test_status_filter_pages_are_short_not_long() -> None:
    w = World(things=1, options=JobsOptions(scan_budget=100))
    w.create("job", "t0")
    store = w.jobs_service.store
    job = store.jobs["job"]
    for i in range(1, 1000):
        store.create_execution(job, w.thing(f"t{i}"), 0.0)
    w.finish("job", "t999")
    pages, found, token = 0, [], None
    while True:
        before = job.order.visited
        result = w.jobs_service.list_job_executions_for_job(
            job_id="job", status="SUCCEEDED", next_token=token
        )
        assert job.order.visited - before <= 101
        pages += 1
        found += [ex.thing for ex in result.executions]
        token = result.next_token
        if token is None:
            break
    assert found == ["t999"] and pages == 10


# -- walks over a changing collection --------------------------------------------------------


@dataclass
class Walk:
    """One paginated listing in progress."""

    start: set[Any]
    token: str | None = None
    seen: list[Any] = field(default_factory=list)
    removed: set[Any] = field(default_factory=set)
    added: set[Any] = field(default_factory=set)


class PagingMachine(RuleBasedStateMachine):
    """Four listings walked page by page while their collections change between pages."""

    @initialize()
    def setup(self) -> None:
        self.w = World()
        self.w.group("g")
        self.w.thing("seed", "g")
        self.w.create("job", "seed")
        self.store = self.w.jobs_service.store
        self.job: JobRecord = self.store.jobs["job"]
        self.counter = 0
        self.jobs = 0
        self.walks: dict[str, Walk | None] = dict.fromkeys(
            ("things", "members", "executions", "thing-executions")
        )

    # -- what exists now, per listing

    def _current(self, name: str) -> set[Any]:
        if name == "things":
            return set(self.w.registry.things)
        if name == "members":
            return set(self.w.registry.groups["g"].things)
        if name == "thing-executions":
            jobs = self.store.jobs
            return {
                (jid, ex.number)
                for jid in self.store.job_ids_of("seed")
                for ex in jobs[jid].history("seed")
            }
        return {(ex.thing, ex.number) for ex in self.job.all_executions()}

    def _changed(self, before: dict[str, set[Any]]) -> None:
        for name, walk in self.walks.items():
            if walk is not None:
                now = self._current(name)
                walk.removed |= before[name] - now
                walk.added |= now - before[name]

    def _snapshot(self) -> dict[str, set[Any]]:
        return {name: self._current(name) for name in self.walks}

    # -- changes

    @rule(join=st.booleans())
    def add_thing(self, join: bool) -> None:
        before = self._snapshot()
        self.counter += 1
        name = self.w.thing(f"t{self.counter}", *(("g",) if join else ()))
        self.store.create_execution(self.job, name, 0.0)
        self._changed(before)

    @rule(data=st.data())
    def delete_thing(self, data: st.DataObject) -> None:
        names = sorted(self.w.registry.things)
        if names:
            before = self._snapshot()
            self.w.registry.delete_thing(thing_name=data.draw(st.sampled_from(names)))
            self._changed(before)

    @rule(data=st.data())
    def toggle_membership(self, data: st.DataObject) -> None:
        names = sorted(self.w.registry.things)
        if names:
            before = self._snapshot()
            name = data.draw(st.sampled_from(names))
            if name in self.w.registry.groups["g"].things:
                self.w.leave("g", name)
            else:
                self.w.join("g", name)
            self._changed(before)

    @rule(data=st.data(), again=st.booleans())
    def change_execution(self, data: st.DataObject, again: bool) -> None:
        things = sorted(self.job.by_thing)
        if things:
            before = self._snapshot()
            thing = data.draw(st.sampled_from(things))
            if again:  # a re-execution: one more item under the same key
                self.store.create_execution(self.job, thing, 0.0)
            else:
                self.store.remove_execution(self.job.history(thing)[0], 0.0)
            self._changed(before)

    @precondition(lambda self: "seed" in self.w.registry.things)
    @rule()
    def add_job_for_seed(self) -> None:
        before = self._snapshot()
        self.jobs += 1
        self.w.create(f"j{self.jobs}", "seed")
        self._changed(before)

    @rule(data=st.data())
    def delete_seed_execution(self, data: st.DataObject) -> None:
        ids = self.store.job_ids_of("seed")
        if ids:
            before = self._snapshot()
            jid = data.draw(st.sampled_from(ids))
            ex = data.draw(st.sampled_from(list(self.store.jobs[jid].history("seed"))))
            self.w.jobs_service.delete_job_execution(
                job_id=jid, thing_name="seed", execution_number=ex.number, force=True
            )
            self._changed(before)

    # -- walking

    def _page(self, name: str, size: int, token: str | None) -> tuple[list[Any], str | None]:
        if name == "things":
            things = self.w.registry.list_things(max_results=size, next_token=token)
            return [t.name for t in things.things], things.next_token
        if name == "members":
            members = self.w.registry.list_things_in_thing_group(
                thing_group_name="g", max_results=size, next_token=token
            )
            return list(members.names), members.next_token
        if name == "thing-executions":
            mine = self.w.jobs_service.list_job_executions_for_thing(
                thing_name="seed", max_results=size, next_token=token
            )
            return [(ex.job.job_id, ex.number) for ex in mine.executions], mine.next_token
        runs = self.w.jobs_service.list_job_executions_for_job(
            job_id="job", max_results=size, next_token=token
        )
        return [(ex.thing, ex.number) for ex in runs.executions], runs.next_token

    @rule(
        name=st.sampled_from(["things", "members", "executions", "thing-executions"]),
        size=st.integers(1, 4),
    )
    def next_page(self, name: str, size: int) -> None:
        walk = self.walks[name]
        if walk is None:
            walk = self.walks[name] = Walk(self._current(name))
        items, walk.token = self._page(name, size, walk.token)
        assert len(items) <= size
        walk.seen.extend(items)
        if walk.token is None:
            self._check(walk)
            self.walks[name] = None

    @precondition(lambda self: any(w is not None for w in self.walks.values()))
    @rule()
    def finish_walks(self) -> None:
        for name, walk in self.walks.items():
            while walk is not None and walk.token is not None:
                items, walk.token = self._page(name, 3, walk.token)
                walk.seen.extend(items)
            if walk is not None:
                self._check(walk)
            self.walks[name] = None

    @staticmethod
    def _check(walk: Walk) -> None:
        assert len(walk.seen) == len(set(walk.seen)), walk.seen
        missing = walk.start - walk.removed - set(walk.seen)
        assert not missing, missing
        assert set(walk.seen) <= walk.start | walk.added

    @invariant()
    def log_matches_mapping(self) -> None:
        if hasattr(self, "w"):
            assert [k for _, k in self.w.registry.thing_order.entries()] == list(
                self.w.registry.things
            )
            assert [k for _, k in self.job.order.entries()] == list(self.job.by_thing)


PagingMachine.TestCase.settings = settings(
    max_examples=examples(60), stateful_step_count=40, deadline=None
)
test_paging_over_a_changing_collection = PagingMachine.TestCase


def test_recursive_walk_goes_on_when_the_group_it_was_in_is_deleted() -> None:
    w = World()
    w.group("root")
    w.group("a", "root")
    w.group("b", "root")
    for i in range(4):
        w.thing(f"a{i}", "a")
        w.thing(f"b{i}", "b")
    w.join("a", "b1")  # in both: listed under a, where it first appears
    registry = w.registry

    def page(token: str | None) -> tuple[list[str], str | None]:
        result = registry.list_things_in_thing_group(
            thing_group_name="root", recursive=True, max_results=3, next_token=token
        )
        return list(result.names), result.next_token

    first, token = page(None)
    assert first == ["a0", "a1", "a2"]
    for i in range(4):
        w.leave("a", f"a{i}")
    w.leave("a", "b1")
    registry.delete_thing_group(thing_group_name="a")
    rest: list[str] = []
    while token is not None:
        names, token = page(token)
        rest += names
    assert rest == ["b0", "b1", "b2", "b3"]


def test_deeply_nested_or_huge_tokens_are_invalid_not_crashes() -> None:
    nested = base64.urlsafe_b64encode(b"[" * 600 + b"]" * 600).decode()
    deeper = base64.urlsafe_b64encode(b"[" * 100_000).decode()
    for token in (nested, deeper, "A" * 5000):
        with pytest.raises(InvalidRequestException, match="nextToken"):
            decode_token(token, "things", (int,))
