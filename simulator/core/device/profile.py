"""How a fleet's devices behave: step durations, failure, reject, reboot and rollback odds, and the
odds that an update's health check fails (and when, and whether before or after SUCCEEDED).

One profile is shared by every device of a fleet; its random streams are consumed in event order,
so a seeded run draws the same numbers every time. It also holds what the fleet's devices share:
the plans of the job documents they received (:class:`~simulator.core.device.plans.PlanCache`)
and the count of devices online.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from simulator.core.device.jobdoc import StepKind
from simulator.core.device.plans import PlanCache
from simulator.core.distributions import Distribution, stream

__all__ = ["DeviceProfile", "StepBehaviour"]

_ONE_MINUTE = Distribution("constant", 60.0)


@dataclass(frozen=True, slots=True)
class StepBehaviour:
    duration: Distribution
    failure: float = 0.0


class DeviceProfile:
    """Behaviour parameters plus the random streams that realise them."""

    __slots__ = (
        "_check_delay",
        "_check_draw",
        "_durations",
        "_fail_draw",
        "_failure",
        "_reboot_draw",
        "_reboot_duration",
        "_reject_draw",
        "_rollback_draw",
        "check_before_success",
        "online",
        "package_version_precondition",
        "plans",
        "reboot_probability",
        "redundant_runs",
        "reject_probability",
        "report_steps",
        "response_timeout_s",
        "rollback_after_success_probability",
        "rollback_probability",
    )

    def __init__(
        self,
        *,
        seed: int,
        steps: Mapping[StepKind, StepBehaviour],
        reject_probability: float = 0.0,
        reboot_probability: float = 0.0,
        reboot_duration: Distribution = _ONE_MINUTE,
        rollback_probability: float = 0.0,
        report_steps: bool = True,
        response_timeout_s: float = 10.0,
        rollback_after_success_probability: float = 0.0,
        rollback_after_success_delay: Distribution = _ONE_MINUTE,
        check_before_success: bool = False,
        package_version_precondition: bool = False,
    ) -> None:
        uniform = Distribution("uniform", 0.0, 1.0)
        # The streams' C-level draw callables: every step of every device draws.
        self._durations: dict[StepKind, Callable[[], float]] = {
            kind: stream(seed, f"device.step.{kind.value}.duration", b.duration).draw
            for kind, b in steps.items()
        }
        self._failure = {kind: b.failure for kind, b in steps.items()}
        self._fail_draw = stream(seed, "device.step.failure", uniform).draw
        self._reject_draw = stream(seed, "device.reject", uniform).draw
        self._reboot_draw = stream(seed, "device.reboot", uniform).draw
        self._rollback_draw = stream(seed, "device.rollback", uniform).draw
        self._reboot_duration = stream(seed, "device.reboot.duration", reboot_duration).draw
        self._check_draw = stream(seed, "device.health_check", uniform).draw
        self._check_delay = stream(
            seed, "device.health_check.delay", rollback_after_success_delay
        ).draw
        self.reject_probability = reject_probability
        self.reboot_probability = reboot_probability
        self.rollback_probability = rollback_probability
        #: A successful update's health check fails this often, ``health_check_delay()`` after
        #: the last install; the device then rolls the update back. Checked after SUCCEEDED was
        #: accepted, or before the terminal update with ``check_before_success``.
        self.rollback_after_success_probability = rollback_after_success_probability
        self.check_before_success = check_before_success
        #: A device that reports ``$package`` sends each report with the shadow version it
        #: last learned (``version``), and re-reads the shadow after a 409.
        self.package_version_precondition = package_version_precondition
        self.report_steps = report_steps
        self.response_timeout_s = response_timeout_s
        self.online = 0  # devices of this profile not OFFLINE (kept by the devices themselves)
        #: Executions started whose installs were all of versions the device already ran (a
        #: device re-targeted after it updated).
        self.redundant_runs = 0
        self.plans = PlanCache()

    def duration(self, kind: StepKind) -> float:
        draw = self._durations.get(kind) or self._durations[StepKind.OTHER]
        return draw()

    def fails(self, kind: StepKind) -> bool:
        p = self._failure.get(kind, 0.0)
        return p > 0.0 and self._fail_draw() < p

    def reject(self) -> bool:
        p = self.reject_probability
        return p > 0.0 and self._reject_draw() < p

    def reboot(self) -> bool:
        p = self.reboot_probability
        return p > 0.0 and self._reboot_draw() < p

    def rollback(self) -> bool:
        p = self.rollback_probability
        return p > 0.0 and self._rollback_draw() < p

    def reboot_duration(self) -> float:
        return self._reboot_duration()

    def health_check_fails(self) -> bool:
        p = self.rollback_after_success_probability
        return p > 0.0 and self._check_draw() < p

    def health_check_delay(self) -> float:
        return self._check_delay()
