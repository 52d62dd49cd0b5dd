"""Event configurations (UpdateEventConfigurations / DescribeEventConfigurations) of one account.

AWS IoT publishes *event messages* on ``$aws/events/...`` for the event types an account enabled
[AD:iot-events]. This service stores which types are enabled and answers the two operations; the
services that emit events ask :meth:`EventsService.enabled` and take their ``eventId`` from
:meth:`EventsService.new_event_id`. Only ``JOB`` and ``JOB_EXECUTION`` events are emitted today
(:mod:`simulator.services.jobs.announce`); the other types are stored and described, and emit
nothing.

Behaviour notes:

* every type AWS lists ([B] ``EventType``) is described, disabled until enabled, as the example
  output of ``describe-event-configurations`` shows every type [AD:iot-events];
* an update changes only the types it names [AD:iot-events] (its example enables ``THING``
  alone);
* ``creationDate`` and ``lastModifiedDate`` are omitted until the first update, then set by it
  (inf: the documented example shows the two 1 ms apart, as if the configuration was created by
  its first write);
* event ids are UUIDs, unique per account and deterministic: a prefix hashed from the account
  (uuid5) ends in a 48-bit counter, so a replayed ``--state-dir`` journal mints the same ids and
  carries on after them, and minting one costs a string format, not a hash.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from simulator.core.arn import Scope
from simulator.core.errors import InvalidRequestException
from simulator.services.runtime import Runtime

__all__ = ["EventConfigurations", "EventType", "EventsOptions", "EventsService"]

#: The namespace of event ids (the prefix is uuid5 of the partition, region and account).
_NAMESPACE: Final = uuid.UUID("5f0c3f2e-8d1b-4a57-9c39-2b3e1f6d7a10")


class EventType(enum.Enum):
    """The event types of ``eventConfigurations`` [B]."""

    THING = "THING"
    THING_GROUP = "THING_GROUP"
    THING_TYPE = "THING_TYPE"
    THING_GROUP_MEMBERSHIP = "THING_GROUP_MEMBERSHIP"
    THING_GROUP_HIERARCHY = "THING_GROUP_HIERARCHY"
    THING_TYPE_ASSOCIATION = "THING_TYPE_ASSOCIATION"
    JOB = "JOB"
    JOB_EXECUTION = "JOB_EXECUTION"
    POLICY = "POLICY"
    CERTIFICATE = "CERTIFICATE"
    CA_CERTIFICATE = "CA_CERTIFICATE"


_TYPES: Final = {kind.value: kind for kind in EventType}


@dataclass(frozen=True, slots=True)
class EventsOptions:
    """Undocumented or unverified choices of the event messages.

    Attributes:
        absent_enabled: what ``{"JOB": {}}`` (no ``Enabled`` member) sets: ``False`` (default,
            inf: ``Enabled`` is an optional boolean and AWS's Java services read a missing
            one as false) or ``None`` to leave the type as it was.
        job_dates: unit of ``createdAt``, ``lastUpdatedAt`` and ``completedAt`` in JOB events:
            milliseconds (default: the documented examples show 13-digit values
            [AD:events-jobs]) or seconds (as DescribeJob). Unverified against the service.
        deleted_execution_status: ``status`` of a ``jobExecution/.../deleted`` event: the
            documented list has no DELETED status, but the JOB ``deleted`` event says
            ``DELETED`` [AD:events-jobs]; default ``"DELETED"`` by analogy (inf),
            ``"last"`` sends the execution's status when it was deleted.
        job_executions_deleted_with_job: whether deleting a job also sends a
            ``jobExecution/.../deleted`` event per execution (inf: the docs do not say;
            default no).
    """

    absent_enabled: bool | None = False
    job_dates: Literal["ms", "s"] = "ms"
    deleted_execution_status: Literal["DELETED", "last"] = "DELETED"
    job_executions_deleted_with_job: bool = False


@dataclass(frozen=True, slots=True)
class EventConfigurations:
    """DescribeEventConfigurations' answer.

    Attributes:
        enabled: every event type and whether it is enabled.
        creation_date: when the configuration was first written (``None``: never).
        last_modified_date: when it was last written (``None``: never).
    """

    enabled: Mapping[EventType, bool]
    creation_date: float | None
    last_modified_date: float | None


class EventsService:
    """The event configurations of one account, and the ids of the events it sends."""

    def __init__(
        self, runtime: Runtime, scope: Scope, options: EventsOptions | None = None
    ) -> None:
        self.options = options or EventsOptions()
        self._clock = runtime.clock
        account = f"{scope.partition}:{scope.region}:{scope.account}"
        self._prefix = str(uuid.uuid5(_NAMESPACE, account))[:24]
        self._enabled: dict[EventType, bool] = dict.fromkeys(EventType, False)
        self._created: float | None = None
        self._modified: float | None = None
        self._minted = 0
        self._listeners: list[Callable[[], None]] = []

    # -- operations --------------------------------------------------------------------------

    def update_event_configurations(
        self, *, event_configurations: Mapping[str, object] | None = None
    ) -> None:
        """UpdateEventConfigurations: enable or disable the event types named; others stay.

        Raises:
            InvalidRequestException: an unknown event type, or a configuration that is not an
                object with a boolean ``Enabled``.
        """
        changes: dict[EventType, bool] = {}
        for name, config in (event_configurations or {}).items():
            kind = _TYPES.get(name)
            if kind is None:
                raise InvalidRequestException(
                    f"Value '{name}' at 'eventConfigurations' failed to satisfy constraint: "
                    f"Member must satisfy enum value set: [{', '.join(_TYPES)}]"
                )
            if not isinstance(config, Mapping):
                raise InvalidRequestException(f"The configuration of {name} must be an object.")
            enabled = config.get("Enabled")
            if enabled is None:
                enabled = self.options.absent_enabled
                if enabled is None:
                    continue
            if not isinstance(enabled, bool):
                raise InvalidRequestException(f"Enabled of {name} must be a boolean.")
            changes[kind] = enabled
        now = self._clock()
        self._enabled.update(changes)
        if self._created is None:
            self._created = now
        self._modified = now
        for listener in self._listeners:
            listener()

    def describe_event_configurations(self) -> EventConfigurations:
        """DescribeEventConfigurations: every event type and whether it is enabled."""
        return EventConfigurations(dict(self._enabled), self._created, self._modified)

    # -- for the services that emit events ---------------------------------------------------

    def on_change(self, listener: Callable[[], None], /) -> None:
        """Call ``listener()`` after every update (emitters stop listening while disabled)."""
        self._listeners.append(listener)

    def enabled(self, kind: EventType, /) -> bool:
        """Whether events of ``kind`` are published."""
        return self._enabled[kind]

    def new_event_id(self) -> str:
        """A fresh ``eventId`` (UUID-shaped, unique in this account)."""
        self._minted += 1
        return f"{self._prefix}{self._minted:012x}"
