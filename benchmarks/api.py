"""``uv run python -m benchmarks.api [options]`` = ``fleetsim bench api [options]``.

The benchmark lives in :mod:`simulator.bench.api`; its servers, operations and request capture
are re-exported for the other HTTP benchmarks here (``benchmarks/durable.py``).
"""

import sys
from pathlib import Path
from typing import Final

from benchmarks._shim import bench
from simulator.bench.api import OPERATIONS, Operation, Server, capture, machine, setup

__all__ = ["OPERATIONS", "ROOT", "Operation", "Server", "capture", "machine", "setup"]

ROOT: Final = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    sys.exit(bench("api"))
