"""Build a scenario's world: the control plane, the registry's things and groups, the devices with
their inventories and initial ``$package``, dynamic groups, writers and the job schedule.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from simulator.api.mqtt.dispatch import MqttApi
from simulator.core.arn import Scope
from simulator.core.catalog.spec import build_catalog
from simulator.core.device import Device, DeviceIO
from simulator.core.distributions import stream
from simulator.core.errors import AwsError, UsageError
from simulator.engine.bus import CloudLink, DeviceLink
from simulator.engine.consistency import ConsistencyTracker
from simulator.engine.draws import draw_fleet
from simulator.engine.eventlog import EventLog
from simulator.engine.faults import FaultSchedule
from simulator.engine.heap import EventHeap, WallClockHeap
from simulator.engine.history import PACKAGE_UPDATE, HistoryRecorder
from simulator.engine.scenario import Scenario
from simulator.engine.setup_requests import create_job_request, service_kwargs
from simulator.engine.versions import VersionSampler, indexing_configuration, rollout_packages
from simulator.engine.writers import ManualWriter, build_writers
from simulator.services.controlplane import ControlPlane, EmulatorOptions
from simulator.services.index import IndexOptions
from simulator.services.jobs import JobsOptions
from simulator.services.runtime import Publisher, Runtime

__all__ = ["EngineLink", "World"]


class EngineLink(DeviceIO, Protocol):
    """The devices' side of a transport, as the run loop sees it."""

    sent: int
    log: EventLog | None


class World:
    """Everything one run is made of, wired over one event heap."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.history: HistoryRecorder | None = None
        run, fleet = scenario.run, scenario.fleet
        self.start = scenario.start_epoch if run.clock == "simulated" else time.time()
        self.heap = self._new_heap(self.start)
        devices: dict[str, Device] = {}
        self.cloud = CloudLink(
            self.heap, stream(run.seed, "latency.down", scenario.latency), devices
        )
        catalog = build_catalog(scenario.catalog)
        self.emulator = ControlPlane(
            Runtime(clock=self.heap, scheduler=self.heap, publisher=self._publisher()),
            self._emulator_options(catalog.scope),
            catalog=catalog,
        )
        self.packages = frozenset(p.name for p in scenario.catalog.packages)
        self.api = MqttApi(self.emulator)
        #: The scenario's ``[[faults]]``, as the in-process bus plays them (None: no fault).
        self.faults = (
            FaultSchedule(scenario.faults, scenario.fault_delays, seed=run.seed, start=self.start)
            if scenario.faults
            else None
        )
        self.link = self._device_link()
        names = [scenario.thing_name(fleet.first_index + i) for i in range(fleet.devices)]
        self.devices = self._build_devices(names, devices)
        self.tracker = ConsistencyTracker(
            self.devices, self.packages, self.emulator.shadows.reported, by_name=devices
        )
        self.tracker.now = self.heap
        self._register(names)
        self._initial_shadows()
        # Follow $package from here on; one audit covers what set-up wrote.
        self.emulator.shadows.subscribe(self.tracker.shadow_changed)
        if scenario.emulator.jobs.package_write_delay_s > 0:
            # A delayed write comes on its own timer: without one, Jobs writes within the
            # device's update, which _dispatch attributes already.
            self.emulator.jobs.on_package_write(self._jobs_write)
        self.tracker.writer = "device"
        self.tracker.audit()
        self._dynamic_groups()
        self.job_created_at: dict[str, float] = {}
        self.job_errors: list[str] = []
        self._schedule_jobs()
        self.writers = self._writers(names)
        self._connect_devices()

    def record_history(self, log: EventLog) -> None:
        """Write the ``$package`` history to ``log`` from now on (see :mod:`.history`)."""
        tracker = self.tracker
        history = self.history = HistoryRecorder(
            log, self.heap, _PackageView(self), self.packages, lambda: tracker.writer
        )
        for device in self.devices:
            history.init(device)
        self.emulator.shadows.subscribe(history.shadow_changed)
        self.emulator.jobs.store.on_execution(history.execution)
        self.emulator.jobs.on_package_write(history.jobs_write)
        for writer in self.writers:
            writer.history = history

    # -- transport hooks: the in-process bus here; simulator.engine.mqtt overrides them ----------

    def _new_heap(self, start: float) -> EventHeap:
        # The real clock's heap follows the wall clock (WallClockHeap.run_due); the simulated
        # one jumps from entry to entry.
        return WallClockHeap(start) if self.scenario.run.clock == "real" else EventHeap(start)

    def _emulator_options(self, scope: Scope) -> EmulatorOptions:
        spec = self.scenario.emulator
        return EmulatorOptions(
            scope=scope,
            jobs=JobsOptions(
                package_write_delay_s=spec.jobs.package_write_delay_s,
                rejoin_reruns_terminal=spec.jobs.rejoin_reruns_terminal,
            ),
            index=IndexOptions(update_delay_s=spec.index.update_delay_s),
        )

    def _publisher(self) -> Publisher:
        return self.cloud

    def _device_link(self) -> EngineLink:
        return DeviceLink(
            self.heap,
            stream(self.scenario.run.seed, "latency.up", self.scenario.latency),
            self._dispatch,
            self.cloud,
            self._inventory_changed,
            faults=self.faults,
        )

    def _connect_devices(self) -> None:
        connect = stream(self.scenario.run.seed, "connect", self.scenario.connect)
        # One heap entry for the whole ramp instead of one per device (same order of events).
        with self.heap.ramp():
            for device in self.devices:
                device.connect(connect())

    # -- message plumbing -------------------------------------------------------------------

    def _dispatch(self, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
        tracker = self.tracker
        # Attribute $package writes to whoever causes them: a device's own shadow update, or
        # Jobs' update on a SUCCEEDED execution.
        tracker.writer = "jobs" if "/jobs/" in topic else "device"
        if self.history is not None and topic.endswith(PACKAGE_UPDATE):
            return self.history.device_update(topic, payload, self.api.handle)
        return self.api.handle(topic, payload)

    def _jobs_write(self, thing: str, versions: object) -> None:
        # Jobs' $package write may come on its own timer (package_write_delay_s), after other
        # writers set the attribution: it is Jobs' either way.
        self.tracker.writer = "jobs"

    def _inventory_changed(self, device: Device, package: str) -> None:
        self.tracker.inventory_changed(device, package)
        if self.history is not None:
            self.history.inventory_changed(device, package)

    # -- set-up -----------------------------------------------------------------------------

    def _build_devices(self, names: list[str], by_name: dict[str, Device]) -> list[Device]:
        draws = self._draws = draw_fleet(self.scenario)
        self._in_shadow = draws.in_shadow
        profile = self.profile = self.scenario.device_profile()
        devices = [
            Device(
                i,
                name,
                draws.inventories[i],
                profile,
                self.link,
                reports_shadow=draws.reports_shadow[i],
            )
            for i, name in enumerate(names)
        ]
        by_name.update((d.name, d) for d in devices)
        # Devices that report with a version precondition subscribe to $package's answers.
        self.cloud.package_answers = any(d.hears_package_answers for d in devices)
        return devices

    def _register(self, names: list[str]) -> None:
        registry = self.emulator.registry
        fleet = self.scenario.fleet
        registry.create_thing_group(thing_group_name=fleet.group)
        subgroups = self._draws.subgroups
        for name, _ in subgroups:
            registry.create_thing_group(thing_group_name=name)
        for i, name in enumerate(names):
            registry.create_thing(thing_name=name)
            registry.join(fleet.group, name)
            for group, members in subgroups:
                if i in members:
                    registry.join(group, name)

    def _initial_shadows(self) -> None:
        shadows = self.emulator.shadows
        self.tracker.writer = "initial"
        for device, shown in zip(self.devices, self._in_shadow, strict=True):
            if shown:
                shadows.merge_package_versions(device.name, shown)
        del self._in_shadow, self._draws  # set-up only: a million devices' draws

    def _dynamic_groups(self) -> None:
        # Indexing serves the dynamic groups and the version timeline (.versions).
        groups = self.scenario.dynamic_groups
        packages = rollout_packages(self.scenario)
        index = self.emulator.index
        self.versions = VersionSampler(index, packages, len(self.devices)) if packages else None
        if not groups and not packages:
            return
        index.update_indexing_configuration(
            thing_indexing_configuration=indexing_configuration(packages)
        )
        for i, group in enumerate(groups):
            try:
                index.create_dynamic_thing_group(
                    thing_group_name=group.name, query_string=group.query
                )
            except AwsError as exc:
                raise UsageError(
                    f"$.dynamic_groups[{i}]: {exc.error_type}: {exc.message}"
                ) from None

    def _schedule_jobs(self) -> None:
        # Documents were checked against their destinations when the scenario was loaded.
        registry = self.emulator.registry

        def arn(kind: str, name: str) -> str:
            return registry.thing_arn(name) if kind == "thing" else registry.group_arn(name)

        for job in self.scenario.jobs:
            request = service_kwargs(create_job_request(self.scenario, job, arn))
            self.heap.at(self.start + job.at_s, self._create_job, request)

    def _create_job(self, request: dict[str, Any], _: object = None) -> None:
        self.tracker.writer = "jobs"
        try:
            self.emulator.jobs.create_job(**request)
        except AwsError as exc:
            self.job_errors.append(
                f"CreateJob {request['job_id']}: {exc.error_type}: {exc.message}"
            )
            return
        self.job_created_at[request["job_id"]] = self.heap.now

    def _writers(self, names: list[str]) -> list[ManualWriter]:
        return build_writers(
            self.scenario,
            names,
            heap=self.heap,
            shadows=self.emulator.shadows,
            tracker=self.tracker,
            start=self.start,
        )


class _PackageView:
    """``$package`` as the history records it: its version, and the versions it names."""

    __slots__ = ("_store", "_tracker")

    def __init__(self, world: World) -> None:
        self._store = world.emulator.shadows.store
        self._tracker = world.tracker

    def version(self, thing: str) -> int | None:
        shadow = self._store.find(thing, "$package")
        return None if shadow is None else shadow.version

    def versions(self, thing: str) -> dict[str, str | None]:
        return self._tracker.reported(thing)
