"""The inputs of ``fleetsim bench substitution``, read as ``fleetsim substitute`` reads them."""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from simulator.core.catalog import Catalog
from simulator.core.catalog import spec as catalog_spec
from simulator.core.errors import UsageError
from simulator.core.substitution import JobDocument, PresignConfig, prepare_job_document

__all__ = ["Inputs", "load_catalog", "load_inputs"]


@dataclass(frozen=True, slots=True)
class Inputs:
    path: Path
    raw: bytes
    catalog: Catalog
    destinations: tuple[str, ...]
    presign: PresignConfig
    job: JobDocument


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None


def load_catalog(path: Path) -> Catalog:
    """A catalog file as ``fleetsim substitute`` reads it, or a scenario's ``[catalog]``."""
    data = _read(path, "catalog")
    fmt: Any = "json" if path.suffix == ".json" else "toml"
    if fmt == "toml":
        try:
            table_ = tomllib.loads(data.decode())
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            table_ = {}
        if isinstance(table_.get("catalog"), dict) and "packages" not in table_:
            data, fmt = orjson.dumps(table_["catalog"]), "json"
    return catalog_spec.build_catalog(catalog_spec.load(data, fmt=fmt))


def load_inputs(args: argparse.Namespace) -> Inputs:
    """Read and prepare everything once, raising the errors ``fleetsim substitute`` raises."""
    if not 60 <= args.expires_in <= 3600:
        raise UsageError("--expires-in must be between 60 and 3600 seconds")
    if args.devices < 1 or args.rounds < 1:
        raise UsageError("--devices and --rounds must be at least 1")
    catalog = load_catalog(args.catalog)
    scope = catalog.scope
    destinations = tuple(
        scope.arn("package/{}/version/{}".format(*d.split("@", 1)))
        if "@" in d and not d.startswith("arn:")
        else d
        for d in args.destination_package_versions
    )
    role = args.role_arn or scope.arn("role/fleetsim-bench", service="iam").replace(
        f":{scope.region}:", "::"
    )
    presign = PresignConfig(role, args.expires_in)
    raw = _read(args.document, "document")
    job = prepare_job_document(raw, destinations, catalog, scope=scope, presign=presign)
    return Inputs(args.document, raw, catalog, destinations, presign, job)
