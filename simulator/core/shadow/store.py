"""Every shadow of one account, with versions, deletion memory and the documents AWS sends.

Time is passed in (``now``, epoch seconds); documents carry it as whole seconds, as AWS does.
The store returns documents as dicts that share subtrees with the stored state: serialise them
(or copy them) before anything else changes the store, and never mutate them.

A fleet's shadows are mostly alike (every device's ``$package`` says the same few versions), so
the store keeps one copy of each state tree it sees repeatedly: a stored tree that serialises to
the same bytes as one stored before is replaced by that one (the size check serialises every
tree anyway). That, one dict per shadow name rather than one per thing, and one shared empty
tree make a million ``$package`` shadows cost about 100 bytes each rather than 800.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

import orjson

from simulator.core.errors import (
    ConflictException,
    RequestEntityTooLargeException,
    ResourceNotFoundException,
)
from simulator.core.shadow.document import (
    JsonObject,
    UpdateRequest,
    delta,
    delta_meta,
    merge,
    merge_meta,
    meta_of,
)
from simulator.core.shadow.options import MAX_STATE_BYTES, PACKAGE_SHADOW, ShadowOptions

__all__ = ["Shadow", "ShadowStore", "UpdateOutcome"]

VERSION_CONFLICT = "Version conflict"  # [AD:device-shadow-data-flow]
TOO_LARGE = "The payload exceeds the maximum size allowed"  # [cur:device-shadow-error-messages]

#: The one empty tree every shadow without a section shares (trees are never mutated).
_EMPTY: Final[JsonObject] = {}
#: Trees remembered for sharing: at most this many, each at most this long serialised. Small
#: trees are the ones a fleet repeats; a bounded table keeps unique trees from piling up.
_SHARED_TREES: Final = 4096
_SHARED_TREE_BYTES: Final = 1024


@dataclass(frozen=True, slots=True)
class Shadow:
    """One stored shadow; an update replaces it with a new one.

    Attributes:
        version: the current version (1 for a new shadow, unless a deleted one is remembered).
        desired: the desired state (``{}`` when there is none).
        reported: the reported state.
        desired_meta: metadata of ``desired``, or ``None`` for a shadow without metadata.
        reported_meta: metadata of ``reported``, or ``None`` likewise.
    """

    version: int
    desired: JsonObject
    reported: JsonObject
    desired_meta: JsonObject | None
    reported_meta: JsonObject | None


@dataclass(frozen=True, slots=True)
class UpdateOutcome:
    """The documents an accepted update produces.

    Attributes:
        accepted: the ``/update/accepted`` document (and the REST response body).
        documents: the ``/update/documents`` document.
        delta: the ``/update/delta`` document, or ``None`` when none is published.
    """

    accepted: JsonObject
    documents: JsonObject
    delta: JsonObject | None


def _sections(desired: JsonObject | None, reported: JsonObject | None) -> JsonObject:
    out: JsonObject = {}
    if desired:
        out["desired"] = desired
    if reported:
        out["reported"] = reported
    return out


def _snapshot(shadow: Shadow) -> JsonObject:
    out: JsonObject = {"state": _sections(shadow.desired, shadow.reported)}
    if shadow.desired_meta is not None:
        out["metadata"] = _sections(shadow.desired_meta, shadow.reported_meta)
    out["version"] = shadow.version
    return out


def _apply(
    tree: JsonObject, meta: JsonObject, patch: JsonObject | None, leaf: JsonObject, with_meta: bool
) -> tuple[JsonObject, JsonObject]:
    if patch is None:  # "desired": null / "reported": null removes the section
        return {}, {}
    if with_meta:
        return merge_meta(tree, meta, patch, leaf)
    return merge(tree, patch), meta


class _SharedTrees:
    """One copy of each small state tree in use, found by its serialisation.

    Each remembered tree counts the shadows that hold it (:meth:`share` adds one, :meth:`release`
    takes one away) and is forgotten with the last of them, so a deleted or overwritten shadow
    leaves nothing behind here. Counts are kept by the tree's ``id``: the table holds the tree,
    so the id cannot be reused while it is remembered, and a released tree that is not
    remembered (large, empty, or from before a reset) is simply not found.
    """

    __slots__ = ("_by_id", "_by_json")

    def __init__(self) -> None:
        self._by_json: dict[bytes, JsonObject] = {}
        self._by_id: dict[int, list[Any]] = {}  # id(tree) -> [key in _by_json, holders]

    def __len__(self) -> int:
        return len(self._by_json)

    def __getstate__(self) -> list[tuple[bytes, JsonObject, int]]:
        # Pickled (``--state-dir`` snapshots), ids change: keep the holders by key instead.
        return [(key, tree, self._by_id[id(tree)][1]) for key, tree in self._by_json.items()]

    def __setstate__(self, state: list[tuple[bytes, JsonObject, int]]) -> None:
        self._by_json = {}
        self._by_id = {}
        for key, tree, holders in state:
            self._by_json[key] = tree
            self._by_id[id(tree)] = [key, holders]

    def share(self, tree: JsonObject, encoded: bytes) -> JsonObject:
        """The tree already stored that serialises to ``encoded``, else ``tree`` (remembered);
        one more holder either way.

        Equal serialisations mean equal trees with keys in the same order (``1`` and ``1.0``
        and ``true`` serialise apart), so documents built from the shared tree are the same.
        """
        if not tree:
            return _EMPTY
        if len(encoded) > _SHARED_TREE_BYTES:
            return tree
        by_json = self._by_json
        found = by_json.get(encoded)
        if found is not None:
            self._by_id[id(found)][1] += 1
            return found
        if len(by_json) >= _SHARED_TREES:
            # Full of trees in use: forgetting them only costs sharing, never correctness.
            by_json.clear()
            self._by_id.clear()
        # A copy of the key: orjson's result keeps a 4 KB buffer whatever its length.
        key = bytes(memoryview(encoded))
        by_json[key] = tree
        self._by_id[id(tree)] = [key, 1]
        return tree

    def release(self, tree: JsonObject) -> None:
        """A shadow no longer holds ``tree``: forget it with its last holder."""
        entry = self._by_id.get(id(tree))
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del self._by_id[id(tree)]
            del self._by_json[entry[0]]


class ShadowStore:
    """Classic and named shadows by thing, and the versions of recently deleted ones."""

    def __init__(self, options: ShadowOptions | None = None) -> None:
        self.options = options or ShadowOptions()
        # Shadow name -> thing -> shadow: a handful of names, so a thing's shadows cost a dict
        # entry each (a dict per thing would cost ~200 bytes more per thing).
        self._by_name: dict[str | None, dict[str, Shadow]] = {}
        # The versions of deleted shadows, oldest deletion first, forgotten once
        # ``version_reset_after_s`` old or beyond ``max_deleted_versions``: nothing else of a
        # deleted shadow is kept. (An OrderedDict: popping a plain dict's oldest key is
        # quadratic, CPython iterating over the holes earlier deletions left at the front.)
        self._deleted: OrderedDict[tuple[str, str | None], tuple[int, float]] = OrderedDict()
        self._trees = _SharedTrees()

    def _remember(self, key: tuple[str, str | None], version: int, now: float) -> None:
        deleted = self._deleted
        deleted[key] = (version, now)
        deleted.move_to_end(key)
        if len(deleted) > self.options.max_deleted_versions:
            deleted.popitem(last=False)
        self._expire(now)

    def _expire(self, now: float) -> None:
        """Forget the versions of shadows deleted more than ``version_reset_after_s`` ago."""
        deleted = self._deleted
        horizon = now - self.options.version_reset_after_s
        while deleted:
            key, (_, stamp) = next(iter(deleted.items()))
            if stamp >= horizon:
                return
            del deleted[key]

    def retained(self) -> tuple[int, int, int]:
        """(live shadows, remembered deletions, shared trees): what the store holds."""
        live = sum(len(shadows) for shadows in self._by_name.values())
        return live, len(self._deleted), len(self._trees)

    def has_metadata(self, shadow_name: str | None) -> bool:
        """Whether the shadow called ``shadow_name`` keeps metadata (``$package`` does not)."""
        return shadow_name != PACKAGE_SHADOW or self.options.package_metadata

    def find(self, thing: str, shadow_name: str | None) -> Shadow | None:
        """The shadow, or ``None`` if it does not exist."""
        shadows = self._by_name.get(shadow_name)
        return None if shadows is None else shadows.get(thing)

    def get(self, thing: str, shadow_name: str | None) -> Shadow:
        """The shadow; raises ResourceNotFoundException when it does not exist."""
        shadow = self.find(thing, shadow_name)
        if shadow is None:
            # Classic shadows are named after the thing in this message (client tests vs AWS).
            name = thing if shadow_name is None else shadow_name
            raise ResourceNotFoundException(f"No shadow exists with name: '{name}'")
        return shadow

    def names(self, thing: str) -> list[str]:
        """The thing's named shadows (``$package`` included), sorted."""
        return sorted(
            name for name, shadows in self._by_name.items() if name is not None and thing in shadows
        )

    def _base_version(self, key: tuple[str, str | None], now: float) -> int:
        # The version a new shadow continues from [AD:device-shadow-data-flow].
        memory = self._deleted.get(key)
        if memory is None:
            return 0
        if now - memory[1] <= self.options.version_reset_after_s:
            return memory[0]
        del self._deleted[key]
        return 0

    def document(
        self, thing: str, shadow_name: str | None, *, now: float, client_token: str | None = None
    ) -> JsonObject:
        """The full GET document: state (with delta), metadata, version, timestamp."""
        shadow = self.get(thing, shadow_name)
        state = _sections(shadow.desired, shadow.reported)
        diff = delta(shadow.desired, shadow.reported) if shadow.desired else {}
        if diff:
            state["delta"] = diff
        out: JsonObject = {"state": state}
        if shadow.desired_meta is not None:
            meta = _sections(shadow.desired_meta, shadow.reported_meta)
            if diff and self.options.get_metadata_includes_delta:
                meta["delta"] = delta_meta(diff, shadow.desired_meta)
            out["metadata"] = meta
        out["version"] = shadow.version
        out["timestamp"] = int(now)
        if client_token is not None:
            out["clientToken"] = client_token
        return out

    def update(
        self, thing: str, shadow_name: str | None, request: UpdateRequest, *, now: float
    ) -> UpdateOutcome:
        """Apply a validated update: check the version and size, then store and describe it.

        Raises:
            ConflictException: ``request.version`` is not the current version.
            RequestEntityTooLargeException: the resulting state is over the size limit.
        """
        old, new = self.apply(thing, shadow_name, request, now=now)
        return self.outcome(old, new, request, now=now)

    def apply(
        self, thing: str, shadow_name: str | None, request: UpdateRequest, *, now: float
    ) -> tuple[Shadow | None, Shadow]:
        """:meth:`update` without describing it: the shadow before (``None`` if there was none)
        and after. For writers nobody listens to (Jobs' ``$package`` merge on a fleet), which
        then need :meth:`outcome` only if someone subscribes.

        Raises:
            ConflictException: ``request.version`` is not the current version.
            RequestEntityTooLargeException: the resulting state is over the size limit.
        """
        if self._deleted:
            self._expire(now)
        shadows = self._by_name.get(shadow_name)
        old = None if shadows is None else shadows.get(thing)
        current = self._base_version((thing, shadow_name), now) if old is None else old.version
        # On a shadow that does not exist (yet), the version checked against is the remembered
        # one, or 0 (inf).
        if request.version is not None and request.version != current:
            raise ConflictException(VERSION_CONFLICT)
        with_meta = self.has_metadata(shadow_name)
        leaf = {"timestamp": int(now)}
        desired, reported = (_EMPTY, _EMPTY) if old is None else (old.desired, old.reported)
        desired_meta: JsonObject = _EMPTY
        reported_meta: JsonObject = _EMPTY
        if with_meta and old is not None:
            desired_meta = old.desired_meta or _EMPTY
            reported_meta = old.reported_meta or _EMPTY
        state = request.state
        if state is None:
            desired = reported = desired_meta = reported_meta = _EMPTY
        else:
            if "desired" in state:
                desired, desired_meta = _apply(
                    desired, desired_meta, state["desired"], leaf, with_meta
                )
            if "reported" in state:
                reported, reported_meta = _apply(
                    reported, reported_meta, state["reported"], leaf, with_meta
                )
        desired_json = orjson.dumps(desired) if desired else b""
        reported_json = orjson.dumps(reported) if reported else b""
        if len(desired_json) + len(reported_json) > MAX_STATE_BYTES:
            raise RequestEntityTooLargeException(TOO_LARGE)

        trees = self._trees
        new = Shadow(
            current + 1,
            trees.share(desired, desired_json),
            trees.share(reported, reported_json),
            (desired_meta or _EMPTY) if with_meta else None,
            (reported_meta or _EMPTY) if with_meta else None,
        )
        if shadows is None:
            shadows = self._by_name[shadow_name] = {}
        shadows[thing] = new
        if old is None:
            self._deleted.pop((thing, shadow_name), None)
        else:
            self._release(old)
        return old, new

    def _release(self, shadow: Shadow) -> None:
        self._trees.release(shadow.desired)
        self._trees.release(shadow.reported)

    def outcome(
        self, old: Shadow | None, new: Shadow, request: UpdateRequest, *, now: float
    ) -> UpdateOutcome:
        """The documents of an update :meth:`apply` made at ``now`` (``old`` to ``new``)."""
        stamp = int(now)
        leaf = {"timestamp": stamp}
        with_meta = new.desired_meta is not None
        state = request.state
        token = request.client_token
        accepted: JsonObject = {"state": state}
        if with_meta and state is not None:
            accepted["metadata"] = {key: meta_of(value, leaf) for key, value in state.items()}
        accepted["version"] = new.version
        accepted["timestamp"] = stamp
        # /update/documents of a new shadow: "previous" is null (mem).
        documents: JsonObject = {
            "previous": None if old is None else _snapshot(old),
            "current": _snapshot(new),
            "timestamp": stamp,
        }
        if token is not None:
            accepted["clientToken"] = token
            documents["clientToken"] = token
        return UpdateOutcome(accepted, documents, self._delta_document(new, request, stamp))

    def _delta_document(self, new: Shadow, request: UpdateRequest, stamp: int) -> JsonObject | None:
        if not new.desired:
            return None
        if self.options.delta_only_when_desired_changes and (
            request.state is None or "desired" not in request.state
        ):
            return None
        diff = delta(new.desired, new.reported)
        if not diff:
            return None
        out: JsonObject = {"state": diff}
        if new.desired_meta is not None:
            out["metadata"] = delta_meta(diff, new.desired_meta)
        out["version"] = new.version
        out["timestamp"] = stamp
        if request.client_token is not None:
            out["clientToken"] = request.client_token
        return out

    def delete(self, thing: str, shadow_name: str | None, *, now: float) -> JsonObject:
        """Delete the shadow, remembering its version; returns the ``/delete/accepted`` document.

        Raises:
            ResourceNotFoundException: the shadow does not exist.
        """
        shadow = self.get(thing, shadow_name)
        shadows = self._by_name[shadow_name]
        del shadows[thing]
        if not shadows:
            del self._by_name[shadow_name]
        self._release(shadow)
        self._remember((thing, shadow_name), shadow.version, now)
        return {"version": shadow.version, "timestamp": int(now)}

    def drop_thing(self, thing: str, *, now: float) -> list[str | None]:
        """Delete every shadow of ``thing`` (versions remembered); returns their names, in the
        order their names were first used in the store."""
        dropped: list[str | None] = []
        for name, shadows in list(self._by_name.items()):
            shadow = shadows.pop(thing, None)
            if shadow is None:
                continue
            if not shadows:
                del self._by_name[name]
            self._release(shadow)
            self._remember((thing, name), shadow.version, now)
            dropped.append(name)
        return dropped

    def state(self, thing: str, shadow_name: str | None) -> JsonObject | None:
        """``{"desired", "reported", "delta"}`` (empty ones omitted) or ``None``; shared trees."""
        shadow = self.find(thing, shadow_name)
        if shadow is None:
            return None
        out = _sections(shadow.desired, shadow.reported)
        diff = delta(shadow.desired, shadow.reported) if shadow.desired else {}
        if diff:
            out["delta"] = diff
        return out
