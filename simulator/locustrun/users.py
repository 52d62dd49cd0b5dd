"""The Locust users of a fleetsim load test: one user is one virtual device.

A :class:`DeviceUser` leases its fleet index (so its thing name) when it starts and connects that
device on the process's :class:`~simulator.engine.mqtt.elastic.ElasticFleet`; the device then runs
the scenario's behaviour on the fleet's loop, and the user's greenlet only holds its place until
Locust stops it, which hangs the device up. The operator is not a user: it runs once per test in
the master (or the only) process, so ``-u`` counts devices exactly.
"""

from __future__ import annotations

import logging

import gevent
from locust import User, constant, task

from simulator.locustrun.coordinator import Coordinator

__all__ = ["DeviceUser", "coordinator_of"]

log = logging.getLogger("fleetsim")
_HOLD_S = 3600.0


def coordinator_of(user: User) -> Coordinator:
    coordinator = getattr(user.environment, "fleetsim", None)
    if coordinator is None:
        raise RuntimeError("fleetsim's Locust hooks are not installed (see simulator.locustrun)")
    assert isinstance(coordinator, Coordinator)
    return coordinator


class DeviceUser(User):
    """One virtual device: client id and thing name from the scenario's ``name_format``."""

    wait_time = constant(0)

    def __init__(self, environment: object) -> None:
        super().__init__(environment)
        self.index: int | None = None

    def on_start(self) -> None:
        coordinator = coordinator_of(self)
        if not coordinator.fleet_ready.wait(timeout=120):
            log.error("the device fleet did not start; this user stays idle")
            return
        self.index = coordinator.lease()
        if self.index is None:
            log.warning("more users than the fleet size; this user stays idle")
            return
        fleet = coordinator.fleet
        assert fleet is not None
        fleet.join(self.index)

    @task
    def hold(self) -> None:
        """The device runs on the fleet's loop; this greenlet only keeps the user alive."""
        gevent.sleep(_HOLD_S)

    def on_stop(self) -> None:
        if self.index is None:
            return
        coordinator = coordinator_of(self)
        if coordinator.fleet is not None:
            coordinator.fleet.leave(self.index)
        coordinator.release(self.index)
        self.index = None
