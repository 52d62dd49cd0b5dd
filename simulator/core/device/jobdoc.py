"""The job documents a virtual device can run: the AWS IoT Device Client schema.

The device understands the Device Client's current schema::

    {"version": "1.0", "includeStdOut": true,
     "steps": [{"action": {"name": "...", "type": "runHandler",
                           "input": {"handler": "...", "args": ["..."], "path": "default"},
                           "runAsUser": "root", "ignoreStepFailure": "false"}}],
     "finalStep": {"action": {...}}}

``type`` may also be ``runCommand`` (``input.command``). What a step *does* in the simulation is
read from its name or handler (the Device Client's sample handlers are named this way):

==============  ====================================  =========================================
kind            matched by (name or handler contains)  args
==============  ====================================  =========================================
download        ``download``                           ``[url, destination?]``
verify          ``verify`` / ``signature``             ``[file?, signature?]``
install         ``install`` (not ``uninstall``)        ``[package, version, ...]``
uninstall       ``uninstall`` / ``remove``             ``[package, ...]``
other           anything else                          free
==============  ====================================  =========================================

A download whose URL is SigV4-presigned carries the URL's expiry (``X-Amz-Date + X-Amz-Expires``),
read once with the plan: the device fails the download with HTTP 403 if it starts later.

Anything else (no ``steps``, an unknown action type, an install without package and version) is
refused: the device reports REJECTED with the reason, as the Device Client does.
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["JobPlan", "Step", "StepKind", "plan_job", "presigned_expiry"]


class StepKind(enum.Enum):
    __hash__ = object.__hash__  # identity hash: C speed in hot dict lookups

    DOWNLOAD = "download"
    VERIFY = "verify"
    INSTALL = "install"
    UNINSTALL = "uninstall"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    name: str
    args: tuple[str, ...]
    ignore_failure: bool = False
    #: A download's presigned URL expires at this POSIX time (``None``: not presigned).
    expires: int | None = None


@dataclass(frozen=True, slots=True)
class JobPlan:
    """The steps to run, in order (the final step last), or why the document is refused."""

    steps: tuple[Step, ...]
    rejected: str | None = None
    #: (package, version) of each install step, in order (read once per document, not per run).
    installs: tuple[tuple[str, str], ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        installs = tuple((s.args[0], s.args[1]) for s in self.steps if s.kind is StepKind.INSTALL)
        object.__setattr__(self, "installs", installs)  # frozen: derived once, here


def _kind(name: str, handler: str) -> StepKind:
    text = f"{name} {handler}".lower()
    if "uninstall" in text or "remove" in text:
        return StepKind.UNINSTALL
    if "install" in text:
        return StepKind.INSTALL
    if "download" in text:
        return StepKind.DOWNLOAD
    if "verify" in text or "signature" in text:
        return StepKind.VERIFY
    return StepKind.OTHER


def _step(raw: Any, where: str) -> Step | str:
    action = raw.get("action") if isinstance(raw, dict) else None
    if not isinstance(action, dict):
        return f"{where}: missing action"
    name = action.get("name")
    kind_name = action.get("type")
    inputs = action.get("input")
    if not isinstance(name, str) or not name:
        return f"{where}: action.name is required"
    if kind_name not in ("runHandler", "runCommand") or not isinstance(inputs, dict):
        return f"{where}: unsupported action type {kind_name!r}"
    if kind_name == "runHandler":
        handler = inputs.get("handler")
        if not isinstance(handler, str) or not handler:
            return f"{where}: input.handler is required"
        raw_args = inputs.get("args", [])
    else:
        handler = inputs.get("command")
        if not isinstance(handler, str) or not handler:
            return f"{where}: input.command is required"
        parts = handler.split(",")
        handler, raw_args = parts[0], parts[1:]
    if not isinstance(raw_args, list) or not all(isinstance(a, str) for a in raw_args):
        return f"{where}: input.args must be a list of strings"
    kind = _kind(name, handler)
    if kind is StepKind.INSTALL and len(raw_args) < 2:
        return f"{where}: an install step needs args [package, version]"
    if kind is StepKind.UNINSTALL and not raw_args:
        return f"{where}: an uninstall step needs args [package]"
    ignore = action.get("ignoreStepFailure") in ("true", True)
    expires = presigned_expiry(raw_args[0]) if kind is StepKind.DOWNLOAD and raw_args else None
    return Step(kind, name, tuple(raw_args), ignore, expires)


def plan_job(document: Any) -> JobPlan:
    """Read a (substituted) job document into the steps a device runs."""
    if not isinstance(document, dict):
        return JobPlan((), "job document is not a JSON object")
    steps = document.get("steps")
    if not isinstance(document.get("version"), str) or not isinstance(steps, list) or not steps:
        return JobPlan((), "unsupported job document: expected version and steps")
    out: list[Step] = []
    for index, raw in enumerate(steps):
        step = _step(raw, f"steps[{index}]")
        if isinstance(step, str):
            return JobPlan((), step)
        out.append(step)
    final = document.get("finalStep")
    if final is not None:
        step = _step(final, "finalStep")
        if isinstance(step, str):
            return JobPlan((), step)
        out.append(step)
    return JobPlan(tuple(out))


def presigned_expiry(url: str) -> int | None:
    """``X-Amz-Date + X-Amz-Expires`` of a SigV4 presigned URL, ``None`` if it has none."""
    start = url.find("X-Amz-Date=")
    expires_at = url.find("X-Amz-Expires=")
    if start < 0 or expires_at < 0:
        return None
    stamp = url[start + 11 : start + 27]  # e.g. 20261127T015335Z
    end = url.find("&", expires_at)
    try:
        signed = calendar.timegm(
            (
                int(stamp[0:4]),
                int(stamp[4:6]),
                int(stamp[6:8]),
                int(stamp[9:11]),
                int(stamp[11:13]),
                int(stamp[13:15]),
            )
        )
        lifetime = int(url[expires_at + 14 : end if end > 0 else None])
    except ValueError:
        return None
    return signed + lifetime
