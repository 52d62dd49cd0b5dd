"""``uv run python -m benchmarks.fleet [options]`` = ``fleetsim bench fleet [options]``.

The benchmark lives in :mod:`simulator.bench.fleet` (installed with fleetsim); run from the
checkout's root, its default scenario is ``scenarios/quickstart.toml``. Results: ``RESULTS.md``.
"""

import sys

from benchmarks._shim import bench

if __name__ == "__main__":
    sys.exit(bench("fleet"))
