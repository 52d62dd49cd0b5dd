"""The scenario's set-up as AWS IoT requests: one mapping, whichever plane receives them.

The in-process world calls the emulator's services with these requests (keys in the services'
snake_case, :func:`service_kwargs`); the remote plane, ``fleetsim provision`` and the Locust
operator send them through boto3 as they are. Keys are the CreateJob / UpdateIndexingConfiguration
request members of botocore's model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from botocore import xform_name

from simulator.engine.scenario import JobSpec, Scenario

__all__ = ["INDEXING_CONFIGURATION", "create_job_request", "service_kwargs"]

#: Fleet indexing of the registry and the ``$package`` named shadow (what dynamic groups need).
INDEXING_CONFIGURATION: Final[Mapping[str, Any]] = {
    "thingIndexingMode": "REGISTRY_AND_SHADOW",
    "namedShadowIndexingMode": "ON",
    "filter": {"namedShadowNames": ["$package"]},
}


def create_job_request(
    scenario: Scenario,
    job: JobSpec,
    target_arn: Callable[[str, str], str],
    *,
    job_id: str | None = None,
) -> dict[str, Any]:
    """The CreateJob request of the scenario's ``job``.

    Args:
        scenario: the scenario ``job`` belongs to (its documents and destinations).
        job: one of ``scenario.jobs``.
        target_arn: ``(kind, name) -> ARN`` for each target, ``kind`` ``"thing"`` or
            ``"group"``.
        job_id: the job's id (default: the scenario's).
    """
    index = scenario.jobs.index(job)
    request: dict[str, Any] = {
        "jobId": job_id or job.id,
        "targets": [target_arn(*_kind_name(target)) for target in job.targets],
        "targetSelection": job.target_selection,
    }
    document = scenario.documents[index]
    optional = {
        "document": None if document is None else document.decode(),
        "destinationPackageVersions": scenario.destinations[index] or None,
        "description": job.description,
        "jobExecutionsRolloutConfig": job.rollout,
        "abortConfig": job.abort,
        "timeoutConfig": job.timeout,
        "jobExecutionsRetryConfig": job.retry,
        "presignedUrlConfig": job.presigned_url,
        "schedulingConfig": job.scheduling,
    }
    request.update((key, value) for key, value in optional.items() if value is not None)
    return request


def service_kwargs(request: Mapping[str, Any]) -> dict[str, Any]:
    """A request's top-level members as the services' keyword arguments (as the HTTP API
    passes them: botocore's own name transform)."""
    return {xform_name(key): value for key, value in request.items()}


def _kind_name(target: str) -> tuple[str, str]:
    kind, _, name = target.partition(":")
    return ("thing" if kind == "thing" else "group"), name
