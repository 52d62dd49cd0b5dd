"""``$package`` reports with a version precondition: what a device keeps to send them.

A device with ``package_version_precondition`` hears ``$package``'s ``update/accepted`` answers
(every write's, Jobs' and other writers' too, as a subscriber does) and its own ``get`` answers,
and keeps the highest version they carried. Each report carries that version; the Device Shadow
service refuses it with 409 when ``$package`` moved on since (a newer write landed first, or the
report is a late redelivery). After a 409 the device reads ``$package`` again and, when the read
is answered, reports every package it ever reported, as it runs them now: a refused report is
never lost, and a late one can never overwrite a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["VersionedReports", "answer_code", "answer_version"]


@dataclass(slots=True)
class VersionedReports:
    """One device's ``$package`` version bookkeeping."""

    #: The highest ``$package`` version an answer carried (None: not learned yet).
    version: int | None = None
    #: Packages this device has reported: what a report after a 409 sends again.
    reported: set[str] = field(default_factory=set)
    #: A read of ``$package`` is out; its answer sends the report.
    rereading: bool = False

    def learn(self, version: int | None) -> None:
        if version is not None and (self.version is None or version > self.version):
            self.version = version


def _body(payload: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def answer_version(payload: bytes) -> int | None:
    """The ``version`` of a shadow answer, if it carries one."""
    version = _body(payload).get("version")
    return version if type(version) is int and version >= 0 else None


def answer_code(payload: bytes) -> int | None:
    """The ``code`` of a shadow ``rejected`` answer."""
    code = _body(payload).get("code")
    return code if type(code) is int else None
