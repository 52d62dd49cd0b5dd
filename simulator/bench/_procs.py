"""What the process-based benchmarks share: helper processes, /proc readings, optional peers.

* :class:`EventProcess`: ``python -m simulator.bench.MODULE ARGS``, a helper process reporting
  by JSON lines on stdout (``{"event": NAME, ...}``);
* :func:`process_cpu`, :func:`process_rss`: another process's CPU seconds and resident set;
* :func:`peer_missing`: whether an optional peer (``fleetsim[bench]``) is importable, without
  importing it (some peers, like locust, patch the process that imports them).
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Final

__all__ = [
    "INSTALL_PEERS",
    "EventProcess",
    "peer_missing",
    "process_cpu",
    "process_rss",
    "python_module",
]

#: How to install the peers the benchmarks compare fleetsim with.
INSTALL_PEERS: Final = "install with: pip install 'fleetsim[bench]'"


def python_module(module: str, *argv: str) -> list[str]:
    """The command line running ``module`` with this interpreter (the installed tool's too)."""
    return [sys.executable, "-m", module, *argv]


def peer_missing(*modules: str) -> str | None:
    """The first of ``modules`` that is not installed, or ``None`` when all are."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            return module
    return None


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, every thread) process ``pid`` has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss(pid: int) -> int:
    """Resident set of process ``pid`` in bytes (``VmRSS`` of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class EventProcess:
    """``python -m MODULE ARGS``; :meth:`event` waits for a line ``{"event": NAME, ...}``."""

    def __init__(self, module: str, argv: list[str], *, label: str = "worker") -> None:
        self.label = label
        self.process = subprocess.Popen(
            python_module(module, *argv), stdout=subprocess.PIPE, stderr=sys.stderr, text=True
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def event(self, name: str, timeout: float) -> dict[str, Any]:
        """The next event ``name`` (other lines are skipped); raises if none comes in time."""
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

    def kill(self) -> None:
        """SIGKILL, if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
