"""The report's substitution section: what the run's substitution stats say, in JSON and HTML."""

from __future__ import annotations

import orjson

from simulator.core.substitution import SubstitutionSnapshot
from simulator.report import report_dict
from simulator.report.html import render_html
from simulator.report.json_report import dumps
from tests.report.test_html import _parse
from tests.report.test_json_report import _small

SNAPSHOT = SubstitutionSnapshot(
    documents_prepared=3,
    documents_compiled=2,
    prepare_s=0.000125,
    renders=12_345,
    render_cache_hits=12_000,
    urls_served=24_690,
    urls_minted=690,
    render_s=0.0421,
)
FIELDS = {
    "documents_prepared",
    "documents_compiled",
    "prepare_s",
    "renders",
    "render_cache_hits",
    "urls_served",
    "urls_minted",
    "render_s",
}


def test_json_has_the_section_with_every_field() -> None:
    section = report_dict(_small(substitution=SNAPSHOT))["substitution"]
    assert set(section) == FIELDS
    assert section == {
        "documents_prepared": 3,
        "documents_compiled": 2,
        "prepare_s": 0.000125,
        "renders": 12_345,
        "render_cache_hits": 12_000,
        "urls_served": 24_690,
        "urls_minted": 690,
        "render_s": 0.0421,
    }
    assert orjson.loads(dumps(_small(substitution=SNAPSHOT)))["substitution"] == section


def test_default_is_zeros() -> None:
    section = report_dict(_small())["substitution"]
    assert set(section) == FIELDS
    assert all(value == 0 for value in section.values())


def test_html_shows_the_section() -> None:
    page = _parse(render_html(_small(substitution=SNAPSHOT)))
    assert not page.errors
    text = " ".join(page.text)
    assert "Job-document substitution" in text
    for shown in ("12,345", "24,690 URLs served", "690 signed", "2 compiled", "0.0421 s"):
        assert shown in text, shown
