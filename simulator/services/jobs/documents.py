"""Job documents as each device sees them: presigned URLs minted afresh at every fetch."""

from __future__ import annotations

from simulator.core.arn import Scope
from simulator.core.substitution import Execution, Presigner, SubstitutionStats, render_for_device
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.records import ExecutionRecord

__all__ = ["DocumentRenderer"]


class DocumentRenderer:
    """Renders the second substitution phase (``${aws:iot:s3-presigned-url:...}``) per device."""

    __slots__ = ("_presigner", "_stats")

    def __init__(
        self, options: JobsOptions, scope: Scope, stats: SubstitutionStats | None = None
    ) -> None:
        self._presigner = Presigner(options.access_key, options.secret_key, region=scope.region)
        self._stats = stats

    def document_for(self, ex: ExecutionRecord, now: float) -> bytes:
        """The document's JSON as this execution's device sees it at ``now``."""
        job = ex.job
        static = job.static_document
        if static is not None:
            return static
        expires = 3600 if job.presign is None else job.presign.expires_in_sec
        target = Execution(ex.thing, job.job_id, ex.number)
        return render_for_device(
            job.document, target, self._presigner, now=now, expires_in=expires, stats=self._stats
        )
