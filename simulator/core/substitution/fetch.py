"""Phases two and three: the document a device receives when it fetches a job execution.

Presigned URLs are minted at each fetch (they expire); local placeholders of upload URLs
(``${thingName}``, ``${jobId}``, ``${executionNumber}``) take the values of the execution.
A document without presigned-URL placeholders is returned as stored, with no work at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from simulator.core.errors import DocumentError
from simulator.core.substitution.placeholders import ArtifactUrl, S3Url, UploadUrl
from simulator.core.substitution.resolve import JobDocument
from simulator.core.substitution.s3url import Presigner, parse_s3_url

__all__ = ["Execution", "render_for_device"]


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


def render_for_device(
    document: JobDocument,
    execution: Execution,
    presigner: Presigner,
    *,
    now: float,
    expires_in: int,
) -> bytes:
    """The job document as the device sees it at ``now``: every presigned URL freshly minted."""
    template = document.fetch_template
    if template.is_static:
        return document.after
    second = int(now)
    # Without upload URLs the document does not depend on the execution, and presigned URLs are
    # minted with a one-second timestamp: every fetch within a second gets the same render. Only
    # such renders are cached, so a hit needs no look at the slots (every device fetch hits).
    cached = _RENDERED.get(id(document))
    if (
        cached is not None
        and cached[0] is document
        and cached[1] is presigner
        and cached[2] == expires_in
        and cached[3] == second
    ):
        return cached[4]
    shared = not any(type(slot) is UploadUrl for slot in template.slots)
    values: list[bytes] = []
    for slot in template.slots:
        match slot:
            case ArtifactUrl(ref):
                obj = document.artifacts[(ref.package, ref.version)]
                url = presigner.presign(obj, now=now, expires=expires_in)
            case S3Url(form, text) if isinstance(text, str):
                obj = parse_s3_url(text, form)
                url = presigner.presign(obj, now=now, expires=expires_in)
            case UploadUrl(text) if isinstance(text, str):
                obj = parse_s3_url(_upload_key(text, execution), "upload")
                if not obj.key:
                    key = f"{execution.job_id}/{execution.thing_name}/{execution.execution_number}"
                    obj = type(obj)(obj.bucket, key, None, obj.region)
                url = presigner.presign(obj, now=now, expires=expires_in, method="PUT")
            case _:
                raise DocumentError(f"Unexpected placeholder left after job creation: {slot!r}")
        values.append(orjson.dumps(url)[1:-1])
    rendered = template.render(values)
    if shared:
        if len(_RENDERED) > 256:
            _RENDERED.clear()
        _RENDERED[id(document)] = (document, presigner, expires_in, second, rendered)
    return rendered


#: Last render of each document by ``id`` (the document is kept in the entry, so its id cannot
#: be reused while the entry lives): (document, presigner, expires_in, second, bytes).
_RENDERED: dict[int, tuple[JobDocument, Presigner, int, int, bytes]] = {}
