"""Command sourcing at the service boundary: what makes a control plane replayable.

Every state change of a control plane starts either at a call of a service method from an API
(HTTP or MQTT) or at a timer the services scheduled (rollout ticks, execution timeouts, scheduled
job ends, index builds). The services are deterministic given three inputs, which are injected
and recorded here:

* **time**: :class:`JournalClock` is the runtime's clock; it is set once per top-level call or
  timer firing (so a call reads one instant, as it would with a single ``clock()``), and that
  instant is recorded;
* **timers**: :class:`JournalScheduler` numbers every ``call_at`` in order; a firing is recorded
  as that number, and replay fires the same number (a replayed control plane schedules the same
  timers in the same order, so the numbers match: a mismatch is reported, not ignored);
* **randomness**: the only random values the services mint are CreateKeysAndCertificate's key
  pairs; :class:`RecordingIssuer` records each certificate issued (without its private key,
  which AWS never shows twice either) and hands the same one back on replay.

:class:`JournaledPlane` stands in for the :class:`~simulator.services.controlplane.ControlPlane`
the APIs dispatch to: every public method call of a service that is not a read (``describe_``,
``list_``, ``get_``, ``search_``) is recorded as ``(time, service, method, args, kwargs,
certificates)``, whether it succeeded or raised an AWS error (a failed call is replayed and fails
again: recording it keeps replay exact if a service ever changes something before refusing). A
read is recorded too in the unlikely case it scheduled a timer. Calls the services make to each
other never pass through it.

Records are pickled tuples (``pickle`` is the fastest encoder of these plain values here, and
the journal is only ever read by the process that wrote it):

* ``("c", now, service, method, args, kwargs, certificates)``: a call;
* ``("t", now, number)``: timer ``number`` fired.

:class:`DeferringPublisher` holds back every MQTT message the services emit until the records
it may depend on are durable, and drops them during replay.
"""

from __future__ import annotations

import asyncio
import pickle
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any, Final, Protocol

from simulator.services.registry.ca import CertificateIssuer, IssuedCertificate
from simulator.services.runtime import Publisher

__all__ = [
    "DeferringPublisher",
    "Durable",
    "JournalClock",
    "JournalScheduler",
    "JournaledPlane",
    "Recorder",
    "RecordingIssuer",
    "ReplayMismatch",
    "Replayer",
]

#: Method-name prefixes of service reads (checked against every route in the tests).
READ_PREFIXES: Final = ("describe_", "list_", "get_", "search_")
#: Methods the API layer calls that neither change state nor need the clock set: wiring of the
#: MQTT notices, reply timestamps, the CA's PEM.
PASS_THROUGH: Final = frozenset(
    {"notify_to", "document_for", "stamp", "timestamp", "ca_certificate_pem"}
)
#: The services a :class:`JournaledPlane` wraps (the attributes routes dispatch to).
SERVICES: Final = (
    "catalog",
    "registry",
    "shadows",
    "jobs",
    "jobs_data",
    "index",
    "security",
    "tags",
    "events",
)

Recorder = Callable[[bytes], None]


class ReplayMismatch(Exception):
    """The journal does not replay onto this control plane (a timer it names was never
    scheduled): a journal of another version, or a nondeterminism bug."""


class JournalClock:
    """The runtime clock: the instant of the current call or timer (see the module docstring)."""

    __slots__ = ("now",)

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class _Timer:
    """A scheduled callback, numbered; ``cancel()`` works before and after going live."""

    __slots__ = ("callback", "handle", "number", "owner", "when")

    def __init__(
        self, owner: JournalScheduler, number: int, when: float, callback: Callable[[], None]
    ) -> None:
        self.owner = owner
        self.number = number
        self.when = when
        self.callback = callback
        self.handle: asyncio.TimerHandle | None = None

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.owner, self.number, self.when, self.callback)  # the loop's handle is not

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.owner, self.number, self.when, self.callback = state
        self.handle = None

    def cancel(self) -> None:
        self.owner.pending.pop(self.number, None)
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


class JournalScheduler:
    """Numbers timers; replays them by number, then runs them on the loop (see module doc)."""

    def __init__(self, clock: JournalClock, wall: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.wall = wall
        self.next_number = 0
        self.pending: dict[int, _Timer] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._record: Recorder | None = None
        self._after_fire: Callable[[], None] | None = None
        self.depth: list[int] = [0]  # shared with the plane: nested calls are not recorded

    def call_at(self, when: float, callback: Callable[[], None], /) -> _Timer:
        timer = _Timer(self, self.next_number, when, callback)
        self.next_number += 1
        self.pending[timer.number] = timer
        if self._loop is not None:
            self._arm(timer)
        return timer

    def _arm(self, timer: _Timer) -> None:
        loop = self._loop
        assert loop is not None
        delay = max(0.0, timer.when - self.wall())
        timer.handle = loop.call_at(loop.time() + delay, self._fire, timer)

    def go_live(
        self, loop: asyncio.AbstractEventLoop, record: Recorder, after_fire: Callable[[], None]
    ) -> None:
        """Run the pending timers (and later ones) on ``loop``, recording each firing and
        calling ``after_fire`` once its callback returned."""
        self._loop = loop
        self._record = record
        self._after_fire = after_fire
        for timer in sorted(self.pending.values(), key=lambda t: (t.when, t.number)):
            self._arm(timer)

    def stop(self) -> None:
        """Stop running timers (the state directory is closed: nothing more is recorded)."""
        self._loop = None
        for timer in self.pending.values():
            if timer.handle is not None:
                timer.handle.cancel()
                timer.handle = None

    def _fire(self, timer: _Timer) -> None:
        if self.pending.pop(timer.number, None) is None:
            return
        timer.handle = None
        now = self.wall()
        self._clock.now = now
        assert self._record is not None
        self._record(pickle.dumps(("t", now, timer.number), protocol=5))
        depth = self.depth
        depth[0] += 1
        try:
            timer.callback()
        finally:
            depth[0] -= 1
            assert self._after_fire is not None
            self._after_fire()

    def replay(self, number: int, now: float) -> None:
        """Fire timer ``number`` as it fired when recorded."""
        timer = self.pending.pop(number, None)
        if timer is None:
            raise ReplayMismatch(f"the journal fires timer {number}, which is not scheduled")
        self._clock.now = now
        timer.callback()


class RecordingIssuer:
    """A :class:`~simulator.services.registry.ca.CertificateIssuer` that records what it issues
    (live) or hands back what was recorded (replay)."""

    __slots__ = ("_inner", "issued", "replaying")

    def __init__(self, inner: CertificateIssuer) -> None:
        self._inner = inner
        #: Live: certificates issued during the current call. Replay: those still to hand back.
        self.issued: deque[IssuedCertificate] = deque()
        self.replaying = False

    def issue(self, now: float, /) -> IssuedCertificate:
        if self.replaying:
            if not self.issued:
                raise ReplayMismatch("the journal records fewer certificates than are issued")
            return self.issued.popleft()
        certificate = self._inner.issue(now)
        self.issued.append(replace(certificate, private_key_pem=""))
        return certificate

    def ca_certificate_pem(self) -> str:
        return self._inner.ca_certificate_pem()


class Durable(Protocol):
    """What :class:`DeferringPublisher` needs of the journal writer."""

    @property
    def pending(self) -> bool: ...

    def after(self, callback: Callable[[], None], /) -> None: ...


class DeferringPublisher:
    """Publishes the services' messages (and MQTT replies) once the records they may depend on
    are durable; in order, and at once when nothing is waiting.

    A message emitted during a recorded call or timer waits for that record: the call's wrapper
    (or the scheduler) calls :meth:`arm` after appending it. Before :meth:`go_live` (replay)
    messages are dropped: they were sent when first recorded.
    """

    __slots__ = ("_depth", "_inner", "_queue", "_unarmed", "_writer")

    def __init__(self, inner: Publisher, depth: list[int]) -> None:
        self._inner = inner
        self._depth = depth
        self._writer: Durable | None = None
        self._queue: deque[tuple[str, bytes]] = deque()
        self._unarmed = 0

    def go_live(self, writer: Durable) -> None:
        self._writer = writer

    def publish(self, topic: str, payload: bytes, /) -> None:
        writer = self._writer
        if writer is None:
            return
        if not (self._queue or self._depth[0] or writer.pending):
            self._inner.publish(topic, payload)
            return
        self._queue.append((topic, payload))
        self._unarmed += 1
        if not self._depth[0]:
            self.arm()

    def hold_back(self, messages: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        """``messages`` (MQTT replies) if they may leave now, else queued (and ``[]``)."""
        writer = self._writer
        if not messages or writer is None or not (self._queue or writer.pending):
            return messages
        self._queue.extend(messages)
        self._unarmed += len(messages)
        self.arm()
        return []

    def arm(self) -> None:
        """Release the messages queued so far once what was appended so far is durable."""
        count = self._unarmed
        if count and self._writer is not None:
            self._unarmed = 0
            self._writer.after(partial(self._release, count))

    def _release(self, count: int) -> None:
        queue = self._queue
        publish = self._inner.publish
        for _ in range(count):
            topic, payload = queue.popleft()
            publish(topic, payload)

    def subscribed(self, topic: str, /) -> bool:
        return self._inner.subscribed(topic)


class _ServiceView:
    """One service, its mutating calls recorded (see :class:`JournaledPlane`)."""

    __slots__ = ("__dict__", "_name", "_plane", "_service")

    def __init__(self, plane: JournaledPlane, name: str, service: object) -> None:
        self._plane = plane
        self._name = name
        self._service = service

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._service, attribute)
        if attribute.startswith("_") or attribute in PASS_THROUGH or not callable(value):
            return value
        wrapped = self._plane.wrap(self._name, attribute, value)
        self.__dict__[attribute] = wrapped  # built once per method
        return wrapped


class JournaledPlane:
    """The control plane as the APIs see it with ``--state-dir`` (see the module docstring).

    ``record`` receives each record (pickled) as the call returns, before any reply is built.
    """

    def __init__(
        self,
        plane: Any,
        *,
        clock: JournalClock,
        scheduler: JournalScheduler,
        issuer: RecordingIssuer,
        publisher: DeferringPublisher,
        record: Recorder,
    ) -> None:
        self._plane = plane
        self._publisher = publisher
        self._clock = clock
        self._scheduler = scheduler
        self._issuer = issuer
        self._record = record
        self._depth = scheduler.depth
        for name in SERVICES:
            setattr(self, name, _ServiceView(self, name, getattr(plane, name)))

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._plane, attribute)

    def wrap(self, service: str, method: str, call: Callable[..., Any]) -> Callable[..., Any]:
        clock = self._clock
        scheduler = self._scheduler
        depth = self._depth
        wall = scheduler.wall
        issued = self._issuer.issued
        record = self._record
        arm = self._publisher.arm
        read = method.startswith(READ_PREFIXES)

        def recorded(*args: Any, **kwargs: Any) -> Any:
            if depth[0]:
                return call(*args, **kwargs)
            now = clock.now = wall()
            timers = scheduler.next_number
            depth[0] = 1
            try:
                return call(*args, **kwargs)
            finally:
                depth[0] = 0
                if not read or scheduler.next_number != timers:
                    certificates = tuple(issued) if issued else ()
                    issued.clear()
                    record(
                        pickle.dumps(
                            ("c", now, service, method, args, kwargs, certificates), protocol=5
                        )
                    )
                arm()

        return recorded


class Replayer:
    """Applies decoded records to a control plane built on the same clock, scheduler and issuer
    (before it goes live)."""

    __slots__ = ("_clock", "_issuer", "_plane", "_scheduler")

    def __init__(
        self, plane: Any, clock: JournalClock, scheduler: JournalScheduler, issuer: RecordingIssuer
    ) -> None:
        self._plane = plane
        self._clock = clock
        self._scheduler = scheduler
        self._issuer = issuer

    def apply(self, record: tuple[Any, ...]) -> None:
        """Apply one record. Raises :class:`ReplayMismatch`."""
        if record[0] == "t":
            _, now, number = record
            self._scheduler.replay(number, now)
            return
        _, now, service, method, args, kwargs, certificates = record
        self._clock.now = now
        issuer = self._issuer
        issuer.replaying = True
        issuer.issued.extend(certificates)
        try:
            getattr(getattr(self._plane, service), method)(*args, **kwargs)
        except Exception:  # it failed the same way when it was recorded
            pass
        finally:
            issuer.replaying = False
        if issuer.issued:
            raise ReplayMismatch(f"the journal records more certificates than {method} issued")
