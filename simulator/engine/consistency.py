"""Does ``$package`` tell the truth? Per device: the versions it runs against what the shadow says.

The tracker is kept current incrementally (each inventory change and each ``$package`` write
re-checks one device), so sampling it during a run costs nothing, and :meth:`audit` re-checks
every device at the end. What it remembers per device lives in flat arrays (two times, a writer
code and a verdict code: 18 bytes a device), so a million-device run pays no object per device.
Every write is attributed to the writer active when it happened (``jobs``, ``device``,
``manual`` or ``initial``), which is what explains an inconsistency:

==================  ===========================================================================
cause               meaning
==================  ===========================================================================
manual_overwrite    a manual writer's write made ``$package`` wrong (a stale read-modify-write),
                    and the device has not changed since
not_reported        the device changed a package after the last write, and nobody wrote it
                    (an execution that failed or timed out after installing, a rollback after
                    reboot, Jobs' update disabled and the device not reporting)
missing_entry       the device runs the package; ``$package`` has no entry for it
stale_entry         ``$package`` lists a package the device does not have
phantom_version     ``$package`` names a version the device does not run, written by Jobs or
                    the device itself after the device's last change
==================  ===========================================================================
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol

__all__ = ["CAUSES", "ConsistencyTracker"]

CAUSES: Final = (
    "manual_overwrite",
    "not_reported",
    "missing_entry",
    "stale_entry",
    "phantom_version",
)
_CONSISTENT: Final = ""
#: Verdict codes in the verdict array: -1 not checked yet, then _VERDICTS' positions.
_VERDICTS: Final = (_CONSISTENT, *CAUSES)
_VERDICT_CODE: Final = {verdict: code for code, verdict in enumerate(_VERDICTS)}
_UNCHECKED: Final = -1
_NEVER: Final = float("-inf")

PackageState = Callable[[str, str], Mapping[str, Any] | None]


class Truth(Protocol):
    """What the tracker reads of a device (a :class:`~simulator.core.device.Device`)."""

    @property
    def index(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def inventory(self) -> Mapping[str, str]: ...


class ConsistencyTracker:
    """Consistency of every device, kept up to date as writes and installs happen."""

    def __init__(
        self,
        devices: Sequence[Truth],
        packages: frozenset[str],
        state: PackageState,
        *,
        by_name: Mapping[str, Truth] | None = None,
    ) -> None:
        """Follow ``devices`` (``devices[i].index == i``).

        Args:
            devices: every device, by index.
            packages: the packages whose versions ``$package`` must tell.
            state: reads a thing's ``reported`` section of a shadow.
            by_name: the same devices by thing name, if the caller keeps such a mapping
                anyway (the tracker builds its own otherwise).
        """
        self._devices = devices
        self._by_name: Mapping[str, Truth] = (
            {d.name: d for d in devices} if by_name is None else by_name
        )
        self._packages = packages
        self._state = state
        self.writer = "initial"
        n = len(devices)
        # Writers by code; "none" (never written) is code 0.
        self._writers: list[str] = ["none"]
        self._writer_code: dict[str, int] = {"none": 0}
        self._last_writer = array("B", bytes(n))
        self._written_at = array("d", [_NEVER]) * n
        self._changed_at = array("d", [_NEVER]) * n
        self._verdict = array("b", [_UNCHECKED]) * n
        self.by_cause: Counter[str] = Counter()
        self.consistent = 0
        self.inconsistent = 0
        self.now: Callable[[], float] = lambda: 0.0

    # -- events -----------------------------------------------------------------------------

    def shadow_changed(self, thing: str, shadow: str | None) -> None:
        if shadow != "$package":
            return
        device = self._by_name.get(thing)
        if device is None:
            return
        index = device.index
        if self.writer == "manual" and self._verdict[index] > 0:
            # Rewriting a $package that was already wrong does not make it wrong: the blame stays
            # with the cause it had (a stale write that changes a version can only fix it).
            self.check(index)
            return
        self._last_writer[index] = self._code(self.writer)
        self._written_at[index] = self.now()
        self.check(index)

    def _code(self, writer: str) -> int:
        code = self._writer_code.get(writer)
        if code is None:
            code = self._writer_code[writer] = len(self._writers)
            self._writers.append(writer)
        return code

    def attribute(self, index: int, *, writer: str, written_at: float, changed_at: float) -> None:
        """Set what is known of a device's history when it was not followed live (an audit of
        an external control plane: the last ``$package`` writer from the shadow's metadata)."""
        self._last_writer[index] = self._code(writer)
        self._written_at[index] = written_at
        self._changed_at[index] = changed_at

    def inventory_changed(self, device: Truth, package: str) -> None:
        if package in self._packages:
            self._changed_at[device.index] = self.now()
            self.check(device.index)

    # -- verdicts ---------------------------------------------------------------------------

    def reported(self, thing: str) -> dict[str, str | None]:
        reported = self._state(thing, "$package") or {}
        out: dict[str, str | None] = {}
        for package, entry in reported.items():
            if package in self._packages:
                version = entry.get("version") if isinstance(entry, dict) else None
                out[package] = version if isinstance(version, str) else None
        return out

    def classify(self, index: int) -> str:
        """``""`` when consistent, else the cause of the first package that disagrees."""
        device = self._devices[index]
        if self._agrees(device.inventory, self._state(device.name, "$package")):
            return _CONSISTENT
        truth = {p: v for p, v in device.inventory.items() if p in self._packages}
        shadow = self.reported(device.name)
        if truth == shadow:
            return _CONSISTENT
        if (
            self._writers[self._last_writer[index]] == "manual"
            and self._written_at[index] >= self._changed_at[index]
        ):
            return "manual_overwrite"
        for package in sorted(truth.keys() | shadow.keys()):
            have, says = truth.get(package), shadow.get(package)
            if have == says:
                continue
            if says is None and package not in shadow:
                return "missing_entry"
            if have is None:
                return "stale_entry"
            if self._changed_at[index] >= self._written_at[index]:
                return "not_reported"
            return "phantom_version"
        return "phantom_version"  # pragma: no cover - the loop always finds the difference

    def _agrees(self, inventory: Mapping[str, str], reported: Mapping[str, Any] | None) -> bool:
        """``truth == shadow`` of :meth:`classify` without building either (every check runs it,
        and most find the device consistent)."""
        packages = self._packages
        left = 0
        for package, version in inventory.items():
            if package in packages:
                entry = None if reported is None else reported.get(package)
                if not isinstance(entry, dict) or entry.get("version") != version:
                    return False
                left += 1
        if reported is not None:
            for package in reported:
                if package in packages:
                    left -= 1
        return left == 0

    def check(self, index: int) -> None:
        verdict = self.classify(index)
        code = _VERDICT_CODE[verdict]
        old = self._verdict[index]
        if old == code:
            return
        if old != _UNCHECKED:
            self._count(_VERDICTS[old], -1)
        self._count(verdict, 1)
        self._verdict[index] = code

    def _count(self, verdict: str, delta: int) -> None:
        if verdict == _CONSISTENT:
            self.consistent += delta
        else:
            self.inconsistent += delta
            self.by_cause[verdict] += delta
            if self.by_cause[verdict] == 0:
                del self.by_cause[verdict]

    def audit(self) -> None:
        """Re-check every device (the authoritative end-of-run verdict)."""
        for index in range(len(self._devices)):
            self.check(index)

    def examples(self, limit: int = 10) -> dict[str, list[str]]:
        """Up to ``limit`` inconsistent devices per cause, by index, as last checked."""
        out: dict[str, list[str]] = {}
        wanted = sum(min(n, limit) for n in self.by_cause.values())
        found = 0
        devices = self._devices
        for index, code in enumerate(self._verdict):
            if code <= 0:
                continue
            names = out.setdefault(_VERDICTS[code], [])
            if len(names) < limit:
                names.append(devices[index].name)
                found += 1
                if found >= wanted:
                    break
        return out

    @property
    def checked(self) -> int:
        return self.consistent + self.inconsistent
