"""Virtual devices: the job-document schema they run and their pure protocol state machine."""

from simulator.core.device.jobdoc import JobPlan, Step, StepKind, plan_job
from simulator.core.device.machine import Device, DeviceIO
from simulator.core.device.plans import PlanCache
from simulator.core.device.profile import DeviceProfile, StepBehaviour
from simulator.core.device.table import TRANSITIONS, Action, DeviceState, Event, Transition

__all__ = [
    "TRANSITIONS",
    "Action",
    "Device",
    "DeviceIO",
    "DeviceProfile",
    "DeviceState",
    "Event",
    "JobPlan",
    "PlanCache",
    "Step",
    "StepBehaviour",
    "StepKind",
    "Transition",
    "plan_job",
]
