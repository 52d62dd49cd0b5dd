"""Script scenarios: one thing, its catalog, and a timed list of the operations that touch it.

A script is TOML (README.md, "Script scenarios"): the thing (its name, what it runs, its initial
``$package``), the catalog, the manual writers it names, the cause that counts as the anomaly,
and ``[[script]]`` entries ``{at, actor, action, args}``. Decoding is strict and every entry is
turned into a typed operation here (:data:`Operation`), so a player never sees an unknown
action. Only the form is checked, not the history: a step that refers to a job no step created
is legal (a delta-debugging loop removes steps freely) and simply gets its refusal when played.

TOML has no null: ``"$null"`` stands for "not installed" / "remove the entry" wherever a version
goes (as in Jobs' ``destinationPackageVersions``); in Python it is ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

import msgspec

from simulator.core.catalog.spec import CatalogSpec, build_catalog
from simulator.core.errors import UsageError
from simulator.engine.consistency import CAUSES

__all__ = [
    "ACTIONS",
    "NULL",
    "CreateJob",
    "Install",
    "Operation",
    "Read",
    "Report",
    "Script",
    "Step",
    "ThingSpec",
    "Update",
    "Write",
    "dump_script",
    "load_script",
    "parse_script",
]

#: The version that means "none" in a script file.
NULL: Final = "$null"
_NAME: Final = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
_DESTINATION: Final = re.compile(r"([a-zA-Z0-9_.-]{1,128})@(\$default|\$null|[a-zA-Z0-9_.-]{1,64})")

Versions: TypeAlias = dict[str, str | None]


class _Args(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class Install(_Args, frozen=True):
    """``device`` / ``install``: the device now runs ``version`` of ``package`` (None: removed)."""

    package: str
    version: str | None = None


class Report(_Args, frozen=True):
    """``device`` / ``report``: the device writes these versions to its own ``$package``."""

    packages: Versions


class Read(_Args, frozen=True):
    """``<writer>`` / ``read``: GetThingShadow ``$package``; the writer remembers its version."""


class Write(_Args, frozen=True):
    """``<writer>`` / ``write``: UpdateThingShadow ``$package`` with these versions, with the
    version last read as the precondition when ``use_version``."""

    packages: Versions
    use_version: bool = False


class CreateJob(_Args, frozen=True):
    """``jobs`` / ``create``: CreateJob on the thing, ``destination`` = ``PACKAGE@VERSION``;
    ``document``: the job document (default: a one-step install of the destination)."""

    job_id: str
    destination: str
    document: str | None = None


class Update(_Args, frozen=True):
    """``device`` / ``update``: the device's UpdateJobExecution (IN_PROGRESS: it starts the
    execution with StartNextPendingJobExecution, as a device does)."""

    job_id: str
    status: Literal["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"]


Operation: TypeAlias = Install | Report | Read | Write | CreateJob | Update

#: (actor kind, action) -> the type of its arguments; ``writer`` is any declared writer.
ACTIONS: Final[Mapping[tuple[str, str], type[Operation]]] = {
    ("device", "install"): Install,
    ("device", "report"): Report,
    ("device", "update"): Update,
    ("jobs", "create"): CreateJob,
    ("writer", "read"): Read,
    ("writer", "write"): Write,
}
_ACTION_NAMES: Final = {kind: name for (_, name), kind in ACTIONS.items()}


class ThingSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """The one thing: its name, what it runs, and what ``$package`` says at the start."""

    name: str = "device-00000"
    inventory: dict[str, str] = {}
    package_shadow: Versions | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One operation of the script: ``at`` seconds from the start, by ``actor``."""

    at: float
    actor: str
    op: Operation

    @property
    def action(self) -> str:
        return _ACTION_NAMES[type(self.op)]


@dataclass(frozen=True, slots=True)
class Script:
    """A validated script scenario. ``steps`` are in play order (by ``at``, stable)."""

    name: str
    thing: ThingSpec
    catalog: CatalogSpec
    steps: tuple[Step, ...]
    expect: str | None = None
    description: str = ""

    @property
    def writers(self) -> tuple[str, ...]:
        """The writers the steps name, in order of appearance."""
        seen = dict.fromkeys(s.actor for s in self.steps if s.actor not in ("device", "jobs"))
        return tuple(seen)

    def with_steps(self, steps: tuple[Step, ...]) -> Script:
        """The same scenario with other steps (what a shrinker tries)."""
        return Script(
            self.name, self.thing, self.catalog, _ordered(steps), self.expect, self.description
        )


class _Entry(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    at: float
    actor: str
    action: str
    args: dict[str, Any] = {}


class _File(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    name: str = "script"
    description: str = ""
    expect: str | None = None
    writers: list[str] = []
    thing: ThingSpec = ThingSpec()
    catalog: CatalogSpec = CatalogSpec()
    script: list[_Entry] = []


def _ordered(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    return tuple(sorted(steps, key=lambda s: s.at))


def _nulls(value: Any) -> Any:
    """``"$null"`` -> None in version positions (a string or a map's values)."""
    if value == NULL:
        return None
    if isinstance(value, dict):
        return {k: None if v == NULL else v for k, v in value.items()}
    return value


def _operation(i: int, entry: _Entry, writers: set[str], packages: set[str]) -> Step:
    where = f"$.script[{i}]"
    if not (math.isfinite(entry.at) and entry.at >= 0):
        raise UsageError(f"{where}.at: must be a non-negative number of seconds, got {entry.at}")
    if entry.actor in ("device", "jobs"):
        kind = entry.actor
    elif entry.actor in writers:
        kind = "writer"
    else:
        known = ", ".join(["device", "jobs", *sorted(writers)])
        raise UsageError(f"{where}.actor: unknown actor {entry.actor!r}; use {known}")
    cls = ACTIONS.get((kind, entry.action))
    if cls is None:
        allowed = ", ".join(a for k, a in ACTIONS if k == kind)
        raise UsageError(
            f"{where}.action: {entry.actor} cannot {entry.action!r}; its actions: {allowed}"
        )
    args = dict(entry.args)
    for key in ("version", "packages"):
        if key in args:
            args[key] = _nulls(args[key])
    try:
        op = msgspec.convert(args, type=cls)
    except msgspec.ValidationError as exc:
        raise UsageError(f"{where}.args: {exc}") from None
    named = [op.package] if isinstance(op, Install) else []
    if isinstance(op, Report | Write):
        named = list(op.packages)
    if isinstance(op, CreateJob):
        match = _DESTINATION.fullmatch(op.destination)
        if match is None:
            raise UsageError(
                f"{where}.args.destination: expected PACKAGE@VERSION, got {op.destination!r}"
            )
        named = [match[1]]
    unknown = [p for p in named if p not in packages]
    if unknown:
        raise UsageError(f"{where}.args: package {unknown[0]!r} is not in the catalog")
    return Step(entry.at, entry.actor, op)


def _build(spec: _File) -> Script:
    if spec.expect is not None and spec.expect not in CAUSES:
        raise UsageError(f"$.expect: unknown cause {spec.expect!r}; use {', '.join(CAUSES)}")
    if not _NAME.fullmatch(spec.thing.name):
        raise UsageError("$.thing.name: not a thing name (1-128 of a-z A-Z 0-9 : _ -)")
    writers = set(spec.writers)
    for name in spec.writers:
        if name in ("device", "jobs") or not _NAME.fullmatch(name):
            raise UsageError(f"$.writers: {name!r} cannot name a writer")
    try:
        build_catalog(spec.catalog)
    except UsageError as exc:
        raise UsageError(f"$.catalog{exc.message.removeprefix('$')}") from None
    packages = {p.name for p in spec.catalog.packages}
    thing = msgspec.structs.replace(
        spec.thing,
        package_shadow=None
        if spec.thing.package_shadow is None
        else _nulls(dict(spec.thing.package_shadow)),
    )
    for package in [*thing.inventory, *(thing.package_shadow or {})]:
        if package not in packages:
            raise UsageError(f"$.thing: package {package!r} is not in the catalog")
    steps = tuple(_operation(i, entry, writers, packages) for i, entry in enumerate(spec.script))
    if not steps:
        raise UsageError("$.script: give at least one [[script]] entry")
    return Script(spec.name, thing, spec.catalog, _ordered(steps), spec.expect, spec.description)


def parse_script(data: bytes, *, source: str = "script") -> Script:
    """Decode and validate a script file's bytes.

    Raises:
        UsageError: not TOML, a wrong field, an unknown actor or action, named by its path.
    """
    try:
        spec = msgspec.toml.decode(data, type=_File)
    except msgspec.ValidationError as exc:
        raise UsageError(f"{source}: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise UsageError(f"{source}: not valid TOML: {exc}") from None
    try:
        return _build(spec)
    except UsageError as exc:
        raise UsageError(f"{source}: {exc.message}") from None


def load_script(path: Path) -> Script:
    """Read and validate a script file (see :func:`parse_script`)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read script {path}: {exc.strerror}") from None
    return parse_script(data, source=path.name)


# -- writing ---------------------------------------------------------------------------------


def dump_script(script: Script) -> str:
    """The script as a TOML file :func:`parse_script` reads back to an equal :class:`Script`."""
    thing: dict[str, Any] = {"name": script.thing.name, "inventory": script.thing.inventory}
    if script.thing.package_shadow is not None:
        thing["package_shadow"] = _file_versions(script.thing.package_shadow)
    top: dict[str, Any] = {"name": script.name}
    if script.description:
        top["description"] = script.description
    if script.expect is not None:
        top["expect"] = script.expect
    top["writers"] = list(script.writers)
    top["thing"] = thing
    top["catalog"] = _no_nones(msgspec.to_builtins(script.catalog))
    top["script"] = [
        {"at": step.at, "actor": step.actor, "action": step.action, "args": _args(step.op)}
        for step in script.steps
    ]
    return "\n".join(_table([], top)) + "\n"


def _file_versions(versions: Mapping[str, str | None]) -> dict[str, str]:
    return {p: NULL if v is None else v for p, v in versions.items()}


def _args(op: Operation) -> dict[str, Any]:
    args: dict[str, Any] = msgspec.to_builtins(op)
    if isinstance(op, Install):
        args["version"] = NULL if op.version is None else op.version
    if isinstance(op, Report | Write):
        args["packages"] = _file_versions(op.packages)
    return {k: v for k, v in args.items() if v is not None}


def _no_nones(value: Any) -> Any:
    """TOML has no null: an absent optional field is left out."""
    if isinstance(value, dict):
        return {k: _no_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nones(v) for v in value]
    return value


def _has_tables(value: Any) -> bool:
    if isinstance(value, list):
        return any(isinstance(v, dict) for v in value)
    if isinstance(value, dict):
        return any(_has_tables(v) for v in value.values())
    return False


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return msgspec.json.encode(value).decode()  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    inner = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items())
    return "{ " + inner + " }" if inner else "{}"


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _value(key)


def _table(path: list[str], table: dict[str, Any]) -> list[str]:
    lines = [f"{_key(k)} = {_value(v)}" for k, v in table.items() if not _has_tables(v)]
    for key, value in table.items():
        if not _has_tables(value):
            continue
        sub = [*path, _key(key)]
        if isinstance(value, dict):
            lines += ["", f"[{'.'.join(sub)}]", *_table(sub, value)]
        else:
            for item in value:
                lines += ["", f"[[{'.'.join(sub)}]]", *_table(sub, item)]
    return lines
