"""``report.json``: the machine-readable report of one ``fleetsim run``.

The file is UTF-8 JSON, indented by 2 spaces, keys sorted, floats rounded to 6 significant
digits, so the same :class:`~simulator.report.model.RunResult` always gives the same bytes.
NaN and infinities are never written: a number that is not finite becomes ``null``. Times are
seconds on the run's clock (``clock``) except ``wall_s``, which is real time.

Fields (``schema_version`` 1):

- ``schema_version`` (int): 1; raised whenever a field changes meaning or disappears.
- ``scenario`` (str): the scenario's path or name.
- ``started_at`` (str): ISO 8601 timestamp of the run start.
- ``devices`` (int): number of simulated devices.
- ``seed`` (int): the run's random seed; the same seed and scenario replay the same run.
- ``clock`` (``"simulated"`` | ``"real"``): the clock the run's times are measured on.
- ``duration_s`` (float): length of the run on the run's clock.
- ``wall_s`` (float): real elapsed time of the run.
- ``peak_rss_mb`` (float): peak resident memory of the process, MiB.
- ``interrupted`` (bool): the run stopped before its scenario finished.
- ``stop_reason`` (str): why the run stopped (``"completed"``, a signal, a deadline, ...).
- ``executions`` (object str -> int): final count of job executions per status
  (``QUEUED``, ``IN_PROGRESS``, ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``REJECTED``,
  ``REMOVED``, ``CANCELED``; only statuses present).
- ``executions_total`` (int): sum of ``executions``.
- ``succeeded_pct`` (float | null): ``100 * SUCCEEDED / executions_total``; null without
  executions.
- ``completion_latency_s`` (object): per terminal execution, job creation to terminal state:
  ``count`` (int), ``min``, ``max``, ``mean``, ``p50``, ``p90``, ``p99`` (float | null, null when
  ``count`` is 0), ``percentile_method`` (``"linear"``: numpy's default, Hyndman & Fan type 7)
  and ``by_status`` (object: terminal status -> the same fields but ``percentile_method`` and
  ``by_status``).
- ``shadow`` (object): the ``$package`` reserved shadow checked against what each device runs,
  at the end of the run: ``checked``, ``consistent``, ``inconsistent`` (int),
  ``consistent_pct`` (float | null, ``100 * consistent / checked``), ``by_cause``
  (object cause -> int, the inconsistent shadows by cause) and ``examples`` (object cause ->
  array of up to 10 device names, the first inconsistent devices of each cause; what
  ``fleetsim explain`` takes).
- ``jobs`` (array, engine order): per job ``job_id`` (str), ``status`` (str), ``created_at_s``
  (float), ``completed_at_s`` (float | null), ``duration_s`` (float | null, completion minus
  creation), ``targets`` (int), ``executions`` (object status -> int) and
  ``destination_package_versions`` (array of ARN strings).
- ``writers`` (array, engine order): per ``$package`` shadow writer ``name`` (str), ``writes``,
  ``conflicts`` (updates refused with HTTP 409) and ``skipped`` (int).
- ``timeline`` (array, time order): the run's samples, each ``t`` (float, seconds since start),
  ``executions`` (object status -> int), ``consistent``, ``inconsistent`` (int), ``by_cause``
  (object cause -> int), ``devices_online`` (int) and ``messages`` (int, cumulative messages
  delivered).
- ``versions`` (object): the version distribution of each package the run's jobs deploy, as
  fleet indexing answers GetBucketsAggregation over
  ``shadow.name.$package.reported.<package>.version`` on the emulator: ``timeline`` (array, time
  order), each ``t`` (float), ``package`` (str), ``things`` (int, things indexed) and ``buckets``
  (object reported version -> things reporting it; lower-cased as the index holds values;
  things without the package in no bucket). Sampled at every ``stride``-th timeline sample and
  once at the end, so the last entry per package is the final distribution; empty when the
  run deploys no package or its plane is remote.
- ``notes`` (array of str): warnings for the reader, such as AWS quota exceedances.
- ``substitution`` (object): job-document substitution during the run (zeros when the engine
  does not collect it). Phase one (CreateJob): ``documents_prepared`` (int, documents
  validated and resolved), ``documents_compiled`` (int, of those, compiled rather than found
  already compiled), ``prepare_s`` (float, real seconds spent). Phase two (device fetches):
  ``renders`` (int, documents with presigned URLs rendered for a device), ``render_cache_hits``
  (int, renders reused within the same second), ``urls_served`` (int, presigned URLs in the
  rendered documents), ``urls_minted`` (int, SigV4 signatures computed for them),
  ``render_s`` (float, real seconds spent).
- ``extra`` (object): engine-specific numbers, copied as given (numbers rounded like the rest,
  tuples and numpy arrays as arrays, other objects as their ``str``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import orjson

from simulator.report._files import atomic_write
from simulator.report.model import RunResult, Sample, VersionSample
from simulator.report.stats import PERCENTILE_METHOD, Summary, percent, summarize, summarize_by

__all__ = ["SCHEMA_VERSION", "dumps", "report_dict", "round_float", "write_json"]

SCHEMA_VERSION: Final = 1
#: Significant digits kept of every float.
DIGITS: Final = 6


def round_float(value: float) -> float | None:
    """Round to :data:`DIGITS` significant digits; ``None`` for NaN and infinities.

    Rounding goes through the decimal text (``%.6g``), so it is the same on every platform, and
    ``-0.0`` becomes ``0.0`` so a sign never flips the bytes of an otherwise equal report.
    """
    if not math.isfinite(value):
        return None
    return float(f"{value:.{DIGITS}g}") + 0.0


def _plain(value: object) -> Any:
    """A JSON-ready copy: rounded floats, str keys, lists for sequences and arrays."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return round_float(value)
    if isinstance(value, np.generic | np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    return str(value)


def _summary(summary: Summary) -> dict[str, object]:
    return {f.name: getattr(summary, f.name) for f in dataclasses.fields(summary)}


def _sample(sample: Sample) -> dict[str, object]:
    return {
        "t": sample.t,
        "executions": sample.executions,
        "consistent": sample.consistent,
        "inconsistent": sample.inconsistent,
        "by_cause": sample.by_cause,
        "devices_online": sample.devices_online,
        "messages": sample.messages,
    }


def _version(sample: VersionSample) -> dict[str, object]:
    return {
        "t": sample.t,
        "package": sample.package,
        "things": sample.things,
        "buckets": sample.buckets,
    }


def report_dict(result: RunResult, /) -> dict[str, Any]:
    """The report as plain JSON-ready data (see the module docstring for every field).

    Args:
        result: What the run measured.

    Returns:
        A new dict of str, int, float (finite, rounded), bool, None, lists and dicts.
    """
    total = sum(result.executions.values())
    latency = _summary(summarize(result.latencies_s))
    latency["percentile_method"] = PERCENTILE_METHOD
    latency["by_status"] = {
        status: _summary(s)
        for status, s in summarize_by(result.latencies_s, result.latency_status).items()
    }
    report = {
        "schema_version": SCHEMA_VERSION,
        "scenario": result.scenario,
        "started_at": result.started_at,
        "devices": result.devices,
        "seed": result.seed,
        "clock": result.clock,
        "duration_s": result.duration_s,
        "wall_s": result.wall_s,
        "peak_rss_mb": result.peak_rss_mb,
        "interrupted": result.interrupted,
        "stop_reason": result.stop_reason,
        "executions": result.executions,
        "executions_total": total,
        "succeeded_pct": percent(result.executions.get("SUCCEEDED", 0), total),
        "completion_latency_s": latency,
        "shadow": {
            "checked": result.shadow_checked,
            "consistent": result.shadow_consistent,
            "inconsistent": result.shadow_inconsistent,
            "consistent_pct": percent(result.shadow_consistent, result.shadow_checked),
            "by_cause": result.shadow_by_cause,
            "examples": result.shadow_examples,
        },
        "jobs": [
            {
                "job_id": job.job_id,
                "status": job.status,
                "created_at_s": job.created_at_s,
                "completed_at_s": job.completed_at_s,
                "duration_s": (
                    None if job.completed_at_s is None else job.completed_at_s - job.created_at_s
                ),
                "targets": job.targets,
                "executions": job.executions,
                "destination_package_versions": job.destination_package_versions,
            }
            for job in result.jobs
        ],
        "writers": [
            {"name": w.name, "writes": w.writes, "conflicts": w.conflicts, "skipped": w.skipped}
            for w in result.writers
        ],
        "timeline": [_sample(s) for s in result.timeline],
        "versions": {"timeline": [_version(v) for v in result.versions]},
        "notes": result.notes,
        "substitution": result.substitution,
        "extra": result.extra,
    }
    plain: dict[str, Any] = _plain(report)
    return plain


def dumps(result: RunResult, /) -> bytes:
    """``report.json``'s bytes: :func:`report_dict`, indented, keys sorted, newline-terminated."""
    return orjson.dumps(
        report_dict(result),
        option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE,
    )


def write_json(result: RunResult, path: str | os.PathLike[str], /) -> Path:
    """Write ``report.json`` (atomically: readers see the old file or the whole new one).

    Args:
        result: What the run measured.
        path: Destination file; its directory must exist.

    Returns:
        The path written.
    """
    return atomic_write(path, dumps(result))
