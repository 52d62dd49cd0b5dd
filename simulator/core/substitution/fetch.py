"""Phases two and three: the document a device receives when it fetches a job execution.

Presigned URLs are minted at each fetch (they expire); local placeholders of upload URLs
(``${thingName}``, ``${jobId}``, ``${executionNumber}``) take the values of the execution.
A document without presigned-URL placeholders is returned as stored, with no work at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from simulator.core.errors import DocumentError
from simulator.core.substitution.placeholders import ArtifactUrl, S3Url, UploadUrl
from simulator.core.substitution.resolve import JobDocument
from simulator.core.substitution.s3url import Presigner, S3Object, parse_s3_url
from simulator.core.substitution.stats import SubstitutionStats

__all__ = ["Execution", "presign_requests", "render_for_device"]


@dataclass(frozen=True, slots=True)
class Execution:
    """The execution a document is rendered for."""

    thing_name: str
    job_id: str
    execution_number: int


def _upload_key(url: str, execution: Execution) -> str:
    return (
        url.replace("${thingName}", execution.thing_name)
        .replace("${jobId}", execution.job_id)
        .replace("${executionNumber}", str(execution.execution_number))
    )


Request = tuple[S3Object, Literal["GET", "PUT"]]


def _plan(document: JobDocument) -> tuple[tuple[S3Object, Literal["GET"]] | str, ...]:
    """What each slot signs; an upload URL stays text (it depends on the execution)."""
    plan: list[tuple[S3Object, Literal["GET"]] | str] = []
    for slot in document.fetch_template.slots:
        match slot:
            case ArtifactUrl(ref):
                plan.append((document.artifacts[(ref.package, ref.version)], "GET"))
            case S3Url(form, text) if isinstance(text, str):
                plan.append((parse_s3_url(text, form), "GET"))
            case UploadUrl(text) if isinstance(text, str):
                plan.append(text)
            case _:
                raise DocumentError(f"Unexpected placeholder left after job creation: {slot!r}")
    document.fetch_cache.plan = result = tuple(plan)
    return result


def _upload(text: str, execution: Execution) -> Request:
    obj = parse_s3_url(_upload_key(text, execution), "upload")
    if not obj.key:
        key = f"{execution.job_id}/{execution.thing_name}/{execution.execution_number}"
        obj = S3Object(obj.bucket, key, None, obj.region)
    return obj, "PUT"


def presign_requests(document: JobDocument, execution: Execution) -> list[Request]:
    """The object and method of every presigned URL of the document's phase-two slots, in order.

    Raises:
        DocumentError: a slot that phase one should have resolved.
    """
    plan = document.fetch_cache.plan or _plan(document)
    return [_upload(entry, execution) if isinstance(entry, str) else entry for entry in plan]


def render_for_device(
    document: JobDocument,
    execution: Execution,
    presigner: Presigner,
    *,
    now: float,
    expires_in: int,
    stats: SubstitutionStats | None = None,
) -> bytes:
    """The job document as the device sees it at ``now``: every presigned URL freshly minted.

    Args:
        stats: counts the render, its URLs and its time (see :class:`.SubstitutionStats`).
    """
    template = document.fetch_template
    if template.is_static:
        return document.after
    if stats is None:
        return _render(document, execution, presigner, now, expires_in)
    started = stats.timer()
    minted, served = presigner.minted, presigner.served
    cache = document.fetch_cache
    hit = (
        cache.second == int(now) and cache.presigner is presigner and cache.expires_in == expires_in
    )
    rendered = _render(document, execution, presigner, now, expires_in)
    stats.render_s += stats.timer() - started
    stats.renders += 1
    if hit:
        stats.render_cache_hits += 1
        stats.urls_served += len(template.slots)
    else:
        stats.urls_served += presigner.served - served
    stats.urls_minted += presigner.minted - minted
    return rendered


def _render(
    document: JobDocument, execution: Execution, presigner: Presigner, now: float, expires_in: int
) -> bytes:
    second = int(now)
    # Without upload URLs the document does not depend on the execution, and presigned URLs are
    # minted with a one-second timestamp: every fetch within a second gets the same render. Only
    # such renders are kept, so a hit needs no look at the slots (every device fetch hits).
    cache = document.fetch_cache
    if cache.second == second and cache.presigner is presigner and cache.expires_in == expires_in:
        return cache.rendered
    presign = presigner.presign
    plan = cache.plan or _plan(document)
    # A presigned URL is plain ASCII without quotes or backslashes (every other character is
    # percent-encoded): its JSON string content is its bytes.
    requests: list[Request] = [
        _upload(entry, execution) if isinstance(entry, str) else entry for entry in plan
    ]
    values = [
        presign(obj, now=now, expires=expires_in, method=method).encode()
        for obj, method in requests
    ]
    rendered = document.fetch_template.render(values)
    if not any(isinstance(entry, str) for entry in plan):
        cache.presigner, cache.expires_in, cache.second = presigner, expires_in, second
        cache.rendered = rendered
    return rendered
