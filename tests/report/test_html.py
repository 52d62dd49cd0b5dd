"""report.html: valid, self-contained, three inline charts, headline numbers, deterministic."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from simulator.report import RunResult, Sample, write_html, write_report
from simulator.report.html import render_html
from tests.report.synthetic import synthetic_result
from tests.report.test_json_report import _small

ROOT = Path(__file__).resolve().parents[2]
VOID = {"meta", "br", "img", "hr", "input", "link", "source", "col", "wbr", "area", "base"}


class _Page(HTMLParser):
    """Collects what the tests look at, and checks that elements nest and close properly."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.charts: list[dict[str, str | None]] = []
        self.text: list[str] = []
        self.cards: list[str] = []
        self._in_card_value = False
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        if tag == "svg" and "svg" not in self.stack:
            self.charts.append(attributes)
        self._in_card_value = tag == "div" and attributes.get("class") == "v"
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._in_card_value:
            self.cards.append(data.strip())
            self._in_card_value = False
        if "svg" not in self.stack and "style" not in self.stack:
            self.text.append(data)


def _parse(document: str) -> _Page:
    page = _Page()
    page.feed(document)
    page.close()
    assert page.errors == []
    assert page.stack == [], f"unclosed elements: {page.stack}"
    return page


def _known() -> RunResult:
    """Latencies 1..101 s: p50 51 s, p90 91 s, p99 100 s, max 101 s; 75 % succeeded."""
    latencies = np.arange(1.0, 102.0)
    statuses = ["SUCCEEDED"] * 80 + ["FAILED"] * 21
    return _small(
        executions={"SUCCEEDED": 75, "FAILED": 21, "IN_PROGRESS": 4},
        latencies_s=latencies,
        latency_status=statuses,
        shadow_checked=200,
        shadow_consistent=180,
        shadow_inconsistent=20,
        shadow_by_cause={"stale": 15, "$weird_cause": 5},
    )


def test_three_inline_charts_and_headline_numbers() -> None:
    page = _parse(render_html(_known()))
    assert [c.get("aria-label") for c in page.charts] == [
        "Job executions by status over time",
        "Distribution of completion latency",
        "$package shadow inconsistencies over time",
    ]
    assert all(c.get("class") == "chart" for c in page.charts)
    assert page.cards == ["51 s", "91 s", "100 s", "101 s", "75.0 %", "90.0 %"]
    text = " ".join(" ".join(page.text).split())
    for needed in (
        "scenarios/small.toml",
        "clock simulated",
        "seed 42",
        "4 devices",
        "run duration 120 s",
        "wall time 0.5 s",
        "job-1",
        "agent",
        "quota exceeded",
        "$weird_cause",
        "stale",
    ):
        assert needed in text, needed


def test_self_contained_no_network() -> None:
    document = render_html(synthetic_result(devices=500, samples=30))
    page = _parse(document)
    for tag, attributes in page.tags:
        assert tag not in {"script", "link", "iframe", "img"}, tag
        for name in ("src", "href", "xlink:href", "action"):
            value = attributes.get(name) or ""
            assert not re.match(r"\s*(https?:)?//", value), f"<{tag} {name}={value}>"
    assert "@import" not in document
    assert "url(http" not in document
    # Ids are unique across the three SVGs, and every reference points at one of them.
    assert len(page.ids) == len(set(page.ids))
    refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', document))
    assert refs
    assert refs <= set(page.ids)


def test_user_text_is_escaped() -> None:
    hostile = _small(scenario="<script>alert(1)</script>", notes=("<b>bold</b> & co",))
    document = render_html(hostile)
    assert "<script>" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in document
    _parse(document)


@pytest.mark.slow  # end to end: a second Python process renders the same report
def test_same_result_renders_the_same_bytes_in_another_process(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from tests.report.synthetic import synthetic_result\n"
        "from simulator.report import write_html\n"
        "write_html(synthetic_result(devices=3000, samples=80), sys.argv[1])\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = tmp_path / "other.html"
    subprocess.run([sys.executable, "-c", code, str(other)], cwd=ROOT, env=env, check=True)
    here = write_html(synthetic_result(devices=3000, samples=80), tmp_path / "here.html")
    assert here.read_bytes() == other.read_bytes()
    assert render_html(synthetic_result(devices=3000, samples=80)) == here.read_text("utf-8")


def test_empty_run_still_renders_three_charts() -> None:
    empty = _small(
        executions={},
        latencies_s=[],
        latency_status=[],
        shadow_checked=0,
        shadow_consistent=0,
        shadow_inconsistent=0,
        shadow_by_cause={},
        timeline=(),
        jobs=(),
        writers=(),
        notes=(),
        extra={},
    )
    page = _parse(render_html(empty))
    assert len(page.charts) == 3
    assert page.cards == ["–"] * 6
    text = " ".join(page.text)
    assert "no jobs" in text
    assert "no notes" in text


def test_one_sample_and_one_latency() -> None:
    one = _small(
        latencies_s=[3.0],
        latency_status=["SUCCEEDED"],
        timeline=(Sample(0.0, {"QUEUED": 1}, 0, 0, {}, 1, 0),),
    )
    page = _parse(render_html(one))
    assert len(page.charts) == 3
    assert page.cards[:4] == ["3 s"] * 4


def test_importing_the_package_does_not_import_matplotlib() -> None:
    code = (
        "import sys, simulator.report\n"
        "heavy = {'matplotlib', 'jinja2'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_write_report_writes_both_files(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "first"
    json_path, html_path = write_report(_small(), out)
    assert (json_path, html_path) == (out / "report.json", out / "report.html")
    assert json_path.read_bytes().startswith(b"{")
    assert html_path.read_text("utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.slow  # scale: 100,000 devices
def test_large_run_renders_small_and_reasonably_fast(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    result = synthetic_result(devices=100_000, samples=2_000)
    assert result.latencies_s.size == 100_000
    assert len(result.timeline) == 2_000
    render_html(_small())  # pay matplotlib's import and font set-up outside the measurement
    start = time.perf_counter()
    json_path, html_path = write_report(result, tmp_path)
    elapsed = time.perf_counter() - start
    size = html_path.stat().st_size
    record_property("render_s", round(elapsed, 3))
    record_property("html_bytes", size)
    record_property("json_bytes", json_path.stat().st_size)
    print(
        f"\n100k latencies / 2k samples: write_report {elapsed:.2f} s, html {size:,} B, "
        f"json {json_path.stat().st_size:,} B"
    )
    assert size < 1_000_000
    page = _parse(html_path.read_text("utf-8"))
    assert len(page.charts) == 3
