"""Smoke test of ``python -m benchmarks.substitution``: it runs and its JSON has the promised shape.

No timing assertions: the numbers of a ``--quick`` run on a shared machine mean nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a benchmark smoke run

ROOT = Path(__file__).resolve().parent.parent
IMPLEMENTATIONS = {
    "naive-stdlib",
    "orjson-walk",
    "orjson-loads",
    "fleetsim-compile-render",
    "fleetsim-compile-render-cold",
    "fleetsim-render",
    "fleetsim-prepare",
}
DOCUMENTS = {"small", "large"}
ROW_KEYS = {"document", "implementation", "us_per_doc", "docs_per_s"}


def test_substitution_benchmark_json_shape() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.substitution", "--json", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # exactly one JSON object, nothing else on stdout
    assert isinstance(data, dict)

    rows = data["results"]
    assert isinstance(rows, list)
    for row in rows:
        assert set(row) == ROW_KEYS
        assert row["document"] in DOCUMENTS
        assert isinstance(row["implementation"], str)
        for key in ("us_per_doc", "docs_per_s"):
            assert isinstance(row[key], float)
            assert row[key] > 0
    pairs = {(row["document"], row["implementation"]) for row in rows}
    assert pairs >= {(d, i) for d in DOCUMENTS for i in IMPLEMENTATIONS}

    for document in DOCUMENTS:
        assert set(data["ratios"][document]) >= IMPLEMENTATIONS
        assert all(ratio > 0 for ratio in data["ratios"][document].values())
    assert {t["pass"] for t in data["targets"]} <= {True, False}
    assert data["machine"]["python"]
