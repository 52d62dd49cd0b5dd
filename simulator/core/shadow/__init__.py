"""Device Shadow rules: request validation, deep merge, metadata, delta, versions (pure, no IO).

See :mod:`.document` for the per-document rules, :mod:`.store` for versions and the documents AWS
publishes, and :class:`ShadowOptions` for what the reference could not verify.
"""

from simulator.core.shadow.document import (
    JsonObject,
    UpdateRequest,
    check_shadow_name,
    check_thing_name,
    client_token_of,
    delta,
    merge,
    parse_update,
)
from simulator.core.shadow.options import PACKAGE_SHADOW, ShadowOptions
from simulator.core.shadow.store import Shadow, ShadowStore, UpdateOutcome

__all__ = [
    "PACKAGE_SHADOW",
    "JsonObject",
    "Shadow",
    "ShadowOptions",
    "ShadowStore",
    "UpdateOutcome",
    "UpdateRequest",
    "check_shadow_name",
    "check_thing_name",
    "client_token_of",
    "delta",
    "merge",
    "parse_update",
]
