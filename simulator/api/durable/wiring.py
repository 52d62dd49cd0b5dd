"""The control plane of ``fleetsim serve --state-dir``: built, restored, recording."""

from __future__ import annotations

import asyncio
import sys
from typing import Protocol

from simulator.api.durable.journal import DeferringPublisher, JournaledPlane
from simulator.api.durable.state import StateDir
from simulator.api.http.app import ServerConfig, build_plane
from simulator.api.mqtt.notices import attach as attach_notices
from simulator.services.runtime import Publisher

__all__ = ["DurableMqtt", "restore_plane"]


def _warn(message: str) -> None:
    print(f"fleetsim serve: WARNING {message}", file=sys.stderr, flush=True)


def restore_plane(
    state: StateDir,
    config: ServerConfig,
    loop: asyncio.AbstractEventLoop,
    publisher: Publisher | None = None,
) -> JournaledPlane:
    """Build the control plane, replay ``state``'s journal onto it and start recording.

    Returns what the APIs must dispatch to. Raises
    :class:`~simulator.api.durable.state.StateError`.
    """
    plane = build_plane(
        config, loop, publisher, runtime=state.runtime(publisher), issuer=state.issuer
    )
    restored = state.restore(plane, warn=_warn)
    if restored.snapshot and publisher is not None:
        attach_notices(restored.plane)  # as build_plane does: this server's broker
    if restored.records or restored.snapshot:
        loaded = f"snapshot {restored.snapshot} + " if restored.snapshot else ""
        print(
            f"fleetsim serve: restored {loaded}{restored.records} records from "
            f"{state.directory} in {restored.seconds:.2f} s",
            file=sys.stderr,
            flush=True,
        )
    return state.go_live(restored.plane)


class RequestHandler(Protocol):
    def handle(self, topic: str, payload: bytes, /) -> list[tuple[str, bytes]]: ...


class DurableMqtt:
    """An MQTT request handler whose replies wait, like HTTP's, for the journal."""

    __slots__ = ("_inner", "_publisher")

    def __init__(self, inner: RequestHandler, publisher: DeferringPublisher) -> None:
        self._inner = inner
        self._publisher = publisher

    def handle(self, topic: str, payload: bytes, /) -> list[tuple[str, bytes]]:
        return self._publisher.hold_back(self._inner.handle(topic, payload))
