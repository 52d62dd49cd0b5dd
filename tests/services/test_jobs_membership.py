"""Targets over time: SNAPSHOT freezes membership, CONTINUOUS follows it."""

from __future__ import annotations

from typing import Any

from simulator.services.jobs import JobsOptions
from tests.services.jobs_support import World


def _summaries(w: World, job_id: str, thing: str) -> list[dict[str, Any]]:
    return [
        s["jobExecutionSummary"]
        for s in w.jobs.list_job_executions_for_thing(thing_name=thing, job_id=job_id)[
            "executionSummaries"
        ]
    ]


def test_snapshot_freezes_membership() -> None:
    w = World()
    w.group("g")
    w.thing("a", "g")
    w.create("j", targets=[w.group_arn("g")])
    w.thing("b", "g")
    w.leave("g", "a")
    assert w.status("j", "a") == "QUEUED"
    assert _summaries(w, "j", "b") == []


def test_continuous_join_leave_and_rejoin() -> None:
    w = World()
    w.group("g")
    w.thing("a", "g")
    w.create(
        "j",
        targets=[w.group_arn("g")],
        target_selection="CONTINUOUS",
        job_executions_retry_config={
            "criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]
        },
    )
    w.thing("b")
    w.bus.messages.clear()
    w.join("g", "b")  # joining gets an execution at once
    assert w.status("j", "b") == "QUEUED"
    assert w.messages("/notify-next", "b")[0]["execution"]["jobId"] == "j"
    w.start_next("a")
    w.leave("g", "a")  # the leaver's unfinished execution is REMOVED
    assert w.status("j", "a") == "REMOVED"
    assert w.counts("j")["numberOfRemovedThings"] == 1
    w.join("g", "a")  # re-joining: a new execution, retries counted afresh
    execution = w.jobs.describe_job_execution(job_id="j", thing_name="a")["execution"]
    assert (execution["status"], execution["executionNumber"]) == ("QUEUED", 2)
    w.finish("j", "a", "FAILED")  # its one retry
    assert w.status("j", "a") == "QUEUED"
    w.leave("g", "a")
    w.join("g", "a")
    w.finish("j", "a", "FAILED")
    assert w.status("j", "a") == "QUEUED"  # retry count reset by the membership change
    assert [s["retryAttempt"] for s in _summaries(w, "j", "a")] == [0, 0, 1, 0, 1]
    w.finish("j", "a")
    w.leave("g", "a")  # a finished execution stays as it is
    assert w.status("j", "a") == "SUCCEEDED"
    w.join("g", "a")
    assert w.status("j", "a") == "SUCCEEDED"
    assert w.job("j")["status"] == "IN_PROGRESS"


def test_rejoin_reruns_terminal_option() -> None:
    w = World(options=JobsOptions(rejoin_reruns_terminal=True))
    w.group("g")
    w.thing("a", "g")
    w.create("j", targets=[w.group_arn("g")], target_selection="CONTINUOUS")
    w.finish("j", "a")
    w.leave("g", "a")
    w.join("g", "a")
    assert w.status("j", "a") == "QUEUED"


def test_continuous_follows_child_groups_and_other_paths() -> None:
    w = World()
    w.group("root")
    w.group("child", parent="root")
    w.group("other")
    w.create(
        "j",
        targets=[w.group_arn("root"), w.group_arn("other")],
        target_selection="CONTINUOUS",
    )
    w.thing("x", "child")
    assert w.status("j", "x") == "QUEUED"
    w.join("other", "x")
    w.leave("child", "x")  # still a target through "other"
    assert w.status("j", "x") == "QUEUED"
    w.leave("other", "x")
    assert w.status("j", "x") == "REMOVED"


def test_continuous_on_a_dynamic_group() -> None:
    w = World()
    group = w.registry.new_group("dyn", {})
    group.query = "attributes.model:A"  # a dynamic group record, as the index service makes
    w.thing("a")
    w.registry.join("dyn", "a")
    w.create("j", targets=[w.group_arn("dyn")], target_selection="CONTINUOUS")
    assert w.status("j", "a") == "QUEUED"
    w.thing("b")
    w.registry.join("dyn", "b")  # the index service announces a new match
    assert w.status("j", "b") == "QUEUED"
    w.registry.leave("dyn", "a")  # and a thing that stops matching
    assert w.status("j", "a") == "REMOVED"


def test_thing_deletion_removes_unfinished_executions() -> None:
    w = World(things=3)
    w.create("snap", "t0", "t1")
    w.finish("snap", "t1")
    w.group("g")
    w.join("g", "t2")
    w.create("cont", targets=[w.group_arn("g")], target_selection="CONTINUOUS")
    w.registry.delete_thing(thing_name="t0")
    w.registry.delete_thing(thing_name="t1")
    w.registry.delete_thing(thing_name="t2")
    assert w.status("snap", "t0") == "REMOVED"
    assert w.status("snap", "t1") == "SUCCEEDED"
    assert w.status("cont", "t2") == "REMOVED"
    assert w.job("snap")["status"] == "COMPLETED"


def test_leaving_during_rollout_drops_the_waiting_target() -> None:
    w = World()
    w.group("g")
    for i in range(3):
        w.thing(f"t{i}", "g")
    w.create(
        "j",
        targets=[w.group_arn("g")],
        target_selection="CONTINUOUS",
        job_executions_rollout_config={"maximumPerMinute": 1},
    )
    w.leave("g", "t2")
    w.advance(300)
    assert _summaries(w, "j", "t2") == []
    assert w.status("j", "t1") == "QUEUED"
