"""An external control plane for MQTT runs: a ``fleetsim serve --mqtt`` (by URL) or AWS IoT.

:class:`RemotePlane` is the :class:`~simulator.engine.mqtt.plane.Plane` of a run whose devices
connect to a broker that some other process serves: it sets the scenario up through boto3,
creates the jobs, follows their status and audits ``$package`` at the end, and nothing else
(the devices never talk to it; they talk MQTT).

Set-up, idempotent, so shards can each run it and a re-run finds what the last one made:

* shard 0: the catalog (packages, versions, their status, default versions, the package
  configuration); a package that already exists is left as it is;
* every shard: the fleet's thing groups, its own things (``url`` only: against AWS they and their
  certificates must exist already; see the README), their memberships as an in-process run
  draws them, and their initial ``$package`` shadows;
* shard 0: once every thing of the fleet is in the fleet group (it polls
  ListThingsInThingGroup, so shards may start in any order), fleet indexing and the dynamic
  groups, then each job at ``at_s`` after that.

Job status comes from DescribeJob, polled in a worker thread (the event loop never waits on
HTTP); the latencies from ListJobExecutionsForJob, restricted to this shard's things; the final
``$package`` audit from GetThingShadow of each device. ``$package`` is not followed during the
run (that would be a request per install), so the timeline's consistency counts stay at their
set-up values until the audit. The scenario's manual writers do not run against an external
plane (noted in the report).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

import orjson

from simulator.core.device import Device
from simulator.core.errors import UsageError
from simulator.engine.consistency import ConsistencyTracker
from simulator.engine.mqtt.clock import WallClockHeap
from simulator.engine.mqtt.draws import draw_fleet
from simulator.engine.mqtt.link import MqttDeviceLink
from simulator.engine.mqtt.options import MqttOptions
from simulator.engine.mqtt.plane import TERMINAL, JobInfo, epoch, job_info
from simulator.engine.scenario import JobSpec, Scenario
from simulator.engine.writers import ManualWriter

__all__ = ["RemotePlane"]

T = TypeVar("T")

_WORKERS: Final = 16
_REGISTERED_POLL_S: Final = 1.0
#: How long shard 0 waits for the other shards to register their things before creating jobs.
REGISTRATION_TIMEOUT_S: Final = 600.0
_ALREADY: Final = frozenset(
    {"ResourceAlreadyExistsException", "ConflictException", "ResourceAlreadyExists"}
)
_NOT_FOUND: Final = "ResourceNotFoundException"
_VERSION_ACTIONS: Final = {
    "PUBLISHED": ("PUBLISH",),
    "DEPRECATED": ("PUBLISH", "DEPRECATE"),
    "DRAFT": (),
}


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _tolerate(codes: Iterable[str], call: Callable[[], T]) -> T | None:
    """``call()``, or None when it fails with one of the AWS error ``codes``."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    try:
        return call()
    except ClientError as exc:
        if _code(exc) in codes:
            return None
        raise


class _Clients:
    """boto3 clients of the control plane: ``iot`` and ``iot-data``."""

    def __init__(self, options: MqttOptions, scenario: Scenario) -> None:
        import boto3  # type: ignore[import-untyped]  # noqa: PLC0415
        from botocore.config import Config  # noqa: PLC0415

        config = Config(
            max_pool_connections=_WORKERS * 2,
            retries={"max_attempts": 5, "mode": "standard"},
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
            # `fleetsim serve` checks signatures with these unless told otherwise.
            keys = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        url = options.control_plane
        self.iot = session.client("iot", endpoint_url=url, config=config, **keys)
        self.data = session.client("iot-data", endpoint_url=url, config=config, **keys)


class RemotePlane:
    """The control plane of an external ``fleetsim serve --mqtt`` or of AWS IoT."""

    def __init__(self, scenario: Scenario, options: MqttOptions) -> None:
        self.scenario = scenario
        self.options = options
        fleet = scenario.fleet
        self.shard = options.shard
        self.indices = options.shard.range(fleet.devices, first=fleet.first_index)
        self.heap = WallClockHeap(time.time())
        self.link = MqttDeviceLink(self.heap, self._inventory_changed)
        draws = draw_fleet(scenario)
        profile = scenario.device_profile()
        offset = fleet.first_index
        devices = [
            Device(
                local,
                scenario.thing_name(index),
                draws.inventories[index - offset],
                profile,
                self.link,
                reports_shadow=draws.reports_shadow[index - offset],
            )
            for local, index in enumerate(self.indices)
        ]
        self.devices: Sequence[Device] = devices
        self.link.attach(devices)
        self._initial = {
            device.name: draws.in_shadow[index - offset]
            for device, index in zip(devices, self.indices, strict=True)
        }
        self._subgroups = [
            (name, frozenset(m + offset for m in members)) for name, members in draws.subgroups
        ]
        self._names = frozenset(device.name for device in devices)
        self._reported: dict[str, dict[str, Any]] = {
            name: {p: {"version": v} for p, v in shown.items()}
            for name, shown in self._initial.items()
        }
        packages = frozenset(p.name for p in scenario.catalog.packages)
        self.tracker = ConsistencyTracker(devices, packages, self._state)
        self.tracker.now = self.heap
        self.writers: Sequence[ManualWriter] = ()
        self.job_errors: list[str] = []
        self.notes: list[str] = []
        if scenario.writers:
            self.notes.append(
                "the scenario's manual $package writers do not run against an external "
                "control plane"
            )
        if self.shard.count > 1:
            self.notes.append(
                f"shard {self.shard.index}/{self.shard.count}: devices "
                f"{self.indices.start}..{self.indices.stop - 1}; execution counts are the "
                "whole job's, latencies and $package this shard's"
            )
        self._jobs: dict[str, JobInfo] = {}
        self._created: dict[str, float] = {}
        self._failed: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._start = self.heap.now
        self._clients: _Clients | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=_WORKERS, thread_name_prefix="fleetsim-remote"
        )
        self._setup_s = 0.0

    @property
    def start(self) -> float:
        return self._start

    # -- lifecycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        began = time.time()
        try:
            self._clients = await self._call(_Clients, self.options, self.scenario)
            if self.shard.index == 0:
                await self._call(self._catalog)
            await self._call(self._groups)
            await self._call(self._things)
            if self.shard.index == 0:
                await self._wait_registered()
                await self._call(self._dynamic_groups)
        except UsageError:
            raise
        except Exception as exc:
            raise UsageError(
                f"control plane {self.options.control_plane}: {_describe(exc)}"
            ) from None
        self._setup_s = time.time() - began
        self._start = time.time()
        self.heap.advance(self._start)
        self.tracker.writer = "device"
        if self.shard.index == 0:
            for job in self.scenario.jobs:
                self.heap.at(self._start + job.at_s, self._create_job, job)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @property
    def clients(self) -> _Clients:
        assert self._clients is not None, "open() first"
        return self._clients

    # -- set-up (worker threads) -----------------------------------------------------------------

    def _catalog(self) -> None:
        iot = self.clients.iot
        spec = self.scenario.catalog
        for package in spec.packages:
            create = functools.partial(
                iot.create_package,
                packageName=package.name,
                **_some(description=package.description),
            )
            created = _tolerate(_ALREADY, create)
            if created is None:
                continue  # made by an earlier run or another shard: leave it as it is
            for version in package.versions:
                artifact = None
                if version.artifact is not None:
                    artifact = {
                        "s3Location": _some(
                            bucket=version.artifact.bucket,
                            key=version.artifact.key,
                            version=version.artifact.version,
                        )
                    }
                iot.create_package_version(
                    packageName=package.name,
                    versionName=version.name,
                    **_some(
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
                iot.update_package(
                    packageName=package.name, defaultVersionName=package.default_version
                )
        configuration = spec.configuration
        iot.update_package_configuration(
            versionUpdateByJobsConfig=_some(
                enabled=configuration.version_update_by_jobs, roleArn=configuration.role_arn
            )
        )

    def _groups(self) -> None:
        iot = self.clients.iot
        fleet = self.scenario.fleet
        for name in [fleet.group, *(g.name for g in fleet.groups)]:
            _tolerate(_ALREADY, functools.partial(iot.create_thing_group, thingGroupName=name))

    def _things(self) -> None:
        create = self.options.kind == "url"
        groups = [self.scenario.fleet.group]
        work = [
            (device.name, [*groups, *(g for g, members in self._subgroups if index in members)])
            for device, index in zip(self.devices, self.indices, strict=True)
        ]

        def one(item: tuple[str, list[str]]) -> None:
            name, member_of = item
            iot, data = self.clients.iot, self.clients.data
            if create:
                _tolerate(_ALREADY, lambda: iot.create_thing(thingName=name))
            for group in member_of:
                try:
                    iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
                except Exception as exc:
                    if _code(exc) == _NOT_FOUND:
                        raise UsageError(
                            f"thing {name} does not exist in the control plane (against AWS, "
                            "create the fleet's things, certificates and policy first: README, "
                            "'Running against staging')"
                        ) from None
                    raise
            shown = self._initial[name]
            if shown:
                body = {"state": {"reported": {p: {"version": v} for p, v in shown.items()}}}
                data.update_thing_shadow(
                    thingName=name, shadowName="$package", payload=orjson.dumps(body)
                )

        for _ in self._executor_map(one, work):
            pass

    def _executor_map(self, fn: Callable[[Any], T], items: Sequence[Any]) -> Iterable[T]:
        # Called from a worker thread: a nested pool keeps the outer executor's threads free.
        with concurrent.futures.ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            yield from pool.map(fn, items)

    async def _wait_registered(self) -> None:
        """Shard 0: wait until every thing of the fleet is in the fleet group."""
        fleet = self.scenario.fleet
        deadline = time.monotonic() + REGISTRATION_TIMEOUT_S
        while True:
            count = await self._call(self._count_members, fleet.group)
            if count >= fleet.devices:
                return
            if time.monotonic() > deadline:
                self.notes.append(
                    f"jobs created with {count} of {fleet.devices} things registered: the "
                    f"other shards did not register theirs within {REGISTRATION_TIMEOUT_S:g} s"
                )
                return
            await asyncio.sleep(_REGISTERED_POLL_S)

    def _count_members(self, group: str) -> int:
        iot = self.clients.iot
        count, token = 0, None
        while True:
            page = iot.list_things_in_thing_group(
                thingGroupName=group, maxResults=250, **_some(nextToken=token)
            )
            count += len(page.get("things", []))
            token = page.get("nextToken")
            if not token:
                return count

    def _dynamic_groups(self) -> None:
        groups = self.scenario.dynamic_groups
        if not groups:
            return
        iot = self.clients.iot
        iot.update_indexing_configuration(
            thingIndexingConfiguration={
                "thingIndexingMode": "REGISTRY_AND_SHADOW",
                "namedShadowIndexingMode": "ON",
                "filter": {"namedShadowNames": ["$package"]},
            }
        )
        for group in groups:
            create = functools.partial(
                iot.create_dynamic_thing_group, thingGroupName=group.name, queryString=group.query
            )
            _tolerate(_ALREADY, create)

    # -- jobs ---------------------------------------------------------------------------------

    def _create_job(self, job: JobSpec, _: object = None) -> None:
        task = asyncio.get_running_loop().create_task(self._create(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _create(self, job: JobSpec) -> None:
        try:
            await self._call(self._create_sync, job)
        except Exception as exc:
            self._failed.add(job.id)
            self.job_errors.append(f"CreateJob {job.id}: {_describe(exc)}")
            return
        self._created[job.id] = time.time()

    def _create_sync(self, job: JobSpec) -> None:
        iot = self.clients.iot
        index = self.scenario.jobs.index(job)
        targets = []
        for target in job.targets:
            kind, _, name = target.partition(":")
            if kind == "thing":
                targets.append(iot.describe_thing(thingName=name)["thingArn"])
            else:
                targets.append(iot.describe_thing_group(thingGroupName=name)["thingGroupArn"])
        document = self.scenario.documents[index]
        iot.create_job(
            jobId=job.id,
            targets=targets,
            targetSelection=job.target_selection,
            **_some(
                document=None if document is None else document.decode(),
                destinationPackageVersions=self.scenario.destinations[index] or None,
                description=job.description,
                jobExecutionsRolloutConfig=job.rollout,
                abortConfig=job.abort,
                timeoutConfig=job.timeout,
                jobExecutionsRetryConfig=job.retry,
                presignedUrlConfig=job.presigned_url,
            ),
        )

    async def refresh(self) -> None:
        if self._clients is None:
            return
        with contextlib.suppress(Exception):  # a slow or restarting plane: keep the last view
            self._jobs.update(await self._call(self._describe_jobs))

    def _describe_jobs(self) -> dict[str, JobInfo]:
        iot = self.clients.iot
        out = {}
        for job in self.scenario.jobs:
            if job.id in self._failed:
                continue
            found = _tolerate({_NOT_FOUND}, functools.partial(iot.describe_job, jobId=job.id))
            if found is not None:
                created = self._created.get(job.id, self._start)
                out[job.id] = job_info(found["job"], created)
        return out

    def jobs(self) -> dict[str, JobInfo]:
        return dict(self._jobs)

    def jobs_pending(self, now: float) -> bool:
        return any(j.id not in self._jobs and j.id not in self._failed for j in self.scenario.jobs)

    # -- end of run -------------------------------------------------------------------------

    async def terminal_executions(self) -> tuple[list[float], list[str]]:
        return await self._call(self._terminal_sync)

    def _terminal_sync(self) -> tuple[list[float], list[str]]:
        iot = self.clients.iot
        latencies: list[float] = []
        statuses: list[str] = []
        for job_id, job in self._jobs.items():
            token = None
            while True:
                page = iot.list_job_executions_for_job(
                    jobId=job_id, maxResults=250, **_some(nextToken=token)
                )
                for item in page.get("executionSummaries", []):
                    thing = str(item.get("thingArn", "")).rsplit("/", 1)[-1]
                    summary = item["jobExecutionSummary"]
                    updated = epoch(summary.get("lastUpdatedAt"))
                    if thing in self._names and summary["status"] in TERMINAL and updated:
                        latencies.append(updated - job.created_at)
                        statuses.append(summary["status"])
                token = page.get("nextToken")
                if not token:
                    break
        return latencies, statuses

    async def audit(self) -> None:
        if self._clients is None:
            return
        shadows = await self._call(self._shadows_sync)
        self._reported.update(shadows)
        self.tracker.audit()

    def _shadows_sync(self) -> dict[str, dict[str, Any]]:
        data = self.clients.data

        def one(name: str) -> tuple[str, dict[str, Any]]:
            found = _tolerate(
                {_NOT_FOUND},
                lambda: data.get_thing_shadow(thingName=name, shadowName="$package"),
            )
            if found is None:
                return name, {}
            document = orjson.loads(found["payload"].read())
            reported = document.get("state", {}).get("reported", {})
            return name, reported if isinstance(reported, dict) else {}

        return dict(self._executor_map(one, [d.name for d in self.devices]))

    def _state(self, thing: str, shadow: str) -> Mapping[str, Any] | None:
        return self._reported.get(thing) if shadow == "$package" else None

    def _inventory_changed(self, device: Device, package: str) -> None:
        self.tracker.inventory_changed(device, package)

    def extra(self) -> dict[str, Any]:
        return {
            "setup_s": self._setup_s,
            "shard_devices": f"{self.indices.start}..{self.indices.stop - 1}",
        }


def _some(**fields: Any) -> dict[str, Any]:
    """The keyword arguments that are not None (boto3 refuses None for optional members)."""
    return {key: value for key, value in fields.items() if value is not None}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UsageError):
        return exc.message
    code = _code(exc)
    if code:
        message = getattr(exc, "response", {}).get("Error", {}).get("Message", "")
        return f"{code}: {message}" if message else code
    return str(exc) or type(exc).__name__
