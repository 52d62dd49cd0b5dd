"""``fleetsim substitute``: preview a job document's substitution, like the console does."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from simulator.core.catalog import spec as catalog_spec
from simulator.core.errors import UsageError
from simulator.core.substitution import (
    Execution,
    PresignConfig,
    Presigner,
    SubstitutionOptions,
    prepare_job_document,
    render_for_device,
)

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "substitute",
        help="resolve a job document's substitution parameters against a catalog file",
        description=(
            "Print DOC with its package placeholders and $default resolved against "
            "--destination-package-versions, as CreateJob stores it (GetJobDocument). "
            "With --device THING, also mint the presigned URLs that THING would receive."
        ),
    )
    parser.add_argument("document", metavar="DOC.json", type=Path, help="job document (JSON)")
    parser.add_argument(
        "--catalog", required=True, type=Path, help="catalog file (.toml or .json), see README"
    )
    parser.add_argument(
        "--destination-package-versions",
        nargs="+",
        default=[],
        metavar="ARN",
        help="package version ARNs (…:package/P/version/V, V may be $default or $null)",
    )
    parser.add_argument(
        "--before", action="store_true", help="print the stored before-substitution form"
    )
    parser.add_argument("--role-arn", help="presignedUrlConfig.roleArn (needed by presigned URLs)")
    parser.add_argument("--expires-in", type=int, default=3600, help="presigned URL lifetime (s)")
    parser.add_argument("--device", metavar="THING", help="render as fetched by THING")
    parser.add_argument("--job-id", default="preview", help="job id for upload placeholders")
    parser.add_argument("--execution-number", type=int, default=1)
    parser.add_argument("--access-key-id", default="test", help="credentials that sign URLs")
    parser.add_argument("--secret-access-key", default="test")
    parser.add_argument(
        "--error-type",
        default="InvalidRequestException",
        help="wire type of substitution errors (AWS's guide says InvalidJobDocumentException)",
    )
    parser.add_argument("--pretty", action="store_true", help="indent the output")
    parser.set_defaults(handler=run)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None


def run(args: argparse.Namespace) -> int:
    if not 60 <= args.expires_in <= 3600:
        raise UsageError("--expires-in must be between 60 and 3600 seconds")
    data = _read(args.catalog, "catalog")
    spec = catalog_spec.load(data, fmt="json" if args.catalog.suffix == ".json" else "toml")
    catalog = catalog_spec.build_catalog(spec)
    document = prepare_job_document(
        _read(args.document, "document"),
        args.destination_package_versions,
        catalog,
        scope=catalog.scope,
        presign=PresignConfig(args.role_arn, args.expires_in) if args.role_arn else None,
        options=SubstitutionOptions(error_type=args.error_type),
    )
    if args.before:
        out = document.before
    elif args.device:
        presigner = Presigner(
            args.access_key_id, args.secret_access_key, region=catalog.scope.region
        )
        execution = Execution(args.device, args.job_id, args.execution_number)
        out = render_for_device(
            document, execution, presigner, now=time.time(), expires_in=args.expires_in
        )
    else:
        out = document.after
    if args.pretty:
        out = orjson.dumps(orjson.loads(out), option=orjson.OPT_INDENT_2)
    sys.stdout.buffer.write(out.rstrip(b"\n") + b"\n")
    return 0
