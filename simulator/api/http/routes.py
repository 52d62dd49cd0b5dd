"""The route table: every operation the HTTP server answers, as data.

One row per operation: the botocore service name, the HTTP method and URI template (both as in
botocore's service model, which ``tests/api/test_http_routes.py`` checks row by row), the
operation name and the :class:`~simulator.services.controlplane.ControlPlane` attribute whose
``snake_case(operation)`` method serves it. Requests are routed first by the SigV4 credential
scope's service (:data:`SIGNING_NAMES`), because ``iot`` and ``iot-jobs-data`` share paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["ROUTES", "SIGNING_NAMES", "Route", "ServiceName"]

ServiceName = Literal["iot", "iot-jobs-data", "iot-data"]

#: SigV4 credential-scope service name -> botocore service name.
SIGNING_NAMES: Final[dict[str, ServiceName]] = {
    "iot": "iot",
    "iot-jobs-data": "iot-jobs-data",
    "iotdata": "iot-data",
}


@dataclass(frozen=True, slots=True)
class Route:
    service: ServiceName
    method: str
    uri: str
    operation: str
    attribute: str


def _iot(method: str, uri: str, operation: str, attribute: str) -> Route:
    return Route("iot", method, uri, operation, attribute)


def _jobs_data(method: str, uri: str, operation: str, attribute: str) -> Route:
    return Route("iot-jobs-data", method, uri, operation, attribute)


def _shadow(method: str, uri: str, operation: str, attribute: str) -> Route:
    return Route("iot-data", method, uri, operation, attribute)


_PV = "/packages/{packageName}/versions/{versionName}"
_TJ = "/things/{thingName}/jobs"

ROUTES: Final[tuple[Route, ...]] = (
    # -- Software Package Catalog
    _iot("PUT", "/packages/{packageName}", "CreatePackage", "catalog"),
    _iot("GET", "/packages/{packageName}", "GetPackage", "catalog"),
    _iot("PATCH", "/packages/{packageName}", "UpdatePackage", "catalog"),
    _iot("DELETE", "/packages/{packageName}", "DeletePackage", "catalog"),
    _iot("GET", "/packages", "ListPackages", "catalog"),
    _iot("PUT", _PV, "CreatePackageVersion", "catalog"),
    _iot("GET", _PV, "GetPackageVersion", "catalog"),
    _iot("PATCH", _PV, "UpdatePackageVersion", "catalog"),
    _iot("DELETE", _PV, "DeletePackageVersion", "catalog"),
    _iot("GET", "/packages/{packageName}/versions", "ListPackageVersions", "catalog"),
    _iot("PUT", f"{_PV}/sbom", "AssociateSbomWithPackageVersion", "catalog"),
    _iot("DELETE", f"{_PV}/sbom", "DisassociateSbomFromPackageVersion", "catalog"),
    _iot("GET", f"{_PV}/sbom-validation-results", "ListSbomValidationResults", "catalog"),
    _iot("GET", "/package-configuration", "GetPackageConfiguration", "catalog"),
    _iot("PATCH", "/package-configuration", "UpdatePackageConfiguration", "catalog"),
    # -- registry
    _iot("POST", "/things/{thingName}", "CreateThing", "registry"),
    _iot("GET", "/things/{thingName}", "DescribeThing", "registry"),
    _iot("GET", "/things", "ListThings", "registry"),
    _iot("PATCH", "/things/{thingName}", "UpdateThing", "registry"),
    _iot("DELETE", "/things/{thingName}", "DeleteThing", "registry"),
    _iot("POST", "/thing-types/{thingTypeName}", "CreateThingType", "registry"),
    _iot("GET", "/thing-types/{thingTypeName}", "DescribeThingType", "registry"),
    _iot("POST", "/thing-groups/{thingGroupName}", "CreateThingGroup", "registry"),
    _iot("GET", "/thing-groups/{thingGroupName}", "DescribeThingGroup", "registry"),
    _iot("PATCH", "/thing-groups/{thingGroupName}", "UpdateThingGroup", "registry"),
    _iot("DELETE", "/thing-groups/{thingGroupName}", "DeleteThingGroup", "registry"),
    _iot("GET", "/thing-groups", "ListThingGroups", "registry"),
    _iot("PUT", "/thing-groups/addThingToThingGroup", "AddThingToThingGroup", "registry"),
    _iot("PUT", "/thing-groups/removeThingFromThingGroup", "RemoveThingFromThingGroup", "registry"),
    _iot("GET", "/thing-groups/{thingGroupName}/things", "ListThingsInThingGroup", "registry"),
    _iot("GET", "/things/{thingName}/thing-groups", "ListThingGroupsForThing", "registry"),
    # -- certificates, policies, thing principals, the endpoint
    _iot("POST", "/keys-and-certificate", "CreateKeysAndCertificate", "security"),
    _iot("GET", "/certificates/{certificateId}", "DescribeCertificate", "security"),
    _iot("PUT", "/certificates/{certificateId}", "UpdateCertificate", "security"),
    _iot("DELETE", "/certificates/{certificateId}", "DeleteCertificate", "security"),
    _iot("GET", "/certificates", "ListCertificates", "security"),
    _iot("POST", "/policies/{policyName}", "CreatePolicy", "security"),
    _iot("GET", "/policies/{policyName}", "GetPolicy", "security"),
    _iot("DELETE", "/policies/{policyName}", "DeletePolicy", "security"),
    _iot("GET", "/policies", "ListPolicies", "security"),
    _iot("PUT", "/target-policies/{policyName}", "AttachPolicy", "security"),
    _iot("POST", "/target-policies/{policyName}", "DetachPolicy", "security"),
    _iot("POST", "/attached-policies/{target}", "ListAttachedPolicies", "security"),
    _iot("POST", "/policy-targets/{policyName}", "ListTargetsForPolicy", "security"),
    _iot("PUT", "/things/{thingName}/principals", "AttachThingPrincipal", "security"),
    _iot("DELETE", "/things/{thingName}/principals", "DetachThingPrincipal", "security"),
    _iot("GET", "/things/{thingName}/principals", "ListThingPrincipals", "security"),
    _iot("GET", "/principals/things", "ListPrincipalThings", "security"),
    _iot("GET", "/endpoint", "DescribeEndpoint", "security"),
    # -- tags
    _iot("POST", "/tags", "TagResource", "tags"),
    _iot("POST", "/untag", "UntagResource", "tags"),
    _iot("GET", "/tags", "ListTagsForResource", "tags"),
    # -- jobs control plane
    _iot("PUT", "/jobs/{jobId}", "CreateJob", "jobs"),
    _iot("GET", "/jobs/{jobId}", "DescribeJob", "jobs"),
    _iot("GET", "/jobs/{jobId}/job-document", "GetJobDocument", "jobs"),
    _iot("GET", "/jobs", "ListJobs", "jobs"),
    _iot("PATCH", "/jobs/{jobId}", "UpdateJob", "jobs"),
    _iot("PUT", "/jobs/{jobId}/cancel", "CancelJob", "jobs"),
    _iot("DELETE", "/jobs/{jobId}", "DeleteJob", "jobs"),
    _iot("POST", "/jobs/{jobId}/targets", "AssociateTargetsWithJob", "jobs"),
    _iot("PUT", "/job-templates/{jobTemplateId}", "CreateJobTemplate", "jobs"),
    _iot("GET", "/job-templates/{jobTemplateId}", "DescribeJobTemplate", "jobs"),
    _iot("GET", "/job-templates", "ListJobTemplates", "jobs"),
    _iot("DELETE", "/job-templates/{jobTemplateId}", "DeleteJobTemplate", "jobs"),
    _iot("GET", "/jobs/{jobId}/things", "ListJobExecutionsForJob", "jobs"),
    _iot("GET", _TJ, "ListJobExecutionsForThing", "jobs"),
    _iot("GET", f"{_TJ}/{{jobId}}", "DescribeJobExecution", "jobs"),
    _iot("PUT", f"{_TJ}/{{jobId}}/cancel", "CancelJobExecution", "jobs"),
    _iot(
        "DELETE",
        f"{_TJ}/{{jobId}}/executionNumber/{{executionNumber}}",
        "DeleteJobExecution",
        "jobs",
    ),
    # -- fleet indexing and dynamic groups
    _iot("GET", "/indexing/config", "GetIndexingConfiguration", "index"),
    _iot("POST", "/indexing/config", "UpdateIndexingConfiguration", "index"),
    _iot("POST", "/indices/search", "SearchIndex", "index"),
    _iot("GET", "/indices/{indexName}", "DescribeIndex", "index"),
    _iot("POST", "/dynamic-thing-groups/{thingGroupName}", "CreateDynamicThingGroup", "index"),
    _iot("PATCH", "/dynamic-thing-groups/{thingGroupName}", "UpdateDynamicThingGroup", "index"),
    _iot("DELETE", "/dynamic-thing-groups/{thingGroupName}", "DeleteDynamicThingGroup", "index"),
    _iot("POST", "/indices/statistics", "GetStatistics", "index"),
    _iot("POST", "/indices/cardinality", "GetCardinality", "index"),
    _iot("POST", "/indices/percentiles", "GetPercentiles", "index"),
    _iot("POST", "/indices/buckets", "GetBucketsAggregation", "index"),
    # -- event configurations
    _iot("PATCH", "/event-configurations", "UpdateEventConfigurations", "events"),
    _iot("GET", "/event-configurations", "DescribeEventConfigurations", "events"),
    # -- jobs data plane
    _jobs_data("GET", _TJ, "GetPendingJobExecutions", "jobs_data"),
    _jobs_data("PUT", f"{_TJ}/$next", "StartNextPendingJobExecution", "jobs_data"),
    _jobs_data("GET", f"{_TJ}/{{jobId}}", "DescribeJobExecution", "jobs_data"),
    _jobs_data("POST", f"{_TJ}/{{jobId}}", "UpdateJobExecution", "jobs_data"),
    # -- device shadows
    _shadow("GET", "/things/{thingName}/shadow", "GetThingShadow", "shadows"),
    _shadow("POST", "/things/{thingName}/shadow", "UpdateThingShadow", "shadows"),
    _shadow("DELETE", "/things/{thingName}/shadow", "DeleteThingShadow", "shadows"),
    _shadow(
        "GET",
        "/api/things/shadow/ListNamedShadowsForThing/{thingName}",
        "ListNamedShadowsForThing",
        "shadows",
    ),
)
