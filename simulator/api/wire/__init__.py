"""Wire shapes: the typed results of the services turned into AWS's JSON members.

Services return typed records; this package holds every camelCase key. :data:`ENCODERS` maps
``(botocore service, operation)`` to the encoder of that operation's result: the HTTP dispatcher
looks it up once per route, and an operation whose service still returns a dict has no entry
(the catalog, registry and index services, for now: adding a service is adding its encoders
here). An operation that returns ``None`` answers ``{}`` (:func:`empty`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from simulator.api.wire import jobs, jobs_data

__all__ = ["ENCODERS", "Encoder", "empty"]

#: Turns one operation's typed result into its JSON members.
Encoder = Callable[[Any], dict[str, Any]]


def empty(result: None) -> dict[str, Any]:
    """Operations with no output members (UpdateJob, DeleteJob, ...)."""
    return {}


ENCODERS: Final[Mapping[tuple[str, str], Encoder]] = {
    # -- jobs control plane
    ("iot", "CreateJob"): jobs.job_ref,
    ("iot", "DescribeJob"): jobs.describe_job,
    ("iot", "GetJobDocument"): jobs.job_document,
    ("iot", "ListJobs"): jobs.list_jobs,
    ("iot", "UpdateJob"): empty,
    ("iot", "CancelJob"): jobs.job_ref,
    ("iot", "DeleteJob"): empty,
    ("iot", "AssociateTargetsWithJob"): jobs.job_ref,
    ("iot", "CreateJobTemplate"): jobs.template_ref,
    ("iot", "DescribeJobTemplate"): jobs.describe_job_template,
    ("iot", "ListJobTemplates"): jobs.list_job_templates,
    ("iot", "DeleteJobTemplate"): empty,
    ("iot", "ListJobExecutionsForJob"): jobs.executions_for_job,
    ("iot", "ListJobExecutionsForThing"): jobs.executions_for_thing,
    ("iot", "DescribeJobExecution"): jobs.describe_job_execution,
    ("iot", "CancelJobExecution"): empty,
    ("iot", "DeleteJobExecution"): empty,
    # -- jobs data plane
    ("iot-jobs-data", "GetPendingJobExecutions"): jobs_data.pending_executions,
    ("iot-jobs-data", "StartNextPendingJobExecution"): jobs_data.start_next,
    ("iot-jobs-data", "DescribeJobExecution"): jobs_data.describe_execution,
    ("iot-jobs-data", "UpdateJobExecution"): jobs_data.update_execution,
}
