"""One device's inconsistency as a standalone, minimal script scenario (``fleetsim repro``).

:func:`script_of` turns the device's history (:mod:`simulator.lab.history`) into a script
(:mod:`simulator.lab.script`): the device as the run began, the run's catalog, and one step per
operation the script format can express, at its time:

=================================================  ============================================
history                                            script step
=================================================  ============================================
``exec`` new -> QUEUED (execution 1)               ``jobs`` / ``create`` (the scenario's job)
``exec`` -> IN_PROGRESS, SUCCEEDED, FAILED,        ``device`` / ``update``
REJECTED by the device
``inv`` (install, uninstall, rollback)             ``device`` / ``install``
``read`` by a writer                               ``<writer>`` / ``read``
``write`` by a writer (accepted or refused)        ``<writer>`` / ``write`` (``use_version``
                                                   when it sent a precondition)
``write`` by the device                            ``device`` / ``report``
=================================================  ============================================

Jobs' own ``$package`` write is not a step: the player's control plane makes it on SUCCEEDED,
as the run's did. A timeout, a retry's execution or a cancellation has no step either (the
script format has none); the shrinker then decides whether what remains still reproduces.

:func:`shrink` is delta debugging (Zeller's ddmin) over the steps, with the in-process player
(:func:`simulator.lab.replay.play`) as the oracle: the result reproduces the same cause, and no
single step can be removed without losing it (1-minimal). :func:`merge` then tries to make two
steps one where one request can do what both did: two ``$package`` reports of the device, or two
writes of the same writer with the same precondition choice, become one with the entries of both
(the later one's where they overlap), at either step's time. A merge that still reproduces is
kept and the script shrunk again, until no step can be removed and no two merged. Protocol steps
(CreateJob, a device's execution updates) and reads are never merged: each is its own request,
and two installs of one package merged would only be the later one, which removal already tried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from simulator.core.errors import UsageError
from simulator.engine.scenario import Scenario
from simulator.lab.explain import Explanation
from simulator.lab.history import DeviceHistory, Op
from simulator.lab.replay import Outcome, play
from simulator.lab.script import (
    CreateJob,
    Install,
    Operation,
    Read,
    Report,
    Script,
    Step,
    ThingSpec,
    Update,
    Write,
)

__all__ = ["Repro", "merge", "reproduce", "script_of", "shrink"]

_DEVICE_STATUSES: Final = frozenset({"IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"})


@dataclass(frozen=True, slots=True)
class Repro:
    """A minimal script, with what it was shrunk from and how it plays.

    Attributes:
        script: the minimal script (its ``expect`` is the cause).
        full: the script of the whole history.
        outcome: the minimal script played in process.
        plays: how many plays the shrinking took.
    """

    script: Script
    full: Script
    outcome: Outcome
    plays: int


def script_of(
    history: DeviceHistory, explanation: Explanation, scenario: Scenario
) -> tuple[Script, frozenset[int]]:
    """The device's history as a script expecting ``explanation.cause`` (see the module
    docstring), and the steps of the operations the explanation names (a lost update's read
    and write: the shrinker keeps them, so the script still shows the same anomaly).

    Raises:
        UsageError: the history has no operation a script can play.
    """
    init = history.ops[0]
    destinations = {job.id: job.destination_package_versions for job in scenario.jobs}
    named = {op.seq for op in explanation.involved}
    steps: list[Step] = []
    pinned: set[int] = set()  # positions in the script's steps (history order: time order)
    for op in history.ops[1:]:
        step = _step(op, destinations)
        if step is not None:
            if op.seq in named:
                pinned.add(len(steps))
            steps.append(step)
    if not steps:
        raise UsageError(f"{history.device}: no operation of its history can be scripted")
    shown = init.fields.get("pkg") if init.fields.get("v") else None
    script = Script(
        name=f"repro-{history.device}",
        thing=ThingSpec(
            name=history.device,
            inventory=dict(init.fields.get("inv") or {}),
            package_shadow=None if shown is None else dict(shown),
        ),
        catalog=scenario.catalog,
        steps=tuple(steps),
        expect=explanation.cause,
        description=(
            f"{explanation.anomaly} on {history.device} in a run of {scenario.path} "
            f"(seed {scenario.run.seed}). {explanation.verdict}"
        ),
    )
    return script, frozenset(pinned)


def _from_zero(script: Script) -> Script:
    """The script with its first step at 0 s (a replay against AWS need not wait)."""
    start = script.steps[0].at
    moved = tuple(Step(round(s.at - start, 3), s.actor, s.op) for s in script.steps)
    note = f". The script's 0 s is {start:.3f} s of the run."
    return Script(
        script.name, script.thing, script.catalog, moved, script.expect, script.description + note
    )


def _step(op: Op, destinations: dict[str, list[str]]) -> Step | None:
    f = op.fields
    operation: Operation | None = None
    actor = op.actor
    if op.kind == "exec":
        job = str(f.get("job"))
        if f.get("from") is None:
            targets = destinations.get(job) or []
            if f.get("n") == 1 and len(targets) == 1:
                actor, operation = "jobs", CreateJob(job_id=job, destination=targets[0])
        elif actor == "device" and f.get("to") in _DEVICE_STATUSES:
            operation = Update(job_id=job, status=f["to"])
    elif op.kind == "inv":
        operation = Install(package=str(f.get("pkg")), version=f.get("ver"))
    elif op.kind == "read" and actor not in ("jobs", "device"):
        operation = Read()
    elif op.kind == "write" and f.get("set") is not None:
        if actor == "device":
            operation = Report(packages=dict(f["set"]))
        elif actor != "jobs":
            operation = Write(packages=dict(f["set"]), use_version=f.get("pre") is not None)
    return None if operation is None else Step(op.t, actor, operation)


def shrink(
    script: Script, oracle: Callable[[Script], bool], pinned: frozenset[int] = frozenset()
) -> tuple[Script, int]:
    """The smallest script ddmin finds that ``oracle`` still accepts, with the steps at the
    ``pinned`` positions kept, and the plays it took. ``oracle(script)`` must accept
    ``script`` itself.
    """
    plays = 0
    kept = [s for i, s in enumerate(script.steps) if i in pinned]

    def test(steps: Sequence[Step]) -> bool:
        nonlocal plays
        plays += 1
        return oracle(script.with_steps((*kept, *steps)))

    steps = [s for i, s in enumerate(script.steps) if i not in pinned]
    n = 2
    while len(steps) >= 2:
        chunks = _split(steps, n)
        for i, chunk in enumerate(chunks):
            if test(chunk):
                steps, n = chunk, 2
                break
            rest = [s for j, c in enumerate(chunks) if j != i for s in c]
            if n > 2 and test(rest):
                steps, n = rest, max(n - 1, 2)
                break
        else:
            if n >= len(steps):
                break
            n = min(len(steps), 2 * n)
    if len(steps) == 1 and test([]):
        steps = []
    return script.with_steps((*kept, *steps)), plays


def _merges(a: Step, b: Step) -> list[Step]:
    """The single steps that could replace ``a`` then ``b`` (none when one request cannot)."""
    if a.actor != b.actor:
        return []
    first, second = a.op, b.op
    op: Operation
    if isinstance(first, Report) and isinstance(second, Report):
        op = Report(packages={**first.packages, **second.packages})
    elif (
        isinstance(first, Write)
        and isinstance(second, Write)
        and first.use_version == second.use_version
    ):
        op = Write(packages={**first.packages, **second.packages}, use_version=first.use_version)
    else:
        return []
    return [Step(b.at, b.actor, op), Step(a.at, a.actor, op)]


def merge(
    script: Script, oracle: Callable[[Script], bool], keep: Sequence[Step] = ()
) -> tuple[Script, int]:
    """``script`` with pairs of steps merged (see the module docstring) while ``oracle`` still
    accepts it, never one of the ``keep`` steps (these very objects); returns it and the plays
    it took."""
    plays = 0
    kept = {id(step) for step in keep}  # steps hold dicts: no hash, identity it is
    steps = script.steps
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(steps):
            if id(a) in kept:
                continue
            for j in range(i + 1, len(steps)):
                b = steps[j]
                if id(b) in kept:
                    continue
                rest = steps[:i] + steps[i + 1 : j] + steps[j + 1 :]
                for one in _merges(a, b):
                    plays += 1
                    trial = script.with_steps((*rest, one))
                    if oracle(trial):
                        steps, merged = trial.steps, True
                        break
                if merged:
                    break
            if merged:
                break
    return script.with_steps(steps), plays


def _split(steps: list[Step], n: int) -> list[list[Step]]:
    size, extra = divmod(len(steps), n)
    out, at = [], 0
    for i in range(n):
        end = at + size + (1 if i < extra else 0)
        out.append(steps[at:end])
        at = end
    return [chunk for chunk in out if chunk]


def reproduce(history: DeviceHistory, explanation: Explanation, scenario: Scenario) -> Repro:
    """The minimal script of ``history``'s inconsistency.

    Raises:
        UsageError: the whole history, as a script, does not reproduce the cause in process.
    """
    full, pinned = script_of(history, explanation, scenario)

    def oracle(script: Script) -> bool:
        return play(script).reproduced

    played = play(full)
    if not played.reproduced:
        raise UsageError(
            f"{history.device}: its history as a script does not reproduce "
            f"{explanation.cause} in process ({played.summary()})"
        )
    keep = [full.steps[i] for i in pinned]
    kept_ids = {id(step) for step in keep}
    minimal, plays = shrink(full, oracle, pinned)
    while True:  # each merge takes a step away: this ends
        merged, more = merge(minimal, oracle, keep)
        plays += more
        if len(merged.steps) == len(minimal.steps):
            break
        # A merged step may make another removable.
        kept = frozenset(i for i, step in enumerate(merged.steps) if id(step) in kept_ids)
        minimal, more = shrink(merged, oracle, kept)
        plays += more
    minimal = _from_zero(minimal)
    return Repro(minimal, full, play(minimal), plays + 2)
