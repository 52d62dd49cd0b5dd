"""Explain one device's ``$package`` inconsistency from the run's history: which operation made
``$package`` wrong, and the anomaly it is an instance of.

The checker replays the device's history (:mod:`simulator.lab.history`): what the device runs
(``init``, then its inventory changes) against what ``$package`` says (``init``, then each
accepted write's ``pkg``). The *culprit* is the operation after which they last came to
disagree (and never agreed again). Its kind names the anomaly:

=====================  ========================================================================
anomaly                what happened (the consistency tracker's usual cause)
=====================  ========================================================================
lost update            a writer read ``$package``, another write landed, and the writer wrote
                       back what it had read without a version precondition
                       (``manual_overwrite``)
uninstall re-added     the same, where the write it undid was a ``$null`` uninstall: the entry of
                       a package the device no longer has is back (``manual_overwrite``,
                       ``stale_entry``)
stale write            a writer wrote entries the device does not run with no newer write to
                       undo (``manual_overwrite``)
stale report           Jobs or the device wrote a version the device does not run (a
                       SUCCEEDED write after a rollback, a delayed or repeated report, a report
                       redelivered after the device's newer one)
                       (``phantom_version``, ``stale_entry``, ``missing_entry``)
missed report          the device installed, uninstalled or rolled back, and nobody wrote
                       ``$package`` after it (a failed or timed-out execution after an install,
                       a rollback after a reboot, Jobs' update disabled) (``not_reported``)
initial mismatch       ``$package`` was wrong before the run began (``missing_entry``,
                       ``stale_entry``)
deleted                ``$package`` was deleted
=====================  ========================================================================

The cause is derived from the history exactly as :class:`~simulator.engine.consistency.
ConsistencyTracker` derives it live (the last writer, and the last write and change times).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from simulator.core.errors import UsageError
from simulator.engine.consistency import CAUSES
from simulator.lab.history import DeviceHistory, Op

__all__ = ["ANOMALIES", "Explanation", "describe", "example_device", "explain", "timeline_text"]

ANOMALIES: Final = (
    "lost update",
    "uninstall re-added",
    "stale write",
    "stale report",
    "missed report",
    "initial mismatch",
    "deleted",
)
#: Writers the tracker does not count as manual (``initial``: set-up, before the history).
_SERVICE_WRITERS: Final = frozenset({"jobs", "device", "initial", "none"})
_NEVER: Final = (float("-inf"), -1)

Versions = Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class Explanation:
    """What made one device's ``$package`` wrong.

    Attributes:
        device: the thing name.
        runs: package -> version the device runs at the end.
        says: package -> version ``$package`` names at the end (``None``: no version).
        cause: the consistency tracker's cause, derived from the history.
        anomaly: one of :data:`ANOMALIES`.
        verdict: one sentence naming the operations involved, with their times and actors.
        culprit: the operation that made ``$package`` wrong.
        involved: the operations the verdict names, in history order (the culprit last but
            for a missed report's later transitions).
        timeline: the device's whole history.
    """

    device: str
    runs: dict[str, str]
    says: dict[str, str | None]
    cause: str
    anomaly: str
    verdict: str
    culprit: Op
    involved: tuple[Op, ...]
    timeline: tuple[Op, ...]

    def as_dict(self) -> dict[str, Any]:
        """The explanation as JSON-ready data (``fleetsim explain --json``)."""
        return {
            "device": self.device,
            "runs": self.runs,
            "says": self.says,
            "cause": self.cause,
            "anomaly": self.anomaly,
            "verdict": self.verdict,
            "culprit": self.culprit.seq,
            "involved": [op.seq for op in self.involved],
            "timeline": [op.as_dict() for op in self.timeline],
        }


def explain(history: DeviceHistory) -> Explanation:
    """Explain the inconsistency of ``history``'s device.

    Raises:
        UsageError: the device has no history, or its ``$package`` agrees with what it runs.
    """
    ops = history.ops
    if not ops or ops[0].kind != "init":
        raise UsageError(f"no device {history.device} in the run's history")
    replay = _Replay(ops[0])
    for op in ops[1:]:
        replay.apply(op)
    if replay.agrees():
        raise UsageError(
            f"{history.device}: $package agrees with what the device runs "
            f"({_versions(replay.runs) or 'nothing'}): no inconsistency to explain"
        )
    culprit = ops[replay.wrong_since]
    anomaly, involved = _anomaly(ops, culprit)
    return Explanation(
        device=history.device,
        runs=dict(replay.runs),
        says=dict(replay.says),
        cause=replay.cause(),
        anomaly=anomaly,
        verdict=_verdict(anomaly, involved, replay, ops[culprit.seq + 1 :]),
        culprit=culprit,
        involved=tuple(involved),
        timeline=ops,
    )


class _Replay:
    """The device and its ``$package`` through the history, and the tracker's bookkeeping."""

    def __init__(self, init: Op) -> None:
        self.runs: dict[str, str] = dict(init.fields.get("inv") or {})
        self.says: dict[str, str | None] = dict(init.fields.get("pkg") or {})
        self.version = int(init.fields.get("v") or 0)
        self.last_writer = "none"
        self.written_at: tuple[float, int] = _NEVER
        self.changed_at: tuple[float, int] = _NEVER
        self.wrong_since = 0

    def agrees(self) -> bool:
        return self.runs == self.says

    def apply(self, op: Op) -> None:
        before = self.agrees()
        when = (op.t, op.seq)
        if op.kind == "inv":
            version = op.fields.get("ver")
            package = str(op.fields.get("pkg"))
            if version is None:
                self.runs.pop(package, None)
            else:
                self.runs[package] = str(version)
            self.changed_at = when
        elif op.kind == "write" and op.fields.get("ans") == "accepted":
            self.says = dict(op.fields.get("pkg") or {})
            self.version = int(op.fields.get("v") or self.version)
            # The tracker: a manual write on a $package already wrong takes no blame.
            if op.actor in _SERVICE_WRITERS or before:
                self.last_writer = op.actor
                self.written_at = when
        elif op.kind == "delete":
            self.says = {}
            self.last_writer = op.actor
            self.written_at = when
        else:
            return
        if before and not self.agrees():
            self.wrong_since = op.seq

    def cause(self) -> str:
        """:meth:`ConsistencyTracker.classify`, on the replayed state."""
        if self.last_writer not in _SERVICE_WRITERS and self.written_at >= self.changed_at:
            return "manual_overwrite"
        for package in sorted(self.runs.keys() | self.says.keys()):
            have, says = self.runs.get(package), self.says.get(package)
            if have == says:
                continue
            if says is None and package not in self.says:
                return "missing_entry"
            if have is None:
                return "stale_entry"
            if self.changed_at >= self.written_at:
                return "not_reported"
            return "phantom_version"
        return "phantom_version"  # pragma: no cover - called on a disagreement only


def _anomaly(ops: Sequence[Op], culprit: Op) -> tuple[str, list[Op]]:
    """The anomaly the culprit is an instance of, and the operations that show it."""
    if culprit.kind == "init":
        return "initial mismatch", [culprit]
    if culprit.kind == "delete":
        return "deleted", [culprit]
    if culprit.kind == "inv":
        # What followed: the execution's outcome, and Jobs' silence if it SUCCEEDED.
        after = [op for op in ops[culprit.seq + 1 :] if op.kind == "exec"]
        return "missed report", [culprit, *after[:1]]
    assert culprit.kind == "write"
    if culprit.actor in _SERVICE_WRITERS:
        before = [
            op
            for op in ops[: culprit.seq]
            if op.kind == "inv" or (op.kind == "exec" and op.fields.get("to") == "SUCCEEDED")
        ]
        return "stale report", [*before[-2:], *_overtaken(ops, culprit), culprit]
    # The writer's read this write came from: the last one of the version it says it read.
    version_read = culprit.fields.get("read")
    read = next(
        (
            op
            for op in reversed(ops[: culprit.seq])
            if op.kind == "read"
            and op.actor == culprit.actor
            and (version_read is None or op.fields.get("v") == version_read)
        ),
        None,
    )
    if read is None:
        return "stale write", [culprit]
    between = [
        op
        for op in ops[read.seq + 1 : culprit.seq]
        if op.kind == "write" and op.fields.get("ans") == "accepted" and op.actor != culprit.actor
    ]
    if not between:
        return "stale write", [read, culprit]
    wrote = set((culprit.fields.get("set") or {}).keys())
    undone = next(
        (op for op in reversed(between) if wrote & set((op.fields.get("set") or {}).keys())),
        between[-1],
    )
    removed = {p for p, v in (undone.fields.get("set") or {}).items() if v is None}
    if removed & wrote:
        return "uninstall re-added", [read, undone, culprit]
    return "lost update", [read, undone, culprit]


# -- the verdict's words -----------------------------------------------------------------------


def _who(actor: str) -> str:
    return {"jobs": "Jobs", "device": "the device"}.get(actor, actor)


def _versions(versions: Versions | None) -> str:
    if not versions:
        return ""
    return ", ".join(
        f"{p} {v}" if v is not None else f"{p} (no version)" for p, v in sorted(versions.items())
    )


def _entries(entries: Versions | None) -> str:
    if not entries:
        return "nothing"
    return ", ".join(
        f"{p} {v}" if v is not None else f"{p} removed ($null)" for p, v in sorted(entries.items())
    )


def _at(op: Op) -> str:
    return f"at {op.t:.1f} s"


def _write(op: Op) -> str:
    """``Jobs wrote version 8 (agent 1.2.0) at 613.0 s``."""
    return (
        f"{_who(op.actor)} wrote version {op.fields.get('v')} "
        f"({_entries(op.fields.get('set') or op.fields.get('pkg'))}) {_at(op)}"
    )


def _precondition(op: Op) -> str:
    pre = op.fields.get("pre")
    return "without a version" if pre is None else f"with version {pre}"


def _verdict(anomaly: str, involved: Sequence[Op], replay: _Replay, after: Sequence[Op]) -> str:
    """The verdict's sentence (``after``: the operations after the culprit)."""
    runs, says = _versions(replay.runs) or "nothing", _versions(replay.says) or "nothing"
    culprit = next(op for op in reversed(involved) if op.kind != "exec")
    if anomaly in ("lost update", "uninstall re-added"):
        read, undone, write = involved
        back = "back " if anomaly == "uninstall re-added" else ""
        return (
            f"{anomaly}: {_who(read.actor)} read version {read.fields.get('v')} {_at(read)}, "
            f"{_write(undone)}, {_who(write.actor)} wrote {_entries(write.fields.get('set'))} "
            f"{back}{_precondition(write)} {_at(write)} (version {write.fields.get('v')}); "
            f"the device runs {runs}"
        )
    if anomaly == "stale write":
        reading = (
            f" after reading version {involved[0].fields.get('v')}" if len(involved) > 1 else ""
        )
        return (
            f"stale write: {_who(culprit.actor)} wrote {_entries(culprit.fields.get('set'))} "
            f"{_precondition(culprit)} {_at(culprit)}{reading}; the device runs {runs}"
        )
    if anomaly == "stale report":
        context = "; ".join(describe(op) for op in involved if op is not culprit)
        return (
            f"stale report: {_write(culprit)}"
            + (f" after {context}" if context else "")
            + _late_jobs_write(culprit, involved)
            + _late_report(culprit, involved)
            + f"; the device runs {runs}"
        )
    if anomaly == "missed report":
        change = involved[0]
        outcome = f"; then {describe(involved[1])}" if len(involved) > 1 else ""
        if len(involved) > 1 and involved[1].fields.get("to") == "SUCCEEDED":
            outcome += ", and Jobs did not write $package for it"
        rewrites = sorted(
            {
                _who(op.actor)
                for op in after
                if op.kind == "write" and op.fields["ans"] == "accepted"
            }
        )
        wrote = (
            f"only {', '.join(rewrites)} wrote $package after it, not the change"
            if rewrites
            else "nobody wrote $package after it"
        )
        return (
            f"missed report: {describe(change)}{outcome}; {wrote}; $package still says {says} "
            f"(version {replay.version})"
        )
    if anomaly == "initial mismatch":
        return f"initial mismatch: $package said {says} as the run began; the device runs {runs}"
    return f"deleted: {_who(culprit.actor)} deleted $package {_at(culprit)}"


def _overtaken(ops: Sequence[Op], culprit: Op) -> list[Op]:
    """The device's own newer report that landed before ``culprit``, a report of the device
    (``[]`` when there is none): a report delivered late, after the one sent after it."""
    if culprit.actor != "device":
        return []
    newer: list[Op] = []
    for op in ops[: culprit.seq]:
        if op.kind == "inv":
            newer.clear()  # only a report of the device's latest change is newer
        elif op.kind == "write" and op.actor == "device" and op.fields.get("ans") == "accepted":
            newer.append(op)
    return newer[-1:]


def _late_report(culprit: Op, involved: Sequence[Op]) -> str:
    """A device report that landed after the device's newer one (``delivered out of order``),
    or nothing."""
    if culprit.actor != "device" or not any(
        op.kind == "write" and op.actor == "device" for op in involved if op is not culprit
    ):
        return ""
    return (
        f" (the report of {_entries(culprit.fields.get('set'))} was sent before that newer one and"
        " delivered after it: a report redelivered late, out of order, as a QoS 1 publish can be"
        " after a dropped connection)"
    )


def _late_jobs_write(culprit: Op, involved: Sequence[Op]) -> str:
    """Jobs' write for a SUCCEEDED that came after the device's rollback (``Jobs' write lagged
    its SUCCEEDED by 45.0 s``), or nothing."""
    if culprit.actor != "jobs":
        return ""
    succeeded = next(
        (op for op in involved if op.kind == "exec" and op.fields.get("to") == "SUCCEEDED"), None
    )
    rollback = next(
        (op for op in involved if op.kind == "inv" and op.fields.get("op") == "rollback"), None
    )
    if succeeded is None or rollback is None or rollback.t < succeeded.t:
        return ""
    return (
        f" (Jobs' write lagged that SUCCEEDED by {culprit.t - succeeded.t:.1f} s and landed after"
        " the rollback: a rollback racing Jobs' SUCCEEDED write)"
    )


def describe(op: Op) -> str:
    """One operation of a timeline in words."""
    f = op.fields
    if op.kind == "inv":
        verb = {"install": "installed", "uninstall": "uninstalled", "rollback": "rolled back"}
        what = (
            f"{f.get('pkg')} to {f.get('ver')}"
            if f.get("op") == "rollback" and f.get("ver") is not None
            else f"{f.get('pkg')} {f.get('ver') or ''}".rstrip()
        )
        return f"the device {verb.get(str(f.get('op')), str(f.get('op')))} {what} {_at(op)}"
    if op.kind == "exec":
        return (
            f"execution {f.get('job')}#{f.get('n')} went {f.get('from') or 'new'} -> "
            f"{f.get('to')} ({op.actor}) {_at(op)}"
        )
    if op.kind == "read":
        return f"{_who(op.actor)} read version {f.get('v')} ({_versions(f.get('pkg'))}) {_at(op)}"
    if op.kind == "write":
        if f.get("ans") != "accepted":
            return (
                f"{_who(op.actor)}'s write of {_entries(f.get('set'))} {_precondition(op)} was "
                f"refused ({f.get('ans')}) {_at(op)}"
            )
        return _write(op)
    if op.kind == "delete":
        return f"{_who(op.actor)} deleted $package {_at(op)}"
    return (
        f"the run began: the device ran {_versions(f.get('inv')) or 'nothing'}, $package version "
        f"{f.get('v')} said {_versions(f.get('pkg')) or 'nothing'}"
    )


def timeline_text(op: Op) -> str:
    """What one operation did, for a timeline row (its time and actor are shown apart)."""
    f = op.fields
    if op.kind == "init":
        return (
            f"runs {_versions(f.get('inv')) or 'nothing'}; $package version {f.get('v')}: "
            f"{_versions(f.get('pkg')) or 'nothing'}"
        )
    if op.kind == "read":
        if f.get("v") is None:
            return "read $package: none"
        return f"read $package version {f.get('v')}: {_versions(f.get('pkg'))}"
    if op.kind == "write":
        what = f"wrote {_entries(f.get('set'))} {_precondition(op)}"
        if f.get("ans") != "accepted":
            return f"{what}: refused ({f.get('ans')})"
        return f"{what}: version {f.get('v')}, $package {_versions(f.get('pkg')) or 'empty'}"
    if op.kind == "inv":
        package, version = f.get("pkg"), f.get("ver")
        if f.get("op") == "rollback":
            return f"rolled back {package} to {version or 'nothing'}"
        return f"installed {package} {version}" if version else f"uninstalled {package}"
    if op.kind == "exec":
        return f"execution {f.get('job')}#{f.get('n')} {f.get('from') or 'new'} -> {f.get('to')}"
    return "deleted $package"


def example_device(report: Mapping[str, Any], cause: str | None) -> str:
    """The first example device of ``cause`` in a ``report.json`` (of any cause, in the
    tracker's order, when ``cause`` is ``None``).

    Raises:
        UsageError: an unknown cause, or no example of it in the report.
    """
    shadow = report.get("shadow") if isinstance(report, Mapping) else None
    examples = shadow.get("examples") if isinstance(shadow, Mapping) else None
    if not isinstance(examples, Mapping):
        raise UsageError("the run's report.json has no shadow.examples (an older run?)")
    if cause is not None:
        if cause not in CAUSES:
            raise UsageError(f"unknown cause {cause!r} (one of: {', '.join(CAUSES)})")
        names = examples.get(cause) or []
        if not names:
            raise UsageError(f"no device of cause {cause} in the run's report")
        return str(names[0])
    for known in CAUSES:
        names = examples.get(known) or []
        if names:
            return str(names[0])
    raise UsageError("the run's report names no inconsistent device: nothing to explain")
