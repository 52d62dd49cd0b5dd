"""One emulated AWS account and region: every service, wired together over one runtime.

Drivers (``fleetsim serve``, the fleet engine, tests) build a :class:`ControlPlane` and call its
services directly; the HTTP and MQTT layers dispatch to the same objects, so boto3 clients, MQTT
clients and in-process devices all see one state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.core.arn import Scope
from simulator.core.catalog import Catalog
from simulator.services.catalog import CatalogService
from simulator.services.registry import Registry
from simulator.services.runtime import Runtime

__all__ = ["ControlPlane", "EmulatorOptions"]


@dataclass(frozen=True, slots=True)
class EmulatorOptions:
    """Behaviour AWS leaves undocumented, per service (each service documents its own)."""

    scope: Scope = field(default_factory=Scope)


class ControlPlane:
    """The services of one account: ``catalog``, ``registry`` (and, as they land, the rest)."""

    def __init__(self, runtime: Runtime | None = None, options: EmulatorOptions | None = None):
        self.runtime = runtime or Runtime()
        self.options = options or EmulatorOptions()
        self.scope = self.options.scope
        self.package_catalog = Catalog(self.scope)
        self.catalog = CatalogService(self.runtime, self.package_catalog)
        self.registry = Registry(self.runtime, self.scope)
