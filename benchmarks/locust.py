"""``uv run python -m benchmarks.locust [options]`` = ``fleetsim bench locust [options]``.

The benchmark lives in :mod:`simulator.bench.locust` (installed with fleetsim).
Results: ``RESULTS.md``.
"""

import sys

from benchmarks._shim import bench

if __name__ == "__main__":
    sys.exit(bench("locust"))
