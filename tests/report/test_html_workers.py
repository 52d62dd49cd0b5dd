"""A multi-process run's report shows one row per worker (``extra.workers``)."""

from __future__ import annotations

import dataclasses

from simulator.report.html import render_html
from tests.report.synthetic import synthetic_result


def test_workers_table_replaces_the_raw_json() -> None:
    workers = [
        {"worker": 0, "devices": 1500, "connects": 1500, "by_cause": {"not_reported": 3}},
        {"worker": 1, "devices": 1499, "connects": 1501, "reconnects": 2, "error": "boom"},
    ]
    result = dataclasses.replace(
        synthetic_result(devices=200, samples=20), extra={"workers": workers, "driver": "locust"}
    )
    page = render_html(result)
    assert "<h2>Workers</h2>" in page
    assert "<td>1,500</td><td>" in page and "not_reported 3" in page and "boom" in page
    assert "<code>workers</code>" not in page
    assert "<code>driver</code>" in page


def test_no_workers_table_for_one_process() -> None:
    assert "<h2>Workers</h2>" not in render_html(synthetic_result(devices=200, samples=20))
