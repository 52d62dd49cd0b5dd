"""Shared pieces of the broker tests: Mosquitto processes, ``fleetsim serve --mqtt``, devices.

Mosquitto comes from ``tests/mqtt_broker.py`` (plain brokers, SIGKILL and restart) or, for a
configuration written by ``fleetsim broker-config``, from :class:`ConfiguredBroker`. A missing
``mosquitto`` fails the test with the install command; nothing here skips.

Devices are paho-mqtt clients (MQTT 5 where the test reads PUBACK reason codes): synchronous,
with paho's network thread, so tests read as request/response scripts.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.api.conftest import PREFIX, ROOT, Server, finish
from tests.mqtt_broker import Mosquitto, free_port, mosquitto_binary

CONNECTED = "fleetsim serve: mqtt connected to "


_LINES: dict[int, queue.Queue[str]] = {}


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The next stdout line of ``process`` (started by :func:`launch_serve`), or TimeoutError.

    Lines come from a reader thread: a selector on the pipe would miss a second line that the
    first ``readline()`` already pulled into the file object's buffer.
    """
    try:
        return _LINES[process.pid].get(timeout=timeout)
    except queue.Empty:
        raise TimeoutError(f"no line within {timeout} s") from None


def launch_serve(*args: str, timeout: float = 60.0) -> Server:
    """Start ``fleetsim serve --port 0 ARGS...`` and wait for its HTTP line."""
    with tempfile.NamedTemporaryFile(
        "w", prefix="fleetsim-serve-", suffix=".log", delete=False
    ) as log:
        stderr_path = Path(log.name)
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
    lines: queue.Queue[str] = queue.Queue()
    _LINES[process.pid] = lines

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        line = read_line(process, timeout)
    except TimeoutError:
        process.kill()
        raise AssertionError(f"no HTTP line: {stderr_path.read_text()}") from None
    assert line.startswith(PREFIX), (line, stderr_path.read_text())
    return Server(process, line[len(PREFIX) :].strip(), stderr_path, args)


def serve_mqtt(*args: str, timeout: float = 60.0) -> Server:
    """``fleetsim serve --port 0 ARGS`` (with ``--mqtt``): wait for both of its lines."""
    server = launch_serve(*args, timeout=timeout)
    try:
        line = read_line(server.process, timeout)
    except TimeoutError:
        server.process.kill()
        raise AssertionError(f"no 'mqtt connected' line: {server.stderr()}") from None
    assert line.startswith(CONNECTED), (line, server.stderr())
    return server


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A plain Mosquitto (anonymous, no ACL) on a free port."""
    with Mosquitto(tmp_path / "broker") as started:
        yield started


@pytest.fixture
def emulator(broker: Mosquitto) -> Iterator[Server]:
    """``fleetsim serve --mqtt`` on ``broker``; stopped and checked (exit 0) at the end."""
    server = serve_mqtt("--mqtt", broker.uri)
    yield server
    finish(server)


class ConfiguredBroker:
    """``mosquitto -c DIR/mosquitto.conf`` as written by ``fleetsim broker-config``."""

    def __init__(self, config: Path, port: int) -> None:
        self.config = config
        self.port = port
        self.log = config.with_name("mosquitto.log")
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ConfiguredBroker:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [mosquitto_binary(), "-c", str(self.config)], stdout=log, stderr=log
            )
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()}")
            import socket  # noqa: PLC0415

            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def broker_config(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", "broker-config", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass
class Device:
    """A paho client that records every message it receives."""

    client: mqtt.Client
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    acks: dict[int, ReasonCode | int] = field(default_factory=dict)
    lock: threading.Condition = field(default_factory=threading.Condition)

    def subscribe(self, topic: str) -> None:
        result, mid = self.client.subscribe(topic, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS
        self._wait(lambda: mid in self.acks, 10, f"SUBACK for {topic}")

    def publish(self, topic: str, payload: bytes | dict[str, Any]) -> ReasonCode | int:
        """Publish at QoS 1; the PUBACK's reason code (MQTT 5) once it comes back."""
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        info = self.client.publish(topic, body, qos=1)
        self._wait(lambda: info.mid in self.acks, 10, f"PUBACK for {topic}")
        return self.acks[info.mid]

    def expect(self, topic: str, timeout: float = 10.0) -> dict[str, Any]:
        """The first unseen message on ``topic`` (removed from the record), decoded."""
        found: list[bytes] = []

        def arrived() -> bool:
            for i, (got, payload) in enumerate(self.messages):
                if got == topic:
                    found.append(payload)
                    del self.messages[i]
                    return True
            return False

        self._wait(arrived, timeout, f"a message on {topic}; got {self.topics()}")
        decoded: dict[str, Any] = orjson.loads(found[0]) if found[0] else {}
        return decoded

    def topics(self) -> list[str]:
        with self.lock:
            return [topic for topic, _ in self.messages]

    def _wait(self, predicate: Any, timeout: float, what: str) -> None:
        with self.lock:
            if not self.lock.wait_for(predicate, timeout):
                raise AssertionError(f"timed out waiting for {what}")


def connect_device(
    port: int,
    client_id: str,
    *,
    username: str | None = None,
    tls: tuple[Path, Path, Path] | None = None,
    version: int = mqtt.MQTTv5,
) -> Device:
    """A connected paho device; ``tls`` = (CA, cert, key) for mutual TLS."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version)
    device = Device(client)
    connected = threading.Event()
    refused: list[Any] = []

    def on_connect(_c: Any, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        if code.is_failure:
            refused.append(code)
        connected.set()

    def on_disconnect(_c: Any, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        if not connected.is_set():  # closed before any CONNACK (e.g. a failed TLS handshake)
            refused.append(f"disconnected: {code}")
            connected.set()

    def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with device.lock:
            device.messages.append((message.topic, message.payload))
            device.lock.notify_all()

    def on_ack(_c: Any, _u: Any, mid: int, code: Any, _p: Properties | None = None) -> None:
        with device.lock:
            device.acks[mid] = code[0] if isinstance(code, list) else code
            device.lock.notify_all()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    client.on_publish = on_ack
    client.on_subscribe = on_ack
    if username is not None:
        client.username_pw_set(username)
    if tls is not None:
        ca, cert, key = tls
        client.tls_set(str(ca), str(cert), str(key), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    if not connected.wait(10) or refused:
        client.loop_stop()
        raise AssertionError(f"{client_id} could not connect: {refused}")
    return device


@contextlib.contextmanager
def device(port: int, client_id: str, **kwargs: Any) -> Iterator[Device]:
    connected = connect_device(port, client_id, **kwargs)
    try:
        yield connected
    finally:
        connected.client.disconnect()
        connected.client.loop_stop()


__all__ = [
    "CONNECTED",
    "ConfiguredBroker",
    "Device",
    "broker_config",
    "connect_device",
    "device",
    "free_port",
    "launch_serve",
    "read_line",
    "serve_mqtt",
]
