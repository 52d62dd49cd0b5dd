"""Generated job documents for the substitution benchmark, and the catalog they deploy.

Deterministic (no randomness, no files): AWS IoT Device Client job documents (``version``,
``steps[].action{name, type: "runHandler", input{handler, args}}``) whose package placeholders
name explicit package versions, plus a catalog holding those versions, PUBLISHED.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import orjson

from simulator.core.arn import Scope
from simulator.core.catalog import Catalog, VersionAction

__all__ = ["SCOPE", "Attributes", "Case", "make_cases", "make_catalog"]

SCOPE: Final = Scope()
Attributes = dict[tuple[str, str], dict[str, str]]


@dataclass(frozen=True, slots=True)
class Case:
    """One generated job document with its ``destinationPackageVersions`` and attributes."""

    name: str
    document: bytes
    destinations: tuple[str, ...]
    attributes: Attributes
    placeholders: int


def _placeholder(package: str, version: str, key: str | None = None) -> str:
    tail = "attributes" if key is None else f"attributes:{key}"
    return f"${{aws:iot:package:{package}:version:{version}:{tail}}}"


def _version_attributes(package: str, version: str) -> dict[str, str]:
    digest = hashlib.sha256(f"{package}/{version}".encode()).digest()
    signature = base64.b64encode(hashlib.shake_256(digest).digest(512)).decode()  # RSA-4096 size
    return {
        "s3URL": f"https://fleetsim-artifacts.s3.us-east-1.amazonaws.com/{package}/{version}/"
        f"{package}-{version}.zip",
        "signature": signature,
        "signingAlgorithm": "SHA256withRSA",
        "sha256": digest.hex(),
        "size": str(1_048_576 + 4096 * digest[0]),
        "installPath": f"{package}/{version}",
        "launchCommand": f"/opt/{package}/{version}/bin/start --config /etc/{package}/config.json",
        # A quote, backslashes and non-ASCII text, so that escaping is part of the comparison.
        "description": f'{package} {version}, "stable" channel (C:\\fleet\\{package}) – café',
    }


def _step(name: str, handler: str, args: list[str], **extra: str) -> dict[str, Any]:
    """One AWS IoT Device Client ``runHandler`` step."""
    return {
        "action": {
            "name": name,
            "type": "runHandler",
            "input": {"handler": handler, "args": args, **extra},
        }
    }


def _package_steps(
    package: str, version: str, *, everything: bool, services: bool
) -> list[dict[str, Any]]:
    """Eight single-attribute placeholders (one inside a longer string), plus an all-attributes
    one when ``everything``; ``services`` adds three steps without placeholders."""
    ph = partial(_placeholder, package, version)
    steps = [
        _step("Download", "download-file.sh", [ph("s3URL"), f"/tmp/{package}.zip"]),
        _step("Verify", "verify-signature.sh", [ph("signature"), ph("signingAlgorithm")]),
        _step("Check", "check-file.sh", [ph("sha256"), ph("size")]),
        _step("Install", "install.sh", ["/opt/" + ph("installPath"), ph("launchCommand")]),
    ]
    record = [f"/etc/{package}.json", ph("description")]
    steps.append(
        _step("Record", "write-json.sh", record, attributes=ph())
        if everything
        else _step("Record", "write-json.sh", record)
    )
    if services:
        unit = f"{package}.service"
        steps.insert(3, _step(f"Stop {unit}", "systemctl.sh", ["stop", unit, "--timeout", "30"]))
        steps.append(_step(f"Reload {unit}", "systemctl.sh", ["daemon-reload", "--no-block"]))
        steps.append(
            _step(f"Start {unit}", "systemctl.sh", ["start", unit, "--wait", "--timeout", "60"])
        )
    return steps


def _case(
    name: str, packages: Sequence[tuple[str, str]], *, blocks: int, everything: int, services: bool
) -> Case:
    """``blocks`` blocks of package steps cycling over ``packages``; the first ``everything``
    blocks also carry an all-attributes placeholder."""
    steps: list[dict[str, Any]] = []
    for block in range(blocks):
        package, version = packages[block % len(packages)]
        steps += _package_steps(package, version, everything=block < everything, services=services)
    document = orjson.dumps({"version": "1.0", "steps": steps})
    return Case(
        name=name,
        document=document,
        destinations=tuple(SCOPE.arn(f"package/{p}/version/{v}") for p, v in packages),
        attributes={pv: _version_attributes(*pv) for pv in packages},
        placeholders=document.count(b"${"),
    )


def make_cases() -> list[Case]:
    """The ``small`` (~1.2 KB, 9 placeholders) and ``large`` (~100 KB, ~500) documents."""
    fleet = [(f"edge-component-{i:02d}", f"{1 + i % 3}.{i}.0") for i in range(20)]
    return [
        _case("small", [("samplePackage", "2.1.5")], blocks=1, everything=1, services=False),
        _case("large", fleet, blocks=62, everything=5, services=True),
    ]


def make_catalog(cases: Sequence[Case]) -> Catalog:
    """A catalog with every package version the cases use, PUBLISHED."""
    catalog = Catalog(SCOPE)
    for case in cases:
        for (package, version), attributes in case.attributes.items():
            if not catalog.has_package(package):
                catalog.create_package(package, now=0.0)
            catalog.create_version(package, version, now=0.0, attributes=attributes)
            catalog.update_version(package, version, now=0.0, action=VersionAction.PUBLISH)
    return catalog
