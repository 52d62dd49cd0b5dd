"""Long request work in slices: ``HttpApi.start`` returns a Pending for SearchIndex, errors in
any slice are answered AWS-shaped (or as the one 500), and the server yields between slices."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict

from simulator.api.http import slices
from simulator.api.http.dispatch import HttpApi, Pending, Reply
from simulator.core.arn import Scope
from simulator.core.errors import InvalidQueryException
from simulator.services.index.results import SearchHit, SearchPage
from simulator.services.registry import Registry
from simulator.services.runtime import Runtime

SEARCH = ("POST", "/indices/search", CIMultiDict({"content-type": "application/json"}))
NOTHING = SearchPage((), None)


def _page_of(name: str) -> SearchPage:
    thing = Registry(Runtime(), Scope()).create_thing(thing_name=name)
    return SearchPage((SearchHit(thing, {}),), None)


class _Work:
    """Scripted resumable work: ``steps`` slices, then ``outcome`` (a result or an error)."""

    def __init__(self, steps: int, outcome: Any) -> None:
        self.left = steps
        self.outcome = outcome
        self.sizes: list[int | None] = []

    def step(self, max_items: int | None = None, /) -> bool:
        self.sizes.append(max_items)
        self.left -= 1
        if self.left <= 0 and isinstance(self.outcome, Exception):
            raise self.outcome
        return self.left <= 0

    def result(self) -> Any:
        return self.outcome


class _Index:
    def __init__(self, work: _Work) -> None:
        self.work = work
        self.calls: list[dict[str, Any]] = []

    def search_index(self, **kwargs: Any) -> Any:
        raise AssertionError("the dispatcher must prefer start_search_index")

    def start_search_index(self, **kwargs: Any) -> _Work:
        self.calls.append(kwargs)
        return self.work


class _Plane:
    def __init__(self, work: _Work) -> None:
        self.index = _Index(work)


def _api(work: _Work) -> HttpApi:
    return HttpApi(_Plane(work), auth="none")


def _start(api: HttpApi, query: str = "thingName:a*") -> Reply | Pending:
    method, target, headers = SEARCH
    return api.start(method, target, headers, orjson.dumps({"queryString": query}))


def test_start_returns_pending_and_handle_runs_it_to_the_end() -> None:
    work = _Work(3, _page_of("a1"))
    pending = _start(_api(work))
    assert isinstance(pending, Pending)
    assert work.sizes == []  # nothing evaluated before the first resume
    assert pending.resume(7) is pending
    assert pending.resume(8) is pending
    reply = pending.resume(9)
    assert isinstance(reply, Reply)
    assert reply.status == 200
    assert [t["thingName"] for t in orjson.loads(reply.body)["things"]] == ["a1"]
    assert work.sizes == [7, 8, 9]

    again = _Work(2, NOTHING)
    method, target, headers = SEARCH
    reply = _api(again).handle(method, target, headers, b'{"queryString": "*"}')
    assert reply.status == 200 and len(again.sizes) == 2


def test_an_aws_error_in_a_slice_is_answered() -> None:
    pending = _start(_api(_Work(2, InvalidQueryException("Invalid query: too much"))))
    assert isinstance(pending, Pending)
    assert pending.resume() is pending
    reply = pending.resume()
    assert isinstance(reply, Reply)
    assert (reply.status, reply.error_type) == (400, "InvalidQueryException")


def test_any_other_error_in_a_slice_is_the_one_500(caplog: pytest.LogCaptureFixture) -> None:
    pending = _start(_api(_Work(1, KeyError("boom"))))
    assert isinstance(pending, Pending)
    reply = pending.resume()
    assert isinstance(reply, Reply)
    assert (reply.status, reply.error_type) == (500, "InternalFailureException")
    assert "unhandled error answering POST /indices/search" in caplog.text


def test_validation_errors_come_before_any_work() -> None:
    work = _Work(1, NOTHING)
    method, target, headers = SEARCH
    reply = _api(work).start(method, target, headers, b'{"maxResults": 5}')  # no queryString
    assert isinstance(reply, Reply) and reply.status == 400
    assert work.sizes == []


def test_finish_yields_to_the_loop_between_slices() -> None:
    work = _Work(5, NOTHING)
    seen: list[str] = []

    class Tracing(_Work):
        def step(self, max_items: int | None = None, /) -> bool:
            seen.append("slice")
            return work.step(max_items)

    async def other() -> None:
        for _ in range(4):
            seen.append("other")
            await asyncio.sleep(0)

    async def main() -> Reply:
        pending = _start(_api(Tracing(0, NOTHING)))
        other_task = asyncio.create_task(other())
        reply = await slices.finish(pending)
        await other_task
        return reply

    reply = asyncio.run(main())
    assert reply.status == 200
    assert seen.count("slice") == 5
    # The other task ran before the first slice and between every two, while it had work.
    assert seen == ["other", "slice"] * 4 + ["slice"]
    assert work.sizes[0] == slices.FIRST_SLICE
    assert all(1 <= n <= size * slices.GROWTH for size, n in itertools.pairwise(work.sizes))
