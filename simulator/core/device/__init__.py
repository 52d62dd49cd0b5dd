"""Virtual devices: the job-document schema they run and their pure protocol state machine."""

from simulator.core.device.jobdoc import JobPlan, Step, StepKind, plan_job
from simulator.core.device.machine import TRANSITIONS, Device, DeviceIO, DeviceState, Event
from simulator.core.device.profile import DeviceProfile, StepBehaviour

__all__ = [
    "TRANSITIONS",
    "Device",
    "DeviceIO",
    "DeviceProfile",
    "DeviceState",
    "Event",
    "JobPlan",
    "Step",
    "StepBehaviour",
    "StepKind",
    "plan_job",
]
