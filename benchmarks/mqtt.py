"""``uv run python -m benchmarks.mqtt [options]`` = ``fleetsim bench mqtt [options]``.

The benchmark lives in :mod:`simulator.bench.mqtt` (installed with fleetsim).
Results: ``RESULTS.md``.
"""

import sys

from benchmarks._shim import bench

if __name__ == "__main__":
    sys.exit(bench("mqtt"))
