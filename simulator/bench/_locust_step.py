"""One measured step of ``fleetsim bench locust``: one client, one fleet size, fresh processes.

:func:`measure_step` starts a Mosquitto (:class:`~simulator.transport.broker.local.LocalMosquitto`
with the benchmark's ``max_queued_messages 1000``), the responder (:mod:`._locust_responder`) and
one headless Locust process (one worker: ``-u`` users, ``-r`` per second, no ``--processes``) on
the client's locustfile (``simulator/locustrun/bench/``, run as a file: this process never
imports locust). It waits until the locustfile's probe (``simulator/locustrun/bench/probe.py``)
reports every device connected and subscribed, lets ``settle`` seconds pass (one request period,
so every device is in its 10 s cycle), then measures ``window`` seconds: CPU of the Locust
process, of the responder and of the broker from ``/proc/PID/stat``, the probe's request count,
percentiles and failures over the same window, and the Locust process's ``VmRSS`` at its end.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.bench._procs import EventProcess, process_cpu, process_rss, python_module
from simulator.transport.broker.local import LocalMosquitto

__all__ = ["ClientSpec", "locustfile", "measure_step"]


def locustfile(name: str) -> Path:
    """``simulator/locustrun/bench/NAME``, found without importing ``simulator.locustrun``."""
    spec = importlib.util.find_spec("simulator.locustrun")  # imports ``simulator`` alone
    assert spec is not None and spec.submodule_search_locations is not None
    return Path(next(iter(spec.submodule_search_locations))) / "bench" / name


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """How to run one client: its locustfile, spawn rate and extra Locust arguments."""

    name: str
    locustfile: Path
    spawn_rate: int
    extra: tuple[str, ...] = ()


class _Responder(EventProcess):
    """The responder subprocess; its stdout lines are JSON events."""

    def __init__(self, broker: str) -> None:
        super().__init__(
            "simulator.bench._locust_responder", ["--broker", broker], label="responder"
        )

    def stop(self) -> dict[str, Any]:
        if self.process.poll() is not None:
            return {}
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.event("done", 30)
        finally:
            _end(self.process)


def _end(process: subprocess.Popen[Any], timeout: float = 60.0) -> None:
    """SIGTERM (Locust shuts down on it), SIGKILL after ``timeout`` s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data


def _wait_online(
    process: subprocess.Popen[Any], status: Path, devices: int, timeout: float
) -> tuple[int, float | None]:
    """Poll the probe until ``devices`` are online: (online, seconds taken or None)."""
    started = time.monotonic()
    online = 0
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"locust exited ({process.returncode}) while devices connected")
        data = _read_json(status)
        online = 0 if data is None else int(data["online"])
        if online >= devices:
            return online, time.monotonic() - started
        time.sleep(0.25)
    return online, None


def measure_step(
    client: ClientSpec, devices: int, workdir: Path, *, settle: float, window: float
) -> dict[str, Any]:
    """One row: ``devices`` users of ``client`` against a fresh broker and responder."""
    step = workdir / f"{client.name}-{devices}"
    probe = step / "probe"
    probe.mkdir(parents=True)
    connect_timeout = 60.0 + 1.5 * devices / client.spawn_rate
    run_time = int(connect_timeout + settle + window + 120)
    with LocalMosquitto(step / "broker", max_queued_messages=1000) as broker:
        responder = _Responder(broker.uri)
        locust: subprocess.Popen[bytes] | None = None
        try:
            responder.event("ready", 30)
            with (step / "locust.log").open("wb") as log:
                locust = subprocess.Popen(
                    [
                        *python_module("locust", "-f", str(client.locustfile), "--headless"),
                        *("-u", str(devices), "-r", str(client.spawn_rate), "-t", f"{run_time}s"),
                        *("--broker", broker.uri, "--only-summary", *client.extra),
                    ],
                    env={**os.environ, "FLEETSIM_BENCH_DIR": str(probe)},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            status_path = probe / "status.json"
            online, connect_s = _wait_online(locust, status_path, devices, connect_timeout)
            time.sleep(settle)
            pids = (locust.pid, responder.process.pid, broker.pid)
            before, wall = [process_cpu(pid) for pid in pids], time.monotonic()
            (probe / "start").touch()
            time.sleep(window)
            (probe / "stop").touch()
            after, wall = [process_cpu(pid) for pid in pids], time.monotonic() - wall
            rss, load = process_rss(locust.pid), os.getloadavg()[0]
            deadline = time.monotonic() + 60
            while (result := _read_json(probe / "result.json")) is None:
                if time.monotonic() > deadline or locust.poll() is not None:
                    raise RuntimeError(f"no result from the probe: see {step / 'locust.log'}")
                time.sleep(0.1)
            status = _read_json(probe / "status.json") or {"online": 0}
        except BaseException:
            log_path = step / "locust.log"
            if log_path.exists():
                print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            if locust is not None:
                _end(locust)
            answered = responder.stop()
    cpu = [100.0 * (b - a) / wall for a, b in zip(before, after, strict=True)]
    return {
        "client": client.name,
        "devices": devices,
        "connected": min(online, int(status["online"])),
        "connect_s": connect_s,
        "cpu_pct": cpu[0],
        "requests_per_s": result["requests"] / result["seconds"],
        "p50_ms": result["p50_ms"],
        "p99_ms": result["p99_ms"],
        "max_ms": result["max_ms"],
        "failures": result["failures"],
        "failures_total": result["failures_total"],
        "errors": result["errors"],
        "rss_bytes": rss,
        "responder_cpu_pct": cpu[1],
        "broker_cpu_pct": cpu[2],
        "answered": answered.get("answered"),
        "window_s": result["seconds"],
        "load_average": round(load, 2),
    }
