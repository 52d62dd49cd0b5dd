"""``python -m benchmarks.NAME ARGS`` is ``fleetsim bench NAME ARGS``, run from a checkout."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["bench"]


def bench(name: str, argv: Sequence[str] | None = None) -> int:
    """Run ``fleetsim bench NAME`` with ``argv`` (default: this process's arguments)."""
    from simulator.cli import main  # noqa: PLC0415

    return main(["bench", name, *(sys.argv[1:] if argv is None else argv)])
