"""Device Shadow operations of the ``iot-data`` API, over the core shadow store.

The rules live in :mod:`simulator.core.shadow`; this module adds the clock, the registry check,
and the notifications every accepted change emits, whichever API the change came from:
:class:`ShadowNotices` calls (updated, deleted) that the MQTT API turns into
``/update/accepted``, ``/update/documents``, ``/update/delta`` and ``/delete/accepted``
messages. Operations return the typed records of :mod:`.shadow_results` (carrying the core's
documents); their bytes are :mod:`simulator.api.wire.shadow`'s. Other services follow shadows
through :meth:`subscribe` and :meth:`ShadowService.state`; Jobs writes ``$package`` through
:meth:`ShadowService.merge_package_versions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol

import orjson

from simulator.core.errors import InvalidRequestException, ResourceNotFoundException
from simulator.core.paging import page
from simulator.core.shadow import (
    PACKAGE_SHADOW,
    JsonObject,
    ShadowOptions,
    ShadowStore,
    UpdateOutcome,
    UpdateRequest,
    check_shadow_name,
    check_thing_name,
    parse_update,
)
from simulator.services.registry import Registry, RegistryEvent
from simulator.services.runtime import Runtime
from simulator.services.shadow_results import NamedShadowPage, ShadowDeletion, ShadowDocument

__all__ = ["NoShadowNotices", "ShadowListener", "ShadowNotices", "ShadowService"]

#: Called with (thing name, shadow name or ``None`` for the classic shadow) after each change.
ShadowListener = Callable[[str, str | None], None]

_MAX_PAGE_SIZE = 100  # [B] PageSize max; also the default page size (inf)
_MEMO_SIZE = 256


class ShadowNotices(Protocol):
    """What listens to the messages shadow changes emit (the MQTT API)."""

    def wants(self, thing_name: str, shadow_name: str | None, /) -> bool:
        """Whether anyone would receive this shadow's update messages (else they are not built)."""
        ...

    def updated(self, thing_name: str, shadow_name: str | None, outcome: UpdateOutcome, /) -> None:
        """An update was accepted: its accepted, documents and delta documents."""
        ...

    def deleted(
        self, thing_name: str, shadow_name: str | None, deletion: ShadowDeletion, /
    ) -> None:
        """A shadow was deleted (``deletion``: its document and the request's clientToken)."""
        ...


class NoShadowNotices:
    """Listens to nothing: a control plane without an MQTT API."""

    __slots__ = ()

    def wants(self, thing_name: str, shadow_name: str | None, /) -> bool:
        return False

    def updated(self, thing_name: str, shadow_name: str | None, outcome: UpdateOutcome, /) -> None:
        return None

    def deleted(
        self, thing_name: str, shadow_name: str | None, deletion: ShadowDeletion, /
    ) -> None:
        return None


class ShadowService:
    """Classic and named shadows of every thing, ``$package`` included."""

    def __init__(
        self, runtime: Runtime, registry: Registry, options: ShadowOptions | None = None
    ) -> None:
        self.runtime = runtime
        self.registry = registry
        self.options = options or ShadowOptions()
        self.store = ShadowStore(self.options)
        self._listeners: list[ShadowListener] = []
        self._notices: ShadowNotices = NoShadowNotices()
        self._package_requests: dict[tuple[tuple[str, str | None], ...], UpdateRequest] = {}
        registry.subscribe(self._on_registry_event)

    # -- iot-data operations ----------------------------------------------------------------

    def get_thing_shadow(
        self, *, thing_name: str, shadow_name: str | None = None
    ) -> ShadowDocument:
        """GetThingShadow: the full document."""
        return self.get_shadow(thing_name, shadow_name)

    def update_thing_shadow(
        self, *, thing_name: str, shadow_name: str | None = None, payload: bytes
    ) -> UpdateOutcome:
        """UpdateThingShadow: the update's documents (the accepted one is the reply); publishes
        its messages.

        Raises:
            InvalidRequestException, UnsupportedDocumentEncodingException: a malformed request.
            ConflictException: the request's ``version`` is not the current one.
            RequestEntityTooLargeException: the resulting state is over 8 KB.
            ResourceNotFoundException: the thing is not registered (see ShadowOptions).
        """
        self._check(thing_name, shadow_name)
        request = parse_update(payload, package=shadow_name == PACKAGE_SHADOW)
        return self._update(thing_name, shadow_name, request)

    def delete_thing_shadow(
        self, *, thing_name: str, shadow_name: str | None = None
    ) -> ShadowDeletion:
        """DeleteThingShadow: the deleted shadow's ``{version, timestamp}``; publishes
        /delete/accepted."""
        return self.delete_shadow(thing_name, shadow_name)

    def list_named_shadows_for_thing(
        self, *, thing_name: str, next_token: str | None = None, page_size: int | None = None
    ) -> NamedShadowPage:
        """ListNamedShadowsForThing: the existing named shadows (``$package`` included), sorted."""
        self._check(thing_name, None)
        if page_size is not None and not 1 <= page_size <= _MAX_PAGE_SIZE:
            raise InvalidRequestException(f"pageSize must be between 1 and {_MAX_PAGE_SIZE}")
        names, token = page(
            self.store.names(thing_name), page_size, next_token, limit=_MAX_PAGE_SIZE
        )
        return NamedShadowPage(tuple(names), token, int(self.runtime.clock()))

    # -- the same, for the MQTT API (which echoes a clientToken) ----------------------------

    def get_shadow(
        self, thing_name: str, shadow_name: str | None = None, *, client_token: str | None = None
    ) -> ShadowDocument:
        """The full shadow document, with ``client_token`` echoed if given.

        Raises:
            ResourceNotFoundException: no such thing (see ShadowOptions) or shadow.
            InvalidRequestException: a malformed thing or shadow name.
        """
        self._check(thing_name, shadow_name)
        now = self.runtime.clock()
        return ShadowDocument(
            self.store.document(thing_name, shadow_name, now=now, client_token=client_token)
        )

    def delete_shadow(
        self, thing_name: str, shadow_name: str | None = None, *, client_token: str | None = None
    ) -> ShadowDeletion:
        """Delete a shadow, publish ``/delete/accepted`` and return its document.

        ``client_token`` (MQTT requests only) is echoed in the published message so request /
        response clients can correlate it (mem); the REST body never has it.

        Raises:
            ResourceNotFoundException: no such thing (see ShadowOptions) or shadow.
        """
        self._check(thing_name, shadow_name)
        document = self.store.delete(thing_name, shadow_name, now=self.runtime.clock())
        deletion = ShadowDeletion(document, client_token)
        self._notices.deleted(thing_name, shadow_name, deletion)
        self._notify(thing_name, shadow_name)
        return deletion

    # -- for other services ------------------------------------------------------------------

    def notify_to(self, notices: ShadowNotices) -> None:
        """Send the update and delete messages to ``notices`` (the MQTT API) from now on."""
        self._notices = notices

    def subscribe(self, callback: ShadowListener) -> None:
        """Call ``callback(thing, shadow_name)`` after every accepted update or delete."""
        self._listeners.append(callback)

    def state(self, thing_name: str, shadow_name: str | None) -> JsonObject | None:
        """A copy of ``{"desired", "reported", "delta"}`` (empty ones left out), or ``None``."""
        state = self.store.state(thing_name, shadow_name)
        if state is None:
            return None
        copy: JsonObject = orjson.loads(orjson.dumps(state))
        return copy

    def reported(self, thing_name: str, shadow_name: str | None) -> Mapping[str, Any] | None:
        """The live ``reported`` section (read-only view, no copy), or ``None`` without one.

        For hot paths that only read (the fleet engine's consistency checks); :meth:`state`
        returns a copy that callers may keep.
        """
        shadow = self.store.find(thing_name, shadow_name)  # not state(): no delta, no copy
        if shadow is None or not shadow.reported:
            return None
        return MappingProxyType(shadow.reported)

    def merge_package_versions(self, thing_name: str, versions: Mapping[str, str | None]) -> None:
        """Merge-write ``reported.<package>.version`` into ``$package`` as one shadow update.

        This is what Jobs does for a SUCCEEDED execution with ``versionUpdateByJobsConfig``
        [SPC-jobs]: attributes already there are kept, ``None`` (a ``$null`` version) removes the
        package entry, the version goes up and accepted/documents messages are published (inf).
        An empty mapping changes nothing.

        Raises:
            ResourceNotFoundException: the thing is not registered (see ShadowOptions).
            RequestEntityTooLargeException: the shadow would exceed the size limit.
        """
        if not versions:
            return
        if self.options.require_registered_thing:
            if thing_name not in self.registry.things:
                raise ResourceNotFoundException("Thing not found")
        else:
            check_thing_name(thing_name)
        # A job's SUCCEEDED executions all write the same versions: one request serves them all
        # (requests are immutable, and merging never stores their dicts).
        key = tuple(versions.items())
        request = self._package_requests.get(key)
        if request is None:
            reported = {
                package: None if version is None else {"version": version}
                for package, version in versions.items()
            }
            if len(self._package_requests) >= _MEMO_SIZE:
                self._package_requests.clear()
            request = self._package_requests[key] = UpdateRequest({"reported": reported})
        self._apply(thing_name, PACKAGE_SHADOW, request)

    def thing_deleted(self, thing_name: str) -> None:
        """Drop a deleted thing's shadows (their version numbering is remembered as on delete)."""
        if not self.options.drop_shadows_with_thing:
            return
        for shadow_name in self.store.drop_thing(thing_name, now=self.runtime.clock()):
            self._notify(thing_name, shadow_name)

    # -- internals -----------------------------------------------------------------------------

    def _on_registry_event(self, event: RegistryEvent) -> None:
        if event.kind == "thing-deleted":
            self.thing_deleted(event.thing)

    def _check(self, thing_name: str, shadow_name: str | None) -> None:
        if self.options.require_registered_thing:
            if thing_name not in self.registry.things:
                raise ResourceNotFoundException("Thing not found")
        else:
            check_thing_name(thing_name)
        if shadow_name is not None:
            check_shadow_name(shadow_name)

    def _update(
        self, thing_name: str, shadow_name: str | None, request: UpdateRequest
    ) -> UpdateOutcome:
        now = self.runtime.clock()
        old, new = self.store.apply(thing_name, shadow_name, request, now=now)
        outcome = self.store.outcome(old, new, request, now=now)
        self._notices.updated(thing_name, shadow_name, outcome)
        self._notify(thing_name, shadow_name)
        return outcome

    def _apply(self, thing_name: str, shadow_name: str | None, request: UpdateRequest) -> None:
        """:meth:`_update` for a writer that wants no reply: the documents are built only if
        someone would receive them (nobody does Jobs' ``$package`` writes on a fleet)."""
        now = self.runtime.clock()
        old, new = self.store.apply(thing_name, shadow_name, request, now=now)
        notices = self._notices
        if notices.wants(thing_name, shadow_name):
            notices.updated(thing_name, shadow_name, self.store.outcome(old, new, request, now=now))
        self._notify(thing_name, shadow_name)

    def _notify(self, thing_name: str, shadow_name: str | None) -> None:
        for listener in self._listeners:
            listener(thing_name, shadow_name)
