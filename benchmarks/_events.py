"""A benchmark's helper process that reports by printing JSON events on stdout, one per line."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class EventProcess:
    """``python -m MODULE ARGS``; :meth:`event` waits for a line ``{"event": NAME, ...}``."""

    def __init__(self, module: str, argv: list[str], *, label: str = "worker") -> None:
        self.label = label
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *argv],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def event(self, name: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"{self.label}: no {name!r} within {timeout:.0f} s") from None
            if line is None:
                raise RuntimeError(f"{self.label} exited ({self.process.wait()}) before {name!r}")
            if line.startswith("{"):
                data: dict[str, Any] = json.loads(line)
                if data.get("event") == name:
                    return data
