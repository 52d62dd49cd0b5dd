"""The emulator inside a load-test process: its HTTP API and its MQTT bridge on a loop of their own.

``--control-plane embedded`` for a single-process load test: the same control plane as
``fleetsim serve --mqtt`` (one :class:`~simulator.services.controlplane.ControlPlane` behind the
boto3-compatible HTTP API on a free loopback port and the Jobs and Shadow MQTT APIs through a
:class:`~simulator.transport.broker.Bridge` on the test's broker), run by a uvloop loop in its own
OS thread, so the test's operator reaches it by URL like any ``fleetsim serve``. Thread contract
as in :mod:`simulator.engine.mqtt.elastic`: the caller polls :attr:`EmbeddedEmulator.url`,
:attr:`~EmbeddedEmulator.error` and :attr:`~EmbeddedEmulator.closed`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Final

import uvloop

from simulator.core.errors import FleetsimError
from simulator.engine.mqtt.options import MqttOptions

__all__ = ["EmbeddedEmulator"]

_OPEN_TIMEOUT_S: Final = 30.0

StartThread = Callable[[Callable[[], None], tuple[()]], object]


class EmbeddedEmulator:
    """``fleetsim serve --mqtt`` in this process (see the module docstring).

    Args:
        options: the test's broker (and the emulator's TLS identity from ``cert_dir``).
        region: region of ARNs and of the SigV4 scope.
        account: account of ARNs.
    """

    def __init__(self, options: MqttOptions, *, region: str, account: str) -> None:
        self.options = options
        self.region = region
        self.account = account
        self.url: str | None = None
        self.error: str | None = None
        self.closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def start(self, start_thread: StartThread) -> None:
        start_thread(self._thread, ())

    def close(self) -> None:
        """Stop serving (any thread); :attr:`closed` turns True when done."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)

    def _thread(self) -> None:
        try:
            uvloop.run(self._main())
        except FleetsimError as exc:
            self.error = exc.message
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.closed = True

    async def _main(self) -> None:
        from simulator.api.http import ServerConfig, serve  # noqa: PLC0415
        from simulator.api.http.app import build_plane  # noqa: PLC0415
        from simulator.api.mqtt.dispatch import MqttApi  # noqa: PLC0415
        from simulator.transport.broker import Bridge  # noqa: PLC0415

        loop = asyncio.get_running_loop()
        stop = self._stop = asyncio.Event()
        self._loop = loop
        config = ServerConfig(
            port=0,
            region=self.region,
            account_id=self.account,
            rollout_per_minute=self.options.rollout_per_minute,
        )
        bridge = Bridge(self.options.bridge_config())
        plane = build_plane(config, loop, publisher=bridge)
        listening = asyncio.Event()
        url: list[str] = []

        def ready(address: str) -> None:
            url.append(address)
            listening.set()

        http = asyncio.create_task(serve(config, on_ready=ready, stop=stop, plane=plane))
        try:
            async with asyncio.timeout(_OPEN_TIMEOUT_S):
                await listening.wait()
                await bridge.start(MqttApi(plane))
            self.url = url[0]
            await http
        except TimeoutError:
            raise FleetsimError(
                f"the embedded emulator could not connect to {self.options.broker.uri} within "
                f"{_OPEN_TIMEOUT_S:g} s"
            ) from None
        finally:
            stop.set()
            await bridge.close()
            await asyncio.gather(http, return_exceptions=True)
