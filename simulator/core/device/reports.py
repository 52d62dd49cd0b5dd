"""A device's ``$package`` reports: writing its changed inventory, and hearing the answers.

A device that reports its inventory writes the packages changed since its last report to the
``$package`` named shadow once an execution's terminal update is accepted, or after a rollback.
One that reports with a version precondition (:mod:`~simulator.core.device.versioned`) also hears
the answers: it learns the version they carry, reads ``$package`` when it has none yet, and after
a 409 reads it again and reports every package it has reported.

Plain functions of the :class:`~simulator.core.device.machine.Device` they act for;
:func:`learn_version` and :func:`reread` are the handlers of their
:class:`~simulator.core.device.table.Action`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.core.device.versioned import answer_code, answer_version

if TYPE_CHECKING:
    from simulator.core.device.machine import Device
    from simulator.core.device.table import Event

__all__ = ["learn_version", "report", "reread"]


def report(device: Device, *, unconditional: bool = False) -> None:
    """Write the packages changed since the last report to ``$package``, if ``device`` reports
    its inventory (with the version it last learned, when it uses a precondition: without one
    learned yet it reads ``$package`` first, and the answer sends the report)."""
    if not (device.reports_shadow and device.changed):
        return
    body: dict[str, Any] = {}
    versioned = device._versioned
    if versioned is not None and not unconditional:
        if versioned.rereading:
            return  # the read's answer sends it
        if versioned.version is None:
            _reread_package(device)
            return
        body["version"] = versioned.version
    if versioned is not None:
        versioned.reported.update(device.changed)
    inventory = device.inventory
    body["state"] = {
        "reported": {
            pkg: ({"version": inventory[pkg]} if pkg in inventory else None)
            for pkg in sorted(device.changed)
        }
    }
    device.changed.clear()
    device._publish("shadow/name/$package/update", body)


def _reread_package(device: Device) -> None:
    versioned = device._versioned
    assert versioned is not None
    versioned.rereading = True
    device._publish("shadow/name/$package/get", {})


def learn_version(device: Device, event: Event, suffix: str, payload: bytes) -> None:
    """Remember the ``$package`` version an answer carries; send the report a re-read was for."""
    versioned = device._versioned
    if versioned is None:
        return  # not subscribed: a stray answer
    versioned.learn(answer_version(payload))
    if suffix[-13:] == "/get/accepted" and versioned.rereading:
        versioned.rereading = False
        report(device)


def reread(device: Device, event: Event, suffix: str, payload: bytes) -> None:
    """A ``$package`` write or read was refused: read it again after a 409, or report without a
    precondition when there is no ``$package`` to read."""
    versioned = device._versioned
    if versioned is None:
        return  # not subscribed: a stray answer
    if suffix[-13:] == "/get/rejected":
        # No $package to read (404): nothing newer to overwrite, so report without one.
        if versioned.rereading:
            versioned.rereading = False
            report(device, unconditional=True)
        return
    if answer_code(payload) != 409:
        return  # refused for its content: sending it again would not help
    # $package moved on since the version this report carried: re-read it, then report
    # every package this device has reported, as it runs them now.
    device.changed |= versioned.reported
    if not versioned.rereading:
        _reread_package(device)
