"""How many examples the property tests run, by Hypothesis profile.

The full run (``sh tests/run.sh``, ``uv run pytest``) uses Hypothesis' default profile: 100
examples a test, or the number a test names through :func:`examples`. The edit-test loop
(``uv run pytest -m "not slow"``) uses the ``fast`` profile (``tests/conftest.py`` loads it when
the mark expression leaves the slow tests out): a quarter of that, so every property still runs
while the loop stays short. ``--hypothesis-profile NAME`` chooses explicitly.
"""

from __future__ import annotations

from hypothesis import settings

__all__ = ["FAST", "examples"]

FAST = "fast"
settings.register_profile(FAST, max_examples=25)


def examples(full: int, /) -> int:
    """``full`` examples under the default profile, scaled with the active profile's
    ``max_examples`` (read when the test module is imported: after the profile is loaded)."""
    return max(10, full * settings.default.max_examples // 100)
