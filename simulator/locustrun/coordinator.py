"""fleetsim inside Locust: what each process does, and the messages between them.

Roles (Locust's runners):

* **local** (one process): everything below in one place.
* **master**: the operator (:class:`~simulator.engine.operator.Operator`: set-up, jobs at their
  ``at_s``, DescribeJob polls, writers; every call a request event in the master's stats; with
  ``--follow-events`` its MQTT connection to the jobs' events, each a request of type
  ``EVENT``), the device-index leases, and at test stop the report, merged from every
  worker's part.
* **worker**: the devices of its users, on an :class:`~simulator.engine.mqtt.elastic.ElasticFleet`
  (one uvloop loop in a real OS thread: gevent's threads are greenlets), whose request/response
  pairs a greenlet turns into Locust request events every 0.2 s.

Thing names never collide across workers: a device user leases its fleet index from the master
(``fleetsim-lease``), which hands out 0..N-1 and takes back what stopped users release. At test
stop the master (``test_stopping``) stops the operator, asks each worker to finish
(``fleetsim-finish``: hang up, audit its devices' ``$package``, answer ``fleetsim-report``), waits
for every answer, and writes ``report.json`` and ``report.html``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

import gevent
import gevent.event
import msgspec
from gevent import monkey
from locust import stats as locust_stats
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from simulator.core.errors import FleetsimError
from simulator.engine.audit import shadow_getter
from simulator.engine.calls import CallFailed
from simulator.engine.embedded import EmbeddedEmulator
from simulator.engine.jobevents import EventFeed
from simulator.engine.leases import IndexLeases
from simulator.engine.loadtest import WorkerReport, build_result, worker_report
from simulator.engine.mqtt import provision
from simulator.engine.mqtt.elastic import DeviceFactory, ElasticFleet
from simulator.engine.operator import Operator
from simulator.engine.quotas import quota_warnings, worker_connect_rate
from simulator.locustrun.options import LoadTestConfig, load_config
from simulator.report import write_report

__all__ = ["Coordinator"]

log = logging.getLogger("fleetsim")

_start_thread = monkey.get_original("_thread", "start_new_thread")

SETUP: Final = "fleetsim-setup"  # master -> workers {"size", "start"}
LEASE: Final = "fleetsim-lease"  # worker -> master {}
LEASED: Final = "fleetsim-leased"  # master -> worker {"index": i or None}
RELEASE: Final = "fleetsim-release"  # worker -> master {"index"}
JOB: Final = "fleetsim-job"  # master -> workers {"job", "at"}
ONLINE: Final = "fleetsim-online"  # worker -> master {"worker", "online"}
FINISH: Final = "fleetsim-finish"  # master -> workers {}
REPORT: Final = "fleetsim-report"  # worker -> master: a WorkerReport
_DRAIN_S: Final = 0.2
_ONLINE_S: Final = 2.0
_FINISH_TIMEOUT_S: Final = 300.0


def _wait(condition: Any, timeout: float, step: float = 0.05) -> bool:
    """Poll ``condition()`` cooperatively (no lock or future crosses into the loop threads)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        gevent.sleep(step)
    return True


class Coordinator:
    """One per Locust process (see the module docstring)."""

    def __init__(
        self,
        environment: Environment,
        *,
        device_factory: DeviceFactory | None = None,
        operator: bool = True,
    ) -> None:
        self.env = environment
        self.device_factory = device_factory
        self.with_operator = operator
        runner = environment.runner
        self.role = (
            "master"
            if isinstance(runner, MasterRunner)
            else "worker"
            if isinstance(runner, WorkerRunner)
            else "local"
        )
        self.config: LoadTestConfig | None = None
        self.fleet: ElasticFleet | None = None
        self.fleet_ready = gevent.event.Event()
        self.emulator: EmbeddedEmulator | None = None
        self.operator: Operator | None = None
        self.size = 0
        self._sized = False  # a worker got this test's SETUP
        self.workers = 1
        self.wall_start = time.perf_counter()
        self.reports: dict[int, WorkerReport] = {}
        self.online: dict[str, int] = {}
        self.leases = IndexLeases()
        self._waiting: deque[gevent.event.AsyncResult] = deque()
        self._greenlets: list[gevent.Greenlet] = []
        self._stop_operator = False
        self._finished = False
        self.failed = False  # bad options: the test does not start
        if runner is not None:
            for kind, handler in (
                (LEASE, self._on_lease),
                (LEASED, self._on_leased),
                (RELEASE, self._on_release),
                (SETUP, self._on_setup),
                (JOB, self._on_job),
                (ONLINE, self._on_online),
                (REPORT, self._on_report),
            ):
                runner.register_message(kind, handler)
            runner.register_message(FINISH, self._on_finish, concurrent=True)

    @property
    def distributed(self) -> bool:
        return self.role != "local"

    # -- test start -----------------------------------------------------------------------------

    def test_start(self) -> None:
        runner = self.env.runner
        assert runner is not None
        self._reset()
        if self.role == "worker":
            if not _wait(lambda: self._sized, 30):
                log.error("no fleet size from the master; devices will not start")
                return
            self._sized = False  # the next test's size comes with its own SETUP
            if self.size < 1:
                return
            self._start_fleet()
            return
        self.size = runner.target_user_count
        self.leases.reset(self.size)
        if self.size < 1:
            log.warning("no devices (0 users): nothing to set up until a test with users starts")
            return
        self.workers = max(1, int(getattr(runner, "worker_count", 1) or 1))
        config = self.config = load_config(self.env.parsed_options, distributed=self.distributed)
        self._check_quotas(config)
        if self.role == "master":
            runner.send_message(SETUP, {"size": self.size, "workers": self.workers})
        else:
            # An embedded emulator first: devices that ask before it listens wait a timeout.
            self.config = self._control_plane(config)
            self._start_fleet()
        if self.with_operator:
            self._greenlets.append(gevent.spawn(self._operate))

    def _reset(self) -> None:
        self.reports.clear()
        self.online.clear()
        self._stop_operator = self._finished = False
        self.wall_start = time.perf_counter()
        self.fleet_ready.clear()

    def _check_quotas(self, config: LoadTestConfig) -> None:
        """Against AWS: say what the test would exceed (the connects are capped anyway)."""
        if config.mqtt.kind != "aws":
            return
        rate = float(getattr(self.env.parsed_options, "spawn_rate", 0) or 0)
        warnings = quota_warnings(
            config.scenario, spawn_rate=rate, workers=self.workers, poll_s=config.poll_s
        )
        for warning in warnings:
            log.warning("AWS quota: %s", warning)

    def _control_plane(self, config: LoadTestConfig) -> LoadTestConfig:
        """The config with an embedded emulator replaced by its URL (started on first use)."""
        mqtt = config.mqtt
        if mqtt.kind != "embedded":
            return config
        if self.emulator is None:
            region, account = config.scenario.catalog.region, config.scenario.catalog.account
            self.emulator = EmbeddedEmulator(mqtt, region=region, account=account)
            self.emulator.start(_start_thread)
        emulator = self.emulator
        _wait(lambda: emulator.url is not None or emulator.closed, 40)
        if emulator.url is None:
            raise FleetsimError(emulator.error or "the embedded emulator did not start")
        url_options = dataclasses.replace(
            mqtt, control_plane=emulator.url, rollout_per_minute=None, bridge_connections=1
        )
        return dataclasses.replace(config, mqtt=url_options)

    def _start_fleet(self) -> None:
        if self.config is None:
            self.config = load_config(self.env.parsed_options, distributed=self.distributed)
        mqtt = self.config.mqtt
        if mqtt.kind == "aws":  # this process's share of the account's CONNECT quota
            share = worker_connect_rate(mqtt.rate, self.workers)
            mqtt = dataclasses.replace(mqtt, connect_rate=share)
        fleet = self.fleet = ElasticFleet(
            self.config.scenario,
            mqtt,
            size=self.size,
            device_factory=self.device_factory,
        )
        fleet.start(_start_thread)
        self._greenlets.append(gevent.spawn(self._drain_forever, fleet))
        if self.role == "worker":
            self._greenlets.append(gevent.spawn(self._report_online, fleet))
        self.fleet_ready.set()

    # -- the operator (master / local) ----------------------------------------------------------

    def _operate(self) -> None:
        assert self.config is not None
        try:
            config = self._control_plane(self.config)
            self.config = config
            operator = self.operator = Operator(
                config.scenario,
                config.mqtt,
                size=self.size,
                on_call=self._on_call,
                announce=self._announce,
                sleep=gevent.sleep,
                online=self._online_now,
                poll_s=config.poll_s,
                job_suffix=self._job_suffix(config.job_suffix),
                event_feed=self._event_feed(config) if config.follow_events else None,
                on_event=self._on_event,
            )
            if config.stop_when_done:
                self._greenlets.append(gevent.spawn(self._stop_when_done, operator))
            operator.run(lambda: self._stop_operator)
        except FleetsimError as exc:
            log.error("error: %s", exc.message)
        except Exception as exc:
            log.error("operator stopped: %s", provision.describe_error(exc))
            if self.operator is not None:
                self.operator.view.errors.append(provision.describe_error(exc))

    @staticmethod
    def _event_feed(config: LoadTestConfig) -> Callable[[list[str]], EventFeed]:
        def started(filters: list[str]) -> EventFeed:
            feed = EventFeed(config.mqtt, filters)
            feed.start(_start_thread)
            return feed

        return started

    def _on_event(self, name: str, ms: float) -> None:
        hooks: Any = self.env.events
        hooks.request.fire(
            request_type="EVENT",
            name=name,
            response_time=ms,
            response_length=0,
            exception=None,
            context={},
        )

    @staticmethod
    def _job_suffix(text: str) -> str:
        if text == "auto":
            return time.strftime("-%Y%m%d-%H%M%S", time.gmtime())
        return text

    def _stop_when_done(self, operator: Operator) -> None:
        """``--stop-when-done``: quit once the scenario's jobs are over and settle_s passed."""
        settle = operator.scenario.run.settle_s
        since: float | None = None
        while not self._stop_operator:
            gevent.sleep(0.5)
            if not operator.finished():
                since = None
                continue
            since = time.monotonic() if since is None else since
            if time.monotonic() - since >= settle:
                log.info("every job finished; stopping the test")
                runner = self.env.runner
                assert runner is not None
                runner.quit()
                return

    def _on_call(self, operation: str, ms: float, length: int, error: BaseException | None) -> None:
        hooks: Any = self.env.events
        hooks.request.fire(
            request_type="HTTP",
            name=operation,
            response_time=ms,
            response_length=length,
            exception=error,
            context={},
        )

    def _announce(self, job_id: str, at: float) -> None:
        if self.role == "master":
            assert self.env.runner is not None
            self.env.runner.send_message(JOB, {"job": job_id, "at": at})
        elif self.fleet is not None:
            self.fleet.job_created(job_id, at)

    def _online_now(self) -> int:
        if self.role == "local":
            return 0 if self.fleet is None else self.fleet.online()
        return sum(self.online.values())

    # -- device requests -> Locust events -----------------------------------------------------

    def _drain_forever(self, fleet: ElasticFleet) -> None:
        while not fleet.closed:
            self.drain(fleet)
            gevent.sleep(_DRAIN_S)
        self.drain(fleet)

    def drain(self, fleet: ElasticFleet) -> None:
        hooks: Any = self.env.events
        fire = hooks.request.fire
        requests = fleet.requests
        while requests:
            r = requests.popleft()
            fire(
                request_type="MQTT",
                name=r.name,
                response_time=r.response_ms,
                response_length=r.length,
                exception=None if r.error is None else CallFailed(r.error),
                context={},
            )

    def _report_online(self, fleet: ElasticFleet) -> None:
        runner = self.env.runner
        assert runner is not None
        while not fleet.closed:
            runner.send_message(ONLINE, {"worker": self._worker_index(), "online": fleet.online()})
            gevent.sleep(_ONLINE_S)

    def _worker_index(self) -> int:
        return int(getattr(self.env.runner, "worker_index", 0) or 0)

    # -- leases ---------------------------------------------------------------------------

    def lease(self, timeout: float = 60.0) -> int | None:
        """A fleet index for a new device user (None when the fleet is full)."""
        if self.role == "local":
            return self.leases.take()
        result: gevent.event.AsyncResult = gevent.event.AsyncResult()
        self._waiting.append(result)
        assert self.env.runner is not None
        self.env.runner.send_message(LEASE, {})
        value = result.get(timeout=timeout)
        return None if value is None else int(value)

    def release(self, index: int) -> None:
        if self.role == "local":
            self.leases.give_back(index)
        elif self.env.runner is not None and not self._finished:
            self.env.runner.send_message(RELEASE, {"index": index})

    def _on_lease(self, environment: Environment, msg: Any) -> None:
        assert environment.runner is not None
        environment.runner.send_message(
            LEASED, {"index": self.leases.take()}, client_id=msg.node_id
        )

    def _on_leased(self, environment: Environment, msg: Any) -> None:
        if self._waiting:
            self._waiting.popleft().set(msg.data["index"])

    def _on_release(self, environment: Environment, msg: Any) -> None:
        self.leases.give_back(int(msg.data["index"]))

    def _on_setup(self, environment: Environment, msg: Any) -> None:
        self.size = int(msg.data["size"])
        self.workers = int(msg.data["workers"])
        self._sized = True

    def _on_job(self, environment: Environment, msg: Any) -> None:
        if self.fleet is not None:
            self.fleet.job_created(str(msg.data["job"]), float(msg.data["at"]))

    def _on_online(self, environment: Environment, msg: Any) -> None:
        self.online[str(msg.node_id)] = int(msg.data["online"])

    def _on_report(self, environment: Environment, msg: Any) -> None:
        report = msgspec.convert(msg.data, WorkerReport)
        self.reports[report.worker] = report

    # -- test stop ------------------------------------------------------------------------------

    def test_stopping(self) -> None:
        """Master / local: stop the operator, gather every worker's part, write the report."""
        if self.role == "worker" or self._finished or self.config is None:
            return
        self._finished = True
        self._stop_operator = True
        if not self.with_operator:  # devices only (benchmarks): no control plane to report on
            if self.fleet is not None:
                self.fleet.close()
                _wait(lambda: self.fleet is None or self.fleet.closed, 30)
                self.drain(self.fleet)
            return
        if self.role == "local":
            self.reports[0] = self.finish_devices()
        else:
            runner = self.env.runner
            assert isinstance(runner, MasterRunner)
            expected = len(runner.clients.all)
            runner.send_message(FINISH, {})
            if not _wait(lambda: len(self.reports) >= expected, _FINISH_TIMEOUT_S, 0.2):
                log.warning(
                    "fleetsim: %d of %d workers reported within %g s",
                    len(self.reports),
                    expected,
                    _FINISH_TIMEOUT_S,
                )
        self.write_report()
        self._flush_csv()

    def _flush_csv(self) -> None:
        """Let Locust's CSV writer run once more, so the report's own calls (the final DescribeJob
        and ListJobExecutionsForJob) are in ``--csv``'s stats: the writer rewrites the file every
        ``CSV_STATS_INTERVAL_SEC`` and only closes it at shutdown, without a last write."""
        if getattr(self.env.parsed_options, "csv_prefix", None):
            gevent.sleep(locust_stats.CSV_STATS_INTERVAL_SEC + 0.2)

    def _on_finish(self, environment: Environment, msg: Any) -> None:
        self._finished = True
        report = self.finish_devices()
        assert environment.runner is not None
        environment.runner.send_message(REPORT, msgspec.to_builtins(report))

    def finish_devices(self) -> WorkerReport:
        """Hang every device up, count what it did, audit its ``$package``."""
        worker = self._worker_index()
        fleet = self.fleet
        if fleet is None or self.config is None:
            return WorkerReport(worker=worker)
        online = fleet.online()
        fleet.close()
        if not _wait(lambda: fleet.closed, 30):
            log.warning("the devices' loop did not stop within 30 s")
            return WorkerReport(worker=worker, online=online, error="the devices did not stop")
        self.drain(fleet)
        get_shadow = None
        if self.with_operator:
            config = self._control_plane(self.config)
            clients = provision.Clients(config.mqtt, config.scenario)
            get_shadow = shadow_getter(clients.data)
        return worker_report(fleet, worker=worker, online=online, get_shadow=get_shadow)

    def write_report(self) -> None:
        config, operator = self.config, self.operator
        assert config is not None
        if operator is None:
            log.error("no report: the operator never started")
            return
        try:
            latencies, statuses = operator.terminal_executions()
        except Exception as exc:
            operator.view.errors.append(f"execution latencies: {provision.describe_error(exc)}")
            latencies, statuses = [], []
        events = operator.settle_events()
        mqtt = config.mqtt
        result = build_result(
            config.scenario,
            operator.view,
            list(self.reports.values()),
            latencies=latencies,
            statuses=statuses,
            stop_reason="locust test stopped",
            wall_start=self.wall_start,
            extra={
                "transport": "mqtt",
                "driver": "locust",
                "broker": mqtt.broker.uri,
                "control_plane": mqtt.control_plane,
                "fleet_size": self.size,
                "processes": self.role,
                "requests": sum(r.requests for r in self.reports.values()),
                **({} if events is None else {"events": events}),
            },
        )
        self._close_operator()
        json_path, html_path = write_report(result, config.report_dir)
        log.info("wrote %s and %s", json_path, html_path)

    def _close_operator(self) -> None:
        problem = None if self.operator is None else self.operator.close()
        if problem is not None:
            log.error("error: %s", problem)

    def quitting(self) -> None:
        self._stop_operator = True
        self._close_operator()
        if self.fleet is not None:
            self.fleet.close()
        if self.emulator is not None:
            self.emulator.close()
