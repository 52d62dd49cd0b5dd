"""Moved to :mod:`simulator.bench._httpload` (``fleetsim bench api`` uses it); kept for imports."""

from simulator.bench._httpload import Measurement, load

__all__ = ["Measurement", "load"]
