"""The operator follows its jobs through Jobs event messages, as an AWS operator can.

With AWS IoT's ``JOB`` and ``JOB_EXECUTION`` events enabled (UpdateEventConfigurations), the
broker publishes ``$aws/events/job/<jobId>/<operation>`` when a job completes, is canceled or
deleted, and ``$aws/events/jobExecution/<jobId>/<operation>`` when one of its executions ends
[AD:events-jobs]. Three parts:

* :class:`EventTally` (pure): reads each message, counts execution events per job and status,
  notes each job's ``completed``/``canceled``/``deleted``, drops a redelivered ``eventId``, and
  sums it up against what DescribeJob counted (:meth:`EventTally.summary`);
* :class:`EventFeed`: one MQTT connection (the project's own client,
  :class:`~simulator.transport.mqtt.ConnectionPool` with a single client id) subscribed to the
  operator's jobs, on a uvloop loop in its own OS thread (under Locust the unpatched
  ``start_new_thread``, as :class:`~simulator.engine.mqtt.elastic.ElasticFleet`); messages cross
  to the operator through a deque with their arrival time;
* :class:`EventSwitch`: turns the two event types on through the control plane and puts back
  what it changed (on a shared or staging account another team may rely on the setting).

Credentials of the connection (:func:`operator_tls`): ``--client-cert``/``--client-key`` when
given; with ``--cert-dir``, ``clients/fleetsim-operator.pem``/``.key``, else the emulator's
``clients/fleetsim-emulator.pem``/``.key`` (``fleetsim broker-config --tls`` writes it and
allows it on all of ``$aws/#``). Against AWS the certificate's policy must allow
``iot:Connect`` on ``client/fleetsim-operator``, ``iot:Subscribe`` on
``topicfilter/$aws/events/job/*`` and ``topicfilter/$aws/events/jobExecution/*``, and
``iot:Receive`` on ``topic/$aws/events/*``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson
import uvloop

from simulator.core.errors import UsageError
from simulator.engine.mqtt.options import MqttOptions
from simulator.transport.certs import DEFAULT_EMULATOR_IDENTITY
from simulator.transport.mqtt import ConnectionPool, TlsConfig

__all__ = [
    "OPERATOR_CLIENT_ID",
    "EventFeed",
    "EventSwitch",
    "EventTally",
    "JobEvent",
    "operator_tls",
    "topic_filters",
]

#: The client id of the operator's connection (AWS: one connection per client id).
OPERATOR_CLIENT_ID: Final = "fleetsim-operator"
_EVENT_TYPES: Final = ("JOB", "JOB_EXECUTION")
#: The JOB operations after which a job has nothing left to run.
_JOB_ENDS: Final = frozenset({"completed", "canceled", "deleted"})
_TERMINAL: Final = ("SUCCEEDED", "FAILED", "REJECTED", "CANCELED", "TIMED_OUT", "REMOVED")
_PREFIX: Final = "$aws/events/"
_ROOT: Final = ["$aws", "events"]
#: Failed attempts before a first connection after which the operator stops waiting for it
#: (the feed keeps retrying; DescribeJob follows the jobs meanwhile).
_GIVE_UP: Final = 3

StartThread = Callable[[Callable[[], None], tuple[()]], object]


def topic_filters(job_ids: Iterable[str]) -> list[str]:
    """The operator's subscriptions: both event kinds of each of its jobs."""
    out: list[str] = []
    for job_id in job_ids:
        out += [f"{_PREFIX}job/{job_id}/#", f"{_PREFIX}jobExecution/{job_id}/#"]
    return out


def operator_tls(options: MqttOptions) -> TlsConfig | None:
    """TLS of the operator's connection (see the module docstring); None for ``mqtt://``.

    Raises:
        UsageError: ``--cert-dir`` holds neither the operator's nor the emulator's identity.
    """
    if not options.broker.tls:
        return None
    cert, key = options.client_cert, options.client_key
    if options.cert_dir is not None:
        for name in (OPERATOR_CLIENT_ID, DEFAULT_EMULATOR_IDENTITY):
            cert, key = options.credentials(name)
            if cert.is_file() and key.is_file():
                break
        else:
            clients = options.cert_dir / "clients"
            raise UsageError(
                f"--follow-events: the operator's MQTT connection needs a certificate: "
                f"{clients}/{OPERATOR_CLIENT_ID}.pem and .key (or {DEFAULT_EMULATOR_IDENTITY}'s)"
            )
    return TlsConfig(ca_file=options.ca, cert_file=cert, key_file=key)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One event message as the operator took it.

    Attributes:
        kind: ``job`` or ``jobExecution`` (the topic's level).
        job_id: the job.
        operation: the topic's last level (``completed``, ``succeeded``...).
        status: the payload's ``status``.
        at: epoch seconds when it arrived on the connection.
    """

    kind: Literal["job", "jobExecution"]
    job_id: str
    operation: str
    status: str
    at: float


@dataclass(slots=True)
class EventTally:
    """What the event messages said, per job (see the module docstring)."""

    executions: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    jobs: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    received: int = 0
    duplicates: int = 0
    malformed: int = 0
    lags: list[float] = dataclasses.field(default_factory=list)
    arrivals: list[float] = dataclasses.field(default_factory=list)
    max_backlog: int = 0
    _ids: set[str] = dataclasses.field(default_factory=set)

    def receive(self, topic: str, payload: bytes, at: float) -> JobEvent | None:
        """Count one message; None for a duplicate or a message that is not a Jobs event."""
        self.received += 1
        self.arrivals.append(at)
        parts = topic.split("/")
        try:
            body = orjson.loads(payload)
            event_id, status = str(body["eventId"]), str(body["status"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            body = None
        kinds = ("job", "jobExecution")
        if body is None or len(parts) != 5 or parts[:2] != _ROOT or parts[2] not in kinds:
            self.malformed += 1
            return None
        if event_id in self._ids:  # QoS 1 may deliver twice
            self.duplicates += 1
            return None
        self._ids.add(event_id)
        kind: Literal["job", "jobExecution"] = "job" if parts[2] == "job" else "jobExecution"
        job_id, operation = parts[3], parts[4]
        if kind == "job":
            self.jobs.setdefault(job_id, {}).setdefault(operation, at)
        else:
            counts = self.executions.setdefault(job_id, {})
            counts[status] = counts.get(status, 0) + 1
        return JobEvent(kind, job_id, operation, status, at)

    def ended(self, job_id: str) -> bool:
        """A ``completed``, ``canceled`` or ``deleted`` event of ``job_id`` arrived."""
        return not _JOB_ENDS.isdisjoint(self.jobs.get(job_id, ()))

    def complete(self, seen: Mapping[str, Mapping[str, int]]) -> bool:
        """As many execution events per terminal status as ``seen`` (DescribeJob's counts)."""
        return all(
            self.executions.get(job_id, {}).get(status, 0) >= counts.get(status, 0)
            for job_id, counts in seen.items()
            for status in _TERMINAL
        )

    def peak_per_s(self) -> int:
        """Most messages that arrived within one second (AWS caps a connection's rate)."""
        times = sorted(self.arrivals)
        peak = first = 0
        for last, at in enumerate(times):
            while at - times[first] >= 1.0:
                first += 1
            peak = max(peak, last - first + 1)
        return peak

    def summary(
        self, seen: Mapping[str, Mapping[str, int]], created: Mapping[str, float]
    ) -> tuple[dict[str, Any], list[str]]:
        """The report's ``extra.events`` and one note per job: events against executions."""
        jobs: dict[str, Any] = {}
        notes: list[str] = []
        for job_id, counts in seen.items():
            terminal = {s: counts[s] for s in _TERMINAL if counts.get(s)}
            events = self.executions.get(job_id, {})
            start = created.get(job_id)
            ops = {
                op: at - (at if start is None else start)
                for op, at in self.jobs.get(job_id, {}).items()
            }
            complete = self.complete({job_id: counts})
            jobs[job_id] = {
                "execution_events": dict(events),
                "terminal_executions": terminal,
                "job_events": {op: round(after, 3) for op, after in ops.items()},
                "complete": complete,
            }
            pairs = ", ".join(f"{s} {events.get(s, 0)}/{n}" for s, n in terminal.items())
            ended = [f"{op} after {after:.1f} s" for op, after in ops.items()]
            notes.append(
                f"events: {job_id}: {sum(events.values())} execution events for "
                f"{sum(terminal.values())} terminal executions ({pairs or 'none'})"
                f"{'; job ' + ', '.join(ended) if ended else '; no job event'}"
                f"{'' if complete else ' - INCOMPLETE'}"
            )
        lags = sorted(self.lags)
        out: dict[str, Any] = {
            "received": self.received,
            "duplicates": self.duplicates,
            "malformed": self.malformed,
            "complete": all(job["complete"] for job in jobs.values()),
            "max_backlog": self.max_backlog,
            "peak_per_s": self.peak_per_s(),
            "lag_ms": {
                "p50": round(lags[len(lags) // 2] * 1000, 1) if lags else 0.0,
                "max": round(lags[-1] * 1000, 1) if lags else 0.0,
            },
            "jobs": jobs,
        }
        return out, notes


class EventFeed:
    """One MQTT connection subscribed to ``filters`` on a loop of its own (see the module
    docstring). :meth:`take` hands over what arrived; *any thread* may call every method."""

    def __init__(
        self, options: MqttOptions, filters: Sequence[str], *, client_id: str = OPERATOR_CLIENT_ID
    ) -> None:
        base = options.pool_options([client_id])
        self._options = dataclasses.replace(
            base, tls=operator_tls(options), clean_session=True, connect_burst=1
        )
        self._broker = options.broker
        self._filters = list(filters)
        self._client_id = client_id
        self.inbox: deque[tuple[str, bytes, float]] = deque()
        self.pool: ConnectionPool | None = None
        self.error: str | None = None
        self.closed = False
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def start(self, start_thread: StartThread) -> None:
        """Connect in a new OS thread made by ``start_thread(fn, ())``."""
        start_thread(self._thread, ())

    @property
    def online(self) -> bool:
        pool = self.pool
        return pool is not None and pool.stats().online > 0

    def problem(self) -> str | None:
        """Why events may be missing: the loop failed, or the broker refused a subscription."""
        if self.error is not None:
            return self.error
        stats = None if self.pool is None else self.pool.stats()
        if stats is None:
            return None
        if stats.subscribe_failures or (stats.failures >= _GIVE_UP and not stats.connects):
            return stats.last_error
        return None

    def connection(self) -> dict[str, object]:
        """The connection's counters, for the report."""
        stats = None if self.pool is None else self.pool.stats()
        if stats is None:
            return {"client_id": self._client_id, "connects": 0}
        return {
            "client_id": self._client_id,
            "connects": stats.connects,
            "drops": stats.drops,
            "failures": stats.failures,
            "last_error": stats.last_error,
        }

    def take(self) -> list[tuple[str, bytes, float]]:
        """Every message that arrived since the last call: (topic, payload, arrival epoch)."""
        inbox, out = self.inbox, []
        while inbox:
            out.append(inbox.popleft())
        return out

    def close(self) -> None:
        """DISCONNECT and end the loop; :attr:`closed` turns True when done."""
        self._closing = True  # before looking at _loop: see _main
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile
                loop.call_soon_threadsafe(stop.set)

    def _deliver(self, _index: int, topic: str, payload: bytes, /) -> None:
        self.inbox.append((topic, payload, time.time()))

    def _thread(self) -> None:
        try:
            uvloop.run(self._main())
        except Exception as exc:  # the operator polls error; a traceback would be lost here
            self.error = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        finally:
            self.closed = True

    async def _main(self) -> None:
        filters = self._filters
        pool = ConnectionPool(
            self._broker,
            [self._client_id],
            on_message=self._deliver,
            subscriptions=lambda _i: filters,
            options=self._options,
        )
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        try:
            await pool.start()
        except UsageError as exc:
            self.error = exc.message
            return
        self.pool = pool
        try:
            if not self._closing:
                await self._stop.wait()
        finally:
            await pool.close(timeout=2.0)


class EventSwitch:
    """Enables JOB and JOB_EXECUTION events, and restores the types it changed."""

    def __init__(self) -> None:
        self.changed: dict[str, bool] = {}  # type -> its value before

    def enable(self, iot: Any) -> None:
        """DescribeEventConfigurations; UpdateEventConfigurations for the types that are off."""
        configured = iot.describe_event_configurations().get("eventConfigurations", {})
        off = [kind for kind in _EVENT_TYPES if not configured.get(kind, {}).get("Enabled")]
        if off:
            iot.update_event_configurations(
                eventConfigurations={kind: {"Enabled": True} for kind in off}
            )
            self.changed = dict.fromkeys(off, False)

    def restore(self, iot: Any) -> None:
        """Put back the types :meth:`enable` turned on (once)."""
        changed, self.changed = self.changed, {}
        if changed:
            iot.update_event_configurations(
                eventConfigurations={kind: {"Enabled": old} for kind, old in changed.items()}
            )
