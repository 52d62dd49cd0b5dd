"""Setting a scenario up in an external control plane through boto3 (``fleetsim serve`` or AWS).

Blocking calls, meant for worker threads (:class:`~simulator.engine.planes.remote.RemotePlane`
runs them off the event loop). Every step is idempotent: what exists already (a package, a
group, a thing, a membership) is left as it is, so shards can each run them and a re-run finds
the last one's.
"""

from __future__ import annotations

import concurrent.futures
import functools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeVar

import orjson

from simulator.core.catalog.spec import CatalogSpec
from simulator.core.errors import UsageError
from simulator.engine.draws import FleetDraws
from simulator.engine.mqtt.options import MqttOptions
from simulator.engine.planes.base import TERMINAL_NAMES, JobInfo, epoch, job_info
from simulator.engine.scenario import DynamicGroupSpec, JobSpec, Scenario
from simulator.engine.setup_requests import INDEXING_CONFIGURATION, create_job_request

__all__ = [
    "ALREADY",
    "NOT_FOUND",
    "WORKERS",
    "Clients",
    "count_members",
    "create_catalog",
    "create_dynamic_groups",
    "create_groups",
    "create_job",
    "describe_error",
    "describe_jobs",
    "error_code",
    "register_things",
    "some",
    "terminal_executions",
    "thread_map",
    "tolerate",
]

T = TypeVar("T")

#: Worker threads (and HTTP connections) for per-thing calls.
WORKERS: Final = 16
ALREADY: Final = frozenset(
    {"ResourceAlreadyExistsException", "ConflictException", "ResourceAlreadyExists"}
)
NOT_FOUND: Final = "ResourceNotFoundException"
_VERSION_ACTIONS: Final = {
    "PUBLISHED": ("PUBLISH",),
    "DEPRECATED": ("PUBLISH", "DEPRECATE"),
    "DRAFT": (),
}


def some(**fields: Any) -> dict[str, Any]:
    """The keyword arguments that are not None (boto3 refuses None for optional members)."""
    return {key: value for key, value in fields.items() if value is not None}


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` ("" for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def describe_error(exc: BaseException) -> str:
    """One line for a failed call: ``Code: message``, or the exception's text."""
    if isinstance(exc, UsageError):
        return exc.message
    code = error_code(exc)
    if code:
        message = getattr(exc, "response", {}).get("Error", {}).get("Message", "")
        return f"{code}: {message}" if message else code
    return str(exc) or type(exc).__name__


def tolerate(codes: Iterable[str], call: Callable[[], T]) -> T | None:
    """``call()``, or None when it fails with one of the AWS error ``codes``."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    try:
        return call()
    except ClientError as exc:
        if error_code(exc) in codes:
            return None
        raise


def thread_map(fn: Callable[[Any], T], items: Sequence[Any]) -> Iterator[T]:
    """``map`` over :data:`WORKERS` threads (boto3 clients are thread-safe)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        yield from pool.map(fn, items)


class Clients:
    """boto3 clients of the control plane: ``iot`` and ``iot-data``.

    ``url``: endpoint = the ``fleetsim serve`` URL, region = the scenario's, credentials from
    the environment or else ``test``/``test`` (what ``fleetsim serve`` checks by default).
    ``aws``: boto3's default credentials and region (or ``options.region``), checked against the
    scenario's catalog region and account, and the account's ``iot:Data-ATS`` endpoint.
    """

    def __init__(self, options: MqttOptions, scenario: Scenario, *, attempts: int = 5) -> None:
        import boto3  # type: ignore[import-untyped]  # noqa: PLC0415
        from botocore.config import Config  # noqa: PLC0415

        config = Config(
            max_pool_connections=WORKERS * 2,
            retries={"total_max_attempts": attempts, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        )
        region = scenario.catalog.region
        if options.kind == "aws":
            session = boto3.Session(region_name=options.region)
            if session.region_name is None:
                raise UsageError("--control-plane aws: no AWS region (set AWS_REGION or --region)")
            if session.region_name != region:
                raise UsageError(
                    f"--control-plane aws: the scenario's catalog is in {region} "
                    f"($.catalog.region) but the AWS session is in {session.region_name}"
                )
            self.iot: Any = session.client("iot", config=config)
            account = session.client("sts", config=config).get_caller_identity()["Account"]
            if account != scenario.catalog.account:
                raise UsageError(
                    f"--control-plane aws: the scenario's catalog names account "
                    f"{scenario.catalog.account} ($.catalog.account), the credentials are "
                    f"for {account}"
                )
            endpoint = self.iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
            self.data: Any = session.client(
                "iot-data", endpoint_url=f"https://{endpoint}", config=config
            )
            return
        session = boto3.Session(region_name=region)
        keys: dict[str, str] = {}
        if session.get_credentials() is None:
            keys = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        url = options.control_plane
        self.iot = session.client("iot", endpoint_url=url, config=config, **keys)
        self.data = session.client("iot-data", endpoint_url=url, config=config, **keys)


def create_catalog(iot: Any, spec: CatalogSpec) -> None:
    """Packages, versions (and their status), default versions, the package configuration.

    A package that exists already is left as it is (an earlier run made it).
    """
    for package in spec.packages:
        create = functools.partial(
            iot.create_package, packageName=package.name, **some(description=package.description)
        )
        if tolerate(ALREADY, create) is None:
            continue
        for version in package.versions:
            artifact = None
            if version.artifact is not None:
                location = version.artifact
                artifact = {
                    "s3Location": some(
                        bucket=location.bucket, key=location.key, version=location.version
                    )
                }
            iot.create_package_version(
                packageName=package.name,
                versionName=version.name,
                **some(
                    description=version.description,
                    attributes=version.attributes or None,
                    artifact=artifact,
                    recipe=version.recipe,
                ),
            )
            for action in _VERSION_ACTIONS[version.status]:
                iot.update_package_version(
                    packageName=package.name, versionName=version.name, action=action
                )
        if package.default_version is not None:
            iot.update_package(packageName=package.name, defaultVersionName=package.default_version)
    configuration = spec.configuration
    iot.update_package_configuration(
        versionUpdateByJobsConfig=some(
            enabled=configuration.version_update_by_jobs, roleArn=configuration.role_arn
        )
    )


def fleet_things(
    scenario: Scenario, draws: FleetDraws, indices: Iterable[int]
) -> list[tuple[str, list[str], dict[str, str]]]:
    """What :func:`register_things` registers for the fleet indexes ``indices``: each thing's
    name, its groups (the fleet group and the subgroups it drew) and its initial ``$package``,
    as an in-process run of ``scenario`` draws them."""
    fleet = scenario.fleet
    offset = fleet.first_index
    return [
        (
            scenario.thing_name(index),
            [fleet.group, *(g for g, members in draws.subgroups if index - offset in members)],
            draws.in_shadow[index - offset],
        )
        for index in indices
    ]


def create_groups(iot: Any, names: Iterable[str]) -> None:
    for name in names:
        tolerate(ALREADY, functools.partial(iot.create_thing_group, thingGroupName=name))


def register_things(
    clients: Clients,
    things: Sequence[tuple[str, Sequence[str], dict[str, str]]],
    *,
    create: bool,
) -> None:
    """Per (thing, its groups, its initial ``$package`` versions): create the thing (when
    ``create``), add it to its groups, write its ``$package``. Over :data:`WORKERS` threads.

    Raises:
        UsageError: a thing that does not exist (against AWS, things are not created).
    """

    def one(item: tuple[str, Sequence[str], dict[str, str]]) -> None:
        name, groups, shown = item
        iot, data = clients.iot, clients.data
        if create:
            tolerate(ALREADY, functools.partial(iot.create_thing, thingName=name))
        for group in groups:
            try:
                iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
            except Exception as exc:
                if error_code(exc) == NOT_FOUND:
                    raise UsageError(
                        f"thing {name} does not exist in the control plane (against AWS, create "
                        "the fleet's things, certificates and policy first: README, 'Running "
                        "against staging')"
                    ) from None
                raise
        if shown:
            body = {"state": {"reported": {p: {"version": v} for p, v in shown.items()}}}
            data.update_thing_shadow(
                thingName=name, shadowName="$package", payload=orjson.dumps(body)
            )

    for _ in thread_map(one, things):
        pass


def count_members(iot: Any, group: str) -> int:
    """Things in ``group`` (ListThingsInThingGroup, all pages)."""
    count, token = 0, None
    while True:
        page = iot.list_things_in_thing_group(
            thingGroupName=group, maxResults=250, **some(nextToken=token)
        )
        count += len(page.get("things", []))
        token = page.get("nextToken")
        if not token:
            return count


def create_dynamic_groups(iot: Any, groups: Sequence[DynamicGroupSpec]) -> None:
    """Fleet indexing of registry and ``$package``, then the dynamic groups (if any)."""
    if not groups:
        return
    iot.update_indexing_configuration(thingIndexingConfiguration=INDEXING_CONFIGURATION)
    for group in groups:
        create = functools.partial(
            iot.create_dynamic_thing_group, thingGroupName=group.name, queryString=group.query
        )
        tolerate(ALREADY, create)


def create_job(iot: Any, scenario: Scenario, job: JobSpec, *, job_id: str | None = None) -> None:
    """CreateJob for the scenario's ``job`` (as ``job_id``, default its own id), its targets
    resolved to ARNs by name."""

    def arn(kind: str, name: str) -> str:
        if kind == "thing":
            return str(iot.describe_thing(thingName=name)["thingArn"])
        return str(iot.describe_thing_group(thingGroupName=name)["thingGroupArn"])

    iot.create_job(**create_job_request(scenario, job, arn, job_id=job_id))


def describe_jobs(
    iot: Any, job_ids: Iterable[str], created: Mapping[str, float], start: float
) -> dict[str, JobInfo]:
    """DescribeJob of each job that exists, as :class:`JobInfo` (``created``: when our
    CreateJob returned, the fallback creation time)."""
    out = {}
    for job_id in job_ids:
        found = tolerate({NOT_FOUND}, functools.partial(iot.describe_job, jobId=job_id))
        if found is not None:
            out[job_id] = job_info(found["job"], created.get(job_id, start))
    return out


def terminal_executions(
    iot: Any, jobs: Mapping[str, JobInfo], things: Collection[str] | None = None
) -> tuple[list[float], list[str]]:
    """Per terminal execution of ``jobs`` (of ``things`` only, if given): seconds from the
    job's creation to its last update, and its status (ListJobExecutionsForJob, all pages)."""
    latencies: list[float] = []
    statuses: list[str] = []
    for job_id, job in jobs.items():
        token = None
        while True:
            page = iot.list_job_executions_for_job(
                jobId=job_id, maxResults=250, **some(nextToken=token)
            )
            for item in page.get("executionSummaries", []):
                thing = str(item.get("thingArn", "")).rsplit("/", 1)[-1]
                summary = item["jobExecutionSummary"]
                updated = epoch(summary.get("lastUpdatedAt"))
                ours = things is None or thing in things
                if ours and summary["status"] in TERMINAL_NAMES and updated:
                    latencies.append(updated - job.created_at)
                    statuses.append(summary["status"])
            token = page.get("nextToken")
            if not token:
                break
    return latencies, statuses
