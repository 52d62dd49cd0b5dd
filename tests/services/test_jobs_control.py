"""Control-plane job operations: CreateJob, DescribeJob, ListJobs, UpdateJob, CancelJob,
DeleteJob, AssociateTargetsWithJob, GetJobDocument and job templates."""

from __future__ import annotations

import importlib
import inspect

import botocore.session
import pytest

from simulator.services.jobs import JobsOptions
from tests.services.jobs_support import DOC, World, aws_error

INVALID = ("InvalidRequestException", 400)
NOT_FOUND = ("ResourceNotFoundException", 404)


def test_public_api_of_the_jobs_topics_module() -> None:
    # Packages are pinned in tests/test_public_api.py; this module's own API here.
    module = importlib.import_module("simulator.api.mqtt.jobs")
    assert sorted(module.__all__) == ["JobsRequest", "handle_jobs", "parse_jobs_topic"]
    assert all(hasattr(module, n) for n in module.__all__)


def test_create_job_response_and_duplicate() -> None:
    w = World(things=1)
    out = w.create("job1", "t0", description="first")
    assert out == {"jobArn": w.scope.arn("job/job1"), "jobId": "job1", "description": "first"}
    with aws_error("ResourceAlreadyExistsException", 409) as info:
        w.create("job1", "t0")
    assert info.value.fields()["resourceId"] == "job1"


@pytest.mark.parametrize("job_id", ["", "x" * 65, "bad id", "a/b"])
def test_invalid_job_id(job_id: str) -> None:
    w = World(things=1)
    with aws_error(*INVALID):
        w.create(job_id, "t0")


def test_targets_things_and_groups_recursively() -> None:
    w = World()
    w.group("root")
    w.group("child", parent="root")
    w.thing("a", "root")
    w.thing("b", "child")
    w.thing("c")
    w.thing("d")
    w.create("j", targets=[w.group_arn("root"), w.thing_arn("c")])
    things = {
        s["thingArn"].rsplit("/", 1)[-1]
        for s in w.jobs.list_job_executions_for_job(job_id="j")["executionSummaries"]
    }
    assert things == {"a", "b", "c"}
    assert w.job("j")["targets"] == [w.group_arn("root"), w.thing_arn("c")]


@pytest.mark.parametrize(
    ("targets", "error"),
    [
        ([], INVALID),
        (["not-an-arn"], INVALID),
        (["arn:aws:iot:eu-west-1:123456789012:thing/t0"], INVALID),
        (["arn:aws:iot:us-east-1:123456789012:thing/missing"], NOT_FOUND),
        (["arn:aws:iot:us-east-1:123456789012:thinggroup/missing"], NOT_FOUND),
        (["arn:aws:iot:us-east-1:123456789012:thing/t0"] * 101, INVALID),
    ],
)
def test_bad_targets(targets: list[str], error: tuple[str, int]) -> None:
    w = World(things=1)
    with aws_error(*error):
        w.create("j", targets=targets)
    assert "j" not in w.jobs.store.jobs


def test_document_sources() -> None:
    w = World(things=1)
    with aws_error(*INVALID):
        w.create("j", "t0", document=DOC, document_source="https://s3.amazonaws.com/b/k")
    with aws_error(*INVALID) as info:
        w.create("j", "t0", document=None, document_source="https://s3.amazonaws.com/b/k")
    assert "documentSource" in info.value.message and "S3" in info.value.message
    with aws_error(*INVALID):
        w.jobs.create_job(job_id="j", targets=[w.thing_arn("t0")])
    with aws_error(*INVALID):
        w.create("j", "t0", document='{"a": "' + "x" * 32768 + '"}')
    with aws_error(*INVALID):
        w.create("j", "t0", document="{not json")
    assert w.jobs.list_jobs()["jobs"] == []
    w.create("j", "t0", document='{"a": "' + "x" * (32768 - 10) + '"}')


def test_describe_job_and_document() -> None:
    w = World(things=2)
    w.create("j", "t0", "t1", target_selection="SNAPSHOT", timeout_config={})
    job = w.job("j")
    assert job["status"] == "IN_PROGRESS"
    assert job["targetSelection"] == "SNAPSHOT"
    assert job["createdAt"] == w.clock.now
    assert job["jobProcessDetails"]["numberOfQueuedThings"] == 2
    assert "destinationPackageVersions" not in job
    assert w.jobs.get_job_document(job_id="j") == {"document": DOC}
    assert w.jobs.get_job_document(job_id="j", before_substitution=True) == {"document": DOC}
    with aws_error(*NOT_FOUND):
        w.jobs.describe_job(job_id="nope")
    with aws_error(*NOT_FOUND):
        w.jobs.get_job_document(job_id="nope")


def test_list_jobs_filters_and_paging() -> None:
    w = World(things=1)
    w.group("g")
    w.join("g", "t0")
    w.create("a", "t0")
    w.create("b", targets=[w.group_arn("g")], target_selection="CONTINUOUS")
    w.create("c", "t0")
    w.jobs.cancel_job(job_id="c")
    ids = lambda out: [j["jobId"] for j in out["jobs"]]  # noqa: E731
    assert ids(w.jobs.list_jobs()) == ["a", "b", "c"]
    assert ids(w.jobs.list_jobs(status="CANCELED")) == ["c"]
    assert ids(w.jobs.list_jobs(target_selection="CONTINUOUS")) == ["b"]
    assert ids(w.jobs.list_jobs(thing_group_name="g")) == ["b"]
    group_id = w.registry.groups["g"].group_id
    assert ids(w.jobs.list_jobs(thing_group_id=group_id)) == ["b"]
    assert w.jobs.list_jobs(thing_group_name="g")["jobs"][0]["thingGroupId"] == group_id
    first = w.jobs.list_jobs(max_results=2)
    assert ids(first) == ["a", "b"]
    assert ids(w.jobs.list_jobs(max_results=2, next_token=first["nextToken"])) == ["c"]
    with aws_error(*INVALID):
        w.jobs.list_jobs(max_results=251)
    with aws_error(*INVALID):
        w.jobs.list_jobs(status="RUNNING")


def test_update_job() -> None:
    w = World(things=1)
    w.create("j", "t0")
    w.clock.now += 5
    assert (
        w.jobs.update_job(
            job_id="j",
            description="new",
            presigned_url_config={
                "roleArn": "arn:aws:iam::123456789012:role/x",
                "expiresInSec": 60,
            },
            job_executions_rollout_config={"maximumPerMinute": 10},
            abort_config={
                "criteriaList": [
                    {
                        "failureType": "ALL",
                        "action": "CANCEL",
                        "thresholdPercentage": 50,
                        "minNumberOfExecutedThings": 1,
                    }
                ]
            },
            timeout_config={"inProgressTimeoutInMinutes": 5},
            job_executions_retry_config={
                "criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}]
            },
        )
        == {}
    )
    job = w.job("j")
    assert job["description"] == "new"
    assert job["presignedUrlConfig"]["expiresInSec"] == 60
    assert job["jobExecutionsRolloutConfig"] == {"maximumPerMinute": 10}
    assert job["abortConfig"]["criteriaList"][0]["failureType"] == "ALL"
    assert job["timeoutConfig"] == {"inProgressTimeoutInMinutes": 5}
    assert job["jobExecutionsRetryConfig"]["criteriaList"][0]["numberOfRetries"] == 2
    assert job["lastUpdatedAt"] == w.clock.now
    with aws_error(*INVALID):
        w.jobs.update_job(job_id="j", timeout_config={"inProgressTimeoutInMinutes": 0})
    assert w.job("j")["timeoutConfig"] == {"inProgressTimeoutInMinutes": 5}
    with aws_error(*NOT_FOUND):
        w.jobs.update_job(job_id="nope", description="x")


def test_cancel_job() -> None:
    w = World(things=3)
    w.create("j", "t0", "t1", "t2")
    w.start_next("t1")
    w.finish("j", "t2")
    out = w.jobs.cancel_job(job_id="j", reason_code="BAD_BUILD_7", comment="oops")
    assert out["jobId"] == "j"
    assert [w.status("j", t) for t in ("t0", "t1", "t2")] == [
        "CANCELED",
        "IN_PROGRESS",
        "SUCCEEDED",
    ]
    job = w.job("j")
    assert (job["status"], job["reasonCode"], job["comment"]) == ("CANCELED", "BAD_BUILD_7", "oops")
    assert job["forceCanceled"] is False
    # a canceled job can be canceled again with force, which cancels IN_PROGRESS executions too
    w.jobs.cancel_job(job_id="j", force=True)
    assert w.status("j", "t1") == "CANCELED"
    assert w.jobs.describe_job_execution(job_id="j", thing_name="t1")["execution"]["forceCanceled"]
    assert w.job("j")["forceCanceled"] is True
    with aws_error(*INVALID):
        w.jobs.cancel_job(job_id="j")
    with aws_error(*INVALID):
        w.jobs.cancel_job(job_id="j", force=True, reason_code="lower")


def test_cancel_completed_job_refused() -> None:
    w = World(things=1)
    w.create("j", "t0")
    w.finish("j", "t0")
    assert w.job("j")["status"] == "COMPLETED"
    with aws_error(*INVALID):
        w.jobs.cancel_job(job_id="j")


def test_delete_job() -> None:
    w = World(options=JobsOptions(deletion_delay_s=10), things=2)
    w.create("j", "t0", "t1")
    w.start_next("t0")
    with aws_error("InvalidStateTransitionException", 409):
        w.jobs.delete_job(job_id="j")
    w.bus.messages.clear()
    assert w.jobs.delete_job(job_id="j", force=True) == {}
    assert w.job("j")["status"] == "DELETION_IN_PROGRESS"
    assert w.data.get_pending_job_executions(thing_name="t0") == {
        "inProgressJobs": [],
        "queuedJobs": [],
    }
    assert w.messages("notify", "t0")[-1]["jobs"] == {}
    assert "execution" not in w.messages("notify-next", "t1")[-1]
    with aws_error(*NOT_FOUND):
        w.update("j", "t0", "SUCCEEDED")
    with aws_error(*INVALID):
        w.jobs.cancel_job(job_id="j")
    with aws_error("InvalidStateTransitionException", 409):
        w.jobs.delete_job(job_id="j", force=True)
    with aws_error("ResourceAlreadyExistsException", 409):
        w.create("j", "t0")
    w.advance(10)
    with aws_error(*NOT_FOUND):
        w.jobs.describe_job(job_id="j")
    assert w.jobs.list_job_executions_for_thing(thing_name="t0")["executionSummaries"] == []
    w.create("j", "t0")  # the id is free again
    assert w.status("j", "t0") == "QUEUED"


def test_delete_completed_job_without_force_and_the_deletion_limit() -> None:
    w = World(things=1)
    for i in range(11):
        w.create(f"j{i}", "t0")
        w.jobs.cancel_job(job_id=f"j{i}")
    for i in range(10):
        w.jobs.delete_job(job_id=f"j{i}")
    with aws_error("LimitExceededException", 410):
        w.jobs.delete_job(job_id="j10")
    assert w.job("j10")["status"] == "CANCELED"
    w.advance(1)
    w.jobs.delete_job(job_id="j10")


def test_associate_targets_with_job() -> None:
    w = World(things=3)
    w.create("snap", "t0")
    with aws_error(*INVALID):
        w.jobs.associate_targets_with_job(job_id="snap", targets=[w.thing_arn("t1")])
    w.create("cont", "t0", target_selection="CONTINUOUS")
    out = w.jobs.associate_targets_with_job(
        job_id="cont", targets=[w.thing_arn("t1"), w.thing_arn("t0")], comment="more"
    )
    assert out["jobId"] == "cont"
    assert w.status("cont", "t1") == "QUEUED"
    assert w.job("cont")["targets"] == [w.thing_arn("t0"), w.thing_arn("t1")]
    with aws_error(*NOT_FOUND):
        w.jobs.associate_targets_with_job(job_id="cont", targets=[w.thing_arn("zz")])
    w.jobs.cancel_job(job_id="cont")
    with aws_error(*INVALID):
        w.jobs.associate_targets_with_job(job_id="cont", targets=[w.thing_arn("t2")])


# -- templates -----------------------------------------------------------------------------------


def test_job_templates() -> None:
    w = World(things=1)
    out = w.jobs.create_job_template(
        job_template_id="tpl",
        description="a template",
        document=DOC,
        timeout_config={"inProgressTimeoutInMinutes": 3},
        maintenance_windows=[{"startTime": "cron(0 0 * * ? *)", "durationInMinutes": 30}],
    )
    arn = w.scope.arn("jobtemplate/tpl")
    assert out == {"jobTemplateArn": arn, "jobTemplateId": "tpl"}
    described = w.jobs.describe_job_template(job_template_id="tpl")
    assert described["document"] == DOC
    assert described["timeoutConfig"] == {"inProgressTimeoutInMinutes": 3}
    assert described["maintenanceWindows"][0]["durationInMinutes"] == 30
    with aws_error("ConflictException", 409) as info:
        w.jobs.create_job_template(job_template_id="tpl", description="again", document=DOC)
    assert info.value.fields()["resourceId"] == "tpl"
    # CreateJob from the template takes its document and configuration
    w.create("j", "t0", job_template_arn=arn)
    job = w.job("j")
    assert job["jobTemplateArn"] == arn
    assert job["timeoutConfig"] == {"inProgressTimeoutInMinutes": 3}
    assert w.jobs.get_job_document(job_id="j")["document"] == DOC
    with aws_error(*INVALID):
        w.create("k", "t0", job_template_arn=arn, document=DOC)
    # a template from a job
    w.jobs.create_job_template(
        job_template_id="copy", description="d", job_arn=w.scope.arn("job/j")
    )
    assert w.jobs.describe_job_template(job_template_id="copy")["document"] == DOC
    listed = w.jobs.list_job_templates()["jobTemplates"]
    assert [t["jobTemplateId"] for t in listed] == ["tpl", "copy"]
    page = w.jobs.list_job_templates(max_results=1)
    assert len(page["jobTemplates"]) == 1 and "nextToken" in page
    assert w.jobs.delete_job_template(job_template_id="tpl") == {}
    with aws_error(*NOT_FOUND):
        w.jobs.describe_job_template(job_template_id="tpl")
    with aws_error(*NOT_FOUND):
        w.jobs.delete_job_template(job_template_id="tpl")
    with aws_error(*NOT_FOUND):
        w.create("k", "t0", job_template_arn=arn)


def test_template_rules() -> None:
    w = World(things=1)
    with aws_error(*INVALID):
        w.jobs.create_job_template(job_template_id="t", description=None, document=DOC)  # type: ignore[arg-type]
    with aws_error(*INVALID):
        w.jobs.create_job_template(job_template_id="t", description="d")
    with aws_error(*INVALID):
        w.jobs.create_job_template(
            job_template_id="t", description="d", document=DOC, document_source="s3://x"
        )
    w.jobs.create_job_template(
        job_template_id="s3", description="d", document_source="https://s3.amazonaws.com/b/k"
    )
    assert (
        w.jobs.describe_job_template(job_template_id="s3")["documentSource"]
        == "https://s3.amazonaws.com/b/k"
    )
    with aws_error(*INVALID) as info:
        w.create("j", "t0", job_template_arn=w.scope.arn("jobtemplate/s3"))
    assert "documentSource" in info.value.message


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


_CONTROL_OPS = [
    "CreateJob",
    "DescribeJob",
    "GetJobDocument",
    "ListJobs",
    "UpdateJob",
    "CancelJob",
    "DeleteJob",
    "AssociateTargetsWithJob",
    "CreateJobTemplate",
    "DescribeJobTemplate",
    "ListJobTemplates",
    "DeleteJobTemplate",
    "ListJobExecutionsForJob",
    "ListJobExecutionsForThing",
    "DescribeJobExecution",
    "CancelJobExecution",
    "DeleteJobExecution",
]
_DATA_OPS = [
    "GetPendingJobExecutions",
    "StartNextPendingJobExecution",
    "DescribeJobExecution",
    "UpdateJobExecution",
]


@pytest.mark.parametrize(
    ("service", "operation"),
    [("iot", op) for op in _CONTROL_OPS] + [("iot-jobs-data", op) for op in _DATA_OPS],
)
def test_methods_follow_the_service_model(service: str, operation: str) -> None:
    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).input_shape
    w = World()
    target = w.jobs_service if service == "iot" else w.data_service
    params = inspect.signature(getattr(target, _snake(operation))).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert set(params) == {_snake(m) for m in shape.members}
    required = {n for n, p in params.items() if p.default is inspect.Parameter.empty}
    assert required == {_snake(m) for m in shape.required_members}
