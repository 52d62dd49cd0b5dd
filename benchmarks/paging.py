"""``uv run python -m benchmarks.paging [options]`` = ``fleetsim bench paging [options]``."""

import sys

from benchmarks._shim import bench

if __name__ == "__main__":
    sys.exit(bench("paging"))
