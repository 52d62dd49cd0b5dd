"""The operator of a load test: what a rollout team does to the control plane while devices run.

One :class:`Operator` per test (under Locust: on the master, or the only process), over boto3
clients whose every call is timed (:class:`~simulator.engine.calls.TimedClient`):

1. set-up, idempotent (:mod:`simulator.engine.mqtt.provision`): the catalog, the fleet's thing
   groups, each thing (created against a ``fleetsim serve``; against AWS they must exist, made by
   ``fleetsim provision``), its memberships and initial ``$package`` as an in-process run draws
   them, fleet indexing and the dynamic groups;
2. each job of the scenario at ``at_s`` after the test started (not before set-up is done),
   announced to the devices' processes for their completion latencies;
3. ``DescribeJob`` of every job every ``poll_s`` seconds, and a timeline sample every
   ``run.sample_interval_s``;
4. the scenario's ``[[writers]]``: read-modify-write of ``$package`` at their rates, with or
   without the version precondition (:class:`~simulator.engine.writers.ManualWriter`);
5. with an event feed (``--follow-events``, :mod:`simulator.engine.jobevents`): JOB and
   JOB_EXECUTION events enabled at set-up (and put back at :meth:`Operator.close`), one MQTT
   connection subscribed to its jobs' events before the first CreateJob, each event told to
   ``on_event``; a job is over as soon as its ``completed`` (``canceled``, ``deleted``) event
   arrives, and DescribeJob, now the fallback, runs ``EVENT_POLL_FACTOR`` times less often.

Blocking calls throughout; ``sleep`` is how it waits (``gevent.sleep`` under Locust, so the
calls and the waits cooperate with everything else in the process).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from simulator.engine.calls import BotoShadows, OnCall, TimedClient
from simulator.engine.consistency import ConsistencyTracker
from simulator.engine.draws import draw_fleet
from simulator.engine.heap import WallClockHeap
from simulator.engine.jobevents import EventFeed, EventSwitch, EventTally, topic_filters
from simulator.engine.mqtt import provision
from simulator.engine.mqtt.elastic import resized
from simulator.engine.mqtt.options import MqttOptions
from simulator.engine.planes.base import JobInfo, execution_totals
from simulator.engine.scenario import JobSpec, Scenario
from simulator.engine.writers import ManualWriter, build_writers
from simulator.report import Sample

__all__ = ["EVENT_POLL_FACTOR", "Operator", "OperatorView"]

_LONGEST_SLEEP_S: Final = 0.5
#: How often events are taken from the feed (they wait in its deque meanwhile).
_EVENTS_SLEEP_S: Final = 0.1
#: DescribeJob rounds are this many times rarer while events say when a job is over.
EVENT_POLL_FACTOR: Final = 10
#: How long the event connection may take to come up before the first job is created.
_FEED_ONLINE_S: Final = 30.0


@dataclass(slots=True)
class OperatorView:
    """What the operator saw: jobs, the timeline, its writers, and what went wrong."""

    start: float = 0.0
    setup_s: float = 0.0
    jobs: dict[str, JobInfo] = field(default_factory=dict)
    created: dict[str, float] = field(default_factory=dict)
    timeline: list[Sample] = field(default_factory=list)
    writers: list[ManualWriter] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Operator:
    """Drives one test's control plane (see the module docstring).

    Args:
        scenario: the scenario (its fleet size is replaced by ``size``).
        options: where the control plane is (a ``fleetsim serve`` URL or ``aws``).
        size: devices in the whole fleet.
        on_call: told of every control-plane call (a load tester's request event).
        announce: told ``(job_id, epoch)`` when CreateJob of a job returned.
        sleep: how to wait.
        online: devices connected now, over every process (for the timeline).
        poll_s: seconds between two DescribeJob rounds.
        job_suffix: appended to every job id of the scenario (a re-run needs new ids).
        event_feed: with it, follow the jobs through their events (see the module docstring):
            builds the started :class:`EventFeed` of the given topic filters.
        on_event: told ``(name, milliseconds since CreateJob)`` of every event taken.
    """

    def __init__(
        self,
        scenario: Scenario,
        options: MqttOptions,
        *,
        size: int,
        on_call: OnCall,
        announce: Callable[[str, float], None],
        sleep: Callable[[float], None] = time.sleep,
        online: Callable[[], int] = lambda: 0,
        poll_s: float = 5.0,
        job_suffix: str = "",
        event_feed: Callable[[list[str]], EventFeed] | None = None,
        on_event: Callable[[str, float], None] = lambda _name, _ms: None,
    ) -> None:
        self.scenario = resized(scenario, size)
        #: The id each scenario job gets in the control plane (job ids are unique per account).
        self.job_ids = {job.id: job.id + job_suffix for job in scenario.jobs}
        self.options = options
        self.size = size
        self._on_call = on_call
        self._announce = announce
        self._sleep = sleep
        self._online = online
        self.poll_s = poll_s
        self.view = OperatorView(start=time.time())
        self.heap = WallClockHeap(self.view.start)
        self.iot: Any = None
        self.data: Any = None
        self._failed: set[str] = set()
        self._stopped = False
        self._feed_factory = event_feed
        self._on_event = on_event
        self.feed: EventFeed | None = None
        self.events: EventTally | None = None
        self._switch = EventSwitch()

    # -- the work ---------------------------------------------------------------------------

    def run(self, stopping: Callable[[], bool]) -> None:
        """Set up, then create jobs, poll and write until ``stopping()``."""
        view, scenario = self.view, self.scenario
        self._connect()
        if self._feed_factory is not None:
            self.events = EventTally()
            self.feed = self._feed_factory(topic_filters(self.job_ids.values()))
        self.setup()
        if self.feed is not None:
            self._follow()
        view.setup_s = time.time() - view.start
        heap = self.heap
        heap.advance(time.time())
        for job in scenario.jobs:
            heap.at(view.start + job.at_s, self._create_job, job)
        heap.at(heap.now, self._poll)
        heap.at(heap.now, self._sample)
        tracker = ConsistencyTracker([], frozenset(), lambda _t, _s: None)
        names = [scenario.thing_name(scenario.fleet.first_index + i) for i in range(self.size)]
        view.writers = build_writers(
            scenario,
            names,
            heap=heap,
            shadows=BotoShadows(self.data),
            tracker=tracker,
            start=heap.now,
        )
        longest = _LONGEST_SLEEP_S if self.feed is None else _EVENTS_SLEEP_S
        while not stopping():
            heap.run_due(64)
            self.take_events()
            due = heap.next_time()
            wait = longest if due is None else min(longest, due - time.time())
            self._sleep(max(0.0, wait))
        self.stop()

    def stop(self) -> None:
        """Stop the writers; later timers do nothing."""
        self._stopped = True
        for writer in self.view.writers:
            writer.active = False

    def close(self) -> str | None:
        """After the report: put back the event configuration, hang the event feed up.

        Returns what went wrong, if anything (the report is written by then).
        """
        if self.feed is not None:
            self.feed.close()
        if self._switch.changed and self.iot is not None:
            try:
                self._switch.restore(self.iot)
            except Exception as exc:
                return f"event configuration not restored: {provision.describe_error(exc)}"
        return None

    def _follow(self) -> None:
        """Events on, and the feed online (or a note why the polls alone follow the jobs)."""
        feed = self.feed
        assert feed is not None
        try:
            self._switch.enable(self.iot)
        except Exception as exc:
            self.view.errors.append(f"events not enabled: {provision.describe_error(exc)}")
        if self._switch.changed:
            kinds = ", ".join(self._switch.changed)
            self.view.notes.append(f"events: enabled {kinds} for the test (restored at the end)")
        deadline = time.monotonic() + _FEED_ONLINE_S
        while not feed.online and feed.problem() is None and time.monotonic() < deadline:
            self._sleep(0.05)
        problem = feed.problem()
        if problem is None and not feed.online:
            problem = (
                f"not online after {_FEED_ONLINE_S:g} s ({feed.connection().get('last_error')})"
            )
        if problem is not None:
            self.view.errors.append(f"event connection: {problem}; DescribeJob polls follow")
        else:
            self.poll_s *= EVENT_POLL_FACTOR

    def take_events(self) -> int:
        """Count and tell the events that arrived; return how many."""
        feed, tally = self.feed, self.events
        if feed is None or tally is None:
            return 0
        arrived = feed.take()
        if not arrived:
            return 0
        now = time.time()
        tally.max_backlog = max(tally.max_backlog, len(arrived))
        created = self.view.created
        for topic, payload, at in arrived:
            tally.lags.append(now - at)
            event = tally.receive(topic, payload, at)
            if event is None:
                continue
            since = created.get(event.job_id, at)
            label = event.operation if event.kind == "job" else event.status
            self._on_event(f"{event.kind} {event.job_id} {label}", (at - since) * 1000)
        return len(arrived)

    def settle_events(self, timeout: float = 3.0) -> dict[str, object] | None:
        """At the end, after :meth:`refresh`: wait (at most ``timeout`` s) for an event of
        every terminal execution DescribeJob counted, and sum them up for the report."""
        tally, feed = self.events, self.feed
        if tally is None or feed is None:
            return None
        seen = {job_id: job.counts for job_id, job in self.view.jobs.items()}
        deadline = time.monotonic() + timeout
        self.take_events()
        while not tally.complete(seen) and feed.problem() is None:
            if time.monotonic() > deadline:
                break
            self._sleep(0.05)
            self.take_events()
        summary, notes = tally.summary(seen, self.view.created)
        self.view.notes.extend(notes)
        summary["connection"] = feed.connection()
        return summary

    def _connect(self) -> None:
        clients = provision.Clients(self.options, self.scenario, attempts=1)
        self.iot = TimedClient(clients.iot, self._on_call, sleep=self._sleep)
        self.data = TimedClient(clients.data, self._on_call, sleep=self._sleep)
        clients.iot, clients.data = self.iot, self.data
        self._clients = clients

    def setup(self) -> None:
        """The catalog, groups, things, memberships, initial ``$package``, dynamic groups."""
        scenario = self.scenario
        fleet = scenario.fleet
        draws = draw_fleet(scenario)
        provision.create_catalog(self.iot, scenario.catalog)
        provision.create_groups(self.iot, [fleet.group, *(g.name for g in fleet.groups)])
        indices = range(fleet.first_index, fleet.first_index + self.size)
        things = provision.fleet_things(scenario, draws, indices)
        provision.register_things(self._clients, things, create=self.options.kind == "url")
        provision.create_dynamic_groups(self.iot, scenario.dynamic_groups)

    def _create_job(self, job: JobSpec, _: object = None) -> None:
        if self._stopped:
            return
        job_id = self.job_ids[job.id]
        try:
            provision.create_job(self.iot, self.scenario, job, job_id=job_id)
        except Exception as exc:
            self._failed.add(job_id)
            self.view.errors.append(f"CreateJob {job_id}: {provision.describe_error(exc)}")
            return
        at = time.time()
        self.view.created[job_id] = at
        self._announce(job_id, at)

    def _poll(self, _a: object = None, _b: object = None) -> None:
        if self._stopped:
            return
        self.refresh()
        self.heap.at(self.heap.now + self.poll_s, self._poll)

    def refresh(self) -> None:
        """DescribeJob of every job created so far."""
        view = self.view
        ids = [job_id for job_id in view.created if job_id not in self._failed]
        try:
            view.jobs.update(provision.describe_jobs(self.iot, ids, view.created, view.start))
        except Exception as exc:  # a slow or restarting plane: keep the last view
            view.notes.append(f"DescribeJob: {provision.describe_error(exc)}")
            del view.notes[:-5]

    def _sample(self, _a: object = None, _b: object = None) -> None:
        view = self.view
        executions = execution_totals(view.jobs.values())
        view.timeline.append(
            Sample(
                t=self.heap.now - view.start,
                executions=executions,
                consistent=0,
                inconsistent=0,
                by_cause={},
                devices_online=self._online(),
                messages=0,
            )
        )
        if not self._stopped:
            interval = self.scenario.run.sample_interval_s
            self.heap.at(self.heap.now + interval, self._sample)

    def finished(self) -> bool:
        """Every job of the scenario created (or refused) and settled, as last polled."""
        view = self.view
        if not self.scenario.jobs:
            return False
        for job_id in self.job_ids.values():
            if job_id not in view.created and job_id not in self._failed:
                return False
        events = self.events
        for job_id in view.created:
            job = view.jobs.get(job_id)
            announced = events is not None and events.ended(job_id)
            if not announced and not (job is not None and job.settled):
                return False
        return True

    # -- the end ----------------------------------------------------------------------------

    def terminal_executions(self) -> tuple[list[float], list[str]]:
        """Every terminal execution of the test's jobs: latency from creation, and status."""
        if self.iot is None:
            return [], []
        self.refresh()
        call = functools.partial(provision.terminal_executions, self.iot, self.view.jobs)
        return call()
