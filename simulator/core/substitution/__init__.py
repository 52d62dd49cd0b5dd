"""Job-document substitution: compile once, render many times.

Phase one (job creation) resolves package placeholders and ``$default`` against
``destinationPackageVersions`` (:func:`prepare_job_document`); phases two and three (each device
fetch, each execution) mint presigned URLs and fill upload placeholders (:func:`render_for_device`).

Caches live on objects the caller owns, never in module globals: a :class:`Compiler` remembers
documents and placeholders, a :class:`JobDocument` its last render, a :class:`Presigner` the URLs
of the current second. :class:`SubstitutionStats` is an optional sink counting what both phases did.
"""

from simulator.core.substitution.fetch import Execution, presign_requests, render_for_device
from simulator.core.substitution.placeholders import PackageRef, scan
from simulator.core.substitution.resolve import (
    JobDocument,
    PackageLookup,
    PresignConfig,
    SubstitutionOptions,
    prepare_job_document,
)
from simulator.core.substitution.s3url import Presigner, S3Object, parse_s3_url
from simulator.core.substitution.stats import SubstitutionSnapshot, SubstitutionStats
from simulator.core.substitution.template import (
    Compiler,
    PlaceholderMemo,
    Template,
    compile_document,
)

__all__ = [
    "Compiler",
    "Execution",
    "JobDocument",
    "PackageLookup",
    "PackageRef",
    "PlaceholderMemo",
    "PresignConfig",
    "Presigner",
    "S3Object",
    "SubstitutionOptions",
    "SubstitutionSnapshot",
    "SubstitutionStats",
    "Template",
    "compile_document",
    "parse_s3_url",
    "prepare_job_document",
    "presign_requests",
    "render_for_device",
    "scan",
]
