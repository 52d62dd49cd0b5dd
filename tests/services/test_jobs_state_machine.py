"""A stateful property test over both planes: devices, operators and the clock in any order.

Invariants after every step: a terminal execution never changes; each accepted device update
raises ``versionNumber`` by exactly one; ``notify-next`` is published only when the head of a
thing's pending list changes and always names the real head; ``notify`` lists at most 15; the
counts of DescribeJob equal the statuses of the things' current executions; and no job or
execution changes status except through the store's transition methods, as their tables allow
(:class:`TransitionLog`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from simulator.core.errors import AwsError
from tests.hypothesis_profiles import examples
from tests.services.jobs_support import World
from tests.services.jobs_transitions import TransitionLog

THINGS = ("t0", "t1", "t2")
STATUSES = ("IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED", "CANCELED", "QUEUED")
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"}
FIELD = {
    "CANCELED": "numberOfCanceledThings",
    "SUCCEEDED": "numberOfSucceededThings",
    "FAILED": "numberOfFailedThings",
    "REJECTED": "numberOfRejectedThings",
    "QUEUED": "numberOfQueuedThings",
    "IN_PROGRESS": "numberOfInProgressThings",
    "REMOVED": "numberOfRemovedThings",
    "TIMED_OUT": "numberOfTimedOutThings",
}


class JobsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.w = World()
        self.w.group("g")
        for thing in THINGS:
            self.w.thing(thing, "g")
        self.jobs: list[str] = []
        self.seen = 0  # messages already checked
        self.heads: dict[str, tuple[str, int] | None] = dict.fromkeys(THINGS)
        self.terminal: dict[tuple[str, str, int], str] = {}
        self.log = TransitionLog(self.w.jobs_service.store)

    # -- rules -------------------------------------------------------------------------------

    @precondition(lambda self: len(self.jobs) < 5)
    @rule(
        things=st.sets(st.sampled_from(THINGS), min_size=1),
        continuous=st.booleans(),
        timeout=st.none() | st.integers(1, 3),
        retries=st.integers(0, 2),
    )
    def create_job(
        self, things: set[str], continuous: bool, timeout: int | None, retries: int
    ) -> None:
        job_id = f"j{len(self.jobs)}"
        kwargs: dict[str, Any] = {}
        if continuous:
            kwargs["targets"] = [self.w.group_arn("g")]
            kwargs["target_selection"] = "CONTINUOUS"
        else:
            kwargs["targets"] = [self.w.thing_arn(t) for t in sorted(things)]
        if timeout is not None:
            kwargs["timeout_config"] = {"inProgressTimeoutInMinutes": timeout}
        if retries:
            kwargs["job_executions_retry_config"] = {
                "criteriaList": [{"failureType": "ALL", "numberOfRetries": retries}]
            }
        self.w.create(job_id, **kwargs)
        self.jobs.append(job_id)

    @rule(thing=st.sampled_from(THINGS), step=st.none() | st.integers(1, 2))
    def start_next(self, thing: str, step: int | None) -> None:
        before = self.w.data.get_pending_job_executions(thing_name=thing)
        execution = self.w.start_next(thing, step_timeout_in_minutes=step)
        pending = before["inProgressJobs"] + before["queuedJobs"]
        if not pending:
            assert execution is None
            return
        assert execution is not None
        assert execution["jobId"] == pending[0]["jobId"]
        assert execution["status"] == "IN_PROGRESS"

    @precondition(lambda self: self.jobs)
    @rule(
        data=st.data(),
        thing=st.sampled_from(THINGS),
        status=st.sampled_from(STATUSES),
        wrong_version=st.booleans(),
    )
    def update(self, data: st.DataObject, thing: str, status: str, wrong_version: bool) -> None:
        job_id = data.draw(st.sampled_from(self.jobs))
        try:
            current = self.w.jobs.describe_job_execution(job_id=job_id, thing_name=thing)
        except AwsError:
            return
        version = current["execution"]["versionNumber"]
        expected = version + 1 if wrong_version else version
        try:
            out = self.w.update(
                job_id,
                thing,
                status,
                expected_version=expected,
                include_job_execution_state=True,
            )
        except AwsError as exc:
            assert exc.error_type in ("InvalidStateTransitionException", "InvalidRequestException")
            assert (
                wrong_version
                or status in ("CANCELED", "QUEUED")
                or (current["execution"]["status"] in TERMINAL)
            )
            return
        assert not wrong_version
        assert out["executionState"]["versionNumber"] == version + 1
        assert out["executionState"]["status"] == status

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), force=st.booleans())
    def cancel_job(self, data: st.DataObject, force: bool) -> None:
        job_id = data.draw(st.sampled_from(self.jobs))
        try:
            self.w.jobs.cancel_job(job_id=job_id, force=force)
        except AwsError as exc:
            assert exc.error_type == "InvalidRequestException"

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), thing=st.sampled_from(THINGS), force=st.booleans())
    def cancel_execution(self, data: st.DataObject, thing: str, force: bool) -> None:
        job_id = data.draw(st.sampled_from(self.jobs))
        try:
            self.w.jobs.cancel_job_execution(job_id=job_id, thing_name=thing, force=force)
        except AwsError as exc:
            assert exc.error_type in (
                "InvalidStateTransitionException",
                "ResourceNotFoundException",
            )

    @rule(thing=st.sampled_from(THINGS), join=st.booleans())
    def membership(self, thing: str, join: bool) -> None:
        if join:
            self.w.join("g", thing)
        else:
            self.w.leave("g", thing)

    @rule(seconds=st.sampled_from([1.0, 30.0, 61.0, 125.0]))
    def advance(self, seconds: float) -> None:
        self.w.advance(seconds)

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def every_status_change_went_through_a_table(self) -> None:
        self.log.check()

    @invariant()
    def notifications(self) -> None:
        messages = self.w.bus.messages[self.seen :]
        self.seen = len(self.w.bus.messages)
        for topic, payload in messages:
            thing = topic.split("/")[2]
            body = orjson.loads(payload)
            if topic.endswith("/notify"):
                listed = sum(len(v) for v in body["jobs"].values())
                assert listed <= 15
            elif topic.endswith("/notify-next") and thing in self.heads:
                execution = body.get("execution")
                head = (
                    None
                    if execution is None
                    else (execution["jobId"], execution["executionNumber"])
                )
                assert head != self.heads[thing], "notify-next without a change of head"
                self.heads[thing] = head
        for thing in THINGS:
            pending = self.w.data.get_pending_job_executions(thing_name=thing)
            ordered = pending["inProgressJobs"] + pending["queuedJobs"]
            real = (ordered[0]["jobId"], ordered[0]["executionNumber"]) if ordered else None
            assert self.heads[thing] == real

    @invariant()
    def terminal_is_final_and_counts_match(self) -> None:
        for job_id in self.jobs:
            summaries = self.w.jobs.list_job_executions_for_job(job_id=job_id)["executionSummaries"]
            latest: dict[str, str] = {}
            for item in summaries:
                thing = item["thingArn"].rsplit("/", 1)[-1]
                summary = item["jobExecutionSummary"]
                key = (job_id, thing, summary["executionNumber"])
                if key in self.terminal:
                    assert summary["status"] == self.terminal[key]
                elif summary["status"] in TERMINAL:
                    self.terminal[key] = summary["status"]
                latest[thing] = summary["status"]
            expected = Counter(FIELD[s] for s in latest.values())
            details = self.w.job(job_id)["jobProcessDetails"]
            assert {k: v for k, v in details.items() if k.startswith("numberOf")} == {
                f: expected.get(f, 0) for f in FIELD.values()
            }


TestJobsMachine = JobsMachine.TestCase
TestJobsMachine.settings = settings(
    max_examples=examples(150),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
