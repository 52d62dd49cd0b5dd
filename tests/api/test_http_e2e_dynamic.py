"""End to end: ``$package`` fleet indexing, dynamic groups built on it, CONTINUOUS jobs on those.

boto3 against a real ``fleetsim serve``: named-shadow indexing with ``$package`` in the filter,
SearchIndex on package versions and attributes, a dynamic thing group from a ``$package`` query
(BUILDING, then ACTIVE), and a CONTINUOUS job that follows its membership. Membership is
eventually consistent, so changes are polled for. Every query is narrowed to this test's things by
a unique ``attributes.fleet`` value: the server is shared by the whole test session.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import aws_error, eventually

PREFIX = "arn:aws:iot:us-east-1:123456789012"
ROLE = "arn:aws:iam::123456789012:role/JobsUpdatePackageShadow"
AGENT_1 = "shadow.name.$package.reported.agent.version:1.0.0"


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def _index(iot: Any, shadow_names: list[str]) -> None:
    iot.update_indexing_configuration(
        thingIndexingConfiguration={
            "thingIndexingMode": "REGISTRY_AND_SHADOW",
            "namedShadowIndexingMode": "ON",
            "filter": {"namedShadowNames": shadow_names},
        }
    )
    assert eventually(lambda: iot.describe_index(indexName="AWS_Things")["indexStatus"] == "ACTIVE")


@pytest.fixture
def package_index(iot: Any) -> None:
    """Named-shadow indexing ON with ``$package`` in filter.namedShadowNames [SPC-fi]."""
    _index(iot, ["$package"])
    config = iot.get_indexing_configuration()["thingIndexingConfiguration"]
    assert config["namedShadowIndexingMode"] == "ON"
    assert config["filter"]["namedShadowNames"] == ["$package"]


def _fleet(iot: Any, fleet: str, count: int) -> list[str]:
    names = [f"dev-{_uid()}" for _ in range(count)]
    for name in names:
        iot.create_thing(thingName=name, attributePayload={"attributes": {"fleet": fleet}})
    return names


def _report(iot_data: Any, thing: str, package: str, version: str, **attributes: str) -> None:
    entry: dict[str, Any] = {"version": version}
    if attributes:
        entry["attributes"] = attributes
    body = {"state": {"reported": {package: entry}}}
    iot_data.update_thing_shadow(thingName=thing, shadowName="$package", payload=json.dumps(body))


def _search(iot: Any, query: str, fleet: str) -> list[str]:
    things = iot.search_index(queryString=f"{query} AND attributes.fleet:{fleet}")["things"]
    return sorted(t["thingName"] for t in things)


def _members(iot: Any, group: str) -> list[str]:
    return sorted(iot.list_things_in_thing_group(thingGroupName=group)["things"])


def _executions(iot: Any, job: str) -> dict[str, str]:
    summaries = iot.list_job_executions_for_job(jobId=job)["executionSummaries"]
    return {s["thingArn"].rsplit("/", 1)[1]: s["jobExecutionSummary"]["status"] for s in summaries}


@pytest.fixture
def cleanup(iot: Any) -> Iterator[list[tuple[str, str]]]:
    """("job" | "group", name) to remove at the end, so later tests may turn indexing OFF."""
    todo: list[tuple[str, str]] = []
    yield todo
    for kind, name in reversed(todo):
        if kind == "job":
            iot.cancel_job(jobId=name, force=True)
        else:
            iot.delete_dynamic_thing_group(thingGroupName=name)


def test_package_shadow_is_indexed_only_when_in_the_filter(iot: Any, iot_data: Any) -> None:
    fleet = _uid()
    (thing,) = _fleet(iot, fleet, 1)
    _report(iot_data, thing, "agent", "1.0.0")
    _index(iot, ["config"])
    assert _search(iot, AGENT_1, fleet) == []
    _index(iot, ["config", "$package"])
    assert _search(iot, AGENT_1, fleet) == [thing]


@pytest.mark.usefixtures("package_index")
def test_search_package_versions_and_attributes(iot: Any, iot_data: Any) -> None:
    fleet = _uid()
    a, b, c = _fleet(iot, fleet, 3)
    _report(iot_data, a, "agent", "1.0.0", build="1600")
    _report(iot_data, b, "agent", "1.0.0", build="900")
    _report(iot_data, c, "agent", "2.0.0", build="1700")

    assert _search(iot, AGENT_1, fleet) == sorted([a, b])
    assert _search(iot, "shadow.name.$package.reported.agent.version:1.*", fleet) == sorted([a, b])
    assert _search(iot, f"NOT {AGENT_1}", fleet) == [c]
    # Ranges and comparisons work on attributes (numerically), and any package with `*`.
    build = "shadow.name.$package.reported.agent.attributes.build"
    assert _search(iot, f"{build}>1500", fleet) == sorted([a, c])
    assert _search(iot, f"{build}:[1000 TO 1650]", fleet) == [a]
    assert _search(iot, "shadow.name.$package.reported.*.attributes.build<1000", fleet) == [b]

    # ... but not on a package's version key.
    version = "shadow.name.$package.reported.agent.version"
    for query in (f"{version}:[1.0.0 TO 2.0.0]", f"{version}>1.0.0", f"{version}<=2.0.0"):
        code, status, _ = aws_error(iot.search_index, queryString=query)
        assert (code, status) == ("InvalidQueryException", 400), query

    (hit,) = iot.search_index(queryString=f"{version}:2.0.0 AND attributes.fleet:{fleet}")["things"]
    assert hit["thingName"] == c
    shadow = json.loads(hit["shadow"])  # a JSON string on the wire
    assert shadow["name"]["$package"]["reported"] == {
        "agent": {"version": "2.0.0", "attributes": {"build": "1700"}}
    }


@pytest.mark.usefixtures("package_index")
def test_continuous_job_follows_a_package_dynamic_group(
    iot: Any, iot_jobs_data: Any, iot_data: Any, cleanup: list[tuple[str, str]]
) -> None:
    fleet = _uid()
    busy, done, late = _fleet(iot, fleet, 3)
    for thing in (busy, done):
        _report(iot_data, thing, "agent", "1.0.0")
    _report(iot_data, late, "agent", "0.9.0")

    group = f"agent-1-0-0-{fleet}"
    query = f"{AGENT_1} AND attributes.fleet:{fleet}"
    created = iot.create_dynamic_thing_group(thingGroupName=group, queryString=query)
    cleanup.append(("group", group))
    assert created["queryString"] == query
    assert iot.describe_thing_group(thingGroupName=group)["status"] == "BUILDING"
    assert eventually(lambda: iot.describe_thing_group(thingGroupName=group)["status"] == "ACTIVE")
    assert _members(iot, group) == sorted([busy, done])

    job = f"follow-{fleet}"
    iot.create_job(
        jobId=job,
        targets=[created["thingGroupArn"]],
        document='{"operation": "upgrade"}',
        targetSelection="CONTINUOUS",
    )
    cleanup.append(("job", job))
    assert _executions(iot, job) == {busy: "QUEUED", done: "QUEUED"}
    assert iot_jobs_data.get_pending_job_executions(thingName=late)["queuedJobs"] == []

    # A thing that starts matching joins the group and gets an execution.
    _report(iot_data, late, "agent", "1.0.0")
    assert eventually(lambda: late in _members(iot, group))
    assert eventually(lambda: _executions(iot, job).get(late) == "QUEUED")
    queued = iot_jobs_data.get_pending_job_executions(thingName=late)["queuedJobs"]
    assert [e["jobId"] for e in queued] == [job]

    # One member finishes; another stops matching while IN_PROGRESS and is REMOVED.
    iot_jobs_data.start_next_pending_job_execution(thingName=done)
    iot_jobs_data.update_job_execution(thingName=done, jobId=job, status="SUCCEEDED")
    iot_jobs_data.start_next_pending_job_execution(thingName=busy)
    for thing in (busy, done):
        _report(iot_data, thing, "agent", "3.0.0")
    assert eventually(lambda: _members(iot, group) == [late])
    assert eventually(lambda: _executions(iot, job).get(busy) == "REMOVED")
    assert _executions(iot, job) == {busy: "REMOVED", done: "SUCCEEDED", late: "QUEUED"}
    assert iot_jobs_data.get_pending_job_executions(thingName=busy)["inProgressJobs"] == []
    code, status, _ = aws_error(
        iot_jobs_data.update_job_execution, thingName=busy, jobId=job, status="SUCCEEDED"
    )
    assert (code, status) == ("InvalidStateTransitionException", 409)

    described = iot.describe_job(jobId=job)["job"]
    assert described["status"] == "IN_PROGRESS"  # CONTINUOUS jobs never complete on their own
    details = described["jobProcessDetails"]
    assert details["numberOfRemovedThings"] == 1
    assert details["numberOfSucceededThings"] == 1
    assert details["numberOfQueuedThings"] == 1


@pytest.mark.usefixtures("package_index")
def test_package_job_moves_things_out_of_the_group(
    iot: Any, iot_jobs_data: Any, iot_data: Any, cleanup: list[tuple[str, str]]
) -> None:
    """Upgrading a package through Jobs rewrites $package, so the thing leaves the old group."""
    before = iot.get_package_configuration()["versionUpdateByJobsConfig"]
    iot.update_package_configuration(versionUpdateByJobsConfig={"enabled": True, "roleArn": ROLE})
    try:
        fleet = _uid()
        package = f"agent{fleet}"  # no '-': it would need escaping in the query
        iot.create_package(packageName=package)
        iot.create_package_version(packageName=package, versionName="2.0.0")
        iot.update_package_version(packageName=package, versionName="2.0.0", action="PUBLISH")
        first, second = _fleet(iot, fleet, 2)
        for thing in (first, second):
            _report(iot_data, thing, package, "1.0.0")
        group = f"old-{fleet}"
        old = f"shadow.name.$package.reported.{package}.version:1.0.0"
        arn = iot.create_dynamic_thing_group(thingGroupName=group, queryString=old)["thingGroupArn"]
        cleanup.append(("group", group))
        assert eventually(
            lambda: iot.describe_thing_group(thingGroupName=group)["status"] == "ACTIVE"
        )
        assert _members(iot, group) == sorted([first, second])

        job = f"upgrade-{fleet}"
        iot.create_job(
            jobId=job,
            targets=[arn],
            document='{"operation": "upgrade"}',
            targetSelection="CONTINUOUS",
            destinationPackageVersions=[f"{PREFIX}:package/{package}/version/2.0.0"],
        )
        cleanup.append(("job", job))
        iot_jobs_data.start_next_pending_job_execution(thingName=first)
        iot_jobs_data.update_job_execution(thingName=first, jobId=job, status="SUCCEEDED")

        assert eventually(lambda: _members(iot, group) == [second])
        new = f"shadow.name.$package.reported.{package}.version:2.0.0"
        assert _search(iot, new, fleet) == [first]
        # Leaving after finishing does not undo the execution.
        assert _executions(iot, job) == {first: "SUCCEEDED", second: "QUEUED"}
    finally:
        iot.update_package_configuration(versionUpdateByJobsConfig=before)
