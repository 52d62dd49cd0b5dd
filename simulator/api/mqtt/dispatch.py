"""One entry point for every MQTT request a client publishes to the emulator.

:class:`MqttApi` routes a publish on ``$aws/things/<thing>/jobs/...`` to the Jobs codec and on
``$aws/things/<thing>/shadow/...`` to the Shadow codec, and returns the replies addressed to the
requester. Broadcasts (``notify-next``, ``/update/documents``...) leave the services as typed
notifications that :mod:`.notices` publishes through the runtime's publisher (wired here).
Both the in-process engine and the broker bridge use this class.
"""

from __future__ import annotations

from simulator.api.mqtt.jobs import _serve_topic
from simulator.api.mqtt.notices import attach
from simulator.api.mqtt.shadow import handle_shadow, parse_shadow_topic
from simulator.services.controlplane import ControlPlane

__all__ = ["MqttApi"]


class MqttApi:
    """The Jobs and Device Shadow MQTT APIs of one control plane."""

    __slots__ = ("_plane",)

    def __init__(self, plane: ControlPlane) -> None:
        self._plane = plane
        attach(plane)  # the services' notifications leave as MQTT messages from now on

    def handle(self, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
        """Serve one request; an unknown topic gets no reply (as AWS IoT drops it)."""
        replies = _serve_topic(self._plane.jobs_data, topic, payload)  # most requests are Jobs'
        if replies is not None:
            return replies
        if not topic.startswith("$aws/things/"):
            return []
        kind = topic[topic.find("/", 12) + 1 :]
        if kind.startswith("shadow/"):
            shadow = parse_shadow_topic(topic)
            if shadow is None:
                return []
            thing, name, operation = shadow
            return handle_shadow(self._plane.shadows, thing, name, operation, payload)
        return []
