"""``uv run python -m benchmarks.mqtt_bridge [options]`` = ``fleetsim bench mqtt-bridge [options]``.

The benchmark lives in :mod:`simulator.bench.mqtt_bridge` (installed with fleetsim). Results:
``RESULTS.md``.
"""

import sys

from benchmarks._shim import bench

if __name__ == "__main__":
    sys.exit(bench("mqtt-bridge"))
