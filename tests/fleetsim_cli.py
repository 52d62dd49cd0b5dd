"""``fleetsim`` for the tests, in this process: what a bad command line does, without paying
~1 s of interpreter and import start-up per case.

``fleetsim(*args)`` calls :func:`simulator.cli.main` from the project root, as
``python -m simulator.cli ARGS`` would, and returns a :class:`subprocess.CompletedProcess` with
the exit status (``main``'s return value, or argparse's ``SystemExit``) and what went to stdout
and stderr. Each command keeps a test that runs the real console process too.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
from pathlib import Path

from simulator.cli import main

__all__ = ["ROOT", "fleetsim"]

ROOT = Path(__file__).resolve().parent.parent


def fleetsim(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``fleetsim ARGS`` in this process: (exit status, stdout, stderr)."""
    argv = [str(arg) for arg in args]
    out, err = _Stream(), _Stream()
    with (
        contextlib.chdir(ROOT),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage errors (2), --help (0)
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(["fleetsim", *argv], code, out.text(), err.text())


class _Stream(io.TextIOWrapper):
    """A text stream with a ``buffer`` (commands write bytes to ``sys.stdout.buffer``)."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", write_through=True)

    def text(self) -> str:
        self.flush()
        raw = self.buffer
        assert isinstance(raw, io.BytesIO)
        return raw.getvalue().decode()
