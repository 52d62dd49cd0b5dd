"""``fleetsim bench paging`` at tiny sizes: it sets up, walks every page of each listing and
reports the shape promised (no timing assertions: the walk itself checks every item is listed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.console import bench_json

pytestmark = pytest.mark.slow  # a benchmark run: a server, set-up and walks


def test_paging_benchmark_json_shape(tmp_path: Path) -> None:
    data = bench_json("paging", "--sizes", "30,300", "--rounds", "1", cwd=tmp_path, timeout=300)
    rows = {(r["operation"], r["items"]): r for r in data["results"]}
    assert set(rows) == {
        (op, n) for op in ("ListJobExecutionsForJob", "ListThingsInThingGroup") for n in (30, 300)
    }
    for (_, items), row in rows.items():
        assert row["pages"] == -(-items // 250)
        assert row["median_s"] > 0
        assert row["ratio_to_smallest"] > 0
    assert rows["ListJobExecutionsForJob", 30]["ratio_to_smallest"] == 1.0
    assert data["machine"]["load_average"]
