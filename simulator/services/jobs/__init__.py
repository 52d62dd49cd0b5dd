"""AWS IoT Jobs: control plane (:class:`JobsService`) and data plane (:class:`JobsDataService`).

Both share one store: create the control plane, then ``JobsDataService(jobs)``. Operations return
the typed records of :mod:`.results`; notifications leave through :class:`JobsNotices` (the MQTT
API turns them into ``notify`` / ``notify-next`` messages).
"""

from simulator.services.jobs.control import JobsService
from simulator.services.jobs.data import JobsDataService
from simulator.services.jobs.notices import JobsNotices, NoNotices
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.outcomes import PackageShadows
from simulator.services.jobs.results import JobState

__all__ = [
    "JobState",
    "JobsDataService",
    "JobsNotices",
    "JobsOptions",
    "JobsService",
    "NoNotices",
    "PackageShadows",
]
