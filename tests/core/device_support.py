"""A scripted cloud peer for the virtual device's tests (``test_device_*``).

``Peer`` is the device's :class:`DeviceIO` played by the test: it records what the device publishes
and which timers it asks for, and answers the way AWS IoT Jobs does (echoing ``clientToken``).
Nothing of the device is replaced; tests read its topics, payloads, state and inventory.
"""

from __future__ import annotations

from typing import Any

import orjson

from simulator.core.device import Device, DeviceProfile, StepBehaviour, StepKind
from simulator.core.distributions import Distribution

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
STEP_S = 10.0


def profile(failure: dict[StepKind, float] | None = None, **options: Any) -> DeviceProfile:
    steps = {
        kind: StepBehaviour(Distribution("constant", STEP_S), (failure or {}).get(kind, 0.0))
        for kind in StepKind
    }
    options.setdefault("reboot_duration", Distribution("constant", 60.0))
    return DeviceProfile(seed=1, steps=steps, **options)


class Peer:
    """The cloud side of one device: records publishes and timers, answers requests."""

    def __init__(self, *, lossless: bool = True) -> None:
        self.lossless = lossless
        self.t = START
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.timers: list[tuple[float, int]] = []
        self.changed: list[str] = []
        self.last: tuple[str, dict[str, Any]] = ("", {})  # the last request, kept by take()

    # DeviceIO
    def now(self) -> float:
        return self.t

    def publish(self, device: Device, topic: str, payload: bytes, /) -> None:
        prefix = f"$aws/things/{device.name}/"
        assert topic.startswith(prefix)
        self.last = (topic.removeprefix(prefix), orjson.loads(payload))
        self.sent.append(self.last)

    def set_timer(self, device: Device, delay: float, token: int, /) -> None:
        assert delay >= 0
        self.timers.append((self.t + delay, token))

    def inventory_changed(self, device: Device, package: str, /) -> None:
        self.changed.append(package)

    # the test's side
    def fire(self, device: Device) -> None:
        """The latest timer comes due."""
        when, token = self.timers[-1]
        self.t = max(self.t, when)
        device.on_timer(token)

    def say(self, device: Device, suffix: str, body: dict[str, Any] | bytes) -> None:
        payload = body if isinstance(body, bytes) else orjson.dumps(body)
        device.on_message(f"$aws/things/{device.name}/{suffix}", payload)

    def reply(self, device: Device, body: dict[str, Any] | None = None, *, ok: bool = True) -> None:
        """Answer the last request as AWS IoT does: ``<topic>/accepted`` with its clientToken."""
        topic, request = self.last
        answer = {**(body or {}), "timestamp": int(self.t), "clientToken": request["clientToken"]}
        self.say(device, f"{topic}/{'accepted' if ok else 'rejected'}", answer)

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        out, self.sent = self.sent, []
        return out


def step(name: str, script: str, *args: str) -> dict[str, Any]:
    return {
        "action": {
            "name": name,
            "type": "runHandler",
            "input": {"handler": script, "args": list(args)},
        }
    }


INSTALL = {
    "version": "1.0",
    "steps": [
        step("download", "download-file.sh", "https://b.s3.amazonaws.com/agent.bin", "/tmp/a"),
        step("verify-signature", "verify-signature.sh", "/tmp/a", "c2ln"),
        step("install", "install-package.sh", "agent", "1.2.0", "/tmp/a"),
    ],
}


def execution(document: Any = None, job_id: str = "job-1", number: int = 1) -> dict[str, Any]:
    return {
        "execution": {
            "jobId": job_id,
            "thingName": "dev-1",
            "jobDocument": INSTALL if document is None else document,
            "status": "IN_PROGRESS",
            "versionNumber": 1,
            "executionNumber": number,
        }
    }


def device(peer: Peer, prof: DeviceProfile | None = None, **kw: Any) -> Device:
    inventory = kw.pop("inventory", {"agent": "1.0.0"})
    return Device(0, "dev-1", inventory, prof or profile(), peer, **kw)


def online(peer: Peer, dev: Device) -> None:
    dev.connect(3.0)
    peer.fire(dev)


def running(peer: Peer, dev: Device, document: Any = None) -> None:
    online(peer, dev)
    peer.reply(dev, execution(document))
