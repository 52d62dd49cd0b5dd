"""``--vary PATH=V1,V2``: scenario fields addressed by path, and the variants they make.

A path names a field of the scenario file with dots: ``device.reports_package_shadow``,
``catalog.configuration.version_update_by_jobs``. An entry of a list of tables is addressed by
its ``name`` (``writers.cmdb-sync.use_version``, ``dynamic_groups.agent-1-0.query``), its ``id``
(``jobs.agent-1-2-0.timeout.inProgressTimeoutInMinutes``), its ``package``
(``fleet.inventory.agent.in_shadow``) or its position (``writers.0.rate_per_s``).

Values are TOML scalars (``true``, ``5``, ``0.25``, ``"text"``); text that is not TOML is taken
as a string, so a distribution reads as written: ``device.reboot_duration=uniform(30, 120)``.
Values are split on the commas outside brackets and quotes.

The overridden file is decoded again through the scenario's own msgspec model and rules, so a
wrong path or type fails with the message ``fleetsim run`` gives for the same mistake in a file.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from simulator.core.errors import UsageError
from simulator.engine.scenario import Scenario

__all__ = ["Variant", "Vary", "apply_overrides", "parse_vary", "variants"]

#: The keys that name an entry of a list of tables, in the order they are tried.
_ENTRY_KEYS: Final = ("name", "id", "package")
#: Fields the sweep sets itself.
_RESERVED: Final = {"run.seed": "--seeds", "fleet.devices": "--devices"}


@dataclass(frozen=True, slots=True)
class Vary:
    """One ``--vary``: a path and the values it takes, in order."""

    path: str
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Variant:
    """One point of the matrix: the value of each varied path (empty: the scenario as is)."""

    overrides: tuple[tuple[str, Any], ...]

    def label(self) -> str:
        if not self.overrides:
            return "scenario as written"
        return ", ".join(f"{path}={_show(value)}" for path, value in self.overrides)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_vary(text: str, /) -> Vary:
    """Parse ``PATH=V1,V2,...``.

    Raises:
        UsageError: no ``=``, an empty path or value, or a field the sweep sets itself.
    """
    path, sep, values = text.partition("=")
    path = path.strip()
    if not sep or not path or any(not part for part in path.split(".")):
        raise UsageError(f"--vary {text}: expected PATH=VALUE[,VALUE...], e.g. device.x=0,1")
    if path in _RESERVED:
        raise UsageError(f"--vary {text}: {path} is set by {_RESERVED[path]}")
    items = _split(values)
    if not items or any(not item.strip() for item in items):
        raise UsageError(f"--vary {text}: give one or more comma-separated values")
    return Vary(path, tuple(_scalar(item.strip()) for item in items))


def _split(text: str) -> list[str]:
    """Split on commas outside brackets and quotes (``uniform(1, 5),3`` is two values)."""
    parts: list[str] = []
    depth, quote, start = 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _scalar(text: str) -> Any:
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # not TOML: a bare string such as a distribution
    if isinstance(value, list | dict):
        raise UsageError(f"--vary value {text}: give a scalar (a number, true/false or text)")
    if not isinstance(value, str | int | float | bool):
        return text  # dates and times: the scenario takes them as text
    return value


def variants(varies: Sequence[Vary], /) -> list[Variant]:
    """Every combination of the values, the first ``--vary`` slowest; one empty one if none."""
    paths = [v.path for v in varies]
    if len(set(paths)) != len(paths):
        raise UsageError("--vary: the same PATH is given twice; list its values once")
    return [
        Variant(tuple(zip(paths, combo, strict=True)))
        for combo in itertools.product(*(v.values for v in varies))
    ]


def apply_overrides(scenario: Scenario, overrides: Sequence[tuple[str, Any]], /) -> Scenario:
    """The scenario with each path set to its value, checked as a scenario file is.

    Raises:
        UsageError: an unknown path, an entry no list holds, or a value the field refuses;
            one line naming the ``--vary`` and the field.
    """
    if not overrides:
        return scenario
    data: dict[str, Any] = msgspec.to_builtins(scenario.spec)
    for path, value in overrides:
        _set(data, path, value)
    where = "--vary " + ", ".join(f"{p}={_show(v)}" for p, v in overrides)
    try:
        spec = msgspec.convert(data, type=type(scenario.spec))
    except msgspec.ValidationError as exc:
        raise UsageError(f"{where}: {exc}") from None
    try:
        return Scenario(spec, scenario.path)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc.message}") from None


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = data
    trail = "$"
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            index = _entry(node, part, path, trail)
            trail += f"[{index}]"
            if last:
                raise UsageError(f"--vary {path}: name a field of {trail}, not the entry itself")
            node = node[index]
            continue
        if not isinstance(node, dict):
            raise UsageError(f"--vary {path}: {trail} is a value, it has no field {part!r}")
        if last:
            node[part] = value
            return
        child = node.get(part)
        if child is None:
            # An optional table not given in the file (``timeout``), or an unknown name: the
            # scenario model says which when the file is decoded again.
            child = node[part] = {}
        node = child
        trail += f".{part}"


def _entry(entries: list[Any], part: str, path: str, trail: str) -> int:
    for key in _ENTRY_KEYS:
        for index, entry in enumerate(entries):
            if isinstance(entry, Mapping) and entry.get(key) == part:
                return index
    if part.isdigit() and int(part) < len(entries):
        return int(part)
    names = [
        next((str(entry[key]) for key in _ENTRY_KEYS if key in entry), str(i))
        for i, entry in enumerate(entries)
        if isinstance(entry, Mapping)
    ]
    known = ", ".join(names) if names else "none"
    raise UsageError(f"--vary {path}: no entry of {trail} is named {part!r} (entries: {known})")
