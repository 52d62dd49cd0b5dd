"""The timing harness now lives in :mod:`simulator.bench._timing` (``fleetsim bench`` uses it)."""

from simulator.bench._timing import CLOCKS, Cell, machine, measure

__all__ = ["CLOCKS", "Cell", "machine", "measure"]
