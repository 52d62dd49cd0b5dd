"""What the Jobs store shares or derives to stay small at a million devices, and that it shows
nowhere: shared ``statusDetails``, per-thing job-id tuples, a list only after a re-execution,
the pending key and the in-progress deadline computed when needed."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from simulator.services.jobs.records import ExecutionRecord
from simulator.services.jobs.sharing import DetailsTable, FrozenDetails, JobIdSets
from tests.services.jobs_support import World


def _record(w: World, job_id: str, thing: str) -> ExecutionRecord:
    return w.jobs_service.store.execution(job_id, thing)


def _retry(failed: int) -> dict[str, Any]:
    return {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": failed}]}


def test_equal_status_details_are_one_read_only_map() -> None:
    w = World(things=3)
    w.create("j", "t0", "t1", "t2")
    for thing in ("t0", "t1"):
        w.start_next(thing, status_details={"step": "download", "steps": "3"})
    w.start_next("t2", status_details={"steps": "3", "step": "download"})
    t0, t1, t2 = (_record(w, "j", t) for t in ("t0", "t1", "t2"))
    assert t0.details is t1.details
    assert t2.details is not t0.details  # key order is part of the content (the wire shows it)
    assert list(t2.details or ()) == ["steps", "step"]
    shared = t0.details
    assert isinstance(shared, FrozenDetails)
    with pytest.raises(TypeError):
        shared["step"] = "install"
    with pytest.raises(TypeError):
        shared.update(step="install")
    # A new report replaces the map of that execution only.
    w.update("j", "t0", "IN_PROGRESS", status_details={"step": "install"})
    assert t0.details == {"step": "install"}
    assert t1.details == {"step": "download", "steps": "3"}
    state = w.update("j", "t1", "IN_PROGRESS", include_job_execution_state=True)
    assert state["executionState"]["statusDetails"] == {"step": "download", "steps": "3"}
    described = w.jobs.describe_job_execution(job_id="j", thing_name="t1")["execution"]
    assert described["statusDetails"] == {"detailsMap": {"step": "download", "steps": "3"}}


def test_frozen_details_copy_and_pickle_as_maps() -> None:
    details = DetailsTable().share({"a": "1", "b": "2"})
    for clone in (copy.copy(details), copy.deepcopy(details), pickle.loads(pickle.dumps(details))):
        assert clone == {"a": "1", "b": "2"} and list(clone) == ["a", "b"]
    assert type(dict(details)) is dict
    assert DetailsTable().share({}) == {}


def test_job_id_sets_are_shared_tuples_in_order() -> None:
    sets = JobIdSets()
    a = sets.with_id(sets.with_id((), "j1"), "j2")
    b = sets.with_id(sets.with_id((), "j1"), "j2")
    assert a == ("j1", "j2") and a is b
    assert sets.without_id(a, "j1") == ("j2",)
    assert sets.without_id(a, "other") is a


def test_job_ids_of_a_thing_follow_its_executions() -> None:
    w = World(things=2)
    for job_id in ("j1", "j2", "j3"):
        w.create(job_id, "t0", "t1")
    store = w.jobs_service.store
    assert store.job_ids_of("t0") == store.job_ids_of("t1") == ["j1", "j2", "j3"]
    w.jobs.delete_job_execution(job_id="j2", thing_name="t0", execution_number=1, force=True)
    assert store.job_ids_of("t0") == ["j1", "j3"]
    listed = w.jobs.list_job_executions_for_thing(thing_name="t0")["executionSummaries"]
    assert [s["jobId"] for s in listed] == ["j1", "j3"]
    for job_id in ("j1", "j3"):
        w.jobs.delete_job_execution(job_id=job_id, thing_name="t0", execution_number=1, force=True)
    assert store.job_ids_of("t0") == []
    assert store.job_ids_of("t1") == ["j1", "j2", "j3"]


def test_a_thing_holds_its_execution_and_a_list_only_after_a_retry() -> None:
    w = World(things=2)
    w.create("j", "t0", "t1", job_executions_retry_config=_retry(failed=2))
    job = w.jobs_service.store.job("j")
    assert isinstance(job.by_thing["t0"], ExecutionRecord)
    w.finish("j", "t0", "FAILED")
    w.finish("j", "t0", "FAILED")
    runs = job.by_thing["t0"]
    assert isinstance(runs, list)
    assert [(ex.number, ex.status.value) for ex in job.history("t0")] == [
        (1, "FAILED"),
        (2, "FAILED"),
        (3, "QUEUED"),
    ]
    assert job.current("t0") is runs[-1] and job.current("nobody") is None
    assert [ex.thing for ex in job.latest()] == ["t0", "t1"]
    assert [(ex.thing, ex.number) for ex in job.all_executions()] == [
        ("t0", 1),
        ("t0", 2),
        ("t0", 3),
        ("t1", 1),
    ]
    assert w.counts("j")["numberOfQueuedThings"] == 2
    for number in (1, 3):
        w.jobs.delete_job_execution(
            job_id="j", thing_name="t0", execution_number=number, force=True
        )
    assert isinstance(job.by_thing["t0"], ExecutionRecord)  # back to the record alone
    assert w.jobs_service.store.execution("j", "t0").number == 2
    assert w.counts("j")["numberOfFailedThings"] == 1
    w.jobs.delete_job_execution(job_id="j", thing_name="t0", execution_number=2)
    assert "t0" not in job.by_thing
    assert w.jobs_service.store.job_ids_of("t0") == []


def test_the_pending_key_follows_the_start() -> None:
    w = World(things=1)
    w.create("j1", "t0")
    w.clock.now += 1
    w.create("j2", "t0")
    first, second = _record(w, "j1", "t0"), _record(w, "j2", "t0")
    assert first.key < second.key
    w.update("j2", "t0", "IN_PROGRESS")
    assert second.key < first.key  # IN_PROGRESS ahead of QUEUED
    assert [ex.job.job_id for ex in w.jobs_service.store.pending.items("t0")] == ["j2", "j1"]


def test_the_in_progress_deadline_is_fixed_when_the_execution_starts() -> None:
    w = World(things=2)
    w.create("j", "t0", "t1", timeout_config={"inProgressTimeoutInMinutes": 2})
    started = w.clock.now
    w.start_next("t0")
    assert _record(w, "j", "t0").deadline == started + 120.0
    assert _record(w, "j", "t1").deadline is None  # QUEUED: no timer yet
    w.jobs.update_job(job_id="j", timeout_config={"inProgressTimeoutInMinutes": 10})
    w.clock.now += 30
    later = w.start_next("t1")
    assert later is not None and later["approximateSecondsBeforeTimedOut"] == 600
    described = w.jobs.describe_job_execution(job_id="j", thing_name="t0")["execution"]
    assert described["approximateSecondsBeforeTimedOut"] == 90  # the old timeout still holds
    w.advance(91)
    assert (w.status("j", "t0"), w.status("j", "t1")) == ("TIMED_OUT", "IN_PROGRESS")
