"""Running Locust for real, in subprocesses (importing locust would gevent-patch pytest itself).

``run_locust`` runs ``python -m locust -f scenarios/locust/fleet.py`` headless with the given
options and returns the finished process with its output; the report and Locust's CSV land in
the directory given. A run that does not end in time is killed and fails the test with its log.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tests.mqtt_broker import free_port

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "scenarios" / "locust" / "fleet.py"
FAST = ROOT / "tests" / "locust" / "fast.toml"


@dataclass
class LocustRun:
    returncode: int
    output: str
    out: Path

    def report(self) -> dict[str, Any]:
        path = self.out / "report.json"
        assert path.is_file(), f"no report.json; locust said:\n{self.output[-4000:]}"
        report: dict[str, Any] = orjson.loads(path.read_bytes())
        return report

    def stats(self) -> list[dict[str, str]]:
        path = self.out / "stats_stats.csv"
        assert path.is_file(), f"no stats CSV; locust said:\n{self.output[-4000:]}"
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))

    def rows(self, request_type: str) -> dict[str, dict[str, str]]:
        return {r["Name"]: r for r in self.stats() if r["Type"] == request_type}


def locust_command(
    out: Path, *args: str, locustfile: Path = LOCUSTFILE, csv: bool = True
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile),
        "--report-dir",
        str(out),
        *(["--csv", str(out / "stats")] if csv else []),
        "--only-summary",
        "--poll-interval",
        "1",
        *args,
    ]


def run_locust(out: Path, *args: str, timeout: float = 150.0, csv: bool = True) -> LocustRun:
    """``locust --headless ...`` to its end; the combined output is kept for messages."""
    out.mkdir(parents=True, exist_ok=True)
    if "--processes" in args:
        # Locust's master binds 5557 unless told otherwise, and its forked workers connect to
        # --master-port: two such tests at once (xdist) would share one master.
        port = str(free_port())
        args = (*args, "--master-bind-port", port, "--master-port", port)
    try:
        done = subprocess.run(
            locust_command(out, "--headless", *args, csv=csv),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        parts = [exc.stdout or b"", exc.stderr or b""]  # bytes on a timeout, even with text=True
        text = "".join(p if isinstance(p, str) else p.decode(errors="replace") for p in parts)
        raise AssertionError(f"locust did not finish in {timeout} s:\n{text[-4000:]}") from None
    return LocustRun(done.returncode, done.stdout + done.stderr, out)


def scenario_with(path: Path, base: Path = FAST, **replace: str) -> Path:
    """A copy of ``base`` with whole lines replaced (``key = value`` lines, by key) or added."""
    lines = base.read_text().splitlines()
    extra = replace.pop("append", "")
    for key, value in replace.items():
        lines = [
            f"{key} = {value}" if line.split("=")[0].strip() == key else line for line in lines
        ]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path
