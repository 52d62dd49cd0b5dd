"""What the Device Shadow operations return: typed results, never wire dicts or payload bytes.

A shadow document is the Device Shadow service's data model itself: the pure core
(:mod:`simulator.core.shadow`) builds each one (GET's full document, an update's accepted,
``documents`` and ``delta`` documents as a :class:`~simulator.core.shadow.UpdateOutcome`, a
delete's ``{version, timestamp}``) as a JSON object, because its rules (versions, metadata,
delta, ``clientToken`` echo) are stated on that document. These records carry the core's
documents; :mod:`simulator.api.wire.shadow` serialises them, once per transport that wants them
(the HTTP reply, the MQTT messages), and adds the envelopes that belong to a transport (the
``clientToken`` of an MQTT ``/delete/accepted``, the ``/…/rejected`` error document). Topics are
:mod:`simulator.api.mqtt`'s.

The documents share the store's state trees: encode them, never change them.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.core.shadow import JsonObject

__all__ = ["NamedShadowPage", "ShadowDeletion", "ShadowDocument"]


@dataclass(frozen=True, slots=True)
class ShadowDocument:
    """GetThingShadow and MQTT ``/get``: the full document (state with delta, metadata,
    version, timestamp, and the request's ``clientToken`` over MQTT)."""

    document: JsonObject


@dataclass(frozen=True, slots=True)
class ShadowDeletion:
    """DeleteThingShadow and MQTT ``/delete``: the ``{version, timestamp}`` document, and the
    ``clientToken`` an MQTT request sent (echoed in ``/delete/accepted`` only)."""

    document: JsonObject
    client_token: str | None = None


@dataclass(frozen=True, slots=True)
class NamedShadowPage:
    """ListNamedShadowsForThing: one page of names, sorted, and the time of the answer."""

    names: tuple[str, ...]
    next_token: str | None
    timestamp: int
