"""Scenario files: a fleet, its packages, the rollouts and the concurrent writers around them.

A scenario is TOML (documented in README.md, "Scenario files"). Decoding is strict: unknown fields
and wrong types are refused with the field's path (``$.jobs[0].rollout``), and every value is
checked here, before anything runs, so a bad scenario fails in a line, not an hour into a run.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from simulator.core.catalog import Catalog
from simulator.core.catalog.spec import CatalogSpec, build_catalog
from simulator.core.device import DeviceProfile, StepBehaviour, StepKind
from simulator.core.distributions import parse_distribution
from simulator.core.errors import AwsError, UsageError
from simulator.core.fleet_query import compile_query
from simulator.core.jobs import (
    parse_abort_config,
    parse_presigned_url_config,
    parse_retry_config,
    parse_rollout_config,
    parse_scheduling_config,
    parse_timeout_config,
)
from simulator.core.substitution import PresignConfig, prepare_job_document
from simulator.engine.faults import FaultSpec, validate_faults

__all__ = [
    "DeviceSpec",
    "EmulatorSpec",
    "FleetSpec",
    "JobSpec",
    "RunSpec",
    "Scenario",
    "WriterSpec",
    "load_scenario",
]

_NAME_FORMAT: Final = re.compile(r"[a-zA-Z0-9:_-]*\{index(:0?\d*d)?\}[a-zA-Z0-9:_-]*")
_PV_SHORT: Final = re.compile(r"([a-zA-Z0-9_.-]{1,128})@(\$default|\$null|[a-zA-Z0-9_.-]{1,64})")
_GROUP_NAME: Final = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
#: The CreateJob configurations a job spec passes through, checked by the core's own parsers.
_JOB_CONFIGS: Final = (
    ("rollout", parse_rollout_config),
    ("abort", parse_abort_config),
    ("timeout", parse_timeout_config),
    ("retry", parse_retry_config),
    ("presigned_url", parse_presigned_url_config),
)


class _Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class RunSpec(_Strict, frozen=True):
    seed: int = 1
    clock: Literal["simulated", "real"] = "simulated"
    start: str = "2026-01-01T00:00:00Z"
    max_duration_s: float = 6 * 3600.0
    settle_s: float = 60.0
    sample_interval_s: float = 30.0


class GroupSpec(_Strict, frozen=True):
    name: str
    fraction: float


class InventorySpec(_Strict, frozen=True):
    package: str
    versions: dict[str, float]
    in_shadow: float = 1.0


class FleetSpec(_Strict, frozen=True):
    devices: int = 1000
    name_format: str = "device-{index:06d}"
    first_index: int = 0
    group: str = "fleet"
    connect: str | float = "uniform(0, 30)"
    latency: str | float = "uniform(0.02, 0.08)"
    groups: list[GroupSpec] = []
    inventory: list[InventorySpec] = []


class StepSpec(_Strict, frozen=True):
    duration: str | float
    failure: float = 0.0


def _default_steps() -> dict[str, StepSpec]:
    return {
        "download": StepSpec(duration="lognormal(20, 0.5)"),
        "verify": StepSpec(duration="uniform(1, 3)"),
        "install": StepSpec(duration="uniform(10, 40)"),
        "uninstall": StepSpec(duration="uniform(5, 15)"),
        "other": StepSpec(duration="uniform(1, 5)"),
    }


class DeviceSpec(_Strict, frozen=True):
    steps: dict[str, StepSpec] = msgspec.field(default_factory=_default_steps)
    reject_probability: float = 0.0
    reboot_probability: float = 0.0
    reboot_duration: str | float = "uniform(30, 120)"
    rollback_probability: float = 0.0
    reports_package_shadow: float = 0.0
    report_steps: bool = False
    response_timeout_s: float = 10.0
    # A post-update health check that fails this often, this long after the last install, and
    # rolls the update back: after SUCCEEDED was accepted, or before the terminal update.
    rollback_after_success_probability: float = 0.0
    rollback_after_success_delay: str | float = "uniform(5, 60)"
    health_check: Literal["after_success", "before_success"] = "after_success"
    # Send each $package report with the version it was written against (learned from the
    # shadow's accepted answers), re-reading after a 409: a late report cannot overwrite.
    package_version_precondition: bool = False


class JobsEmulatorSpec(_Strict, frozen=True):
    """Behaviour of the in-process Jobs emulator AWS leaves unverified (``JobsOptions``)."""

    package_write_delay_s: float = 0.0
    rejoin_reruns_terminal: bool = False


class IndexEmulatorSpec(_Strict, frozen=True):
    """Behaviour of the in-process fleet index (``IndexOptions``)."""

    update_delay_s: float = 0.0


class EmulatorSpec(_Strict, frozen=True):
    """``[emulator]``: options of the emulator a run plays against (ignored by a remote one)."""

    jobs: JobsEmulatorSpec = JobsEmulatorSpec()
    index: IndexEmulatorSpec = IndexEmulatorSpec()


class JobSpec(_Strict, frozen=True):
    id: str
    at_s: float = 0.0
    document: str | None = None
    document_json: str | None = None
    destination_package_versions: list[str] = []
    targets: list[str] = []
    target_selection: Literal["SNAPSHOT", "CONTINUOUS"] = "SNAPSHOT"
    description: str | None = None
    rollout: dict[str, Any] | None = None
    abort: dict[str, Any] | None = None
    timeout: dict[str, Any] | None = None
    retry: dict[str, Any] | None = None
    presigned_url: dict[str, Any] | None = None
    #: CreateJob's ``schedulingConfig`` as it is (UTC times, ``cron(...)`` windows).
    scheduling: dict[str, Any] | None = None


class DynamicGroupSpec(_Strict, frozen=True):
    name: str
    query: str


class WriterSpec(_Strict, frozen=True):
    name: str
    rate_per_s: float
    delay: str | float = "uniform(1, 5)"
    use_version: bool = False
    packages: list[str] = []
    start_s: float = 0.0
    stop_s: float | None = None


class _File(_Strict, frozen=True):
    name: str = "scenario"
    description: str = ""
    run: RunSpec = RunSpec()
    fleet: FleetSpec = FleetSpec()
    catalog: CatalogSpec = CatalogSpec()
    device: DeviceSpec = DeviceSpec()
    emulator: EmulatorSpec = EmulatorSpec()
    dynamic_groups: list[DynamicGroupSpec] = []
    jobs: list[JobSpec] = []
    writers: list[WriterSpec] = []
    faults: list[FaultSpec] = []


class Scenario:
    """A validated scenario with its derived values (distributions, ARNs, documents)."""

    def __init__(self, spec: _File, path: Path) -> None:
        self.spec = spec
        self.path = path
        self.name = spec.name
        self.run = spec.run
        self.fleet = spec.fleet
        self.catalog = spec.catalog
        self.jobs = spec.jobs
        self.writers = spec.writers
        self.dynamic_groups = spec.dynamic_groups
        self.emulator = spec.emulator
        self.start_epoch = _parse_start(spec.run.start)
        self.connect = parse_distribution(spec.fleet.connect, field="$.fleet.connect")
        self.latency = parse_distribution(spec.fleet.latency, field="$.fleet.latency")
        self.writer_delays = [
            parse_distribution(w.delay, field=f"$.writers[{i}].delay")
            for i, w in enumerate(spec.writers)
        ]
        self.documents = [self._document(i, job) for i, job in enumerate(spec.jobs)]
        self.destinations = [
            [self._arn(i, j, text) for j, text in enumerate(job.destination_package_versions)]
            for i, job in enumerate(spec.jobs)
        ]
        self.steps = self._steps()
        self.reboot_duration = parse_distribution(
            spec.device.reboot_duration, field="$.device.reboot_duration"
        )
        self.health_check_delay = parse_distribution(
            spec.device.rollback_after_success_delay,
            field="$.device.rollback_after_success_delay",
        )
        self.faults = spec.faults
        self.fault_delays = validate_faults(spec.faults)
        self._check_documents(_validate(spec))

    def with_devices(self, devices: int) -> Scenario:
        """The same scenario with another fleet size (``--devices``)."""
        if devices < 1:
            raise UsageError("--devices must be at least 1")
        fleet = msgspec.structs.replace(self.spec.fleet, devices=devices)
        return Scenario(msgspec.structs.replace(self.spec, fleet=fleet), self.path)

    def with_seed(self, seed: int) -> Scenario:
        """The same scenario with another seed (``--seed``)."""
        if seed < 0:
            raise UsageError("--seed must be non-negative")
        run = msgspec.structs.replace(self.spec.run, seed=seed)
        return Scenario(msgspec.structs.replace(self.spec, run=run), self.path)

    def thing_name(self, index: int) -> str:
        return self.fleet.name_format.format(index=index)

    def device_profile(self) -> DeviceProfile:
        device = self.spec.device
        return DeviceProfile(
            seed=self.run.seed,
            steps=self.steps,
            reject_probability=device.reject_probability,
            reboot_probability=device.reboot_probability,
            reboot_duration=self.reboot_duration,
            rollback_probability=device.rollback_probability,
            report_steps=device.report_steps,
            response_timeout_s=device.response_timeout_s,
            rollback_after_success_probability=device.rollback_after_success_probability,
            rollback_after_success_delay=self.health_check_delay,
            check_before_success=device.health_check == "before_success",
            package_version_precondition=device.package_version_precondition,
        )

    def _steps(self) -> dict[StepKind, StepBehaviour]:
        steps = {**_default_steps(), **self.spec.device.steps}
        out: dict[StepKind, StepBehaviour] = {}
        for name, step in steps.items():
            try:
                kind = StepKind(name)
            except ValueError:
                kinds = ", ".join(k.value for k in StepKind)
                raise UsageError(f"$.device.steps.{name}: unknown step kind; use {kinds}") from None
            _probability(step.failure, f"$.device.steps.{name}.failure")
            field = f"$.device.steps.{name}.duration"
            out[kind] = StepBehaviour(parse_distribution(step.duration, field=field), step.failure)
        return out

    def _document(self, index: int, job: JobSpec) -> bytes | None:
        where = f"$.jobs[{index}]"
        if job.document is not None and job.document_json is not None:
            raise UsageError(f"{where}: give either document or document_json, not both")
        if job.document_json is not None:
            return job.document_json.encode()
        if job.document is None:
            return None  # the deployed version's recipe is the document
        path = (self.path.parent / job.document).resolve()
        try:
            return path.read_bytes()
        except OSError as exc:
            raise UsageError(f"{where}.document: cannot read {path}: {exc.strerror}") from None

    def _check_documents(self, catalog: Catalog) -> None:
        """Run CreateJob's document checks (phase one of substitution) now, not at ``at_s``."""
        for i, job in enumerate(self.jobs):
            document = self.documents[i]
            if document is None:
                continue  # the recipe: CreateJob finds it, or the run notes why not
            role = (job.presigned_url or {}).get("roleArn")
            try:
                prepare_job_document(
                    document,
                    self.destinations[i],
                    catalog,
                    scope=catalog.scope,
                    presign=PresignConfig(role if isinstance(role, str) else None),
                )
            except AwsError as exc:
                raise UsageError(f"$.jobs[{i}]: {exc.error_type}: {exc.message}") from None

    def _arn(self, job: int, entry: int, text: str) -> str:
        if text.startswith("arn:"):
            return text
        match = _PV_SHORT.fullmatch(text)
        if match is None:
            raise UsageError(
                f"$.jobs[{job}].destination_package_versions[{entry}]: expected PACKAGE@VERSION "
                f"(VERSION may be $default or $null) or a package version ARN, got {text!r}"
            )
        cat = self.catalog
        return f"arn:aws:iot:{cat.region}:{cat.account}:package/{match[1]}/version/{match[2]}"


def _parse_start(text: str) -> float:
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"$.run.start: not an ISO 8601 time: {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _probability(value: float, field: str) -> None:
    if not (0.0 <= value <= 1.0) or math.isnan(value):
        raise UsageError(f"{field}: must be a probability between 0 and 1, got {value}")


def _positive(value: float, field: str, *, zero: bool = False) -> None:
    ok = value >= 0 if zero else value > 0
    if not ok or not math.isfinite(value):
        raise UsageError(f"{field}: must be {'non-negative' if zero else 'positive'}, got {value}")


def _validate(spec: _File) -> Catalog:
    """Check every rule of the file; returns the catalog it describes."""
    run, fleet, device = spec.run, spec.fleet, spec.device
    if run.seed < 0:
        raise UsageError(f"$.run.seed: must be non-negative, got {run.seed}")
    _positive(run.max_duration_s, "$.run.max_duration_s")
    _positive(run.settle_s, "$.run.settle_s", zero=True)
    _positive(run.sample_interval_s, "$.run.sample_interval_s")
    if fleet.devices < 1:
        raise UsageError("$.fleet.devices: must be at least 1")
    if fleet.first_index < 0:
        raise UsageError("$.fleet.first_index: must be non-negative")
    if not _NAME_FORMAT.fullmatch(fleet.name_format):
        raise UsageError(
            "$.fleet.name_format: use thing-name characters around one {index} or {index:06d}"
        )
    for i, group in enumerate(fleet.groups):
        _probability(group.fraction, f"$.fleet.groups[{i}].fraction")
    for i, inv in enumerate(fleet.inventory):
        _probability(inv.in_shadow, f"$.fleet.inventory[{i}].in_shadow")
        if not inv.versions or not all(0 <= w < math.inf for w in inv.versions.values()):
            raise UsageError(f"$.fleet.inventory[{i}].versions: give non-negative weights")
        if sum(inv.versions.values()) <= 0:
            raise UsageError(f"$.fleet.inventory[{i}].versions: weights must not all be 0")
    for field in (
        "reject_probability",
        "reboot_probability",
        "rollback_probability",
        "rollback_after_success_probability",
    ):
        _probability(getattr(device, field), f"$.device.{field}")
    _probability(device.reports_package_shadow, "$.device.reports_package_shadow")
    _positive(device.response_timeout_s, "$.device.response_timeout_s")
    emulator = spec.emulator
    _positive(
        emulator.jobs.package_write_delay_s, "$.emulator.jobs.package_write_delay_s", zero=True
    )
    _positive(emulator.index.update_delay_s, "$.emulator.index.update_delay_s", zero=True)
    _validate_groups(spec)
    _validate_jobs(spec)
    for i, writer in enumerate(spec.writers):
        _positive(writer.rate_per_s, f"$.writers[{i}].rate_per_s")
    try:
        return build_catalog(spec.catalog)
    except UsageError as exc:
        raise UsageError(f"$.catalog{exc.message.removeprefix('$')}") from None


def _validate_groups(spec: _File) -> None:
    """Group names are thing-group names, and unique: static and dynamic share one namespace."""
    named = [("$.fleet.group", spec.fleet.group)]
    named += [(f"$.fleet.groups[{i}].name", g.name) for i, g in enumerate(spec.fleet.groups)]
    named += [(f"$.dynamic_groups[{i}].name", g.name) for i, g in enumerate(spec.dynamic_groups)]
    seen: set[str] = set()
    for field, name in named:
        if not _GROUP_NAME.fullmatch(name):
            raise UsageError(f"{field}: not a thing group name (1-128 of a-z A-Z 0-9 : _ -)")
        if name in seen:
            raise UsageError(f"{field}: group {name!r} is defined twice")
        seen.add(name)
    for i, group in enumerate(spec.dynamic_groups):
        try:
            compile_query(group.query)
        except AwsError as exc:
            raise UsageError(f"$.dynamic_groups[{i}].query: {exc.message}") from None


def _validate_jobs(spec: _File) -> None:
    fleet = spec.fleet
    groups = {fleet.group, *(g.name for g in fleet.groups)}
    dynamic = {g.name for g in spec.dynamic_groups}
    things: set[str] | None = None  # built only if a job targets single things
    ids: set[str] = set()
    for i, job in enumerate(spec.jobs):
        if job.id in ids:
            raise UsageError(f"$.jobs[{i}].id: duplicate job id {job.id!r}")
        ids.add(job.id)
        if not job.targets:
            raise UsageError(f"$.jobs[{i}].targets: give at least one target")
        for j, target in enumerate(job.targets):
            field = f"$.jobs[{i}].targets[{j}]"
            kind, _, name = target.partition(":")
            if kind not in ("group", "thing", "dynamic") or not name:
                raise UsageError(f"{field}: expected group:NAME, dynamic:NAME or thing:NAME")
            if kind == "thing":
                if things is None:
                    first = fleet.first_index
                    things = {
                        fleet.name_format.format(index=first + k) for k in range(fleet.devices)
                    }
                known = name in things
            else:
                known = name in dynamic or (kind == "group" and name in groups)
            if not known:
                what = {
                    "thing": "device of the fleet",
                    "group": "group",
                    "dynamic": "dynamic group",
                }
                raise UsageError(f"{field}: no {what[kind]} is named {name!r}")
        _positive(job.at_s, f"$.jobs[{i}].at_s", zero=True)
        for key, parse in _JOB_CONFIGS:
            value = getattr(job, key)
            if value is not None:
                try:
                    parse(value)
                except AwsError as exc:
                    raise UsageError(f"$.jobs[{i}].{key}: {exc.message}") from None
        if job.scheduling is not None:
            # On the simulated clock the job's creation time is known: check the times too.
            simulated = spec.run.clock == "simulated"
            now = _parse_start(spec.run.start) + job.at_s if simulated else None
            try:
                parse_scheduling_config(job.scheduling, now=now)
            except AwsError as exc:
                raise UsageError(f"$.jobs[{i}].scheduling: {exc.message}") from None


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file.

    Raises:
        UsageError: unreadable file, invalid TOML, or a field that breaks the rules, named.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read scenario {path}: {exc.strerror}") from None
    try:
        spec = msgspec.toml.decode(data, type=_File)
    except msgspec.ValidationError as exc:
        raise UsageError(f"{path.name}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise UsageError(f"{path.name}: not valid TOML: {exc}") from None
    return Scenario(spec, path)
