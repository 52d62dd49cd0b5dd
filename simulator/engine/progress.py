"""Live progress of a run in the terminal (rich), refreshed a few times a second."""

from __future__ import annotations

import sys

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from simulator.engine.runner import Progress as Snapshot

__all__ = ["ProgressDisplay"]

_STATUS_STYLE = {
    "SUCCEEDED": "green",
    "IN_PROGRESS": "cyan",
    "QUEUED": "blue",
    "FAILED": "red",
    "TIMED_OUT": "magenta",
    "REJECTED": "yellow",
    "CANCELED": "dim",
    "REMOVED": "dim",
}


class ProgressDisplay:
    """Shows run-clock progress, executions per status and ``$package`` consistency."""

    def __init__(self, name: str, devices: int, *, real_clock: bool = False) -> None:
        self._clock_label = "min elapsed" if real_clock else "min simulated"
        self._console = Console(file=sys.stderr)
        self._bar = Progress(
            TextColumn(f"[bold]{name}[/] {devices:,} devices"),
            BarColumn(),
            TextColumn("{task.fields[clock]}"),
            TimeElapsedColumn(),
            console=self._console,
        )
        self._task = self._bar.add_task("run", total=1.0, clock="")
        self._table = Table.grid(padding=(0, 2))
        self._live = Live(
            Group(self._bar, self._table),
            console=self._console,
            refresh_per_second=4,
            transient=False,
        )
        self._live.start()

    def update(self, snap: Snapshot) -> None:
        clock = f"{snap.t / 60:7.1f} {self._clock_label} · {snap.events:,} events"
        self._bar.update(self._task, completed=min(snap.t / snap.max_t, 1.0), clock=clock)
        table = Table.grid(padding=(0, 2))
        table.add_row(
            "executions",
            "  ".join(
                f"[{_STATUS_STYLE.get(k, 'white')}]{k} {v:,}[/]"
                for k, v in sorted(snap.executions.items())
            )
            or "-",
        )
        causes = ", ".join(f"{k} {v:,}" for k, v in sorted(snap.by_cause.items()))
        table.add_row(
            "$package",
            f"[green]consistent {snap.consistent:,}[/]  [red]inconsistent {snap.inconsistent:,}[/]"
            + (f"  ({causes})" if causes else ""),
        )
        self._live.update(Group(self._bar, table))

    def close(self) -> None:
        self._live.stop()
        if not self._console.is_terminal:
            self._console.line()  # Live leaves its last render unterminated off a terminal
