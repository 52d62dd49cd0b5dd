"""AWS IoT Jobs: control plane (:class:`JobsService`) and data plane (:class:`JobsDataService`).

Both share one store: create the control plane, then ``JobsDataService(jobs)``. Notifications
(``notify``, ``notify-next``) go out through the runtime's publisher as data.
"""

from simulator.services.jobs.control import JobsService
from simulator.services.jobs.data import JobsDataService
from simulator.services.jobs.engine import PackageShadows
from simulator.services.jobs.options import JobsOptions

__all__ = ["JobsDataService", "JobsOptions", "JobsService", "PackageShadows"]
