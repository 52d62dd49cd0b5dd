"""What CreateJob (and UpdateJob) check before anything changes: configurations and document.

The document comes from exactly one of ``document``, ``documentSource`` (stored by templates;
fetching it from S3 is out of scope, so CreateJob refuses it) and a job template; without any,
the recipe of the one package version in ``destinationPackageVersions`` that has one is the
document. Phase one of substitution runs here (``$default`` resolved, package placeholders
rendered), so every document error surfaces at CreateJob as on AWS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from simulator.core.arn import Scope, parse_package_version_arn
from simulator.core.catalog import Catalog
from simulator.core.errors import DocumentError, InvalidRequestException, ValidationException
from simulator.core.jobs import (
    AbortConfig,
    PresignedUrlConfig,
    RetryConfig,
    RolloutConfig,
    SchedulingConfig,
    TimeoutConfig,
    parse_abort_config,
    parse_presigned_url_config,
    parse_retry_config,
    parse_rollout_config,
    parse_scheduling_config,
    parse_timeout_config,
)
from simulator.core.substitution import (
    Compiler,
    JobDocument,
    PresignConfig,
    SubstitutionOptions,
    SubstitutionStats,
    prepare_job_document,
)
from simulator.services.jobs.records import TemplateRecord

__all__ = ["MAX_DOCUMENT_CHARS", "JobConfigs", "parse_configs", "prepare_document"]

#: ``JobDocument`` max length [B].
MAX_DOCUMENT_CHARS: Final = 32768
MSG_SOURCE: Final = (
    "documentSource is not supported by this emulator: it does not fetch job documents from S3. "
    "Pass the document inline with document."
)


@dataclass(frozen=True, slots=True)
class JobConfigs:
    """The parsed configuration members of one request (``None``: not given)."""

    presign: PresignedUrlConfig | None = None
    rollout: RolloutConfig | None = None
    abort: AbortConfig | None = None
    timeout: TimeoutConfig | None = None
    retry: RetryConfig | None = None
    scheduling: SchedulingConfig | None = None


def parse_configs(
    template: TemplateRecord | None,
    *,
    now: float,
    presigned_url_config: object,
    rollout: object,
    abort: object,
    timeout: object,
    retry: object,
    scheduling: object,
    min_lead_s: float = 1800.0,
    min_duration_s: float = 1800.0,
) -> JobConfigs:
    """Parse the request's configurations; a template's fill what the request leaves out.

    A template's ``maintenanceWindows`` become the job's when its ``schedulingConfig`` has none
    (inf: what else a template's windows would be for). ``min_lead_s`` / ``min_duration_s``:
    see :func:`~simulator.core.jobs.parse_scheduling_config`.
    """
    schedule = (
        None
        if scheduling is None
        else parse_scheduling_config(
            scheduling, now=now, min_lead_s=min_lead_s, min_duration_s=min_duration_s
        )
    )
    if template is not None and template.maintenance_windows:
        schedule = replace(
            schedule or SchedulingConfig(),
            maintenance_windows=(schedule and schedule.maintenance_windows)
            or tuple(template.maintenance_windows),
        )
    return JobConfigs(
        presign=parse_presigned_url_config(presigned_url_config)
        if presigned_url_config is not None
        else (None if template is None else template.presign),
        rollout=parse_rollout_config(rollout)
        if rollout is not None
        else (None if template is None else template.rollout),
        abort=parse_abort_config(abort)
        if abort is not None
        else (None if template is None else template.abort),
        timeout=parse_timeout_config(timeout)
        if timeout is not None
        else (None if template is None else template.timeout),
        retry=parse_retry_config(retry)
        if retry is not None
        else (None if template is None else template.retry),
        scheduling=schedule,
    )


def check_document(document: object) -> str:
    if not isinstance(document, str):
        raise InvalidRequestException("document must be a string")
    if len(document) > MAX_DOCUMENT_CHARS:
        raise InvalidRequestException(
            f"The job document can have at most {MAX_DOCUMENT_CHARS} characters, "
            f"got {len(document)}"
        )
    return document


def check_destinations(destinations: object) -> list[str]:
    if not isinstance(destinations, list) or not all(isinstance(d, str) for d in destinations):
        raise InvalidRequestException("destinationPackageVersions must be a list of ARNs")
    return destinations


def _recipe(catalog: Catalog, destinations: Sequence[str]) -> str:
    """The recipe of the one destination version that has one."""
    recipes: list[str] = []
    for text in destinations:
        try:
            arn = parse_package_version_arn(text)
        except ValidationException as exc:
            raise InvalidRequestException(exc.message) from None
        version = arn.version
        if arn.is_default:
            version = catalog.default_version_of(arn.package) or version
        found = catalog.find_version(arn.package, version)
        if found is not None and found.recipe:
            recipes.append(found.recipe)
    if not recipes:
        raise InvalidRequestException(
            "One of document, documentSource or jobTemplateArn is required (no package version "
            "in destinationPackageVersions has a recipe)."
        )
    if len(recipes) > 1:
        raise InvalidRequestException(
            "More than one package version in destinationPackageVersions has a recipe; pass the "
            "document explicitly."
        )
    return recipes[0]


def prepare_document(
    catalog: Catalog,
    scope: Scope,
    options: SubstitutionOptions,
    *,
    document: object,
    document_source: object,
    destinations: object,
    presign: PresignedUrlConfig | None,
    parameters: Mapping[str, str] | None,
    compiler: Compiler | None = None,
    stats: SubstitutionStats | None = None,
) -> JobDocument:
    """Choose the job's document and run phase one of substitution on it.

    Raises:
        InvalidRequestException: no document, ``documentSource``, a document too long.
        DocumentError: the document and ``destinationPackageVersions`` do not agree.
    """
    dpv = check_destinations(destinations)
    if document_source is not None:
        raise InvalidRequestException(MSG_SOURCE)
    text = check_document(_recipe(catalog, dpv) if document is None else document)
    config = PresignConfig(
        None if presign is None else presign.role_arn,
        3600 if presign is None else presign.expires_in_sec,
    )
    try:
        return prepare_job_document(
            text,
            dpv,
            catalog,
            scope=scope,
            presign=config,
            parameters=parameters,
            options=options,
            compiler=compiler,
            stats=stats,
        )
    except DocumentError:
        raise
    except RecursionError:  # pathological nesting in the JSON text
        raise InvalidRequestException("The job document is nested too deeply.") from None
