"""An external control plane for MQTT runs: a ``fleetsim serve --mqtt`` (by URL) or AWS IoT.

:class:`RemotePlane` is the :class:`~simulator.engine.planes.base.Plane` of a run whose devices
connect to a broker that some other process serves: it sets the scenario up through boto3,
creates the jobs, follows their status and audits ``$package`` at the end (the devices never
talk to it; they talk MQTT, on their own connections:
:class:`~simulator.engine.mqtt.devices.BrokerDevices`).

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
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

import orjson

from simulator.core.device import Device
from simulator.core.errors import UsageError
from simulator.core.substitution import SubstitutionSnapshot
from simulator.engine.consistency import ConsistencyTracker
from simulator.engine.draws import draw_fleet
from simulator.engine.eventlog import EventLog
from simulator.engine.heap import EventHeap, WallClockHeap
from simulator.engine.mqtt import provision
from simulator.engine.mqtt.devices import BrokerDevices
from simulator.engine.mqtt.link import MqttDeviceLink, TransportFactory
from simulator.engine.mqtt.options import AWS_CONNECT_RATE, MqttOptions
from simulator.engine.mqtt.provision import Clients, thread_map, tolerate
from simulator.engine.planes.base import JobInfo
from simulator.engine.scenario import JobSpec, Scenario
from simulator.engine.versions import VersionSampler
from simulator.engine.writers import ManualWriter
from simulator.transport.mqtt import ConnectionPool

__all__ = ["REGISTRATION_TIMEOUT_S", "RemotePlane"]

T = TypeVar("T")

_REGISTERED_POLL_S: Final = 1.0
#: How long shard 0 waits for the other shards to register their things before creating jobs.
REGISTRATION_TIMEOUT_S: Final = 600.0


class RemotePlane:
    """The control plane of an external ``fleetsim serve --mqtt`` or of AWS IoT."""

    def __init__(
        self,
        scenario: Scenario,
        options: MqttOptions,
        *,
        transport: TransportFactory = ConnectionPool,
    ) -> None:
        self.scenario = scenario
        self.options = options
        fleet = scenario.fleet
        self.shard = options.shard
        self.indices = options.shard.range(fleet.devices, first=fleet.first_index)
        heap = WallClockHeap(time.time())
        self.heap: EventHeap = heap
        self.link = MqttDeviceLink(heap, self._inventory_changed)
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
        self.broker = BrokerDevices(self.link, options, transport)
        self._things = provision.fleet_things(scenario, draws, self.indices)
        self._names = frozenset(device.name for device in devices)
        self._reported: dict[str, dict[str, Any]] = {
            name: {p: {"version": v} for p, v in shown.items()} for name, _, shown in self._things
        }
        packages = frozenset(p.name for p in scenario.catalog.packages)
        self.tracker = ConsistencyTracker(devices, packages, self._state)
        self.tracker.now = self.heap
        self.writers: Sequence[ManualWriter] = ()
        self.job_errors: list[str] = []
        self.notes: list[str] = []
        # No version timeline here: aggregating ``$package`` versions needs a custom field per
        # package in the account's indexing configuration, and changing that on AWS rebuilds
        # the account's index (REBUILDING) under whatever else uses it; a load run does not
        # do that behind the user's back. (GetBucketsAggregation over boto3 would also need a
        # worker thread per sample, as DescribeJob's polling does.)
        self.versions: VersionSampler | None = None
        if options.kind == "aws":
            self.notes.append(
                f"connects paced at {options.rate:g}/s (AWS IoT CONNECT quota: 100/s in "
                f"smaller regions, 500/s in large ones; default here {AWS_CONNECT_RATE:g}/s)"
            )
        if scenario.faults:
            self.notes.append(
                "the scenario's [[faults]] are played on the in-process bus only; this run "
                "over MQTT plays none"
            )
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
        self._clients: Clients | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=provision.WORKERS, thread_name_prefix="fleetsim-remote"
        )
        self._setup_s = 0.0
        self._refresh_errors = 0

    @property
    def start(self) -> float:
        return self._start

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def transport(self) -> str:
        return "mqtt"

    async def open(self) -> None:
        self.broker.check_credentials(self.devices)
        began = time.time()
        fleet = self.scenario.fleet
        things = self._things
        try:
            clients = self._clients = await self._call(Clients, self.options, self.scenario)
            if self.shard.index == 0:
                await self._call(provision.create_catalog, clients.iot, self.scenario.catalog)
            groups = [fleet.group, *(g.name for g in fleet.groups)]
            await self._call(provision.create_groups, clients.iot, groups)
            register = functools.partial(
                provision.register_things, clients, things, create=self.options.kind == "url"
            )
            await self._call(register)
            if self.shard.index == 0:
                await self._wait_registered()
                dynamic = self.scenario.dynamic_groups
                await self._call(provision.create_dynamic_groups, clients.iot, dynamic)
        except UsageError:
            raise
        except Exception as exc:
            where = self.options.control_plane
            raise UsageError(f"control plane {where}: {provision.describe_error(exc)}") from None
        self._setup_s = time.time() - began
        self._start = time.time()
        heap = self.heap
        assert isinstance(heap, WallClockHeap)
        heap.advance(self._start)
        self.tracker.writer = "device"
        if self.shard.index == 0:
            for job in self.scenario.jobs:
                self.heap.at(self._start + job.at_s, self._create_job, job)

    async def connect(self, log: EventLog | None) -> None:
        self.link.log = log
        await self.broker.start()

    async def close(self) -> None:
        await self.broker.close()
        for task in self._tasks:
            task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @property
    def clients(self) -> Clients:
        assert self._clients is not None, "open() first"
        return self._clients

    async def _wait_registered(self) -> None:
        """Shard 0: wait until every thing of the fleet is in the fleet group."""
        fleet = self.scenario.fleet
        deadline = time.monotonic() + REGISTRATION_TIMEOUT_S
        while True:
            count = await self._call(provision.count_members, self.clients.iot, fleet.group)
            if count >= fleet.devices:
                return
            if time.monotonic() > deadline:
                self.notes.append(
                    f"jobs created with {count} of {fleet.devices} things registered: the "
                    f"other shards did not register theirs within {REGISTRATION_TIMEOUT_S:g} s"
                )
                return
            await asyncio.sleep(_REGISTERED_POLL_S)

    # -- jobs ---------------------------------------------------------------------------------

    def _create_job(self, job: JobSpec, _: object = None) -> None:
        task = asyncio.get_running_loop().create_task(self._create(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _create(self, job: JobSpec) -> None:
        try:
            await self._call(provision.create_job, self.clients.iot, self.scenario, job)
        except Exception as exc:
            self._failed.add(job.id)
            self.job_errors.append(f"CreateJob {job.id}: {provision.describe_error(exc)}")
            return
        self._created[job.id] = time.time()

    async def refresh(self) -> None:
        if self._clients is None:
            return
        try:
            self._jobs.update(await self._call(self._describe_jobs))
        except Exception:  # a slow or restarting plane: keep the last view, count it
            self._refresh_errors += 1

    def _describe_jobs(self) -> dict[str, JobInfo]:
        jobs = [job.id for job in self.scenario.jobs if job.id not in self._failed]
        return provision.describe_jobs(self.clients.iot, jobs, self._created, self._start)

    def jobs(self) -> dict[str, JobInfo]:
        return dict(self._jobs)

    def jobs_pending(self, now: float) -> bool:
        return any(j.id not in self._jobs and j.id not in self._failed for j in self.scenario.jobs)

    # -- end of run -------------------------------------------------------------------------

    async def terminal_executions(self) -> tuple[list[float], list[str]]:
        return await self._call(self._terminal_sync)

    def _terminal_sync(self) -> tuple[list[float], list[str]]:
        return provision.terminal_executions(self.clients.iot, self._jobs, self._names)

    async def audit(self) -> None:
        if self._clients is None:
            return
        shadows = await self._call(self._shadows_sync)
        self._reported.update(shadows)
        self.tracker.audit()

    def _shadows_sync(self) -> dict[str, dict[str, Any]]:
        data = self.clients.data

        def one(name: str) -> tuple[str, dict[str, Any]]:
            found = tolerate(
                {provision.NOT_FOUND},
                lambda: data.get_thing_shadow(thingName=name, shadowName="$package"),
            )
            if found is None:
                return name, {}
            document = orjson.loads(found["payload"].read())
            reported = document.get("state", {}).get("reported", {})
            return name, reported if isinstance(reported, dict) else {}

        return dict(thread_map(one, [d.name for d in self.devices]))

    def _state(self, thing: str, shadow: str) -> Mapping[str, Any] | None:
        return self._reported.get(thing) if shadow == "$package" else None

    def _inventory_changed(self, device: Device, package: str) -> None:
        self.tracker.inventory_changed(device, package)

    def check(self) -> None:
        self.broker.check()

    def substitution(self) -> SubstitutionSnapshot:
        return SubstitutionSnapshot()  # it happens in the remote control plane

    def online(self) -> int:
        return self.broker.online()

    def messages(self) -> tuple[int, int]:
        return self.link.sent, self.link.received

    def extra(self) -> dict[str, Any]:
        return {
            **self.broker.extra(),
            "setup_s": self._setup_s,
            "shard_devices": f"{self.indices.start}..{self.indices.stop - 1}",
            "status_poll_errors": self._refresh_errors,
        }
