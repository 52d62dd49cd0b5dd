"""Settings for the whole test run: bytecode caching, the Hypothesis profile, how many
pytest-xdist workers ``-n auto`` starts, and the order tests are handed out in.

**Bytecode caching for the Python processes the tests start.** The suite starts a few dozen
``python -m simulator.cli`` / ``benchmarks`` processes (and pytest-xdist its workers). Under
``PYTHONDONTWRITEBYTECODE`` each of them compiles every module it imports from source: ~1.2 s
of start-up instead of ~0.45 s here. So this run (and every process it starts) writes bytecode,
in a cache of its own outside the working tree (``PYTHONPYCACHEPREFIX``) when the variable was
set, so the tree stays as the user wanted it. It changes no behaviour under test.

**Workers**: ``-n auto`` (in ``pyproject.toml``) starts one pytest-xdist worker per CPU for the
edit-test loop (``-m "not slow"``: CPU-bound), and one more for the whole suite, whose slow tests
spend most of their time waiting on Mosquitto, fleets of devices, ``fleetsim`` processes and
benchmark phases (measured on 2 CPUs: 124 s with 3 workers, 179 s with 2).

**The Hypothesis profile** (:mod:`tests.hypothesis_profiles`): ``fast`` when the mark expression
leaves the slow tests out (the edit-test loop), unless ``--hypothesis-profile`` names one.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from tests.hypothesis_profiles import FAST

if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
    prefix = os.environ.setdefault(
        "PYTHONPYCACHEPREFIX",
        str(Path(tempfile.gettempdir()) / f"fleetsim-test-pycache-{os.getuid()}"),
    )
    sys.pycache_prefix = prefix
    sys.dont_write_bytecode = False


def _edit_test_loop(config: pytest.Config) -> bool:
    """Whether this run leaves the slow tests out (``-m "not slow"``)."""
    return "not slow" in (config.getoption("markexpr", "") or "")


def pytest_configure(config: pytest.Config) -> None:
    if _edit_test_loop(config) and not config.getoption("hypothesis_profile", None):
        settings.load_profile(FAST)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cpus or 1) + (0 if _edit_test_loop(config) else 1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests first (in their order), then the rest: handed out one at a time
    (``--maxschedchunk 1``), the longest runs start at once on all the workers and the many
    short tests fill in around them, instead of one long test starting last and running alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
