"""Wire shapes: the typed results of the services turned into AWS's JSON members.

Services return typed records; this package holds every camelCase key. :data:`ENCODERS` maps
``(botocore service, operation)`` to the encoder of that operation's result: the HTTP dispatcher
looks it up once per route; every service the HTTP API routes to has its operations here (adding
a service is adding its encoders). An operation that returns ``None`` answers ``{}``
(:func:`empty`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from simulator.api.wire import catalog, events, index, jobs, jobs_data, registry, security, shadow

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
    # -- Software Package Catalog
    ("iot", "CreatePackage"): catalog.create_package,
    ("iot", "GetPackage"): catalog.get_package,
    ("iot", "UpdatePackage"): empty,
    ("iot", "DeletePackage"): empty,
    ("iot", "ListPackages"): catalog.list_packages,
    ("iot", "CreatePackageVersion"): catalog.create_package_version,
    ("iot", "GetPackageVersion"): catalog.get_package_version,
    ("iot", "UpdatePackageVersion"): empty,
    ("iot", "DeletePackageVersion"): empty,
    ("iot", "ListPackageVersions"): catalog.list_package_versions,
    ("iot", "AssociateSbomWithPackageVersion"): catalog.sbom_association,
    ("iot", "DisassociateSbomFromPackageVersion"): empty,
    ("iot", "ListSbomValidationResults"): catalog.list_sbom_validation_results,
    ("iot", "GetPackageConfiguration"): catalog.get_package_configuration,
    ("iot", "UpdatePackageConfiguration"): empty,
    # -- registry
    ("iot", "CreateThing"): registry.create_thing,
    ("iot", "DescribeThing"): registry.describe_thing,
    ("iot", "ListThings"): registry.list_things,
    ("iot", "UpdateThing"): empty,
    ("iot", "DeleteThing"): empty,
    ("iot", "CreateThingType"): registry.create_thing_type,
    ("iot", "DescribeThingType"): registry.describe_thing_type,
    ("iot", "CreateThingGroup"): registry.create_thing_group,
    ("iot", "DescribeThingGroup"): registry.describe_thing_group,
    ("iot", "UpdateThingGroup"): registry.group_version,
    ("iot", "DeleteThingGroup"): empty,
    ("iot", "ListThingGroups"): registry.list_thing_groups,
    ("iot", "AddThingToThingGroup"): empty,
    ("iot", "RemoveThingFromThingGroup"): empty,
    ("iot", "ListThingsInThingGroup"): registry.list_things_in_thing_group,
    ("iot", "ListThingGroupsForThing"): registry.list_thing_groups,
    # -- certificates, policies, thing principals, endpoint
    ("iot", "CreateKeysAndCertificate"): security.create_keys_and_certificate,
    ("iot", "DescribeCertificate"): security.describe_certificate,
    ("iot", "UpdateCertificate"): empty,
    ("iot", "DeleteCertificate"): empty,
    ("iot", "ListCertificates"): security.list_certificates,
    ("iot", "CreatePolicy"): security.create_policy,
    ("iot", "GetPolicy"): security.get_policy,
    ("iot", "DeletePolicy"): empty,
    ("iot", "ListPolicies"): security.list_policies,
    ("iot", "AttachPolicy"): empty,
    ("iot", "DetachPolicy"): empty,
    ("iot", "ListAttachedPolicies"): security.list_policies,
    ("iot", "ListTargetsForPolicy"): security.list_targets_for_policy,
    ("iot", "AttachThingPrincipal"): empty,
    ("iot", "DetachThingPrincipal"): empty,
    ("iot", "ListThingPrincipals"): security.list_thing_principals,
    ("iot", "ListPrincipalThings"): security.list_principal_things,
    ("iot", "DescribeEndpoint"): security.describe_endpoint,
    # -- tags
    ("iot", "TagResource"): empty,
    ("iot", "UntagResource"): empty,
    ("iot", "ListTagsForResource"): security.list_tags_for_resource,
    # -- fleet indexing and dynamic thing groups
    ("iot", "GetIndexingConfiguration"): index.get_indexing_configuration,
    ("iot", "UpdateIndexingConfiguration"): empty,
    ("iot", "DescribeIndex"): index.describe_index,
    ("iot", "SearchIndex"): index.search_index,
    ("iot", "CreateDynamicThingGroup"): index.create_dynamic_thing_group,
    ("iot", "UpdateDynamicThingGroup"): registry.group_version,
    ("iot", "DeleteDynamicThingGroup"): empty,
    ("iot", "GetStatistics"): index.get_statistics,
    ("iot", "GetCardinality"): index.get_cardinality,
    ("iot", "GetPercentiles"): index.get_percentiles,
    ("iot", "GetBucketsAggregation"): index.get_buckets_aggregation,
    # -- event configurations
    ("iot", "UpdateEventConfigurations"): empty,
    ("iot", "DescribeEventConfigurations"): events.describe_event_configurations,
    # -- Device Shadow
    ("iot-data", "GetThingShadow"): shadow.get_thing_shadow,
    ("iot-data", "UpdateThingShadow"): shadow.update_thing_shadow,
    ("iot-data", "DeleteThingShadow"): shadow.delete_thing_shadow,
    ("iot-data", "ListNamedShadowsForThing"): shadow.list_named_shadows_for_thing,
}
