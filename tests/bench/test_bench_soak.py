"""``fleetsim bench api --soak``: a few seconds of the soak from the console, the verdict's rules
on made-up samples, and bad options.

No timing assertions: a soak of seconds on a shared machine says nothing about speed. What the
short run must show is that every operation of the mix was answered without an error by a real
``fleetsim serve --state-dir``, and that each sample measures what it says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator.bench.soak import FLAT_GROWTH_MB, FLAT_SLOPE_MB_PER_MIN, verdict
from tests.bench.console import bench_json
from tests.fleetsim_cli import fleetsim

SAMPLE_KEYS = {
    "t_s",
    "replies",
    "replies_per_s",
    "p50_ms",
    "p99_ms",
    "errors",
    "expected_errors",
    "error_types",
    "expected_types",
    "server_rss_mb",
    "children_rss_mb",
    "journal_mb",
    "state_other_mb",
    "server_cpu_percent",
    "client_cpu_percent",
    "load_average",
}


@pytest.mark.slow  # ~5 s: interpreter and server start, provisioning, 3 s of load
def test_short_soak_from_the_console(tmp_path: Path) -> None:
    data = bench_json(
        *("api", "--soak", "--duration", "3", "--interval", "1"),
        *("--connections", "20", "--things", "40", "--no-pin"),
        cwd=tmp_path,
        timeout=120,
    )
    samples = data["samples"]
    assert [round(s["t_s"]) for s in samples] == [1, 2, 3]
    for s in samples:
        assert set(s) == SAMPLE_KEYS
        assert s["replies"] > 0 and s["replies_per_s"] > 0
        assert 0 < s["p50_ms"] <= s["p99_ms"]
        assert s["errors"] == 0, data["error_examples"]
        assert s["server_rss_mb"] > 10  # an interpreter with aiohttp and botocore's models
        assert s["children_rss_mb"] > 0  # the journal's syncer process
    journal = [s["journal_mb"] for s in samples]
    assert journal == sorted(journal) and journal[-1] > journal[0]  # writes were journaled
    v = data["verdict"]
    assert v["errors"] == 0 and v["replies"] == sum(s["replies"] for s in samples)
    assert v["pass"] is (v["rss_flat"] is not False)
    assert data["method"]["connections"] == 20 and data["method"]["things"] == 40
    assert set(data["method"]["mix"]) >= {"update_shadow", "next_job", "thing_churn"}


def _samples(rss: list[float], *, interval: float = 10.0, errors: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "t_s": interval * (k + 1),
            "server_rss_mb": mb,
            "errors": errors if k == 0 else 0,
            "expected_errors": 0,
            "replies": 100,
        }
        for k, mb in enumerate(rss)
    ]


def test_flat_rss_passes_and_steady_growth_fails() -> None:
    flat = verdict(_samples([80.0 + (k % 3) * 0.5 for k in range(60)]), 600)
    assert flat["rss_flat"] is True and flat["pass"] is True
    assert abs(flat["rss_slope_mb_per_min"]) < 0.1
    # A leak just above the slope threshold, over the 400 s judged: fails on the slope alone.
    per_sample = (FLAT_SLOPE_MB_PER_MIN * 1.1) / 6
    leak = verdict(_samples([80.0 + per_sample * k for k in range(60)]), 600)
    assert leak["rss_growth_mb"] < FLAT_GROWTH_MB
    assert leak["rss_flat"] is False and leak["pass"] is False


def test_warmup_growth_is_not_judged_but_a_late_step_is() -> None:
    warm = verdict(_samples([40.0 + k * 3 for k in range(20)] + [100.0] * 40), 600)
    assert warm["warmup_s"] == 200 and warm["rss_flat"] is True
    step = verdict(_samples([100.0] * 50 + [100.0 + FLAT_GROWTH_MB + 1] * 10), 600)
    assert step["rss_flat"] is False


def test_a_short_run_is_not_failed_for_a_noisy_slope() -> None:
    v = verdict(_samples([100.6, 100.6, 100.7, 100.7, 100.7, 100.8], interval=1), 6)
    assert v["rss_slope_mb_per_min"] > FLAT_SLOPE_MB_PER_MIN  # steep, but 0.1 MB in all
    assert v["rss_flat"] is True
    assert verdict(_samples([100.0], interval=1), 1)["rss_flat"] is None  # nothing to judge


def test_an_error_fails_the_run() -> None:
    v = verdict(_samples([80.0] * 10, errors=1), 100)
    assert v["errors"] == 1 and v["rss_flat"] is True and v["pass"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--interval", "0"), "--interval"),
        (("--duration", "5", "--interval", "10"), "--interval"),
        (("--connections", "0"), "--connections"),
        (("--connections", "50", "--things", "10"), "--things"),
    ],
)
def test_bad_soak_options_are_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    result = fleetsim("bench", "api", "--soak", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
