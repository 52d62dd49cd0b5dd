"""Argument types shared by the commands: each refuses bad text with argparse's one-line error."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["count", "positive"]


def count(text: str) -> int:
    """A whole number >= 1 (``--repeat``, ``--max-connections``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def positive(noun: str) -> Callable[[str], float]:
    """A finite number > 0, named ``noun`` in the error (``"number of seconds"``, ``"factor"``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {noun} {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"{text} must be a positive {noun}")
        return value

    return parse
