"""One report for a load test run by several processes: the operator's view plus each worker's.

Under Locust the devices of a test are spread over worker processes and the control plane is
driven by one operator (:mod:`simulator.engine.operator`). At the end each worker sends a
:class:`WorkerReport` (its devices' connections, requests, and ``$package`` audit); the operator's
process merges them with what it saw of the jobs into the same
:class:`~simulator.report.RunResult` as ``fleetsim run``, with a row per worker in
``extra.workers``.
"""

from __future__ import annotations

import datetime as dt
import resource
import time
from collections.abc import Callable, Sequence

import msgspec
import numpy as np

from simulator.engine.audit import AuditResult, DeviceTruth, audit_devices
from simulator.engine.mqtt.elastic import ElasticFleet
from simulator.engine.mqtt.provision import describe_error
from simulator.engine.operator import OperatorView
from simulator.engine.planes.base import execution_totals, job_summary, writer_summaries
from simulator.engine.scenario import Scenario
from simulator.report import RunResult

__all__ = ["WorkerReport", "build_result", "worker_report"]


class WorkerReport(msgspec.Struct, frozen=True, kw_only=True):
    """One worker's part of a test (sent between processes as plain data).

    Attributes:
        worker: the worker's index.
        devices: devices that joined on this worker.
        online: devices connected when the test stopped.
        connects: accepted CONNACKs (first connections and reconnects).
        reconnects: CONNACKs after a device's first.
        connect_failures: attempts that failed before CONNACK.
        drops: online connections lost.
        requests: request/response pairs answered or timed out.
        timeouts: requests with no answer within the device's response timeout.
        rejected: requests answered on a ``/rejected`` topic.
        terminal_answers: terminal execution updates answered.
        checked: devices whose ``$package`` was audited.
        consistent: of those, consistent.
        inconsistent: of those, inconsistent.
        by_cause: inconsistent devices per cause.
        examples: up to 10 device names per cause.
        error: what stopped the worker's devices, if anything did.
    """

    worker: int
    devices: int = 0
    online: int = 0
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    drops: int = 0
    requests: int = 0
    timeouts: int = 0
    rejected: int = 0
    terminal_answers: int = 0
    checked: int = 0
    consistent: int = 0
    inconsistent: int = 0
    by_cause: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    error: str | None = None


def worker_report(
    fleet: ElasticFleet,
    *,
    worker: int,
    online: int,
    get_shadow: Callable[[str], bytes | None] | None,
) -> WorkerReport:
    """What a closed fleet did, and (with ``get_shadow``) the ``$package`` audit of its devices."""
    assert fleet.closed, "close the fleet first"
    stats, timer = fleet.stats(), fleet.timer
    audit: AuditResult | None = None
    error = fleet.error
    if get_shadow is not None and error is None:
        truths = [
            DeviceTruth(r.index, r.name, r.inventory, r.changed_at, r.written_at)
            for r in fleet.records()
        ]
        try:
            audit = audit_devices(get_shadow, truths, fleet.packages)
        except Exception as exc:
            error = f"$package audit failed: {describe_error(exc)}"
    return WorkerReport(
        worker=worker,
        devices=len(set(fleet.fleet_index)),
        online=online,
        connects=0 if stats is None else stats.connects,
        reconnects=0 if stats is None else stats.reconnects,
        connect_failures=0 if stats is None else stats.failures,
        drops=0 if stats is None else stats.drops,
        requests=timer.requests,
        timeouts=timer.timeouts,
        rejected=timer.rejected,
        terminal_answers=fleet.link.ledger.terminal_answers,
        checked=0 if audit is None else audit.checked,
        consistent=0 if audit is None else audit.consistent,
        inconsistent=0 if audit is None else audit.inconsistent,
        by_cause={} if audit is None else audit.by_cause,
        examples={} if audit is None else audit.examples,
        error=error,
    )


def build_result(
    scenario: Scenario,
    view: OperatorView,
    workers: Sequence[WorkerReport],
    *,
    latencies: Sequence[float],
    statuses: Sequence[str],
    stop_reason: str,
    wall_start: float,
    extra: dict[str, object],
) -> RunResult:
    """The test's :class:`RunResult`: jobs and latencies from the operator, devices,
    connections and the ``$package`` audit summed over ``workers``."""
    by_cause: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for report in workers:
        for cause, count in report.by_cause.items():
            by_cause[cause] = by_cause.get(cause, 0) + count
        for cause, names in report.examples.items():
            examples.setdefault(cause, []).extend(names[: 10 - len(examples.get(cause, []))])
    executions = execution_totals(view.jobs.values())
    now = time.time()
    notes = [*view.notes, *view.errors]
    notes.extend(f"worker {w.worker}: {w.error}" for w in workers if w.error)
    return RunResult(
        scenario=str(scenario.path),
        devices=sum(w.devices for w in workers),
        seed=scenario.run.seed,
        clock="real",
        started_at=dt.datetime.fromtimestamp(view.start, dt.UTC).isoformat(timespec="seconds"),
        duration_s=now - view.start,
        wall_s=time.perf_counter() - wall_start,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        interrupted=stop_reason == "interrupted",
        stop_reason=stop_reason,
        executions=executions,
        latencies_s=np.asarray(latencies, dtype=np.float64),
        latency_status=tuple(statuses),
        shadow_checked=sum(w.checked for w in workers),
        shadow_consistent=sum(w.consistent for w in workers),
        shadow_inconsistent=sum(w.inconsistent for w in workers),
        shadow_by_cause=by_cause,
        timeline=tuple(view.timeline),
        jobs=tuple(job_summary(job, view.start) for job in view.jobs.values()),
        writers=writer_summaries(view.writers),
        notes=tuple(notes),
        shadow_examples=examples,
        extra={
            **extra,
            "setup_s": view.setup_s,
            "workers": [msgspec.to_builtins(w) for w in sorted(workers, key=lambda w: w.worker)],
        },
    )
