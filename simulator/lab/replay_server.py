"""The ``embedded`` target of ``fleetsim replay``: ``fleetsim serve`` inside this process.

The same server as ``fleetsim serve`` (SigV4 checked, a free loopback port) and, with a broker,
its MQTT bridge, on a uvloop loop in a thread of their own, so the synchronous player reaches
them by URL with boto3 like any other ``fleetsim serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from typing import Final

from simulator.core.errors import UsageError

__all__ = ["START_TIMEOUT_S", "EmbeddedServer"]

#: How long the server has to listen (and its bridge to subscribe).
START_TIMEOUT_S: Final = 30.0


class EmbeddedServer:
    """``fleetsim serve`` (and its ``--mqtt`` bridge) on a loop in a thread of this process."""

    def __init__(self, *, region: str, account: str, broker: str | None) -> None:
        self.region = region
        self.account = account
        self.broker = broker
        self.url = ""
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="replay-emulator", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S + 10):  # its own deadline comes first
            self.close()
            raise UsageError(f"the embedded emulator did not start within {START_TIMEOUT_S:g} s")
        if self._error is not None:
            error = self._error
            self.close()
            if isinstance(error, TimeoutError):
                where = f"connect to {self.broker}" if self.broker else "listen"
                message = f"could not {where} within {START_TIMEOUT_S:g} s"
            else:
                message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
            raise UsageError(f"the embedded emulator did not start: {message}")

    def close(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(START_TIMEOUT_S)

    def _run(self) -> None:
        import uvloop  # noqa: PLC0415

        try:
            uvloop.run(self._main())
        except BaseException as exc:  # reported to start(); the thread just ends
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        from simulator.api.http import ServerConfig, serve  # noqa: PLC0415
        from simulator.api.http.app import build_plane  # noqa: PLC0415

        self._loop = asyncio.get_running_loop()
        stop = self._stop = asyncio.Event()
        config = ServerConfig(port=0, region=self.region, account_id=self.account)
        bridge = None
        if self.broker is not None:
            from simulator.transport.broker import Bridge, BridgeConfig  # noqa: PLC0415
            from simulator.transport.mqtt import parse_broker_uri  # noqa: PLC0415

            bridge_config = BridgeConfig(
                broker=parse_broker_uri(self.broker),
                client_id=f"fleetsim-replay-{uuid.uuid4().hex[:8]}",
            )
            bridge = Bridge(bridge_config)
        plane = build_plane(config, self._loop, publisher=bridge)
        listening = asyncio.Event()

        def ready(url: str) -> None:
            self.url = url
            listening.set()

        http = asyncio.create_task(serve(config, on_ready=ready, stop=stop, plane=plane))
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await listening.wait()
                if bridge is not None:
                    from simulator.api.mqtt.dispatch import MqttApi  # noqa: PLC0415

                    await bridge.start(MqttApi(plane))
            self._ready.set()
            await http
        finally:
            stop.set()
            if bridge is not None:
                await bridge.close()
            await asyncio.gather(http, return_exceptions=True)
