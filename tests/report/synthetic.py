"""A believable, seeded :class:`RunResult` for tests and the example report."""

from __future__ import annotations

import numpy as np

from simulator.report import JobSummary, RunResult, Sample, WriterSummary

ARN = "arn:aws:iot:us-west-2:123456789012:package/samplePackage/version/2.1.5"


def synthetic_result(devices: int = 10_000, samples: int = 400, seed: int = 7) -> RunResult:
    """A rollout of ``devices`` devices sampled ``samples`` times over one simulated hour.

    Latencies are log-normal around 3 minutes for successes, failures come earlier, timeouts sit
    at the 10 minute execution timeout; a burst of ``$package`` inconsistencies follows the
    rollout's peak and mostly heals.
    """
    rng = np.random.default_rng(seed)
    status = rng.choice(
        np.array(["SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED"]),
        size=devices,
        p=[0.955, 0.025, 0.015, 0.005],
    )
    latency = rng.lognormal(mean=np.log(180.0), sigma=0.6, size=devices)
    latency[status == "FAILED"] *= 0.4
    latency[status == "TIMED_OUT"] = 600.0 + rng.exponential(5.0, (status == "TIMED_OUT").sum())
    latency[status == "REJECTED"] = rng.uniform(0.5, 3.0, (status == "REJECTED").sum())
    duration = 3600.0
    t = np.linspace(0.0, duration, samples)
    kinds = ("SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED")
    done_by = {k: np.searchsorted(np.sort(latency[status == k]), t, side="right") for k in kinds}
    started_by = np.searchsorted(np.sort(latency * 0.3), t, side="right")
    timeline = []
    for i, ti in enumerate(t):
        counts = {k: int(done_by[k][i]) for k in kinds}
        started = int(started_by[i])
        counts["IN_PROGRESS"] = max(0, started - sum(counts.values()))
        counts["QUEUED"] = devices - started
        counts = {k: v for k, v in counts.items() if v}
        burst = np.exp(-(((ti - 420.0) / 160.0) ** 2))
        by_cause = {
            "stale-after-reboot": int(devices * 0.03 * burst),
            "conflicting-writer-409": int(devices * 0.012 * burst),
            "missed-job-notification": int(devices * 0.004 * (ti > 300)),
        }
        by_cause = {k: v for k, v in by_cause.items() if v}
        inconsistent = sum(by_cause.values())
        online = devices * min(1.0, 0.2 + ti / 300.0) * (0.97 if ti > 900 else 1.0)
        timeline.append(
            Sample(
                t=float(ti),
                executions=counts,
                consistent=devices - inconsistent,
                inconsistent=inconsistent,
                by_cause=by_cause,
                devices_online=int(online),
                messages=int(ti * devices * 0.05 + devices * 6 * (1 - np.exp(-ti / 600.0))),
            )
        )
    final = {s: int(np.sum(status == s)) for s in ("SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED")}
    last = timeline[-1]
    return RunResult(
        scenario="scenarios/rollout-100k.toml",
        devices=devices,
        seed=seed,
        clock="simulated",
        started_at="2025-01-01T00:00:00+00:00",
        duration_s=duration,
        wall_s=41.25,
        peak_rss_mb=812.4,
        interrupted=False,
        stop_reason="completed",
        executions=final,
        latencies_s=latency,
        latency_status=tuple(status.tolist()),
        shadow_checked=devices,
        shadow_consistent=last.consistent,
        shadow_inconsistent=last.inconsistent,
        shadow_by_cause=dict(last.by_cause),
        timeline=tuple(timeline),
        jobs=(
            JobSummary(
                job_id="rollout-2.1.5",
                status="COMPLETED",
                created_at_s=0.0,
                completed_at_s=float(latency.max()),
                targets=devices,
                executions=final,
                destination_package_versions=(ARN,),
            ),
        ),
        writers=(
            WriterSummary(
                name="device-agent", writes=devices * 2, conflicts=int(devices * 0.012), skipped=37
            ),
            WriterSummary(name="jobs-hook", writes=devices, conflicts=3, skipped=0),
        ),
        notes=(
            "CreateJob rate 3/s exceeded the AWS quota of 1/s for 12 s; requests were throttled.",
        ),
        extra={"bus_events": 1_234_567, "timer_heap_peak": devices, "mean_tick_ms": 0.4312345678},
    )
