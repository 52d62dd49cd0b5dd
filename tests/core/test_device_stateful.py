"""A stateful property test of one virtual device against a small model of AWS IoT Jobs, over a
transport that loses, repeats and reorders messages, with timers firing late or superseded.

Invariants after every step: the device starts an execution only from the answer to its latest
``start-next`` and never starts one again unless a reboot cut the first run short; it reports
only on the execution it runs; a run's terminal updates all carry the same terminal status; every
request has a fresh ``clientToken``; the fleet's online count follows the device. Delivered in
order, with every timer kept, the device always finishes every job and ends idle.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from simulator.core.device import Device, DeviceProfile, DeviceState, StepBehaviour, StepKind
from simulator.core.distributions import Distribution
from tests.core.device_support import INSTALL, START, step
from tests.hypothesis_profiles import examples

S = DeviceState
TERMINAL = {"SUCCEEDED", "FAILED", "REJECTED", "CANCELED"}
DOCUMENTS = [
    INSTALL,
    {"version": "1.0", "steps": [step("uninstall", "remove.sh", "legacy")]},
    {"version": "1.0", "steps": []},  # refused by the device
]


class Cloud:
    """The Jobs data plane for one thing, as far as the device can tell: start-next gives the
    IN_PROGRESS execution or starts the oldest QUEUED one; an update applies to an IN_PROGRESS
    execution and is refused (with the execution's state) otherwise. Requests and answers queue
    in :attr:`inflight` until the test delivers, repeats or drops them."""

    lossless = False

    def __init__(self) -> None:
        self.t = START
        self.status: dict[str, str] = {}  # job id -> execution status
        self.documents: dict[str, Any] = {}
        #: Messages on the way, oldest first: (True: to the cloud, False: to the device, ...).
        self.inflight: list[tuple[bool, str, bytes]] = []
        self.timers: list[tuple[float, int]] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []

    # DeviceIO
    def now(self) -> float:
        return self.t

    def set_timer(self, device: Device, delay: float, token: int, /) -> None:
        self.timers.append((self.t + delay, token))

    def inventory_changed(self, device: Device, package: str, /) -> None:
        pass

    def publish(self, device: Device, topic: str, payload: bytes, /) -> None:
        suffix = topic.removeprefix(f"$aws/things/{device.name}/")
        self.requests.append((suffix, orjson.loads(payload)))
        self.inflight.append((True, suffix, payload))

    # the cloud's side
    def receive(self, suffix: str, payload: bytes) -> None:
        body = orjson.loads(payload)
        answer: dict[str, Any] = {"timestamp": int(self.t), "clientToken": body["clientToken"]}
        if suffix == "jobs/start-next":
            job = self._next()
            if job is not None:
                self.status[job] = "IN_PROGRESS"
                answer["execution"] = {
                    "jobId": job,
                    "thingName": "dev-1",
                    "status": "IN_PROGRESS",
                    "executionNumber": 1,
                    "jobDocument": self.documents[job],
                }
            self.send(f"{suffix}/accepted", answer)
        elif suffix.startswith("jobs/") and suffix.endswith("/update"):
            job = suffix[5:-7]
            if self.status.get(job) == "IN_PROGRESS":
                self.status[job] = body["status"]
                self.send(f"{suffix}/accepted", answer)
            else:
                answer["code"] = "InvalidStateTransition"
                answer["executionState"] = {"status": self.status.get(job, "QUEUED")}
                self.send(f"{suffix}/rejected", answer)
        else:
            assert suffix == "shadow/name/$package/update", suffix

    def _next(self) -> str | None:
        for wanted in ("IN_PROGRESS", "QUEUED"):
            for job, status in self.status.items():
                if status == wanted:
                    return job
        return None

    def send(self, suffix: str, body: dict[str, Any]) -> None:
        self.inflight.append((False, suffix, orjson.dumps(body)))


class DeviceMachine(RuleBasedStateMachine):
    @initialize(
        report_steps=st.booleans(),
        reports_shadow=st.booleans(),
        ramp=st.floats(0.0, 60.0),
        seed=st.integers(0, 2**32 - 1),
        check_before=st.booleans(),
    )
    def start(
        self, report_steps: bool, reports_shadow: bool, ramp: float, seed: int, check_before: bool
    ) -> None:
        self.cloud = Cloud()
        odds = {StepKind.INSTALL: 0.2, StepKind.DOWNLOAD: 0.1}
        steps = {
            kind: StepBehaviour(Distribution("uniform", 1.0, 20.0), odds.get(kind, 0.0))
            for kind in StepKind
        }
        self.profile = DeviceProfile(
            seed=seed,
            steps=steps,
            reject_probability=0.1,
            reboot_probability=0.2,
            rollback_probability=0.5,
            reboot_duration=Distribution("constant", 60.0),
            report_steps=report_steps,
            rollback_after_success_probability=0.3,  # health checks that fail, after or before
            check_before_success=check_before,
        )
        inventory = {"agent": "1.0.0", "legacy": "0.9"}
        self.dev = Device(
            0, "dev-1", inventory, self.profile, self.cloud, reports_shadow=reports_shadow
        )
        self.dev.connect(ramp)
        self.started: list[str] = []  # executions the device started, in order
        self.current: str | None = None  # the execution it runs (or reports on)
        self.cut_short: set[str] = set()  # executions a reboot interrupted
        self.terminal: dict[str, str] = {}  # the terminal status reported for the current run
        self.checked = 0  # requests already checked

    # -- the cloud and the transport ---------------------------------------------------------

    @precondition(lambda self: len(self.cloud.status) < 6)
    @rule(document=st.sampled_from(range(len(DOCUMENTS))))
    def add_job(self, document: int) -> None:
        job = f"job-{len(self.cloud.status) + 1}"
        self.cloud.status[job] = "QUEUED"
        self.cloud.documents[job] = DOCUMENTS[document]
        self.cloud.send("jobs/notify-next", {"timestamp": int(self.cloud.t)})

    @precondition(lambda self: any(s not in TERMINAL for s in self.cloud.status.values()))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        open_jobs = sorted(j for j, s in self.cloud.status.items() if s not in TERMINAL)
        self.cloud.status[data.draw(st.sampled_from(open_jobs))] = "CANCELED"

    @precondition(lambda self: self.cloud.inflight)
    @rule(data=st.data(), up=st.booleans(), oldest=st.booleans(), repeat=st.booleans())
    def deliver(self, data: st.DataObject, up: bool, oldest: bool, repeat: bool) -> None:
        """A message in flight to the cloud (``up``) or to the device arrives: the oldest, or any;
        ``repeat`` keeps it in flight (a QoS 1 duplicate comes later)."""
        inflight = self.cloud.inflight
        indices = [i for i, message in enumerate(inflight) if message[0] is up]
        if not indices:
            return
        index = indices[0] if oldest else data.draw(st.sampled_from(indices))
        self._arrive(*(inflight[index] if repeat else inflight.pop(index)))

    @precondition(lambda self: self.cloud.inflight)
    @rule(data=st.data())
    def drop(self, data: st.DataObject) -> None:
        self.cloud.inflight.pop(data.draw(st.integers(0, len(self.cloud.inflight) - 1)))

    @precondition(lambda self: self.cloud.timers)
    @rule()
    def fire(self) -> None:
        """The live timer (the latest asked for) comes due."""
        timers = self.cloud.timers
        self._timer(*timers.pop(timers.index(max(timers, key=lambda timer: timer[1]))))

    @precondition(lambda self: len(self.cloud.timers) > 1)
    @rule(data=st.data())
    def fire_superseded(self, data: st.DataObject) -> None:
        timers = self.cloud.timers
        live = max(timers, key=lambda timer: timer[1])
        stale = [i for i, timer in enumerate(timers) if timer != live]
        self._timer(*timers.pop(data.draw(st.sampled_from(stale))))

    @rule()
    def drain(self) -> None:
        """Deliver everything in order, firing the live timer whenever nothing is in flight."""
        cloud = self.cloud
        cloud.send("jobs/notify-next", {"timestamp": int(cloud.t)})  # in case one was lost
        for _ in range(10_000):
            if cloud.inflight:
                self._arrive(*cloud.inflight.pop(0))
            elif cloud.timers:
                live = max(cloud.timers, key=lambda timer: timer[1])
                cloud.timers.clear()  # the others are superseded
                self._timer(*live)
            else:
                break
            self.check()
        assert not cloud.inflight and not cloud.timers, "the device never settled"
        assert self.dev.state is S.IDLE
        assert all(status in TERMINAL for status in cloud.status.values()), cloud.status

    # -- bookkeeping -------------------------------------------------------------------------

    def _arrive(self, up: bool, suffix: str, payload: bytes) -> None:
        if up:
            self.cloud.receive(suffix, payload)
            return
        before, asked = self.dev.state, self._last_start_next()
        self.dev.on_message(f"$aws/things/dev-1/{suffix}", payload)
        after = self.dev.state
        if before is S.REQUESTING and after in (S.RUNNING, S.REPORTING):
            answer = orjson.loads(payload)
            assert suffix == "jobs/start-next/accepted"
            assert answer["clientToken"] == asked, "started from the answer to an older request"
            job = answer["execution"]["jobId"]
            if job in self.started:
                assert job in self.cut_short, f"{job} started twice"
                self.cut_short.discard(job)
            self.started.append(job)
            self.current = job
            self.terminal.pop(job, None)
        elif before is S.REPORTING and after is S.REQUESTING:
            self.current = None

    def _timer(self, when: float, token: int) -> None:
        self.cloud.t = max(self.cloud.t, when)
        before = self.dev.state
        self.dev.on_timer(token)
        if before is S.RUNNING and self.dev.state is S.OFFLINE:
            assert self.current is not None
            self.cut_short.add(self.current)
            self.current = None

    def _last_start_next(self) -> str | None:
        asks = [body for suffix, body in self.cloud.requests if suffix == "jobs/start-next"]
        return asks[-1]["clientToken"] if asks else None

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def check(self) -> None:
        requests = self.cloud.requests
        for suffix, body in requests[self.checked :]:
            if suffix.endswith("/update") and suffix.startswith("jobs/"):
                job = suffix[5:-7]
                assert job == self.current, f"an update for {job}, running {self.current}"
                status = body["status"]
                if status != "IN_PROGRESS":
                    assert status in {"SUCCEEDED", "FAILED", "REJECTED"}
                    assert self.terminal.setdefault(job, status) == status
        self.checked = len(requests)
        tokens = [body["clientToken"] for _, body in requests]
        assert len(tokens) == len(set(tokens))
        assert self.profile.online == (0 if self.dev.state is S.OFFLINE else 1)


TestDevice = DeviceMachine.TestCase
TestDevice.settings = settings(
    max_examples=examples(200),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
