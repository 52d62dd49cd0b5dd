"""The report model: frozen slotted classes with the documented fields (its ``__all__`` is pinned
with every package's in ``tests/test_public_api.py``)."""

from __future__ import annotations

import dataclasses

from simulator.report import JobSummary, RunResult, Sample, VersionSample, WriterSummary


def test_model_classes_are_frozen_and_slotted() -> None:
    for cls in (JobSummary, RunResult, Sample, VersionSample, WriterSummary):
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen, cls
        assert "__slots__" in vars(cls), cls


def test_model_fields_are_the_documented_ones() -> None:
    def names(cls: type) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    assert names(Sample) == [
        "t",
        "executions",
        "consistent",
        "inconsistent",
        "by_cause",
        "devices_online",
        "messages",
    ]
    assert names(JobSummary) == [
        "job_id",
        "status",
        "created_at_s",
        "completed_at_s",
        "targets",
        "executions",
        "destination_package_versions",
    ]
    assert names(WriterSummary) == ["name", "writes", "conflicts", "skipped"]
    assert names(VersionSample) == ["t", "package", "things", "buckets"]
    assert names(RunResult) == [
        "scenario",
        "devices",
        "seed",
        "clock",
        "started_at",
        "duration_s",
        "wall_s",
        "peak_rss_mb",
        "interrupted",
        "stop_reason",
        "executions",
        "latencies_s",
        "latency_status",
        "shadow_checked",
        "shadow_consistent",
        "shadow_inconsistent",
        "shadow_by_cause",
        "timeline",
        "jobs",
        "writers",
        "notes",
        "extra",
        "substitution",
        "shadow_examples",
        "versions",
    ]
