"""Job-document substitution: compile once, render many times.

Phase one (job creation) resolves package placeholders and ``$default`` against
``destinationPackageVersions`` (:func:`prepare_job_document`); phases two and three (each device
fetch, each execution) mint presigned URLs and fill upload placeholders (:func:`render_for_device`).
"""

from simulator.core.substitution.fetch import Execution, render_for_device
from simulator.core.substitution.placeholders import PackageRef, scan
from simulator.core.substitution.resolve import (
    JobDocument,
    PackageLookup,
    PresignConfig,
    SubstitutionOptions,
    prepare_job_document,
)
from simulator.core.substitution.s3url import Presigner, S3Object, parse_s3_url
from simulator.core.substitution.template import Template, cached_compile, compile_document

__all__ = [
    "Execution",
    "JobDocument",
    "PackageLookup",
    "PackageRef",
    "PresignConfig",
    "Presigner",
    "S3Object",
    "SubstitutionOptions",
    "Template",
    "cached_compile",
    "compile_document",
    "parse_s3_url",
    "prepare_job_document",
    "render_for_device",
    "scan",
]
