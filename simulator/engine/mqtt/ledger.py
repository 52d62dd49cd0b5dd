"""What the devices of an MQTT run did, as their link saw it: for tests, reports and benchmarks.

Which executions each device started (a device must never run one twice), and the message counts
and times that bound a rollout (the MQTT benchmark's throughput window).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RunLedger"]


@dataclass(slots=True)
class RunLedger:
    """What the devices did, as the link saw it.

    Attributes:
        started: per device index, the (jobId, executionNumber) of every execution it started.
        terminal_answers: terminal updates answered (accepted, or refused as already applied).
        wakeups: ``notify-next`` wake-ups handed to idle devices after a lost session.
        offline: times a connection went offline (dropped, or closed at the end).
        first_notify_at: wall time of the first ``notify-next`` any device received.
        last_terminal_at: wall time of the last terminal update answered.
        messages_at_first_notify: messages (sent + received) when the first one arrived.
        messages_at_last_terminal: messages (sent + received) at ``last_terminal_at``.
    """

    started: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    terminal_answers: int = 0
    wakeups: int = 0
    offline: int = 0
    first_notify_at: float | None = None
    last_terminal_at: float | None = None
    messages_at_first_notify: int = 0
    messages_at_last_terminal: int = 0

    def repeated_runs(self) -> dict[int, list[tuple[str, int]]]:
        """Devices that started some execution more than once, with what they started."""
        return {i: runs for i, runs in self.started.items() if len(set(runs)) != len(runs)}

    def window(self) -> dict[str, float]:
        """The rollout as the devices saw it, first ``notify-next`` to last terminal answer:
        its wall seconds, messages and messages per second (empty before one finished)."""
        first, last = self.first_notify_at, self.last_terminal_at
        if first is None or last is None or last <= first:
            return {}
        messages = self.messages_at_last_terminal - self.messages_at_first_notify
        return {
            "rollout_wall_s": last - first,
            "rollout_messages": messages,
            "rollout_messages_per_s": messages / (last - first),
        }
