"""A local Mosquitto process for benchmarks and tests: start, SIGKILL, restart, stop.

``fleetsim bench mqtt`` and ``fleetsim bench locust`` start their brokers with it, and so does
the test suite (``tests/mqtt_broker.py`` adds TLS material). Without a ``mosquitto`` binary the
constructor raises :class:`~simulator.core.errors.UsageError` saying how to install it, which
the CLI prints as one line (exit 2). The configuration a user runs is written by
:mod:`.mosquitto` (``fleetsim broker-config``) instead.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Self

from simulator.core.errors import UsageError

__all__ = ["INSTALL_HINT", "LocalMosquitto", "free_port", "mosquitto_binary"]


#: What to tell someone without a ``mosquitto`` binary (the CLI prints it as one line, exit 2).
INSTALL_HINT: Final = "mosquitto is not installed: install it with `apt-get install -y mosquitto`"


def mosquitto_binary() -> str:
    """Path of the ``mosquitto`` executable (``PATH``, then the sbin directories).

    Raises:
        UsageError: it is not installed; the message says how to install it.
    """
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise UsageError(INSTALL_HINT)
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (someone may bind it before the caller does)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class _PortTaken(RuntimeError):
    """The port picked for the broker was bound by someone else first."""


class LocalMosquitto:
    """One ``mosquitto`` process on a loopback port, for benchmarks and tests::

        with LocalMosquitto(workdir) as broker:    # plain TCP on a free 127.0.0.1 port
            ... broker.uri, broker.pid ...
            broker.kill(); broker.restart()        # SIGKILL, then the same port and config

    The configuration has ``persistence false``, ``max_connections -1``, ``set_tcp_nodelay
    true``, no limit on QoS 1 messages in flight to a client (``max_inflight_messages``), then
    ``extra`` lines (TLS, ACL, ``allow_anonymous``; anonymous plain TCP without any). The
    broker's open-file soft limit is raised to the hard limit. A port picked here that someone
    else binds first makes :meth:`start` move to another free port.

    Raises:
        UsageError: from the constructor, when ``mosquitto`` is not installed.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        extra: Sequence[str] = ("allow_anonymous true",),
        max_queued_messages: int = 100_000,
        max_inflight_messages: int = 0,
        start_timeout: float = 10.0,
    ) -> None:
        self.binary = mosquitto_binary()
        self.workdir = workdir
        self.host = "127.0.0.1"
        self._picked_port = port is None
        self.port = port or free_port(self.host)
        self.start_timeout = start_timeout
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / f"mosquitto-{self.port}.conf"
        self.log_path = workdir / f"mosquitto-{self.port}.log"
        lines = [
            f"listener {self.port} {self.host}",
            "max_connections -1",
            "persistence false",
            f"max_queued_messages {max_queued_messages}",
            f"max_inflight_messages {max_inflight_messages}",
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            *(("user root",) if os.geteuid() == 0 else ()),  # read root-owned files (TLS, ACL)
            *extra,
        ]
        self.config_path.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "broker not started"
        return self.process.pid

    def start(self) -> Self:
        """Start the broker and wait until it accepts TCP connections."""
        for _ in range(4):
            try:
                return self._start()
            except _PortTaken:
                self._move_to(free_port(self.host))
        return self._start()

    def _move_to(self, port: int) -> None:
        listener = f"listener {self.port} {self.host}\n"
        config = self.config_path.read_text()
        self.config_path.write_text(config.replace(listener, f"listener {port} {self.host}\n"))
        self.port = port

    def _start(self) -> Self:
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        with contextlib.suppress(OSError, ValueError):
            resource.prlimit(self.process.pid, resource.RLIMIT_NOFILE, (hard, hard))
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                log_text = self.log()[-2000:]
                if self._picked_port and "Address already in use" in log_text:
                    raise _PortTaken(log_text)
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}: {log_text}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"mosquitto did not listen on {self.port}") from None
                time.sleep(0.02)

    def log(self) -> str:
        """What the broker wrote (errors and warnings)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: connections drop without DISCONNECT, in-memory sessions are lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def restart(self) -> Self:
        """Kill (if running) and start again on the same port with the same configuration."""
        self.kill()
        deadline = time.monotonic() + self.start_timeout
        while True:  # the listening port can take a moment to be free again
            try:
                return self._start()
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
