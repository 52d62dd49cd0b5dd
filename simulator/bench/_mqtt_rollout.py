"""The ``rollout`` section of ``fleetsim bench mqtt``: a fleet's job rollout over a real broker.

One worker process per row runs ``fleetsim run --broker``'s engine in process
(:class:`simulator.engine.runner.Runner` over the embedded emulator on its bridge connection) for a
scenario of N devices, each on its own MQTT connection, with one of two device transports:

* ``fleetsim``: :class:`simulator.transport.mqtt.ConnectionPool`, as ``fleetsim run`` uses it;
* ``raw``: the floor, :class:`RawPool` below: one ``asyncio.Protocol`` per device writing
  CONNECT/SUBSCRIBE/PUBLISH (:mod:`simulator.transport.mqtt.codec`'s encoder) and PUBACK, a
  minimal packet splitter, no reconnects, no keepalive, no validation, connects as fast as 100
  handshakes in flight allow.

Both carry the same :class:`~simulator.core.device.Device` state machine through the same
:class:`~simulator.engine.mqtt.MqttDeviceLink`, so only the client differs.

``messages_per_s`` = device-side MQTT messages (published + received by devices) from the
first ``notify-next`` a device receives to the last terminal update answered, divided by that
time. The worker prints one JSON line: the row, the CPU of its own process over that window
(the orchestrator adds the broker's, sampled over the same window).

Usage (internal, started by :mod:`simulator.bench.mqtt`)::

    python -m simulator.bench._mqtt_rollout --client raw --devices 10000 --port 1883
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, Literal

from simulator.bench._procs import process_cpu, python_module
from simulator.transport.broker.local import LocalMosquitto
from simulator.transport.mqtt import BrokerConfig, PoolOptions, PoolStats, loopback_sources
from simulator.transport.mqtt.codec import Connect, Subscribe, encode, encode_publish

__all__ = ["ROW_KEYS", "RawPool", "measure", "rollout_scenario"]

HANDSHAKES: Final = 100
IP_BIND_ADDRESS_NO_PORT: Final = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)

#: N devices, one install job at ``at_s`` (the fleet is connected by then), released at once;
#: steps of 5-20 ms (the messages, not the devices' work, set the pace); no $package reports;
#: a 120 s response timeout, so a slow emulator is measured rather than a storm of repeats.
SCENARIO: Final = """\
name = "mqtt-rollout-benchmark"
[run]
seed = 3
clock = "real"
settle_s = 0
sample_interval_s = 2
max_duration_s = {max_duration}

[fleet]
devices = {devices}

[[fleet.inventory]]
package = "agent"
versions = {{ "1.0.0" = 1.0 }}

[catalog.configuration]
version_update_by_jobs = true
role_arn = "arn:aws:iam::123456789012:role/JobsUpdatePackageShadow"

[[catalog.packages]]
name = "agent"
default_version = "1.0.0"

[[catalog.packages.versions]]
name = "1.0.0"
attributes.package = "agent"
attributes.version = "1.0.0"
attributes.s3URL = "https://fleet-bucket.s3.us-east-1.amazonaws.com/agent-1.0.0"
attributes.signature = "s"

[[catalog.packages.versions]]
name = "1.2.0"
attributes.package = "agent"
attributes.version = "1.2.0"
attributes.s3URL = "https://fleet-bucket.s3.us-east-1.amazonaws.com/agent-1.2.0"
attributes.signature = "s"

[device]
response_timeout_s = 120

[device.steps.download]
duration = "uniform(0.005, 0.02)"

[device.steps.verify]
duration = "uniform(0.005, 0.02)"

[device.steps.install]
duration = "uniform(0.005, 0.02)"

[[jobs]]
id = "agent-1-2-0"
at_s = {at_s}
destination_package_versions = ["agent@1.2.0"]
targets = ["group:fleet"]
presigned_url = {{ roleArn = "arn:aws:iam::123456789012:role/JobsPresign" }}
"""

#: The job: ``scenarios/jobs/install-package.json`` (the installed tool has no scenarios/).
_PACKAGE = "${aws:iot:package::version::attributes:package}"
_VERSION = "${aws:iot:package::version::attributes:version}"
_BINARY = "/var/lib/packages/package.bin"
DOCUMENT: Final = {
    "version": "1.0",
    "includeStdOut": False,
    "steps": [
        {
            "action": {
                "name": "download",
                "type": "runHandler",
                "input": {
                    "handler": "download-file.sh",
                    "args": [
                        "${aws:iot:s3-presigned-url:${aws:iot:package::version::attributes:s3URL}}",
                        _BINARY,
                    ],
                    "path": "default",
                },
                "runAsUser": "root",
            }
        },
        {
            "action": {
                "name": "verify-signature",
                "type": "runHandler",
                "input": {
                    "handler": "verify-signature.sh",
                    "args": [_BINARY, "${aws:iot:package::version::attributes:signature}"],
                    "path": "default",
                },
            }
        },
        {
            "action": {
                "name": "install",
                "type": "runHandler",
                "input": {
                    "handler": "install-package.sh",
                    "args": [_PACKAGE, _VERSION, _BINARY],
                    "path": "default",
                },
                "runAsUser": "root",
            }
        },
    ],
    "package": "${aws:iot:package::version::attributes}",
}


def rollout_scenario(directory: Path, devices: int, *, at_s: float = 20.0) -> Path:
    """Write the benchmark scenario (its job document inline) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "rollout.toml"
    text = SCENARIO.format(devices=devices, at_s=at_s, max_duration=at_s + 600)
    # A JSON string is a TOML basic string (the document is ASCII).
    path.write_text(text + f"document_json = {json.dumps(json.dumps(DOCUMENT))}\n")
    return path


# -- raw: the floor -----------------------------------------------------------------------------


class _RawDevice(asyncio.Protocol):
    __slots__ = ("_buf", "_index", "_out", "_pid", "_pool", "online", "transport")

    def __init__(self, pool: RawPool, index: int) -> None:
        self._pool = pool
        self._index = index
        self._buf = b""
        self._pid = 0
        self._out: list[bytes] | None = None
        self.online = False
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        pool, index = self._pool, self._index
        connect = Connect(pool.ids[index], keepalive=0, clean_session=pool.clean_session)
        filters = tuple((topic, 1) for topic in pool.subscriptions(index))
        transport.write(encode(connect) + encode(Subscribe(1, filters)))

    def publish(self, topic: str, payload: bytes) -> None:
        self._pid = pid = self._pid % 65535 + 1
        packet = encode_publish(topic.encode(), payload, 1, pid)
        if self._out is not None:
            self._out.append(packet)
        elif self.transport is not None:
            self.transport.write(packet)

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        out: list[bytes] = []
        self._out = out
        pos, size = 0, len(buf)
        try:
            while size - pos >= 2:
                length, shift, start = 0, 0, pos + 1
                while start < size:
                    digit = buf[start]
                    length |= (digit & 0x7F) << shift
                    start += 1
                    shift += 7
                    if not digit & 0x80:
                        break
                else:
                    break
                end = start + length
                if end > size:
                    break
                kind = buf[pos] >> 4
                if kind == 3:  # PUBLISH
                    tlen = (buf[start] << 8) | buf[start + 1]
                    body = start + 2 + tlen
                    topic = buf[start + 2 : body].decode()
                    if (buf[pos] >> 1) & 3:
                        out.append(b"\x40\x02" + buf[body : body + 2])
                        body += 2
                    self._pool.deliver(self._index, topic, buf[body:end])
                elif kind == 9 and not self.online:  # SUBACK: subscribed
                    self.online = True
                    self._pool.ready(self._index)
                pos = end
            self._buf = buf[pos:]
        finally:
            self._out = None
            if out and self.transport is not None:
                self.transport.write(b"".join(out))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.online = False


class RawPool:
    """``ConnectionPool``'s interface over :class:`_RawDevice` protocols (the floor)."""

    def __init__(
        self,
        broker: BrokerConfig,
        client_ids: Sequence[str],
        *,
        on_message: Callable[[int, str, bytes], None],
        subscriptions: Callable[[int], Sequence[str]] | None = None,
        on_online: Callable[[int, bool], None] | None = None,
        on_offline: Callable[[int], None] | None = None,
        options: PoolOptions | None = None,
    ) -> None:
        self.broker = broker
        self.ids = list(client_ids)
        self.deliver = on_message
        self._subscriptions = subscriptions
        self._on_online = on_online
        self.clean_session = options.clean_session if options is not None else True
        self.devices = [_RawDevice(self, i) for i in range(len(self.ids))]
        self._window: asyncio.Semaphore | None = None
        self._online = 0
        self._sources = loopback_sources(64)
        self._tasks: set[asyncio.Task[None]] = set()

    def subscriptions(self, index: int) -> Sequence[str]:
        return self._subscriptions(index) if self._subscriptions is not None else ()

    def ready(self, index: int) -> None:
        self._online += 1
        if self._window is not None:
            self._window.release()
        if self._on_online is not None:
            self._on_online(index, False)

    async def start(self) -> None:
        self._window = asyncio.Semaphore(HANDSHAKES)
        task = asyncio.get_running_loop().create_task(self._dial_all())
        self._tasks.add(task)

    async def _dial_all(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._window is not None
        for index in range(len(self.devices)):
            await self._window.acquire()
            task = loop.create_task(self._open(loop, index))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _open(self, loop: asyncio.AbstractEventLoop, index: int) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((self._sources[index % len(self._sources)], 0))
        await loop.sock_connect(sock, (self.broker.host, self.broker.port))
        device = self.devices[index]
        await loop.create_connection(lambda: device, sock=sock)

    def publish(self, index: int, topic: str, payload: bytes, qos: Literal[0, 1] = 1) -> bool:
        self.devices[index].publish(topic, payload)
        return True

    def stats(self) -> PoolStats:
        n = len(self.devices)
        return PoolStats(n, self._online, n, 0, self._online, 0, 0, 0, 0, 0, 0, None)

    async def close(self, *, timeout: float = 5.0) -> None:
        for task in self._tasks:
            task.cancel()
        for device in self.devices:
            if device.transport is not None:
                device.transport.write(b"\xe0\x00")
                device.transport.close()
        await asyncio.sleep(0.2)


# -- the orchestrator (simulator.bench.mqtt) ---------------------------------------------------

ROW_KEYS: Final = ("client", "devices", "messages_per_s", "all_terminal")


class _CpuSampler:
    """Samples another process's CPU seconds every 0.1 s in a thread, with wall timestamps."""

    def __init__(self, pid: int) -> None:
        import threading  # noqa: PLC0415

        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.samples.append((time.time(), process_cpu(self.pid)))
            except OSError:
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def pct(self, first: float | None, last: float | None) -> float | None:
        """CPU of the process in % of one core between wall times ``first`` and ``last``."""
        if first is None or last is None:
            return None
        inside = [(t, c) for t, c in self.samples if first - 0.1 <= t <= last + 0.1]
        if len(inside) < 2:
            return None
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        return 100 * (c1 - c0) / max(t1 - t0, 1e-9)


def measure(
    client: str, devices: int, workdir: Path, *, at_s: float = 20.0, bridge_connections: int = 1
) -> dict[str, Any]:
    """One ``rollout`` row: ``client``'s devices through a rollout on a fresh Mosquitto.

    The row has :data:`ROW_KEYS` plus the rollout's duration and message count, and the CPU
    (% of one core) over the rollout of the worker process (devices and embedded emulator) and
    of the broker.
    """
    import subprocess  # noqa: PLC0415

    with LocalMosquitto(workdir / f"rollout-{client}-{devices}") as broker:
        sampler = _CpuSampler(broker.pid)
        try:
            argv = [
                *("--client", client, "--devices", str(devices), "--port", str(broker.port)),
                *("--at-s", str(at_s), "--bridge-connections", str(bridge_connections)),
            ]
            done = subprocess.run(
                python_module(__name__, *argv),
                capture_output=True,
                text=True,
                timeout=at_s + 900,
                check=False,
            )
        finally:
            sampler.stop()
    if done.returncode != 0:
        raise RuntimeError(f"rollout worker ({client}) failed: {done.stderr[-3000:]}")
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    row["broker_cpu_pct"] = sampler.pct(row["first_notify_at"], row["last_terminal_at"])
    # CPU per message does not depend on how much of a core the worker got on a busy machine.
    cpu = row.get("process_cpu_pct")
    row["worker_cpu_us_per_message"] = (
        cpu / 100 * row["rollout_s"] / row["messages"] * 1e6 if cpu and row["messages"] else None
    )
    return row


# -- the worker ---------------------------------------------------------------------------------


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


async def _measure(args: argparse.Namespace) -> dict[str, Any]:
    from simulator.engine.mqtt import MqttOptions  # noqa: PLC0415
    from simulator.engine.planes import build_plane  # noqa: PLC0415
    from simulator.engine.runner import Runner  # noqa: PLC0415
    from simulator.engine.scenario import load_scenario  # noqa: PLC0415
    from simulator.transport.mqtt import ConnectionPool  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="fleetsim-rollout-") as tmp:
        scenario = load_scenario(rollout_scenario(Path(tmp), args.devices, at_s=args.at_s))
    options = MqttOptions(
        broker=BrokerConfig("127.0.0.1", args.port),
        rollout_per_minute=1_000_000,  # all at once: measure messages, not the release rate
        bridge_connections=args.bridge_connections,
    )
    transport = RawPool if args.client == "raw" else ConnectionPool
    plane = build_plane(scenario, options, transport=transport)
    run = Runner(plane)
    samples: list[tuple[float, float]] = []

    async def probe() -> None:
        while True:
            samples.append((time.time(), _cpu()))
            await asyncio.sleep(0.1)

    task = asyncio.get_running_loop().create_task(probe())
    try:
        result = await run.run()
    finally:
        task.cancel()
    ledger = plane.link.ledger  # type: ignore[attr-defined]
    first, last = ledger.first_notify_at, ledger.last_terminal_at
    window: dict[str, Any] = dict(result.extra)  # numbers the MQTT plane adds to the result
    cpu_pct = None
    if first is not None and last is not None and last > first:
        inside = [(t, c) for t, c in samples if first <= t <= last] or samples[-2:]
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        cpu_pct = 100 * (c1 - c0) / max(t1 - t0, 1e-9)
    online_at_job = min((s.devices_online for s in result.timeline if s.executions), default=0)
    return {
        "client": args.client,
        "devices": args.devices,
        "messages_per_s": float(window.get("rollout_messages_per_s", 0.0)),
        "all_terminal": set(result.executions) <= {"SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT"}
        and sum(result.executions.values()) == args.devices,
        "rollout_s": float(window.get("rollout_wall_s", 0.0)),
        "messages": int(window.get("rollout_messages", 0)),
        "process_cpu_pct": cpu_pct,
        "first_notify_at": first,
        "last_terminal_at": last,
        "online_when_job_created": online_at_job,
        "executions": result.executions,
        "bridge_connections": args.bridge_connections,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("--client", choices=("raw", "fleetsim"), required=True)
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--at-s", type=float, default=20.0)
    parser.add_argument("--bridge-connections", type=int, default=1)
    args = parser.parse_args(argv)
    import uvloop  # noqa: PLC0415

    row = uvloop.run(_measure(args))
    print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
