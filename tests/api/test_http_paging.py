"""Paging over HTTP with boto3's paginators: ListThings, ListThingsInThingGroup,
ListJobExecutionsForJob, ListJobExecutionsForThing and SearchIndex (no botocore paginator: by
hand), with things, members and executions added and removed between two pages.

Whatever is present from the first page to the last is listed exactly once; whatever was removed
before its page came is not listed; tokens from elsewhere and bad page sizes are AWS errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.config import Config

from tests.api.conftest import Server, aws_error, eventually


def _walk(
    pages: Iterator[dict[str, Any]], key: str, between: Callable[[int], None]
) -> list[dict[str, Any]]:
    """Every item of every page, calling ``between(n)`` after the n-th page (1-based)."""
    items: list[dict[str, Any]] = []
    for number, page in enumerate(pages, 1):
        items.extend(page[key])
        between(number)
    return items


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def test_list_things_with_things_created_and_deleted_between_pages(iot: Any) -> None:
    batch = _uid()
    names = [f"pg-{batch}-{i:02d}" for i in range(12)]
    for name in names:
        iot.create_thing(thingName=name, attributePayload={"attributes": {"batch": batch}})

    def between(page: int) -> None:
        if page == 1:
            iot.delete_thing(thingName=names[0])  # already listed
            iot.delete_thing(thingName=names[11])  # not reached yet
            iot.create_thing(
                thingName=f"pg-{batch}-new", attributePayload={"attributes": {"batch": batch}}
            )

    pages = iot.get_paginator("list_things").paginate(
        attributeName="batch", attributeValue=batch, PaginationConfig={"PageSize": 5}
    )
    listed = [t["thingName"] for t in _walk(iter(pages), "things", between)]
    assert listed == [*names[:11], f"pg-{batch}-new"]


def test_list_things_in_groups_with_members_joining_and_leaving(iot: Any) -> None:
    batch = _uid()
    parent, child = f"pg-{batch}-parent", f"pg-{batch}-child"
    iot.create_thing_group(thingGroupName=parent)
    iot.create_thing_group(thingGroupName=child, parentGroupName=parent)
    names = [f"pg-{batch}-{i:02d}" for i in range(10)]
    for i, name in enumerate(names):
        iot.create_thing(thingName=name)
        iot.add_thing_to_thing_group(thingGroupName=parent if i < 6 else child, thingName=name)
    iot.add_thing_to_thing_group(thingGroupName=child, thingName=names[1])  # in both

    def between(page: int) -> None:
        if page == 1:
            iot.remove_thing_from_thing_group(thingGroupName=parent, thingName=names[4])
            iot.remove_thing_from_thing_group(thingGroupName=parent, thingName=names[0])
            iot.add_thing_to_thing_group(thingGroupName=parent, thingName=names[0])  # rejoins

    paginator = iot.get_paginator("list_things_in_thing_group")
    pages = paginator.paginate(
        thingGroupName=parent, recursive=True, PaginationConfig={"PageSize": 3}
    )
    listed = _walk(iter(pages), "things", between)
    # names[0] was listed on the first page and rejoined later: it is listed again, at the end
    # of the parent's members (a new membership); names[4] left before its page came.
    assert listed == [
        *names[:3], names[3], names[5], names[0], *names[6:]
    ]  # fmt: skip
    flat = paginator.paginate(thingGroupName=child, PaginationConfig={"PageSize": 2})
    assert [n for p in flat for n in p["things"]] == [*names[6:], names[1]]


def _execution_count(iot: Any, job: str) -> int:
    details = iot.describe_job(jobId=job)["job"]["jobProcessDetails"]
    return int(details.get("numberOfQueuedThings", 0))


def test_list_job_executions_for_job_with_executions_deleted_between_pages(iot: Any) -> None:
    batch = _uid()
    group = f"pg-{batch}"
    arn = iot.create_thing_group(thingGroupName=group)["thingGroupArn"]
    names = [f"pg-{batch}-{i:02d}" for i in range(12)]
    for name in names:
        iot.create_thing(thingName=name)
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
    job = f"pg-job-{batch}"
    iot.create_job(jobId=job, targets=[arn], document="{}")
    assert eventually(lambda: _execution_count(iot, job) == len(names))
    order = [
        s["thingArn"].rsplit("/", 1)[1]
        for p in iot.get_paginator("list_job_executions_for_job").paginate(jobId=job)
        for s in p["executionSummaries"]
    ]
    assert sorted(order) == names

    def between(page: int) -> None:
        if page == 2:
            for gone in (order[0], order[-1]):  # one listed, one not yet
                iot.delete_job_execution(jobId=job, thingName=gone, executionNumber=1, force=True)

    pages = iot.get_paginator("list_job_executions_for_job").paginate(
        jobId=job, status="QUEUED", PaginationConfig={"PageSize": 4}
    )
    listed = _walk(iter(pages), "executionSummaries", between)
    assert [s["thingArn"].rsplit("/", 1)[1] for s in listed] == order[:-1]
    assert {s["jobExecutionSummary"]["status"] for s in listed} == {"QUEUED"}
    none = iot.list_job_executions_for_job(jobId=job, status="SUCCEEDED")
    assert none["executionSummaries"] == [] and "nextToken" not in none


def test_list_job_executions_for_thing_with_jobs_coming_and_going(iot: Any) -> None:
    batch = _uid()
    thing = f"pg-{batch}"
    arn = iot.create_thing(thingName=thing)["thingArn"]
    jobs = [f"pg-job-{batch}-{i}" for i in range(5)]
    for job in jobs:
        iot.create_job(jobId=job, targets=[arn], document="{}")
    assert eventually(lambda: all(_execution_count(iot, j) == 1 for j in jobs))

    late = f"pg-job-{batch}-late"

    def between(page: int) -> None:
        if page == 1:  # the page ended at jobs[1]: its execution goes, and one not reached yet
            iot.delete_job_execution(jobId=jobs[1], thingName=thing, executionNumber=1, force=True)
            iot.delete_job_execution(jobId=jobs[3], thingName=thing, executionNumber=1, force=True)
            iot.create_job(jobId=late, targets=[arn], document="{}")
            assert eventually(lambda: _execution_count(iot, late) == 1)

    pages = iot.get_paginator("list_job_executions_for_thing").paginate(
        thingName=thing, PaginationConfig={"PageSize": 2}
    )
    listed = [s["jobId"] for s in _walk(iter(pages), "executionSummaries", between)]
    assert listed == [jobs[0], jobs[1], jobs[2], jobs[4], late]


def test_search_index_pages_by_hand(iot: Any) -> None:
    iot.update_indexing_configuration(thingIndexingConfiguration={"thingIndexingMode": "REGISTRY"})

    def active() -> bool:
        try:
            return bool(iot.describe_index(indexName="AWS_Things")["indexStatus"] == "ACTIVE")
        except iot.exceptions.ResourceNotFoundException:
            return False

    assert eventually(active)
    batch = _uid()
    names = [f"pg-{batch}-{i:02d}" for i in range(9)]
    for name in names:
        iot.create_thing(thingName=name, attributePayload={"attributes": {"batch": batch}})
    listed: list[str] = []
    token: str | None = None
    for page in range(10):
        kw = {"nextToken": token} if token else {}
        result = iot.search_index(queryString=f"attributes.batch:{batch}", maxResults=4, **kw)
        listed += [t["thingName"] for t in result["things"]]
        token = result.get("nextToken")
        if page == 0:
            iot.delete_thing(thingName=names[8])
        if token is None:
            break
    assert listed == names[:8]


def test_bad_tokens_and_page_sizes_are_aws_errors(server: Server, iot: Any) -> None:
    batch = _uid()
    thing = f"pg-{batch}"
    arn = iot.create_thing(thingName=thing)["thingArn"]
    group = f"pg-{batch}-g"
    iot.create_thing_group(thingGroupName=group)
    job = f"pg-job-{batch}"
    iot.create_job(jobId=job, targets=[arn], document="{}")
    calls: list[tuple[str, dict[str, Any]]] = [
        ("list_things", {}),
        ("list_things_in_thing_group", {"thingGroupName": group}),
        ("list_job_executions_for_job", {"jobId": job}),
        ("list_job_executions_for_thing", {"thingName": thing}),
        ("search_index", {"queryString": "*"}),
    ]
    for i in range(3):
        iot.create_thing(thingName=f"{thing}-{i}")
    foreign = iot.list_things(maxResults=1)["nextToken"]  # valid, for ListThings only
    for name, kw in calls:
        for token in ("garbage!", "AAAA", *([foreign] if name != "list_things" else [])):
            code, status, response = aws_error(getattr(iot, name), nextToken=token, **kw)
            assert (code, status) == ("InvalidRequestException", 400), (name, token)
            assert response["Error"]["Message"] == "Invalid nextToken"
    unchecked = server.client("iot", config=Config(parameter_validation=False))
    for name, kw in calls:
        method = getattr(unchecked, name)
        limit = 100 if name == "search_index" else 250
        for size in (0, limit + 1):
            code, status, _ = aws_error(method, maxResults=size, **kw)
            assert (code, status) == ("InvalidRequestException", 400), (name, size)
        method(maxResults=limit, **kw)


@pytest.mark.parametrize("size", [1, 250])
def test_page_size_bounds_are_accepted(iot: Any, size: int) -> None:
    result = iot.list_things(maxResults=size)
    assert len(result["things"]) <= size
