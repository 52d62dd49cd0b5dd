"""One emulated AWS account and region: every service, wired together over one runtime.

Drivers (``fleetsim serve``, the fleet engine, tests) build a :class:`ControlPlane` and call its
services directly; the HTTP and MQTT layers dispatch to the same objects, so boto3 clients, MQTT
clients and in-process devices all see one state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.core.arn import Scope
from simulator.core.catalog import Catalog
from simulator.core.shadow import ShadowOptions
from simulator.services.catalog import CatalogService
from simulator.services.events import EventsOptions, EventsService
from simulator.services.index import IndexOptions, IndexService
from simulator.services.jobs import JobsDataService, JobsOptions, JobsService
from simulator.services.jobs.announce import Announcer
from simulator.services.registry.ca import CertificateIssuer
from simulator.services.registry.principals import SecuredRegistry
from simulator.services.registry.security import SecurityOptions, SecurityService
from simulator.services.registry.tags import TagService
from simulator.services.runtime import Runtime
from simulator.services.shadows import ShadowService

__all__ = ["ControlPlane", "EmulatorOptions"]


@dataclass(frozen=True, slots=True)
class EmulatorOptions:
    """Where the account lives, and behaviour AWS leaves undocumented, per service."""

    scope: Scope = field(default_factory=Scope)
    shadows: ShadowOptions = field(default_factory=ShadowOptions)
    jobs: JobsOptions = field(default_factory=JobsOptions)
    index: IndexOptions = field(default_factory=IndexOptions)
    security: SecurityOptions = field(default_factory=SecurityOptions)
    events: EventsOptions = field(default_factory=EventsOptions)


class ControlPlane:
    """The services of one account.

    Attributes:
        catalog: Software Package Catalog operations.
        registry: things, thing types and thing groups.
        shadows: Device Shadow (classic, named, ``$package``).
        jobs: the Jobs control plane (``iot``).
        jobs_data: the Jobs data plane (``iot-jobs-data``), over the same state.
        index: fleet indexing, SearchIndex and dynamic thing groups.
        security: certificates, policies, thing principals, DescribeEndpoint.
        tags: TagResource, UntagResource, ListTagsForResource.
        events: UpdateEventConfigurations, DescribeEventConfigurations.
        job_events: sends the JOB and JOB_EXECUTION events ``events`` enables.

    ``issuer`` signs CreateKeysAndCertificate's certificates (default: a CA generated in
    memory on first use).
    """

    def __init__(
        self,
        runtime: Runtime | None = None,
        options: EmulatorOptions | None = None,
        *,
        catalog: Catalog | None = None,
        issuer: CertificateIssuer | None = None,
    ) -> None:
        self.runtime = runtime or Runtime()
        self.options = options or EmulatorOptions()
        self.scope = self.options.scope
        self.package_catalog = catalog or Catalog(self.scope)
        self.catalog = CatalogService(self.runtime, self.package_catalog)
        self.registry = SecuredRegistry(self.runtime, self.scope)
        self.shadows = ShadowService(self.runtime, self.registry, self.options.shadows)
        self.jobs = JobsService(
            self.runtime, self.registry, self.package_catalog, self.shadows, self.options.jobs
        )
        self.jobs_data = JobsDataService(self.jobs)
        self.index = IndexService(self.runtime, self.registry, self.shadows, self.options.index)
        self.security = SecurityService(
            self.runtime, self.scope, self.registry, issuer=issuer, options=self.options.security
        )
        self.tags = TagService(
            self.scope, self.registry, self.security, self.jobs, self.package_catalog
        )
        self.events = EventsService(self.runtime, self.scope, self.options.events)
        self.job_events = Announcer(
            self.jobs.store,
            self.runtime.scheduler,
            self.events,
            executions_deleted_with_job=self.options.events.job_executions_deleted_with_job,
        )
