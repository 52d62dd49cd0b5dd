"""report.json: required keys and types, byte-identical output, no NaN or infinity."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from simulator.report import (
    JobSummary,
    RunResult,
    Sample,
    WriterSummary,
    report_dict,
    write_json,
)
from simulator.report.json_report import SCHEMA_VERSION, dumps, round_float
from tests.report.synthetic import synthetic_result

SUMMARY_KEYS = {"count", "min", "max", "mean", "p50", "p90", "p99"}


def _small(**changes: object) -> RunResult:
    fields: dict[str, object] = {
        "scenario": "scenarios/small.toml",
        "devices": 4,
        "seed": 42,
        "clock": "simulated",
        "started_at": "2025-06-01T12:00:00+00:00",
        "duration_s": 120.0,
        "wall_s": 0.5,
        "peak_rss_mb": 64.0,
        "interrupted": False,
        "stop_reason": "completed",
        "executions": {"SUCCEEDED": 3, "FAILED": 1},
        "latencies_s": np.array([10.0, 20.0, 30.0, 5.0]),
        "latency_status": ("SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FAILED"),
        "shadow_checked": 4,
        "shadow_consistent": 3,
        "shadow_inconsistent": 1,
        "shadow_by_cause": {"stale": 1},
        "timeline": (
            Sample(0.0, {"QUEUED": 4}, 4, 0, {}, 0, 0),
            Sample(60.0, {"SUCCEEDED": 3, "FAILED": 1}, 3, 1, {"stale": 1}, 4, 40),
        ),
        "jobs": (
            JobSummary(
                "job-1",
                "COMPLETED",
                0.0,
                30.0,
                4,
                {"SUCCEEDED": 3, "FAILED": 1},
                ("arn:aws:iot:us-east-1:1:package/p/version/1.0",),
            ),
        ),
        "writers": (WriterSummary("agent", 8, 1, 2),),
        "notes": ("quota exceeded",),
        "extra": {"events": 99},
    }
    fields.update(changes)
    return RunResult(**fields)  # type: ignore[arg-type]


def test_required_keys_and_types() -> None:
    r = report_dict(_small())
    assert r["schema_version"] == SCHEMA_VERSION == 1
    assert r["devices"] == 4
    assert r["seed"] == 42
    assert r["clock"] == "simulated"
    assert r["scenario"] == "scenarios/small.toml"
    assert r["started_at"] == "2025-06-01T12:00:00+00:00"
    assert r["duration_s"] == 120.0
    assert r["wall_s"] == 0.5
    assert r["peak_rss_mb"] == 64.0
    assert r["interrupted"] is False
    assert r["stop_reason"] == "completed"
    assert r["executions"] == {"SUCCEEDED": 3, "FAILED": 1}
    assert r["executions_total"] == 4
    assert r["succeeded_pct"] == 75.0
    latency = r["completion_latency_s"]
    assert set(latency) == SUMMARY_KEYS | {"by_status", "percentile_method"}
    assert latency["count"] == 4
    assert latency["p50"] == 15.0
    assert latency["max"] == 30.0
    assert latency["min"] == 5.0
    assert latency["percentile_method"] == "linear"
    assert set(latency["by_status"]) == {"SUCCEEDED", "FAILED"}
    assert all(set(v) == SUMMARY_KEYS for v in latency["by_status"].values())
    assert latency["by_status"]["SUCCEEDED"]["p50"] == 20.0
    assert latency["by_status"]["FAILED"]["count"] == 1
    assert r["shadow"] == {
        "checked": 4,
        "consistent": 3,
        "inconsistent": 1,
        "consistent_pct": 75.0,
        "by_cause": {"stale": 1},
        "examples": {},
    }
    assert r["jobs"] == [
        {
            "job_id": "job-1",
            "status": "COMPLETED",
            "created_at_s": 0.0,
            "completed_at_s": 30.0,
            "duration_s": 30.0,
            "targets": 4,
            "executions": {"SUCCEEDED": 3, "FAILED": 1},
            "destination_package_versions": ["arn:aws:iot:us-east-1:1:package/p/version/1.0"],
        }
    ]
    assert r["writers"] == [{"name": "agent", "writes": 8, "conflicts": 1, "skipped": 2}]
    assert r["timeline"][1] == {
        "t": 60.0,
        "executions": {"SUCCEEDED": 3, "FAILED": 1},
        "consistent": 3,
        "inconsistent": 1,
        "by_cause": {"stale": 1},
        "devices_online": 4,
        "messages": 40,
    }
    assert r["notes"] == ["quota exceeded"]
    assert r["extra"] == {"events": 99}
    for key in ("devices", "seed", "executions_total"):
        assert type(r[key]) is int


def test_empty_run_gives_nulls_not_errors() -> None:
    r = report_dict(
        _small(
            executions={},
            latencies_s=np.array([]),
            latency_status=(),
            shadow_checked=0,
            shadow_consistent=0,
            shadow_inconsistent=0,
            shadow_by_cause={},
            timeline=(),
            jobs=(),
            writers=(),
            notes=(),
        )
    )
    latency = r["completion_latency_s"]
    assert latency["count"] == 0
    assert all(latency[k] is None for k in SUMMARY_KEYS - {"count"})
    assert latency["by_status"] == {}
    assert r["succeeded_pct"] is None
    assert r["shadow"]["consistent_pct"] is None
    assert r["timeline"] == [] == r["jobs"]


def test_same_input_gives_identical_bytes() -> None:
    first = dumps(synthetic_result(devices=2_000, samples=50))
    again = dumps(synthetic_result(devices=2_000, samples=50))
    assert first == again
    assert first.endswith(b"}\n")
    assert b'\n  "clock": "simulated",\n' in first  # indent 2
    keys = list(json.loads(first))
    assert keys == sorted(keys)


def test_floats_are_rounded_to_six_significant_digits() -> None:
    assert round_float(1 / 3) == 0.333333
    assert round_float(123456789.0) == 123457000.0
    assert round_float(-0.0) == 0.0
    zero = round_float(-0.0)
    assert zero is not None
    assert math.copysign(1.0, zero) == 1.0  # no "-0.0" in the bytes
    assert round_float(math.nan) is None
    r = report_dict(_small(wall_s=2 / 3, latencies_s=np.array([1 / 7]), latency_status=("FAILED",)))
    assert r["wall_s"] == 0.666667
    assert r["completion_latency_s"]["mean"] == 0.142857


def test_nan_and_infinity_are_never_emitted() -> None:
    result = _small(
        duration_s=math.inf,
        peak_rss_mb=math.nan,
        latencies_s=np.array([math.nan, 1.0, math.inf, 2.0]),
        timeline=(Sample(math.nan, {}, 0, 0, {}, 0, 0),),
        jobs=(JobSummary("j", "IN_PROGRESS", -math.inf, None, 1, {}, ()),),
        extra={"ratio": math.inf, "series": np.array([1.0, np.nan]), "nested": {"x": -math.inf}},
    )
    data = dumps(result)

    def refuse(constant: str) -> object:
        raise AssertionError(f"{constant} in report.json")

    parsed = json.loads(data, parse_constant=refuse)
    assert b"NaN" not in data
    assert b"Infinity" not in data
    assert parsed["duration_s"] is None
    assert parsed["peak_rss_mb"] is None
    assert parsed["completion_latency_s"]["count"] == 2  # the two finite latencies
    assert parsed["timeline"][0]["t"] is None
    assert parsed["jobs"][0]["duration_s"] is None
    assert parsed["extra"] == {"ratio": None, "series": [1.0, None], "nested": {"x": None}}


def test_extra_is_made_json_ready() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque!"

    r = report_dict(
        _small(
            extra={
                "np_int": np.int64(7),
                "np_float": np.float32(0.1),
                "tuple": (1, 2.123456789),
                "set": {3, 1, 2},
                "keys": {5: "five"},
                "object": Opaque(),
                "flag": np.bool_(True),
            }
        )
    )
    assert r["extra"] == {
        "np_int": 7,
        "np_float": 0.1,
        "tuple": [1, 2.12346],
        "set": [1, 2, 3],
        "keys": {"5": "five"},
        "object": "opaque!",
        "flag": True,
    }


def test_write_json_writes_dumps_atomically(tmp_path: Path) -> None:
    result = _small()
    target = tmp_path / "report.json"
    target.write_text("old")
    assert write_json(result, target) == target
    assert target.read_bytes() == dumps(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no temp file left
    assert target.stat().st_mode & 0o777 == 0o644


def test_mismatched_latency_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="latency_status"):
        _small(latencies_s=np.array([1.0, 2.0]), latency_status=("SUCCEEDED",))


def test_result_arrays_are_frozen_copies() -> None:
    source = np.array([1.0, 2.0])
    result = _small(latencies_s=source, latency_status=["SUCCEEDED", "FAILED"])
    source[0] = 99.0
    assert result.latencies_s.tolist() == [1.0, 2.0]
    assert result.latencies_s.dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        result.latencies_s[0] = 5.0
    assert isinstance(result.latency_status, np.ndarray)
    assert result.latency_status.tolist() == ["SUCCEEDED", "FAILED"]
