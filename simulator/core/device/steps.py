"""Running an execution's steps on a device: the run, its steps, reboots and rollbacks.

Each step runs for a duration drawn from the fleet's profile, then fails (a presigned URL that
expired before a download began, or the profile's odds) or changes the inventory. An install may
reboot the device, and the boot may roll it back (A/B fallback); an update whose post-update
health check will fail is rolled back when the check ends.

Plain functions of the :class:`~simulator.core.device.machine.Device` they act for;
:func:`finish_step` is the handler of :attr:`~simulator.core.device.table.Action.FINISH_STEP`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from simulator.core.device.jobdoc import JobPlan, Step, StepKind
from simulator.core.device.table import DeviceState, Event
from simulator.core.jobs import ExecutionStatus

if TYPE_CHECKING:
    from simulator.core.device.machine import Device

__all__ = ["Run", "begin_step", "check_fails", "finish_step", "set_package", "undo"]

# Module globals for the members, as in machine.py: an enum member read costs a call on 3.11.
_OFFLINE: Final = DeviceState.OFFLINE
_RUNNING: Final = DeviceState.RUNNING
_REPORTING: Final = DeviceState.REPORTING
_VERIFYING: Final = DeviceState.VERIFYING
_REBOOTED: Final = Event.REBOOTED
_STEP_DONE: Final = Event.STEP_DONE
_HEALTH_CHECK_FAILED: Final = Event.HEALTH_CHECK_FAILED
_DOWNLOAD: Final = StepKind.DOWNLOAD
_INSTALL: Final = StepKind.INSTALL
_UNINSTALL: Final = StepKind.UNINSTALL
_SUCCEEDED: Final = ExecutionStatus.SUCCEEDED
_FAILED: Final = ExecutionStatus.FAILED


@dataclass(slots=True)
class Run:
    """The execution being run."""

    job_id: str
    execution_number: int
    plan: JobPlan
    step: int = 0
    step_started: float = 0.0
    outcome: ExecutionStatus = _SUCCEEDED
    reason: str | None = None
    token: str | None = None  # clientToken of the terminal update, to match its answer
    installed: list[tuple[str, str | None]] | None = None  # (package, version before), in order


def begin_step(device: Device) -> None:
    """Start the run's current step: report it if the profile says so, and time it."""
    run = device._run
    assert run is not None
    step = run.plan.steps[run.step]
    profile = device._profile
    run.step_started = device._io.now()
    if profile.report_steps:
        details = {"step": step.name, "progress": f"{run.step + 1}/{len(run.plan.steps)}"}
        device._publish(
            f"jobs/{run.job_id}/update",
            {"status": "IN_PROGRESS", "statusDetails": details},
        )
    device._timer(profile.duration(step.kind), _STEP_DONE)


def finish_step(device: Device, event: Event, suffix: str, payload: bytes) -> None:
    """End the step: fail, reboot, begin the next one or report the outcome."""
    run = device._run
    assert run is not None
    step = run.plan.steps[run.step]
    profile = device._profile
    failure = _step_failure(device, step, run.step_started)
    if failure is not None and not step.ignore_failure:
        run.outcome, run.reason = _FAILED, failure
        device._move(event, _REPORTING)
        device._send_terminal()
        return
    if step.kind is _INSTALL and failure is None:
        previous = device.inventory.get(step.args[0])
        set_package(device, step.args[0], step.args[1])
        if profile.reboot():
            _reboot(device, event, step, previous)
            return
        if profile.rollback_after_success_probability > 0.0:
            # What a failed health check undoes (kept only when checks can fail).
            if run.installed is None:
                run.installed = []
            run.installed.append((step.args[0], previous))
    elif step.kind is _UNINSTALL and failure is None:
        set_package(device, step.args[0], None)
    run.step += 1
    if run.step < len(run.plan.steps):
        device._move(event, _RUNNING)
        begin_step(device)
    elif run.installed and profile.check_before_success and check_fails(device, event, run):
        return  # SUCCEEDED waits for the health check, which will fail
    else:
        device._move(event, _REPORTING)
        device._send_terminal()


def _step_failure(device: Device, step: Step, started: float) -> str | None:
    # S3 checks a presigned URL when the request starts, not while the body streams.
    expires = step.expires
    if expires is not None and started > expires and step.kind is _DOWNLOAD:
        return f"{step.name}: HTTP 403 from S3, the presigned URL expired"
    if device._profile.fails(step.kind):
        return f"{step.name}: handler exited with status 1"
    return None


def check_fails(device: Device, event: Event, run: Run) -> bool:
    """Start the update's health check if it installed something and the check will fail."""
    profile = device._profile
    if not run.installed or not profile.health_check_fails():
        return False
    device._rollback = run.installed
    device._move(event, _VERIFYING)
    device._timer(profile.health_check_delay(), _HEALTH_CHECK_FAILED)
    return True


def undo(device: Device) -> None:
    """Undo the installs a failed boot or a failed health check left to roll back, if any."""
    rollback = device._rollback
    if rollback is not None:
        device._rollback = None
        for package, version in reversed(rollback):
            set_package(device, package, version)


def set_package(device: Device, package: str, version: str | None) -> None:
    """Run ``version`` of ``package`` (``None``: not installed), noting the change."""
    inventory = device.inventory
    if version is None:
        if inventory.pop(package, None) is None:
            return
    elif inventory.get(package) == version:
        return
    else:
        inventory[package] = version
    device.changed.add(package)
    device._io.inventory_changed(device, package)


def _reboot(device: Device, event: Event, step: Step, previous: str | None) -> None:
    """The install rebooted the device: offline for a while, maybe rolled back after it."""
    device._move(event, _OFFLINE)
    device._run = None
    profile = device._profile
    if profile.rollback():
        # A/B fallback: the new version does not boot and the old one runs again.
        device._rollback = [(step.args[0], previous)]
    device._timer(profile.reboot_duration(), _REBOOTED)
