"""Device Shadow limits, the reserved ``$package`` name, and the behaviour AWS leaves unverified.

Tags follow ``/work/shared/reference/aws-iot.md`` section 0: ``[AD:…]`` archived developer guide,
``[cur:…]`` current docs, ``[SPC-…]`` Software Package Catalog pages, ``(mem)`` from memory and
``(inf)`` inferred. Anything tagged ``(mem)`` or ``(inf)`` is a field of :class:`ShadowOptions`
(or, where an option would be pointless, a comment at the rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "MAX_CLIENT_TOKEN_BYTES",
    "MAX_DEPTH",
    "MAX_STATE_BYTES",
    "PACKAGE_KEYS",
    "PACKAGE_SHADOW",
    "ShadowOptions",
]

#: The reserved named shadow Software Package Catalog and Jobs write ([SPC-prep]).
PACKAGE_SHADOW: Final = "$package"
#: The only keys a ``$package`` entry may hold ([SPC-prep]).
PACKAGE_KEYS: Final = frozenset({"version", "attributes"})
#: ``desired`` + ``reported``, compact JSON, metadata excluded ([cur:device-shadow-error-messages]).
MAX_STATE_BYTES: Final = 8 * 1024
#: Levels of nesting inside ``desired`` or ``reported`` ([cur:device-shadow-error-messages]).
MAX_DEPTH: Final = 6
#: ``clientToken`` length limit in UTF-8 bytes ([AD:device-shadow-document]).
MAX_CLIENT_TOKEN_BYTES: Final = 64


@dataclass(frozen=True, slots=True)
class ShadowOptions:
    """Shadow behaviour the reference could not verify, with the chosen default.

    Attributes:
        package_metadata: keep and show per-leaf metadata in ``$package`` documents. AWS says the
            shadow "doesn't update with metadata" [SPC-prep]; that GET then shows no ``metadata``
            at all is (inf), hence ``False``.
        delta_only_when_desired_changes: publish ``/update/delta`` only when the update touched
            ``desired`` (mem). The default follows [AD:device-shadow-mqtt]: after every accepted
            update that leaves ``desired`` and ``reported`` different.
        require_registered_thing: refuse shadows of things missing from the registry with 404
            ``Thing not found`` ([cur:device-shadow-error-messages] lists the message; when AWS
            raises it is (inf)).
        version_reset_after_s: a shadow re-created within this many seconds of its deletion
            continues the old version numbering; later it starts again at 1
            [AD:device-shadow-data-flow] (48 hours).
        get_metadata_includes_delta: GET's ``metadata`` also carries ``delta`` (desired
            metadata of the delta keys). One [AD:device-shadow-document] example shows it, the
            response-document syntax does not (inf), hence ``False``.
        rejected_timestamp: MQTT error documents carry ``timestamp``. The docs say it "is not
            present in all error response documents" and client tests against AWS show a
            404 without it (mem); the default includes it.
        drop_shadows_with_thing: a deleted thing's shadows are deleted too (the version
            numbering still survives for ``version_reset_after_s``). [AD:device-shadow-data-flow]
            says deleting a thing does *not* delete its shadow; with ``require_registered_thing``
            they would be unreachable anyway, so the default frees them.
        max_deleted_versions: how many deleted shadows' versions are remembered at most (the
            oldest deletion is forgotten first). AWS gives no bound (inf); this one keeps a
            server that deletes shadows all day at a flat ~20 MB for them rather than growing
            for ``version_reset_after_s``.
    """

    package_metadata: bool = False
    delta_only_when_desired_changes: bool = False
    require_registered_thing: bool = True
    version_reset_after_s: float = 48 * 3600.0
    get_metadata_includes_delta: bool = False
    rejected_timestamp: bool = True
    drop_shadows_with_thing: bool = True
    max_deleted_versions: int = 100_000
