"""The Jobs administration calls over HTTP with boto3: the ones no end-to-end flow reaches.

UpdateJob, AssociateTargetsWithJob, CancelJobExecution, DeleteJobExecution, the job template
calls and UpdateDynamicThingGroup, each with its success and its AWS errors, against a real
``fleetsim serve`` (the conformance table in ``tests/conformance/`` lists these as tested here).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.api.conftest import aws_error, eventually

DOC = json.dumps({"operation": "install"})


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _things(iot: Any, count: int) -> list[tuple[str, str]]:
    made = []
    for _ in range(count):
        name = _name("dev")
        made.append((name, iot.create_thing(thingName=name)["thingArn"]))
    return made


def _status(iot: Any, job: str, thing: str) -> str:
    execution = iot.describe_job_execution(jobId=job, thingName=thing)["execution"]
    return str(execution["status"])


def test_update_job_changes_what_describe_shows(iot: Any) -> None:
    [(_, arn)] = _things(iot, 1)
    job = _name("job")
    iot.create_job(jobId=job, targets=[arn], document=DOC)
    iot.update_job(
        jobId=job,
        description="second wave",
        jobExecutionsRolloutConfig={"maximumPerMinute": 10},
        timeoutConfig={"inProgressTimeoutInMinutes": 5},
    )
    described = iot.describe_job(jobId=job)["job"]
    assert described["description"] == "second wave"
    assert described["jobExecutionsRolloutConfig"] == {"maximumPerMinute": 10}
    assert described["timeoutConfig"] == {"inProgressTimeoutInMinutes": 5}
    code, status, _ = aws_error(
        iot.update_job, jobId=job, timeoutConfig={"inProgressTimeoutInMinutes": 0}
    )
    assert (code, status) == ("InvalidRequestException", 400)
    assert iot.describe_job(jobId=job)["job"]["timeoutConfig"] == {"inProgressTimeoutInMinutes": 5}
    code, status, _ = aws_error(iot.update_job, jobId=_name("nope"), description="x")
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_associate_targets_with_a_continuous_job_only(iot: Any) -> None:
    (first, first_arn), (second, second_arn) = _things(iot, 2)
    snapshot = _name("snap")
    iot.create_job(jobId=snapshot, targets=[first_arn], document=DOC)
    code, status, _ = aws_error(
        iot.associate_targets_with_job, jobId=snapshot, targets=[second_arn]
    )
    assert (code, status) == ("InvalidRequestException", 400)

    continuous = _name("cont")
    iot.create_job(
        jobId=continuous, targets=[first_arn], document=DOC, targetSelection="CONTINUOUS"
    )
    out = iot.associate_targets_with_job(jobId=continuous, targets=[second_arn], comment="more")
    assert out["jobId"] == continuous
    assert _status(iot, continuous, second) == "QUEUED"
    assert set(iot.describe_job(jobId=continuous)["job"]["targets"]) == {first_arn, second_arn}
    missing = second_arn.replace(second, _name("ghost"))
    code, status, _ = aws_error(iot.associate_targets_with_job, jobId=continuous, targets=[missing])
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert first


def test_cancel_and_delete_one_execution(iot: Any, iot_jobs_data: Any) -> None:
    (queued, queued_arn), (running, running_arn) = _things(iot, 2)
    job = _name("job")
    iot.create_job(jobId=job, targets=[queued_arn, running_arn], document=DOC)

    code, status, _ = aws_error(
        iot.cancel_job_execution, jobId=job, thingName=queued, expectedVersion=5
    )
    assert (code, status) == ("VersionConflictException", 409)
    iot.cancel_job_execution(jobId=job, thingName=queued, statusDetails={"by": "operator"})
    assert _status(iot, job, queued) == "CANCELED"

    iot_jobs_data.start_next_pending_job_execution(thingName=running)
    code, status, _ = aws_error(iot.cancel_job_execution, jobId=job, thingName=running)
    assert (code, status) == ("InvalidStateTransitionException", 409)
    iot.cancel_job_execution(jobId=job, thingName=running, force=True)
    execution = iot.describe_job_execution(jobId=job, thingName=running)["execution"]
    assert (execution["status"], execution["forceCanceled"]) == ("CANCELED", True)

    iot.delete_job_execution(jobId=job, thingName=queued, executionNumber=1)
    code, status, _ = aws_error(iot.describe_job_execution, jobId=job, thingName=queued)
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, status, _ = aws_error(
        iot.delete_job_execution, jobId=job, thingName=queued, executionNumber=1
    )
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_delete_an_in_progress_execution_needs_force(iot: Any, iot_jobs_data: Any) -> None:
    [(thing, arn)] = _things(iot, 1)
    job = _name("job")
    iot.create_job(jobId=job, targets=[arn], document=DOC)
    iot_jobs_data.start_next_pending_job_execution(thingName=thing)
    code, status, _ = aws_error(
        iot.delete_job_execution, jobId=job, thingName=thing, executionNumber=1
    )
    assert (code, status) == ("InvalidStateTransitionException", 409)
    iot.delete_job_execution(jobId=job, thingName=thing, executionNumber=1, force=True)
    assert iot.list_job_executions_for_thing(thingName=thing)["executionSummaries"] == []


def test_job_template_lifecycle(iot: Any) -> None:
    template = _name("tpl")
    created = iot.create_job_template(
        jobTemplateId=template,
        description="a template",
        document=DOC,
        timeoutConfig={"inProgressTimeoutInMinutes": 3},
    )
    assert created["jobTemplateId"] == template
    described = iot.describe_job_template(jobTemplateId=template)
    assert (described["document"], described["timeoutConfig"]) == (
        DOC,
        {"inProgressTimeoutInMinutes": 3},
    )
    listed = [
        item["jobTemplateId"]
        for page in iot.get_paginator("list_job_templates").paginate(
            PaginationConfig={"PageSize": 1}
        )
        for item in page["jobTemplates"]
    ]
    assert template in listed

    [(thing, arn)] = _things(iot, 1)
    job = _name("job")
    iot.create_job(jobId=job, targets=[arn], jobTemplateArn=created["jobTemplateArn"])
    assert iot.get_job_document(jobId=job)["document"] == DOC
    assert thing

    iot.delete_job_template(jobTemplateId=template)
    code, status, _ = aws_error(iot.describe_job_template, jobTemplateId=template)
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, status, _ = aws_error(iot.delete_job_template, jobTemplateId=template)
    assert (code, status) == ("ResourceNotFoundException", 404)


def _members(iot: Any, group: str) -> set[str]:
    return set(iot.list_things_in_thing_group(thingGroupName=group)["things"])


def test_update_dynamic_thing_group_rebuilds_its_membership(iot: Any) -> None:
    iot.update_indexing_configuration(thingIndexingConfiguration={"thingIndexingMode": "REGISTRY"})
    site, other = _name("site"), _name("site")
    here, there = _name("dev"), _name("dev")
    iot.create_thing(thingName=here, attributePayload={"attributes": {"site": site}})
    iot.create_thing(thingName=there, attributePayload={"attributes": {"site": other}})
    group = _name("dyn")
    iot.create_dynamic_thing_group(thingGroupName=group, queryString=f"attributes.site:{site}")
    assert eventually(lambda: _members(iot, group) == {here})

    version = iot.describe_thing_group(thingGroupName=group)["version"]
    updated = iot.update_dynamic_thing_group(
        thingGroupName=group,
        thingGroupProperties={"thingGroupDescription": "moved"},
        queryString=f"attributes.site:{other}",
        expectedVersion=version,
    )
    assert updated["version"] == version + 1
    assert eventually(lambda: _members(iot, group) == {there})
    described = iot.describe_thing_group(thingGroupName=group)
    assert described["queryString"] == f"attributes.site:{other}"
    assert described["thingGroupProperties"]["thingGroupDescription"] == "moved"

    code, status, _ = aws_error(
        iot.update_dynamic_thing_group,
        thingGroupName=group,
        thingGroupProperties={},
        expectedVersion=version,
    )
    assert (code, status) == ("VersionConflictException", 409)
    code, status, _ = aws_error(
        iot.update_dynamic_thing_group,
        thingGroupName=group,
        thingGroupProperties={},
        queryString="attributes.site:(",
    )
    assert (code, status) == ("InvalidQueryException", 400)
    iot.delete_dynamic_thing_group(thingGroupName=group)
